// GradReducer: data-parallel gradient averaging for LibTorch (what torch.nn.parallel.
// DistributedDataParallel does in Python; LibTorch's C++ API has none).
//
// Construction (collective: every rank, same model structure):
//   1. checks that every rank has the same parameter/buffer names, shapes and dtypes (allgather;
//      throws naming the differing ranks and the first difference),
//   2. broadcasts rank 0's parameters and buffers (a few flat broadcasts),
//   3. packs the trainable parameters, in reverse registration order, into buckets of at most
//      `bucket_mb` (the first one `first_bucket_mb`), and points every parameter's .grad at a
//      VIEW of its bucket's flat buffer: autograd accumulates into an existing .grad in place
//      (LibTorch 1.13 and 2.x, without create_graph), so gradients land directly in the buffer
//      that is allreduced: no packing or unpacking copies,
//   4. registers a post-hook on every parameter's gradient accumulator (the AccumulateGrad node,
//      kept alive by the reducer): it runs right after the gradient was added into .grad.
// Per step:
//   reducer.zero_grad();          // zeroes the buckets (use instead of optimizer.zero_grad())
//   loss.backward();              // hooks start each bucket's allreduce (avg) as soon as its last
//                                 // gradient is ready, in bucket order, overlapping backward
//   reducer.finish();             // waits for all buckets; gradients are now the average over
//                                 // ranks, identical everywhere
//   optimizer.step();
// With overlap=false, finish() starts every bucket's allreduce after backward instead.
// Gradient accumulation: backward passes run while sync() is false (set_sync(false) or inside a
// no_sync() scope) only accumulate locally; the next synchronised backward + finish() averages
// the accumulated sum.
//
// Bucket order: allreduces always start in bucket order on every rank (collectives must match).
// After the first finish() the buckets are rebuilt once from the order in which gradients became
// ready on rank 0 (broadcast to all ranks), so that later steps launch early buckets early.
//
// Unused parameters (no gradient in a step on some or all ranks): never a hang. finish() notices
// them, counts their bucket as complete (their slice holds zero, or what was accumulated
// locally), and then reduces it. A parameter that no rank used ends with a zero gradient (not an
// undefined one), identical on every rank. The names are in unused_parameters() and logged once.
//
// If something replaced a parameter's .grad (optimizer.zero_grad() in LibTorch 2.x sets grads to
// undefined by default; create_graph=true makes autograd out-of-place), the hook copies the
// gradient back into the bucket and re-points .grad (counted in stats().grad_copies): correct,
// just not zero-copy. Construct the reducer after moving the model to its device, and do not
// replace the model's parameters afterwards.
//
// Threads: hooks run on autograd's thread (the caller's on CPU, the device thread on CUDA); state
// is guarded by a mutex. All other methods are for the training thread. Every collective is
// issued on comm from these threads, in the same order on every rank. Lifetime: the reducer
// references `model` and `comm`, which must outlive it; it removes its hooks when destroyed.
#pragma once

#include <torch/torch.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "comm/bucket.h"
#include "comm/communicator.h"

namespace tessera {

struct DistConfig;

struct ReducerOptions {
  double bucket_mb = 25.0;       // cap of a bucket, MiB
  double first_bucket_mb = 1.0;  // cap of the first bucket (min with bucket_mb), MiB
  bool overlap = true;           // allreduce during backward (false: all after backward)
  bool rebuild_buckets = true;   // once, after the first step, from the gradient-ready order
  bool broadcast_on_start = true;  // rank 0's parameters and buffers to every rank
};

// dist.bucket_mb and dist.overlap from the config.
ReducerOptions reducer_options(const DistConfig& dist);

struct ReducerStats {
  size_t steps = 0;                  // finish() calls
  size_t buckets_in_backward = 0;    // last step: buckets whose allreduce began during backward
  double last_wait_s = 0;            // last finish(): time spent waiting for allreduces
  double last_finish_s = 0;          // last finish(): total time
  size_t grad_copies = 0;            // total: gradients that were not the bucket view (copied)
};

namespace detail {
class ReducerHook;
}

class GradReducer {
 public:
  GradReducer(torch::nn::Module& model, Communicator& comm, const ReducerOptions& options = {});
  ~GradReducer();
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  // Zeroes every bucket (all gradients) and makes sure every .grad is its bucket view.
  void zero_grad();
  // Completes the step's reduction (see above). Collective. Throws when called while sync() is
  // false.
  void finish();

  // Gradient accumulation: while false, backward only accumulates locally.
  void set_sync(bool sync);
  bool sync() const { return sync_; }
  class NoSync {
   public:
    explicit NoSync(GradReducer& r) : r_(&r), previous_(r.sync()) { r.set_sync(false); }
    ~NoSync() { if (r_) r_->set_sync(previous_); }
    NoSync(NoSync&& o) noexcept : r_(o.r_), previous_(o.previous_) { o.r_ = nullptr; }
    NoSync(const NoSync&) = delete;
    NoSync& operator=(const NoSync&) = delete;
    NoSync& operator=(NoSync&&) = delete;

   private:
    GradReducer* r_;
    bool previous_;
  };
  // `{ auto guard = reducer.no_sync(); loss.backward(); }`
  NoSync no_sync() { return NoSync(*this); }

  // After finish(): the global L2 norm of all gradients (identical on every rank), and clipping
  // to `max_norm` (returns the norm before clipping). Local, no communication.
  double grad_norm() const;
  double clip_grad_norm(double max_norm);
  // True when every gradient is finite (after finish() the same answer on every rank).
  bool grads_finite() const;

  // Broadcasts the model's buffers (e.g. BatchNorm running stats) from `root`. Collective.
  void broadcast_buffers(int root = 0);

  // Introspection (tests, logs, metrics).
  size_t num_buckets() const { return buckets_.size(); }
  std::vector<std::vector<std::string>> bucket_layout() const;  // parameter names per bucket
  const torch::Tensor& bucket_buffer(size_t b) const;
  const std::vector<std::string>& unused_parameters() const { return unused_; }
  // True once the post-first-step rebuild ran (the layout may have come out unchanged).
  bool buckets_rebuilt() const { return rebuilt_; }
  const ReducerStats& stats() const { return stats_; }
  const std::vector<std::string>& parameter_names() const { return names_; }

 private:
  friend class detail::ReducerHook;
  struct Slot {
    size_t bucket = 0;
    size_t pos = 0;
  };

  void check_same_structure(torch::nn::Module& model);
  void install(const std::vector<std::vector<size_t>>& layout);
  void on_grad_ready(size_t index);     // autograd thread
  void ensure_view(size_t index);       // .grad is its bucket view (copy back otherwise)
  void launch_ready_buckets();          // in bucket order, while complete
  void reset_step();
  void rebuild_from_ready_order();

  torch::nn::Module& model_;
  Communicator& comm_;
  ReducerOptions options_;
  std::vector<torch::Tensor> params_;
  std::vector<std::string> names_;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;
  std::vector<uintptr_t> hook_keys_;

  std::mutex mu_;
  std::vector<Bucket> buckets_;
  std::vector<Slot> slots_;          // per parameter
  std::vector<char> ready_;          // per parameter, this step
  std::vector<size_t> ready_order_;  // first synchronised step, for the rebuild
  size_t next_launch_ = 0;
  size_t launched_in_backward_ = 0;
  bool sync_ = true;
  bool first_step_done_ = false;
  bool rebuilt_ = false;
  bool warned_unused_ = false;
  std::vector<std::string> unused_;
  ReducerStats stats_;
};

}  // namespace tessera
