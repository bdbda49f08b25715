#include "trainer/optim.h"

#include <cmath>

#include "common/error.h"
#include "trainer/fused_adam.h"

namespace tessera {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimConfig& cfg,
                                                        std::vector<torch::Tensor> params) {
  TESSERA_CHECK(cfg.betas.size() == 2, "optim.betas: expected two values, got {}",
                cfg.betas.size());
  if (cfg.name == "adam") {
    auto o = torch::optim::AdamOptions(cfg.lr)
                 .betas({cfg.betas[0], cfg.betas[1]})
                 .eps(cfg.eps)
                 .weight_decay(cfg.weight_decay);
    // Adam with a one-pass CPU update (same state and checkpoint format; trainer/fused_adam.h).
    return std::make_unique<FusedAdam>(std::move(params), o);
  }
  if (cfg.name == "adamw") {
    auto o = torch::optim::AdamWOptions(cfg.lr)
                 .betas({cfg.betas[0], cfg.betas[1]})
                 .eps(cfg.eps)
                 .weight_decay(cfg.weight_decay);
    return std::make_unique<torch::optim::AdamW>(std::move(params), o);
  }
  if (cfg.name == "sgd") {
    auto o = torch::optim::SGDOptions(cfg.lr)
                 .momentum(cfg.momentum)
                 .nesterov(cfg.nesterov)
                 .weight_decay(cfg.weight_decay);
    TESSERA_CHECK(!cfg.nesterov || cfg.momentum > 0,
                  "optim.nesterov: Nesterov momentum needs optim.momentum > 0 (got {})",
                  cfg.momentum);
    return std::make_unique<torch::optim::SGD>(std::move(params), o);
  }
  TESSERA_THROW("optim.name: unknown optimizer '{}': expected adam, adamw or sgd", cfg.name);
}

LrSchedule::LrSchedule(const ScheduleConfig& cfg, double base_lr, int64_t max_steps)
    : cfg_(cfg), base_lr_(base_lr), max_steps_(std::max<int64_t>(max_steps, 1)) {
  if (cfg_.name != "constant" && cfg_.name != "step" && cfg_.name != "cosine" &&
      cfg_.name != "poly") {
    TESSERA_THROW("schedule.name: unknown schedule '{}': expected constant, step, cosine or poly",
                  cfg_.name);
  }
}

double LrSchedule::lr_at(int64_t step) const {
  const int64_t warm = cfg_.warmup_steps;
  if (warm > 0 && step < warm) {
    return base_lr_ * static_cast<double>(step + 1) / static_cast<double>(warm);
  }
  if (cfg_.name == "constant") return base_lr_;
  if (cfg_.name == "step") {
    double lr = base_lr_;
    for (int64_t m : cfg_.milestones) {
      if (step >= m) lr *= cfg_.gamma;
    }
    return lr;
  }
  // Progress through the post-warmup phase, in [0, 1].
  const double span = static_cast<double>(std::max<int64_t>(max_steps_ - warm, 1));
  const double t = std::clamp(static_cast<double>(step - warm) / span, 0.0, 1.0);
  if (cfg_.name == "cosine") {
    return cfg_.min_lr + 0.5 * (base_lr_ - cfg_.min_lr) * (1.0 + std::cos(M_PI * t));
  }
  // poly
  return cfg_.min_lr + (base_lr_ - cfg_.min_lr) * std::pow(1.0 - t, cfg_.power);
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  double total = 0.0;
  for (const auto& p : params) {
    if (!p.grad().defined()) continue;
    total += p.grad().to(torch::kFloat64).pow(2).sum().item<double>();
  }
  const double norm = std::sqrt(total);
  if (max_norm > 0 && norm > max_norm) {
    const double scale = max_norm / (norm + 1e-6);
    for (const auto& p : params) {
      if (p.grad().defined()) p.grad().mul_(scale);
    }
  }
  return norm;
}

bool grads_finite(const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard no_grad;
  for (const auto& p : params) {
    if (p.grad().defined() && !torch::isfinite(p.grad()).all().item<bool>()) return false;
  }
  return true;
}

}  // namespace tessera
