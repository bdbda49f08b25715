// The article's U-Net (GiveMeUnet): parameter count, shapes, size errors, dropout, skip order.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "models/unet.h"
#include "test_util.h"

namespace tessera {
namespace {

UNetOptions options(int64_t in, int64_t out, int64_t filters, int64_t depth, bool bn,
                    double dropout = 0.1) {
  UNetOptions o;
  o.in_channels = in;
  o.out_channels = out;
  o.filters = filters;
  o.depth = depth;
  o.batch_norm = bn;
  o.dropout = dropout;
  return o;
}

// Keras' model.summary() of GiveMeUnet(Input((H, W, 3)), numFilters=16, doBatchNorm=True),
// counted by hand from the article's layers. Conv2D(k x k, cin -> cout) has k*k*cin*cout + cout
// parameters (use_bias=True, also before BN); BatchNormalization(c) has 2c trainable (gamma,
// beta) + 2c non-trainable (moving mean, moving variance).
// Conv2dBlock(cin, f) = conv 9*cin*f + f, BN 2f, conv 9*f*f + f, BN 2f
//                     -> trainable 9*cin*f + 9*f*f + 6f, non-trainable 4f.
//   c1 (3 -> 16):      432 +    2304 +   96 =    2,832
//   c2 (16 -> 32):    4608 +    9216 +  192 =   14,016
//   c3 (32 -> 64):   18432 +   36864 +  384 =   55,680
//   c4 (64 -> 128):  73728 +  147456 +  768 =  221,952
//   c5 (128 -> 256):294912 +  589824 + 1536 =  886,272
//   u6 Conv2DTranspose(128, 3x3) from 256: 9*256*128 + 128 = 295,040
//   c6 (128+128 -> 128): 294912 + 147456 + 768 = 443,136
//   u7 Conv2DTranspose(64) from 128:   9*128*64 + 64 =  73,792
//   c7 (64+64 -> 64):     73728 +  36864 + 384 = 110,976
//   u8 Conv2DTranspose(32) from 64:     9*64*32 + 32 =  18,464
//   c8 (32+32 -> 32):     18432 +   9216 + 192 =  27,840
//   u9 Conv2DTranspose(16) from 32:     9*32*16 + 16 =   4,624
//   c9 (16+16 -> 16):      4608 +   2304 +  96 =   7,008
//   output Conv2D(1, 1x1) from 16:           16 + 1 =      17
//   MaxPooling2D, Dropout, Concatenate, Activation: 0.
// Trainable = 2,161,649. Non-trainable = 4 * (16+32+64+128+256+128+64+32+16) = 4 * 736 = 2,944.
// Total = 2,164,593.
TEST(ModelsUNet, ParameterCountEqualsKerasGiveMeUnet) {
  UNet net(options(3, 1, 16, 4, true));
  EXPECT_EQ(test::trainable_params(*net), 2161649);
  EXPECT_EQ(test::float_buffer_elements(*net), 2944);
  // Without batch norm the 2 * 736 * 2 = 2,944 gamma/beta parameters go away.
  UNet plain(options(3, 1, 16, 4, false));
  EXPECT_EQ(test::trainable_params(*plain), 2161649 - 2944);
  EXPECT_EQ(test::float_buffer_elements(*plain), 0);
}

TEST(ModelsUNet, OutputShapesForSeveralSizesDepthsAndWidths) {
  torch::manual_seed(0);
  struct Case {
    int64_t in, out, filters, depth, h, w;
  };
  for (const Case& c : {Case{3, 1, 16, 4, 32, 48}, Case{1, 3, 4, 2, 12, 8},
                        Case{3, 5, 8, 3, 16, 40}, Case{2, 2, 4, 1, 6, 2}}) {
    UNet net(options(c.in, c.out, c.filters, c.depth, true));
    net->eval();
    torch::NoGradGuard no_grad;
    torch::Tensor y = net(torch::randn({2, c.in, c.h, c.w}));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, c.out, c.h, c.w}))
        << "depth " << c.depth << " filters " << c.filters;
    EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
  }
}

TEST(ModelsUNet, BadSizesGiveClearErrors) {
  UNet net(options(3, 1, 4, 4, true));
  torch::NoGradGuard no_grad;
  std::string msg = test::error_message([&] { net(torch::zeros({1, 3, 100, 128})); });
  EXPECT_NE(msg.find("U-Net of depth 4 needs H and W divisible by 16"), std::string::npos) << msg;
  EXPECT_NE(msg.find("got 100x128"), std::string::npos) << msg;

  msg = test::error_message([&] { net(torch::zeros({1, 1, 32, 32})); });
  EXPECT_NE(msg.find("expects 3 input channels"), std::string::npos) << msg;
  EXPECT_NE(msg.find("got 1"), std::string::npos) << msg;

  msg = test::error_message([&] { net(torch::zeros({3, 32, 32})); });
  EXPECT_NE(msg.find("N x C x H x W"), std::string::npos) << msg;

  UNet shallow(options(3, 1, 4, 2, true));
  msg = test::error_message([&] { shallow->check_input(3, 12, 10); });
  EXPECT_NE(msg.find("depth 2 needs H and W divisible by 4; got 12x10"), std::string::npos) << msg;
  EXPECT_NO_THROW(shallow->check_input(3, 12, 8));
}

TEST(ModelsUNet, BadOptionsNameTheKey) {
  std::string msg = test::error_message([] { UNet(options(3, 1, 0, 4, true)); });
  EXPECT_NE(msg.find("model.filters"), std::string::npos) << msg;
  msg = test::error_message([] { UNet(options(3, 1, 16, 0, true)); });
  EXPECT_NE(msg.find("model.depth"), std::string::npos) << msg;
  msg = test::error_message([] { UNet(options(3, 1, 16, 4, true, 1.0)); });
  EXPECT_NE(msg.find("model.dropout"), std::string::npos) << msg;
}

TEST(ModelsUNet, DropoutOnlyInTrainingMode) {
  torch::manual_seed(0);
  UNet net(options(1, 1, 4, 2, /*bn=*/false, /*dropout=*/0.5));
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({2, 1, 16, 16});
  net->train();
  EXPECT_FALSE(torch::allclose(net(x), net(x)));  // different dropout masks
  net->eval();
  EXPECT_TRUE(torch::equal(net(x), net(x)));
  // No dropout: training mode is deterministic too (without BN).
  UNet none(options(1, 1, 4, 2, false, 0.0));
  none->train();
  EXPECT_TRUE(torch::equal(none(x), none(x)));
}

// concatenate([u, c]) puts the up-sampled tensor first: with the up-convolution zeroed, the
// first `width` input channels of the decoder's first conv see zeros, so changing their weights
// must not change the output, while changing the skip half must.
TEST(ModelsUNet, ConcatenationOrderIsUpThenSkip) {
  torch::manual_seed(0);
  UNet net(options(2, 1, 4, 2, true));
  net->eval();
  torch::NoGradGuard no_grad;
  auto params = net->named_parameters();
  params["up.0.weight"].zero_();
  params["up.0.bias"].zero_();
  torch::Tensor x = torch::randn({1, 2, 8, 8});
  torch::Tensor y0 = net(x);
  const int64_t width = 8;  // level 1: filters * 2
  torch::Tensor w = params["decoder.0.conv1.weight"];
  ASSERT_EQ(w.size(1), 2 * width);
  w.narrow(1, 0, width).normal_();
  EXPECT_LT((net(x) - y0).abs().max().item<float>(), 1e-6f);
  w.narrow(1, width, width).normal_();
  EXPECT_FALSE(torch::allclose(net(x), y0));
}

TEST(ModelsUNet, InitialisationFollowsKeras) {
  torch::manual_seed(0);
  UNet net(options(3, 1, 16, 4, true));
  auto p = net->named_parameters();
  for (const auto& item : p) {
    if (item.key().find("bias") != std::string::npos &&
        item.key().find("bn") == std::string::npos) {
      EXPECT_EQ(item.value().abs().max().item<float>(), 0.0f) << item.key();
    }
  }
  // he_normal on block convs: |w| <= 2 * sqrt(2 / fan_in) / 0.8796
  EXPECT_LE(p["encoder.0.conv1.weight"].abs().max().item<double>(),
            2 * std::sqrt(2.0 / 27) / 0.87962566103423978 + 1e-6);
  // glorot_uniform on the transposed conv and the 1x1 head
  EXPECT_LE(p["up.0.weight"].abs().max().item<double>(), std::sqrt(6.0 / (9 * 256 + 9 * 128)));
  EXPECT_LE(p["head.weight"].abs().max().item<double>(), std::sqrt(6.0 / (16 + 1)));
  EXPECT_EQ(p["head.weight"].sizes(), (std::vector<int64_t>{1, 16, 1, 1}));
  EXPECT_EQ(p["up.3.weight"].sizes(), (std::vector<int64_t>{32, 16, 3, 3}));
}

}  // namespace
}  // namespace tessera
