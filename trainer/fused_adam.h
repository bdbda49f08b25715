// FusedAdam: torch::optim::Adam with a single-pass CPU update.
//
// LibTorch's Adam::step updates each parameter with six tensor operations (mul_, add_, mul_,
// addcmul_, sqrt + div, add_, addcdiv_), each a full pass over memory plus temporaries. This
// subclass does the same arithmetic in one pass per parameter (at::parallel_for over elements)
// for dense float32 CPU parameters whose gradient and moments share their layout (contiguous or
// channels-last), and defers to Adam::step's formula for anything else (CUDA, other dtypes,
// mismatched strides, amsgrad). Being an Adam, it keeps Adam's options and
// per-parameter state (AdamParamState: step, exp_avg, exp_avg_sq) in the same places, so
// save()/load(), checkpoints (checkpoints/state_io.h) and set_learning_rate() are unchanged and
// a checkpoint written with either class loads into the other. The update equals Adam's up to
// float rounding (tests/trainer/fused_adam_test.cpp):
//   g' = g + wd * p;  m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// Thread-safety: as torch::optim::Adam (one thread calls step()).
#pragma once

#include <torch/torch.h>

#include <vector>

namespace tessera {

class FusedAdam : public torch::optim::Adam {
 public:
  FusedAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options);
  torch::Tensor step(LossClosure closure = nullptr) override;

  // Parameters updated by the fused loop / by the generic fallback in the last step().
  size_t last_fused() const { return last_fused_; }
  size_t last_fallback() const { return last_fallback_; }

 private:
  size_t last_fused_ = 0;
  size_t last_fallback_ = 0;
};

}  // namespace tessera
