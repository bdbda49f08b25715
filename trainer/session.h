// Pieces shared by train, eval, predict and export: device choice and model construction
// (including the SyncBatchNorm swap), and loading a checkpoint's weights into a model.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "comm/communicator.h"
#include "common/config.h"
#include "datasets/loader.h"
#include "models/model.h"

namespace tessera {

// train.device: "cpu", or "cuda" (GPU local_rank of this host; error if LibTorch has no CUDA or
// there are fewer GPUs than local ranks).
torch::Device select_device(const Config& cfg, const Communicator& comm);

// The configured model for training; its batch-norm layers are SyncBatchNorm2d when
// dist.sync_batchnorm is set and there is more than one rank (then collective: every rank calls
// it; the layers own a duplicate of `comm`, so the model must be destroyed before the MPI
// environment). Eval/predict/export build the plain model (same state-dict names).
std::shared_ptr<ImageModelImpl> build_model(const Config& cfg, Communicator& comm);

// Loader options for `rank` of `size` ranks: the experiment's seed, the task's scale
// (super-resolution), training (shuffled, augmented, drop-last) or evaluation order.
LoaderOptions loader_options(const Config& cfg, int rank, int size, bool train);

// Super-resolution: the run's datasets must have been made with one degradation (manifest key
// `degradation`, datasets/degradation.h): `val` (nullptr = none) and data.test (when it has a
// manifest.json) are compared with `train`; throws naming both datasets and the key.
void check_run_degradations(const Config& cfg, const DatasetInfo& train, const DatasetInfo* val);

// train.channels_last: re-lays out every 4-D parameter and buffer (convolution weights) as
// channels-last (NHWC) in place: same tensors, new strides, so the optimizer, the gradient
// reducer (gradient views keep the strides) and checkpoints (values by name) are unaffected.
// oneDNN convolutions then run without NCHW <-> blocked reorders; the trainer also feeds NHWC
// inputs (to_memory_format). Call before creating the optimizer and the reducer. Measured:
// docs/PERFORMANCE.md, section 1.
void to_channels_last(torch::nn::Module& model);

// x in the layout the model was put in: NHWC for 4-D x when channels_last, else x itself.
torch::Tensor to_memory_format(const torch::Tensor& x, bool channels_last);

// Resolves `which` (best | latest | a checkpoint dir | a run dir) against cfg's run dir and
// loads the weights into `model` (checksums verified). Returns the checkpoint directory used.
std::string load_weights(const Config& cfg, const std::string& which, torch::nn::Module& model);

}  // namespace tessera
