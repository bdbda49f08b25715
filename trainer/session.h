// Pieces shared by train, eval, predict and export: device choice and model construction
// (including the SyncBatchNorm swap), and loading a checkpoint's weights into a model.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "comm/communicator.h"
#include "common/config.h"
#include "models/model.h"

namespace tessera {

// train.device: "cpu", or "cuda" (GPU local_rank of this host; error if LibTorch has no CUDA or
// there are fewer GPUs than local ranks).
torch::Device select_device(const Config& cfg, const Communicator& comm);

// The configured model; BatchNorm layers become SyncBatchNorm when dist.sync_batchnorm is set
// and there is more than one rank.
std::shared_ptr<ImageModelImpl> build_model(const Config& cfg, Communicator& comm);

// Resolves `which` (best | latest | a checkpoint dir | a run dir) against cfg's run dir and
// loads the weights into `model` (checksums verified). Returns the checkpoint directory used.
std::string load_weights(const Config& cfg, const std::string& which, torch::nn::Module& model);

}  // namespace tessera
