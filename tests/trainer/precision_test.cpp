// train.precision (trainer/precision.h): AutocastScope computes convolutions in bf16 inside the
// scope only, keeps parameters' gradients in float32, restores the previous state (nested scopes
// too), and drops its cache of cast weights at the end, so a weight updated between two steps is
// used as updated. Controls: fp32 scopes change nothing, and the same forward without a scope is
// float32.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/layers.h"
#include "trainer/precision.h"

namespace tessera {
namespace {

const torch::Device kCpu(torch::kCPU);

TEST(Precision, DtypeOfEachSetting) {
  EXPECT_EQ(autocast_dtype("fp32"), torch::kFloat);
  EXPECT_EQ(autocast_dtype("bf16"), torch::kBFloat16);
  EXPECT_THROW(autocast_dtype("fp16"), std::exception);
}

TEST(Precision, Bf16ScopeComputesConvolutionsInBf16AndGradientsInFloat) {
  torch::manual_seed(1);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 4, 3).padding(1));
  const torch::Tensor x = torch::randn({2, 3, 8, 8});
  torch::Tensor y32 = conv(x);
  EXPECT_EQ(y32.scalar_type(), torch::kFloat);  // control: no scope, float32
  torch::Tensor y;
  {
    AutocastScope scope(kCpu, torch::kBFloat16);
    EXPECT_TRUE(scope.active());
    y = conv(x);
  }
  EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(conv(x).scalar_type(), torch::kFloat) << "autocast left on after the scope";
  // bf16 has 8 bits of mantissa: close to float32, not equal.
  const double err = (y.to(torch::kFloat) - y32).abs().max().item<double>();
  EXPECT_GT(err, 0.0);
  EXPECT_LT(err, 0.05 * y32.abs().max().item<double>());
  y.to(torch::kFloat).sum().backward();
  EXPECT_EQ(conv->weight.grad().scalar_type(), torch::kFloat);
  EXPECT_EQ(conv->weight.scalar_type(), torch::kFloat);
}

TEST(Precision, Fp32ScopeIsANoOp) {
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 4, 3));
  AutocastScope scope(kCpu, torch::kFloat);
  EXPECT_FALSE(scope.active());
  EXPECT_EQ(conv(torch::randn({1, 3, 5, 5})).scalar_type(), torch::kFloat);
}

TEST(Precision, NestedScopesRestoreTheOuterState) {
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 4, 3));
  const torch::Tensor x = torch::randn({1, 3, 5, 5});
  AutocastScope outer(kCpu, torch::kBFloat16);
  { AutocastScope inner(kCpu, torch::kBFloat16); }
  EXPECT_EQ(conv(x).scalar_type(), torch::kBFloat16) << "inner scope turned the outer one off";
}

TEST(Precision, WeightsUpdatedBetweenScopesAreUsed) {
  torch::manual_seed(2);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 4, 3).bias(false));
  const torch::Tensor x = torch::randn({1, 3, 6, 6});
  torch::Tensor before, after;
  {
    AutocastScope s(kCpu, torch::kBFloat16);
    before = conv(x);
  }
  {
    torch::NoGradGuard no_grad;
    conv->weight.mul_(2.0);
  }
  {
    AutocastScope s(kCpu, torch::kBFloat16);
    after = conv(x);
  }
  // A stale cached bf16 weight would give `before` again.
  EXPECT_TRUE(torch::allclose(after.to(torch::kFloat), 2.0 * before.to(torch::kFloat), 1e-2, 1e-2));
}

TEST(Precision, BatchNormOfABf16ActivationKeepsFloatStatistics) {
  // LibTorch's batch norm takes a bf16 input with float32 parameters and buffers and accumulates
  // the statistics in float32: the running mean equals the float batch norm's on the same
  // bf16-rounded values.
  torch::manual_seed(3);
  const auto opts = torch::nn::BatchNorm2dOptions(4).momentum(1.0);
  torch::nn::BatchNorm2d bn(opts), ref(opts);
  const torch::Tensor x = (torch::randn({4, 4, 16, 16}) * 0.1 + 3).to(torch::kBFloat16);
  const torch::Tensor y = bn(x);
  ref(x.to(torch::kFloat));
  EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(bn->running_mean.scalar_type(), torch::kFloat);
  EXPECT_LT((bn->running_mean - ref->running_mean).abs().max().item<double>(), 1e-5);
  EXPECT_LT((bn->running_var - ref->running_var).abs().max().item<double>(), 1e-6);
  // And inside the seed models' conv blocks under autocast, the buffers stay float32.
  ConvBlock block(3, 4, /*batch_norm=*/true, Norm2dFactory{});
  block->train();
  {
    AutocastScope s(kCpu, torch::kBFloat16);
    EXPECT_EQ(block->forward(torch::randn({2, 3, 8, 8})).scalar_type(), torch::kBFloat16);
  }
  for (const auto& b : block->buffers()) {
    if (b.is_floating_point()) {
      EXPECT_EQ(b.scalar_type(), torch::kFloat);
    }
  }
}

}  // namespace
}  // namespace tessera
