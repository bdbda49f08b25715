// Keras-compatibility building blocks: TF 'same' padding, Conv2DTranspose('same'), initialisers,
// BatchNorm defaults.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "models/layers.h"
#include "models/model.h"
#include "test_util.h"

namespace tessera {
namespace {

namespace F = torch::nn::functional;

TEST(ModelsLayers, TfSamePaddingRule) {
  using P = std::pair<int64_t, int64_t>;
  // pad_total = max((ceil(in/s) - 1) * s + k - in, 0); before = total / 2.
  EXPECT_EQ(keras::tf_same_padding(63, 3, 2), P(1, 1));  // article conv3 at 256x256 input
  EXPECT_EQ(keras::tf_same_padding(64, 3, 2), P(0, 1));  // even input: asymmetric, extra after
  EXPECT_EQ(keras::tf_same_padding(5, 3, 1), P(1, 1));
  EXPECT_EQ(keras::tf_same_padding(4, 2, 2), P(0, 0));
  EXPECT_EQ(keras::tf_same_padding(7, 5, 3), P(2, 2));
  EXPECT_EQ(keras::tf_same_padding(8, 5, 3), P(1, 2));
  EXPECT_EQ(keras::tf_same_padding(1, 3, 2), P(1, 1));
}

TEST(ModelsLayers, TfSamePadIsAsymmetricForEvenInput) {
  torch::Tensor x = torch::ones({1, 1, 4, 6});
  torch::Tensor p = keras::tf_same_pad(x, 3, 2);  // (0, 1) rows, (0, 1) cols
  ASSERT_EQ(p.sizes(), (std::vector<int64_t>{1, 1, 5, 7}));
  EXPECT_EQ(p.index({0, 0, 0, 0}).item<float>(), 1.0f);  // nothing before
  EXPECT_EQ(p.index({0, 0, 4, 0}).item<float>(), 0.0f);  // padded row after
  EXPECT_EQ(p.index({0, 0, 0, 6}).item<float>(), 0.0f);  // padded column after
  EXPECT_EQ(p.sum().item<float>(), 24.0f);
  // The TF-same stride-2 conv output size is ceil(in / 2).
  torch::Tensor w = torch::randn({2, 1, 3, 3});
  EXPECT_EQ(F::conv2d(p, w, F::Conv2dFuncOptions().stride(2)).sizes(),
            (std::vector<int64_t>{1, 2, 2, 3}));
}

// TF defines conv2d_transpose(padding='same') as the input-gradient of conv2d(padding='same')
// with the same kernel. Check KerasConvTranspose2d against exactly that definition, built from
// tf_same_pad + conv2d + autograd, for even and odd sizes.
TEST(ModelsLayers, ConvTransposeSameEqualsGradientOfTfSameConv) {
  torch::manual_seed(1);
  for (auto hw : {std::pair<int64_t, int64_t>{5, 6}, {4, 4}, {1, 3}}) {
    KerasConvTranspose2d ct(4, 3, 3, 2);
    {
      torch::NoGradGuard g;
      ct->bias.zero_();
    }
    torch::Tensor x = torch::randn({2, 4, hw.first, hw.second});
    torch::Tensor y = ct(x).detach();
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 3, 2 * hw.first, 2 * hw.second}));

    torch::Tensor z = torch::zeros({2, 3, 2 * hw.first, 2 * hw.second}, torch::requires_grad());
    torch::Tensor conv = F::conv2d(keras::tf_same_pad(z, 3, 2), ct->weight.detach(),
                                   F::Conv2dFuncOptions().stride(2));
    ASSERT_EQ(conv.sizes(), x.sizes());
    (conv * x).sum().backward();
    EXPECT_LT((z.grad() - y).abs().max().item<float>(), 1e-5f) << hw.first << "x" << hw.second;

    // torch's ConvTranspose2d(padding=1, output_padding=1) has the right shape but is shifted.
    torch::Tensor shifted =
        F::conv_transpose2d(x, ct->weight.detach(),
                            F::ConvTranspose2dFuncOptions().stride(2).padding(1).output_padding(1));
    ASSERT_EQ(shifted.sizes(), y.sizes());
    EXPECT_GT((shifted - y).abs().max().item<float>(), 1e-3f);
  }
}

TEST(ModelsLayers, HeNormalIsKerasTruncatedNormal) {
  torch::manual_seed(2);
  const int64_t fan_in = 288;
  torch::Tensor w = torch::empty({1000, 1000});
  keras::he_normal_(w, fan_in);
  const double target_std = std::sqrt(2.0 / fan_in);  // after truncation
  const double cut = 2.0 * target_std / 0.87962566103423978;
  EXPECT_NEAR(w.std().item<double>(), target_std, 0.01 * target_std);
  EXPECT_NEAR(w.mean().item<double>(), 0.0, 0.01 * target_std);
  EXPECT_LE(w.abs().max().item<double>(), cut * (1 + 1e-6));
  EXPECT_GT(w.abs().max().item<double>(), 0.99 * cut);  // reaches the cut: truncated, not clipped
  // Truncation, not clamping: no mass piles up at the cut.
  EXPECT_LT((w.abs() > 0.999 * cut).sum().item<int64_t>(), 1000);
}

TEST(ModelsLayers, GlorotUniformLimits) {
  torch::manual_seed(3);
  torch::Tensor w = torch::empty({500, 1000});
  keras::glorot_uniform_(w, 144, 288);
  const double limit = std::sqrt(6.0 / (144 + 288));
  EXPECT_LE(w.abs().max().item<double>(), limit);
  EXPECT_GT(w.abs().max().item<double>(), 0.999 * limit);
  EXPECT_NEAR(w.var().item<double>(), limit * limit / 3.0, 0.01 * limit * limit / 3.0);
}

TEST(ModelsLayers, ConvHelperZeroBiasAndPadding) {
  torch::manual_seed(4);
  auto conv = keras::conv2d(3, 8, 3, 1, 1, /*he=*/true);
  EXPECT_EQ(conv->bias.abs().sum().item<float>(), 0.0f);
  EXPECT_LE(conv->weight.abs().max().item<double>(),
            2.0 * std::sqrt(2.0 / 27.0) / 0.87962566103423978 + 1e-6);
  EXPECT_EQ(conv(torch::zeros({1, 3, 5, 7})).sizes(), (std::vector<int64_t>{1, 8, 5, 7}));
}

TEST(ModelsLayers, BatchNormHasKerasDefaults) {
  ConvBlock block(3, 8, /*batch_norm=*/true);
  ASSERT_FALSE(block->bn1.is_empty() || block->bn2.is_empty());
  const auto* bn1_ptr = block->bn1.ptr()->as<torch::nn::BatchNorm2dImpl>();
  ASSERT_NE(bn1_ptr, nullptr);
  const auto& bn1 = *bn1_ptr;
  const auto& o = bn1.options;
  EXPECT_DOUBLE_EQ(o.momentum().value(), 0.01);  // Keras momentum 0.99
  EXPECT_DOUBLE_EQ(o.eps(), 1e-3);
  EXPECT_TRUE(bn1.weight.eq(1).all().item<bool>());
  EXPECT_TRUE(bn1.bias.eq(0).all().item<bool>());
  EXPECT_TRUE(bn1.running_var.eq(1).all().item<bool>());
  // Keras' convs keep their bias before BN (use_bias defaults to True).
  EXPECT_TRUE(block->conv1->options.bias());
}

TEST(ModelsLayers, ConvBlockWithoutBatchNormIsConvReluConvRelu) {
  torch::manual_seed(5);
  ConvBlock block(2, 4, /*batch_norm=*/false);
  EXPECT_TRUE(block->bn1.is_empty());
  EXPECT_EQ(block->named_children().size(), 2u);
  torch::Tensor x = torch::randn({1, 2, 6, 6});
  torch::Tensor expect = torch::relu(block->conv2(torch::relu(block->conv1(x))));
  EXPECT_TRUE(torch::equal(block(x), expect));
}

TEST(ModelsLayers, ConvBlockTraceRows) {
  ConvBlock block(2, 4, true);
  std::vector<TracedLayer> trace;
  block->forward(torch::zeros({1, 2, 6, 6}), &trace, "encoder.0");
  ASSERT_EQ(trace.size(), 6u);
  EXPECT_EQ(trace[0].name, "encoder.0.conv1");
  EXPECT_EQ(trace[1].type, "BatchNormalization");
  EXPECT_EQ(trace[5].name, "encoder.0.relu2");
  EXPECT_EQ(trace[5].shape, (std::vector<int64_t>{1, 4, 6, 6}));
}

}  // namespace
}  // namespace tessera
