// SyncBatchNorm2d: 2-D batch normalisation whose batch statistics, and their gradients, are
// computed over the union of all ranks' batches (LibTorch's C++ API has no SyncBatchNorm).
//
// Training mode (or track_running_stats=false): each rank computes per-channel mean and
// (biased) variance of its batch, turns them into sum / sum of squares / count in double, and
// ONE allreduce (2C+1 doubles) gives the global mean and variance. The input is normalised with
// them; running stats are updated like torch::nn::BatchNorm2d (momentum, or a cumulative average
// when momentum is unset; the unbiased global variance). Backward allreduces, in one call, the
// per-channel sums of grad_out and grad_out*(x-mean), so the input gradients equal those of one
// big batch. Weight/bias gradients are this rank's share (sum over the local batch): averaged by
// GradReducer like any other parameter, they equal the big batch's gradient of the mean loss.
// Ranks may have different batch sizes (counts are reduced too). Eval mode: plain batch norm with
// the running stats, no communication.
//
// Parameter and buffer names equal BatchNorm2d's (weight, bias, running_mean, running_var,
// num_batches_tracked), so state dicts and checkpoints are interchangeable.
//
// Collectives: every training-mode forward (and backward, when the input needs a gradient) is a
// collective on `comm`: all ranks must run the same layers in the same order. The module keeps a
// non-owning pointer to `comm`, which must outlive it (and its clones).
//
// Give SyncBatchNorm its OWN communicator (e.g. a second MpiCommunicator), not GradReducer's:
//   - GradReducer starts bucket allreduces from autograd hooks during backward; if some rank
//     leaves a parameter unused, its buckets start later there, so the interleaving of bucket
//     allreduces and SyncBatchNorm's backward allreduces differs between ranks. On one
//     communicator that mismatches collectives (MPI_ERR_TRUNCATE, then a hang: reproduced);
//     on two communicators each sees its own consistent order
//     (test RankDependentUnusedParameterWithSyncBatchNormOnItsOwnCommunicator).
//   - On a shared MPI communicator SyncBatchNorm's blocking allreduce also waits behind every
//     queued bucket allreduce, which serialises backward.
// Sharing is correct when every rank uses every parameter each step (tested too), just slower.
// NCCL: two communicators whose collectives interleave differently across ranks can deadlock
// on the GPU, so with NCCL keep every parameter used on every rank when SyncBatchNorm is on.
//
// Putting it into a model:
//   - models that take a norm factory: sync_batchnorm_factory(comm);
//   - any model: convert_sync_batchnorm(model, comm) swaps every registered BatchNorm2d in
//     place. This is only possible where the parent reaches the layer through the module
//     registry or a torch::nn::Sequential (the usual conv-bn-relu block); a BatchNorm2d that a
//     parent also keeps in a member holder cannot be swapped (its forward() would keep calling the
//     old layer), and convert_sync_batchnorm() then throws naming it, before changing anything.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "comm/watchdog.h"

namespace tessera {

class SyncBatchNorm2dImpl : public torch::nn::Cloneable<SyncBatchNorm2dImpl> {
 public:
  SyncBatchNorm2dImpl(const torch::nn::BatchNorm2dOptions& options, Communicator& comm);
  // Shares ownership of `comm` (keeps it alive as long as this layer or a clone exists).
  SyncBatchNorm2dImpl(const torch::nn::BatchNorm2dOptions& options,
                      std::shared_ptr<Communicator> comm);
  SyncBatchNorm2dImpl(int64_t num_features, Communicator& comm)
      : SyncBatchNorm2dImpl(torch::nn::BatchNorm2dOptions(num_features), comm) {}

  torch::Tensor forward(const torch::Tensor& input);

  void reset() override;
  void reset_running_stats();
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;

  // Copies eps, momentum, parameters and buffers (values, dtype, device) from a BatchNorm2d
  // with the same num_features / affine / track_running_stats (throws otherwise).
  void load_from(const torch::nn::BatchNorm2dImpl& bn);

  Communicator& communicator() const { return *comm_; }

  // Marks this layer's allreduces as Phase::collective on `watchdog` (null: none), so a rank
  // waiting there for a straggler is not blamed as the one stuck in forward/backward. Not owned;
  // must outlive the layer's use in training (the trainer sets it in distribute()).
  void set_watchdog(Watchdog* watchdog) { watchdog_ = watchdog; }

  torch::nn::BatchNorm2dOptions options;
  torch::Tensor weight;
  torch::Tensor bias;
  torch::Tensor running_mean;
  torch::Tensor running_var;
  torch::Tensor num_batches_tracked;

 private:
  Communicator* comm_;
  std::shared_ptr<Communicator> owned_comm_;  // set by the owning constructor only
  Watchdog* watchdog_ = nullptr;
};
TORCH_MODULE(SyncBatchNorm2d);

// The functional core, for custom modules: normalises x [N,C,H,W] with statistics over all
// ranks (see above) and, when running_mean/var are defined, updates them with
// `exponential_average_factor`. weight/bias may be undefined (affine=false). With a watchdog,
// the forward and backward allreduces run in Phase::collective (on the training thread).
torch::Tensor sync_batch_norm(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias, torch::Tensor running_mean,
                              torch::Tensor running_var, double exponential_average_factor,
                              double eps, Communicator& comm, Watchdog* watchdog = nullptr);

// Sets the watchdog of every SyncBatchNorm2d under `root`; returns how many.
int set_sync_batchnorm_watchdog(torch::nn::Module& root, Watchdog* watchdog);

// A factory for models that let the caller choose their 2-D norm layer (the same type as
// models/layers.h's Norm2dFactory, which make_model() takes).
using Norm2dFactory = std::function<torch::nn::AnyModule(const torch::nn::BatchNorm2dOptions&)>;
Norm2dFactory sync_batchnorm_factory(Communicator& comm);
// The layers share ownership of `comm`: typically comm->duplicate(), a communicator of their own
// (see above). The last layer (or clone) destroyed frees it, which must happen before the
// MpiEnvironment ends.
Norm2dFactory sync_batchnorm_factory(std::shared_ptr<Communicator> comm);

// Replaces every BatchNorm2d registered in the tree under `root` (registry and Sequential slots)
// with a SyncBatchNorm2d holding the same options, parameters and buffers (same device/dtype).
// Returns the qualified names replaced. All-or-nothing: throws before changing anything when a
// BatchNorm2d is also held elsewhere (see above). Not collective.
std::vector<std::string> convert_sync_batchnorm(torch::nn::Module& root, Communicator& comm);

}  // namespace tessera
