// Optimizers and learning-rate schedules built from the config.
//
// make_optimizer(): Adam, AdamW, SGD (momentum, Nesterov) over all trainable parameters, with
// optim.weight_decay (L2 for adam/sgd, decoupled for adamw), betas and eps.
// LrSchedule: the learning rate as a pure function of the optimizer step (so a resumed run gets
// exactly the same rates without stored state): linear warmup from 0 over warmup_steps, then
// constant | step (gamma at each milestone) | cosine (to min_lr at max_steps) | poly
// ((1 - t)^power down to min_lr).
// clip_grad_norm(): global L2 norm over all gradients (computed in float64 in a fixed order so every
// rank, holding identical averaged gradients, gets the identical scale).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "common/config.h"

namespace tessera {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimConfig& cfg,
                                                        std::vector<torch::Tensor> params);

class LrSchedule {
 public:
  LrSchedule(const ScheduleConfig& cfg, double base_lr, int64_t max_steps);
  // Learning rate for the update that moves the model from `step` to `step + 1` (0-based).
  double lr_at(int64_t step) const;

 private:
  ScheduleConfig cfg_;
  double base_lr_;
  int64_t max_steps_;
};

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

// Scales gradients so their global L2 norm is at most max_norm; returns the norm before clipping.
// max_norm <= 0 only computes the norm.
double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);

// True when every gradient is finite (NaN/Inf check in one pass per tensor).
bool grads_finite(const std::vector<torch::Tensor>& params);

}  // namespace tessera
