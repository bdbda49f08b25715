#include "models/cpu_backend.h"

#include <ATen/Context.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <vector>

#include "common/error.h"

namespace tessera {

namespace {

namespace F = torch::nn::functional;

struct Probe {
  int64_t kernel, stride, in, out, h, w;
};

// Shapes where Debian 13's LibTorch 2.6 / oneDNN 3.7.2 was measured wrong on AVX-512 (the first
// five), plus the U-Net's own transposed conv and a last layer to one channel.
const std::vector<Probe>& probes() {
  static const std::vector<Probe> p = {{5, 3, 2, 2, 3, 3},  {3, 1, 3, 4, 5, 6}, {7, 2, 2, 3, 5, 4},
                                       {3, 2, 5, 3, 7, 4},  {4, 2, 3, 5, 4, 7}, {3, 2, 8, 4, 6, 6},
                                       {3, 1, 8, 1, 16, 16}};
  return p;
}

// Closed-form values in [-1, 1] (no random generator is touched).
torch::Tensor wave(std::vector<int64_t> shape, double freq) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return torch::sin(torch::arange(n, torch::kFloat64) * freq + 0.3).view(shape);
}

double rel(const torch::Tensor& ref, const torch::Tensor& got) {
  const double scale = std::max(1e-12, ref.abs().max().item<double>());
  return (ref - got.to(torch::kFloat64)).abs().max().item<double>() / scale;
}

}  // namespace

double cpu_conv_probe_error(std::string* worst_probe) {
  torch::NoGradGuard outer;
  double worst = 0;
  for (const Probe& p : probes()) {
    const auto x64 = wave({2, p.in, p.h, p.w}, 0.731);
    const auto wt64 = wave({p.in, p.out, p.kernel, p.kernel}, 1.377);
    const auto opt = F::ConvTranspose2dFuncOptions().stride(p.stride);
    const double e1 =
        rel(F::conv_transpose2d(x64, wt64, opt),
            F::conv_transpose2d(x64.to(torch::kFloat32), wt64.to(torch::kFloat32), opt));
    // conv2d's input gradient (oneDNN runs it as a deconvolution).
    const auto w64 = wave({p.out, p.in, p.kernel, p.kernel}, 0.913);
    const auto copt = F::Conv2dFuncOptions().stride(p.stride).padding(p.kernel / 2);
    auto grad_x = [&](torch::Dtype t) {
      torch::AutoGradMode on(true);
      auto x = x64.to(t).requires_grad_(true);
      auto y = F::conv2d(x, w64.to(t), copt);
      auto g = wave(y.sizes().vec(), 0.517).to(t);
      return torch::autograd::grad({y}, {x}, {g})[0];
    };
    const double e2 = rel(grad_x(torch::kFloat64), grad_x(torch::kFloat32));
    const double e = std::max(e1, e2);
    if (e > worst) {
      worst = e;
      if (worst_probe) {
        *worst_probe = fmt::format("{} k{} s{} {}->{} {}x{}",
                                   e1 >= e2 ? "conv_transpose2d" : "conv2d input gradient",
                                   p.kernel, p.stride, p.in, p.out, p.h, p.w);
      }
    }
  }
  return worst;
}

CpuBackendCheck prepare_cpu_backend(int threads) {
  torch::set_num_threads(std::max(threads, 1));
  constexpr double kTolerance = 1e-4;  // fp32 vs fp64 on these sizes: ~1e-7 where correct
  CpuBackendCheck c;
  c.worst_error = cpu_conv_probe_error(&c.worst_probe);
  if (c.worst_error <= kTolerance || !at::globalContext().userEnabledMkldnn()) {
    TESSERA_CHECK(c.worst_error <= kTolerance,
                  "LibTorch {} computes CPU convolutions wrongly even without oneDNN ({}: relative "
                  "error {:.3g} against fp64); refusing to train on it",
                  TORCH_VERSION, c.worst_probe, c.worst_error);
    return c;
  }
  at::globalContext().setUserEnabledMkldnn(false);
  c.onednn_disabled = true;
  std::string probe_after;
  const double after = cpu_conv_probe_error(&probe_after);
  TESSERA_CHECK(after <= kTolerance,
                "LibTorch {} computes CPU convolutions wrongly with and without oneDNN ({}: "
                "relative error {:.3g} against fp64); refusing to train on it",
                TORCH_VERSION, probe_after, after);
  spdlog::warn(
      "LibTorch {}'s oneDNN computes some CPU convolutions wrongly on this machine ({}: relative "
      "error {:.2g} against fp64, {} thread(s)); tessera turned oneDNN off for this run: results "
      "are right, convolutions slower. See docs/testing.md, \"LibTorch's CPU convolutions\"",
      TORCH_VERSION, c.worst_probe, c.worst_error, threads);
  return c;
}

}  // namespace tessera
