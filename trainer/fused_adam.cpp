#include "trainer/fused_adam.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>

namespace tessera {

namespace {

// The key Optimizer::state_ uses for a parameter: LibTorch 1.x keys by the TensorImpl address
// printed as a string (c10::guts::to_string), 2.x by the address itself.
template <class Key>
Key state_key(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;
    s << p.unsafeGetTensorImpl();
    return s.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

// Compiled with -fno-math-errno (trainer/CMakeLists.txt) so that std::sqrt vectorises.
void fused_update(float* p, const float* g, float* m, float* v, int64_t n, float b1, float b2,
                  float wd, float step_size, float sqrt_bc2, float eps) {
  const float omb1 = 1.0f - b1;
  const float omb2 = 1.0f - b2;
  at::parallel_for(0, n, 32768, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float gi = wd != 0.0f ? g[i] + wd * p[i] : g[i];
      const float mi = m[i] * b1 + omb1 * gi;
      const float vi = v[i] * b2 + omb2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] -= step_size * (mi / (std::sqrt(vi) / sqrt_bc2 + eps));
    }
  });
}

}  // namespace

FusedAdam::FusedAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options)
    : torch::optim::Adam(std::move(params), options) {}

torch::Tensor FusedAdam::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  using Key = typename std::decay_t<decltype(state_)>::key_type;
  last_fused_ = last_fallback_ = 0;
  for (auto& group : param_groups_) {
    auto& options = static_cast<torch::optim::AdamOptions&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      torch::Tensor grad = p.grad();
      TORCH_CHECK(!grad.is_sparse(), "FusedAdam does not support sparse gradients");
      const Key key = state_key<Key>(p);
      auto it = state_.find(key);
      if (it == state_.end()) {
        auto st = std::make_unique<torch::optim::AdamParamState>();
        st->step(0);
        st->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        st->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        if (options.amsgrad()) {
          st->max_exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        }
        it = state_.emplace(key, std::move(st)).first;
      }
      auto& state = static_cast<torch::optim::AdamParamState&>(*it->second);
      state.step(state.step() + 1);
      const double beta1 = std::get<0>(options.betas());
      const double beta2 = std::get<1>(options.betas());
      const double bc1 = 1 - std::pow(beta1, static_cast<double>(state.step()));
      const double bc2 = 1 - std::pow(beta2, static_cast<double>(state.step()));
      const double step_size = options.lr() / bc1;
      torch::Tensor& m = state.exp_avg();
      torch::Tensor& v = state.exp_avg_sq();
      // One flat loop over the storage is valid when all four tensors are dense with the same
      // layout (contiguous, or e.g. all channels-last).
      const auto same_dense = [&p](const torch::Tensor& t) {
        return t.scalar_type() == torch::kFloat32 && t.device() == p.device() &&
               t.sizes() == p.sizes() && t.strides() == p.strides();
      };
      const bool fusable = !options.amsgrad() && p.device().is_cpu() &&
                           p.is_non_overlapping_and_dense() && same_dense(p) && same_dense(grad) &&
                           same_dense(m) && same_dense(v);
      if (fusable) {
        fused_update(p.data_ptr<float>(), grad.data_ptr<float>(), m.data_ptr<float>(),
                     v.data_ptr<float>(), p.numel(), static_cast<float>(beta1),
                     static_cast<float>(beta2), static_cast<float>(options.weight_decay()),
                     static_cast<float>(step_size), static_cast<float>(std::sqrt(bc2)),
                     static_cast<float>(options.eps()));
        ++last_fused_;
        continue;
      }
      // Adam::step's formula (LibTorch 1.13 / 2.x), for everything the loop does not cover.
      if (options.weight_decay() != 0) grad = grad.add(p, options.weight_decay());
      m.mul_(beta1).add_(grad, 1 - beta1);
      v.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
      torch::Tensor denom;
      if (options.amsgrad()) {
        torch::Tensor& vmax = state.max_exp_avg_sq();
        torch::max_out(vmax, vmax, v);
        denom = (vmax.sqrt() / std::sqrt(bc2)).add_(options.eps());
      } else {
        denom = (v.sqrt() / std::sqrt(bc2)).add_(options.eps());
      }
      p.addcdiv_(m, denom, -step_size);
      ++last_fallback_;
    }
  }
  return loss;
}

}  // namespace tessera
