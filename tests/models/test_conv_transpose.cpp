// The polyphase Conv2DTranspose (models/conv_transpose.h) against the direct computation
// (conv_transpose2d + crop): outputs and all three gradients, for the U-Net's (3, 2) and other
// kernel/stride pairs, odd and even sizes, with and without bias.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <tuple>
#include <vector>

#include "models/conv_transpose.h"
#include "models/cpu_backend.h"
#include "models/layers.h"

namespace tessera {
namespace {

// max |a - b| / max(1, max |a|): relative to the scale of the values.
double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  const double scale = std::max(1.0, a.abs().max().item<double>());
  return (a - b).abs().max().item<double>() / scale;
}

TEST(ModelsConvTranspose, PolyphaseEqualsDirectForwardAndBackward) {
  // As tessera train/eval/predict do: a LibTorch whose oneDNN is wrong here runs without it.
  prepare_cpu_backend(torch::get_num_threads());
  torch::manual_seed(7);
  // (kernel, stride, in, out, H, W, bias)
  const std::vector<std::tuple<int, int, int, int, int, int, bool>> cases = {
      {3, 2, 8, 4, 6, 6, true}, {3, 2, 5, 3, 7, 4, true},  {3, 2, 4, 6, 1, 1, false},
      {2, 2, 3, 2, 5, 5, true}, {4, 2, 3, 5, 4, 7, true},  {5, 2, 2, 3, 6, 5, true},
      {3, 3, 3, 2, 4, 5, true}, {5, 3, 2, 2, 3, 3, false}, {1, 1, 4, 4, 5, 5, true},
      {3, 1, 3, 4, 5, 6, true}, {7, 2, 2, 3, 5, 4, true}};
  for (const auto& [k, s, cin, cout, h, w, with_bias] : cases) {
    SCOPED_TRACE(testing::Message() << "kernel " << k << " stride " << s << " " << cin << "->"
                                    << cout << " " << h << "x" << w << " bias " << with_bias);
    auto x = torch::randn({2, cin, h, w}, torch::requires_grad());
    auto weight = torch::randn({cin, cout, k, k}, torch::requires_grad());
    auto bias = with_bias ? torch::randn({cout}, torch::requires_grad()) : torch::Tensor();
    auto direct = keras_conv_transpose2d_direct(x, weight, bias, k, s);
    auto poly = keras_conv_transpose2d_polyphase(x, weight, bias, k, s);
    ASSERT_EQ(direct.sizes(), poly.sizes());
    EXPECT_EQ(poly.size(2), h * s);
    EXPECT_EQ(poly.size(3), w * s);
    EXPECT_LT(rel_diff(direct, poly), 1e-5);

    const auto g = torch::randn(direct.sizes());
    std::vector<torch::Tensor> inputs = {x, weight};
    if (with_bias) inputs.push_back(bias);
    const auto gd = torch::autograd::grad({direct}, inputs, {g});
    const auto gp = torch::autograd::grad({poly}, inputs, {g});
    for (size_t i = 0; i < gd.size(); ++i) {
      SCOPED_TRACE(testing::Message() << "gradient " << i);
      EXPECT_LT(rel_diff(gd[i], gp[i]), 1e-5);
    }
  }
}

// The module uses the polyphase path and still equals the direct definition.
TEST(ModelsConvTranspose, ModuleMatchesDirect) {
  torch::manual_seed(3);
  KerasConvTranspose2d ct(16, 8, 3, 2);
  {
    torch::NoGradGuard no_grad;
    ct->bias.uniform_(-1, 1);
  }
  const auto x = torch::randn({3, 16, 8, 8});
  const auto expected = keras_conv_transpose2d_direct(x, ct->weight, ct->bias, 3, 2);
  EXPECT_LT(rel_diff(expected, ct->forward(x)), 1e-5);
}

// The backend check: where it finds oneDNN wrong it turns it off and the probes then agree; on a
// correct build it changes nothing. Control: the probes do see a wrong convolution (a weight
// perturbed by 1e-2 gives an error far above the tolerance).
TEST(ModelsConvTranspose, CpuBackendCheckLeavesCorrectConvolutions) {
  const CpuBackendCheck c = prepare_cpu_backend(torch::get_num_threads());
  EXPECT_LT(cpu_conv_probe_error(), 1e-4) << "after the check: " << c.worst_probe;
  if (!c.onednn_disabled) {
    EXPECT_LT(c.worst_error, 1e-4);
  }
  torch::NoGradGuard no_grad;
  namespace F = torch::nn::functional;
  auto x = torch::sin(torch::arange(2 * 3 * 5 * 5, torch::kFloat64)).view({2, 3, 5, 5});
  auto w = torch::cos(torch::arange(3 * 4 * 3 * 3, torch::kFloat64)).view({3, 4, 3, 3});
  auto ref = F::conv_transpose2d(x, w, F::ConvTranspose2dFuncOptions().stride(2));
  auto off = F::conv_transpose2d(x.to(torch::kFloat32), (w + 1e-2).to(torch::kFloat32),
                                 F::ConvTranspose2dFuncOptions().stride(2));
  EXPECT_GT(rel_diff(ref, off.to(torch::kFloat64)), 1e-3);
}

}  // namespace
}  // namespace tessera
