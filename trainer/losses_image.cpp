// Image losses (MSE, L1, SSIM, SSIM+L1) on activated model outputs, and the SSIM map they share
// with the float64 image metrics.
#include <cmath>

#include "common/error.h"
#include "trainer/losses_internal.h"

namespace tessera {

namespace {

using detail::shape_str;

constexpr int kWindow = 11;
constexpr double kSigma = 1.5;

}  // namespace

torch::Tensor gaussian_window_1d(torch::ScalarType dtype) {
  std::vector<double> g(kWindow);
  double total = 0.0;
  for (int i = 0; i < kWindow; ++i) {
    const double d = i - (kWindow - 1) / 2;
    g[i] = std::exp(-d * d / (2.0 * kSigma * kSigma));
    total += g[i];
  }
  for (double& v : g) v /= total;
  return torch::tensor(g, torch::kDouble).to(dtype);
}

torch::Tensor ssim_map(const torch::Tensor& x, const torch::Tensor& y, double data_range) {
  TESSERA_CHECK(x.dim() == 4 && x.sizes() == y.sizes() && x.is_floating_point() &&
                    x.scalar_type() == y.scalar_type(),
                "SSIM needs two floating N,C,H,W tensors of one shape and dtype (got {} and {})",
                shape_str(x), shape_str(y));
  TESSERA_CHECK(x.size(2) >= kWindow && x.size(3) >= kWindow,
                "SSIM needs images of at least {0}x{0} pixels (its Gaussian window is {0}x{0}); "
                "got {1}x{2}",
                kWindow, x.size(2), x.size(3));
  const int64_t c = x.size(1);
  const torch::Tensor g = gaussian_window_1d(x.scalar_type()).to(x.device());
  // Separable 'valid' Gaussian filter of the five maps x, y, x^2, y^2, xy at once.
  const torch::Tensor h = g.reshape({1, 1, 1, kWindow}).repeat({5 * c, 1, 1, 1});
  const torch::Tensor v = g.reshape({1, 1, kWindow, 1}).repeat({5 * c, 1, 1, 1});
  const torch::Tensor stacked = torch::cat({x, y, x * x, y * y, x * y}, 1);
  const torch::Tensor none;
  const std::vector<int64_t> ones = {1, 1}, zeros = {0, 0};
  const torch::Tensor f = torch::conv2d(torch::conv2d(stacked, h, none, ones, zeros, ones, 5 * c),
                                        v, none, ones, zeros, ones, 5 * c);
  const auto parts = f.split(c, 1);
  const torch::Tensor& mu_x = parts[0];
  const torch::Tensor& mu_y = parts[1];
  const torch::Tensor mu_xx = mu_x * mu_x, mu_yy = mu_y * mu_y, mu_xy = mu_x * mu_y;
  const torch::Tensor var_x = parts[2] - mu_xx;
  const torch::Tensor var_y = parts[3] - mu_yy;
  const torch::Tensor cov = parts[4] - mu_xy;
  const double c1 = (0.01 * data_range) * (0.01 * data_range);
  const double c2 = (0.03 * data_range) * (0.03 * data_range);
  return ((2.0 * mu_xy + c1) * (2.0 * cov + c2)) / ((mu_xx + mu_yy + c1) * (var_x + var_y + c2));
}

torch::Tensor ssim_index(const torch::Tensor& x, const torch::Tensor& y) {
  return ssim_map(x, y, 1.0).mean();
}

namespace detail {

std::string ImageLoss::name() const {
  switch (kind_) {
    case ImageLossKind::mse:
      return "mse";
    case ImageLossKind::l1:
      return "l1";
    case ImageLossKind::ssim:
      return "ssim";
    case ImageLossKind::ssim_l1:
      return "ssim_l1";
  }
  return "?";
}

torch::Tensor ImageLoss::operator()(const torch::Tensor& raw_logits, const torch::Tensor& target) {
  const torch::Tensor logits = upcast(raw_logits);
  check_logits(logits, name().c_str());
  TESSERA_CHECK(target.defined() && target.sizes() == logits.sizes() && target.is_floating_point(),
                "loss '{}': target must be a float N,C,H,W image of the model output's shape {} "
                "(got {} {})",
                name(), shape_str(logits), target.defined() ? shape_str(target) : "undefined",
                target.defined() ? std::string(c10::toString(target.scalar_type())) : "");
  const torch::Tensor out = output_activation(logits, activation_);
  const torch::Tensor y = target.to(out.device(), out.scalar_type());
  switch (kind_) {
    case ImageLossKind::mse:
      return torch::mse_loss(out, y);
    case ImageLossKind::l1:
      return torch::l1_loss(out, y);
    case ImageLossKind::ssim:
      return 1.0 - ssim_index(out, y);
    case ImageLossKind::ssim_l1:
      return ssim_weight_ * (1.0 - ssim_index(out, y)) +
             (1.0f - ssim_weight_) * torch::l1_loss(out, y);
  }
  return {};
}

}  // namespace detail
}  // namespace tessera
