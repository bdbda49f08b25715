// The article's autoencoder (myTransformer) and the generic autoencoder.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <tuple>

#include "models/autoencoder.h"
#include "models/describe.h"
#include "test_util.h"

namespace tessera {
namespace {

// myTransformer counted by hand from the article's Sequential list. Every layer is
// Conv2D(3x3, use_bias=True): 9 * cin * cout + cout.
//   conv1   3 -> 16:     432 +  16 =       448
//   conv2  16 -> 32:    4608 +  32 =     4,640   (stride 2, valid)
//   conv3  32 -> 64:   18432 +  64 =    18,496   (stride 2, same)
//   conv4  64 -> 64:   36864 +  64 =    36,928
//   conv5  64 -> 128:  73728 + 128 =    73,856
//   conv6 128 -> 128: 147456 + 128 =   147,584
//   conv7 128 -> 256: 294912 + 256 =   295,168
//   conv8 256 -> 512:1179648 + 512 = 1,180,160
//   conv9 512 -> 256:1179648 + 256 = 1,179,904
//   conv10 256 -> 128: 294912 + 128 =  295,040
//   conv11 128 -> 128: 147456 + 128 =  147,584
//   conv12 128 -> 128: 147456 + 128 =  147,584
//   conv13 128 -> 64:   73728 +  64 =   73,792
//   conv14  64 -> 32:   18432 +  32 =   18,464
//   conv15  32 -> 16:    4608 +  16 =    4,624
//   conv16  16 -> 3:      432 +   3 =      435
//   MaxPool2D, UpSampling2D: 0.                 Total: 3,624,707 (all trainable).
TEST(ModelsAutoencoder, ParameterCountEqualsKerasMyTransformer) {
  ArticleAutoencoder net(ArticleAutoencoderOptions{});
  EXPECT_EQ(test::trainable_params(*net), 3624707);
  EXPECT_EQ(test::float_buffer_elements(*net), 0);
  EXPECT_EQ(net->named_children().size(), 16u);
}

// The article's claim: 256x256x3 in, 256x256x3 out. Also checks every intermediate size of the
// Sequential stack (the stride-2 'valid' conv gives 63, TF 'same' stride 2 gives 32).
TEST(ModelsAutoencoder, ArticleSizesAt256) {
  ArticleAutoencoder net(ArticleAutoencoderOptions{});
  const ModelSummary s = summarize_model(*net, 256, 256);
  EXPECT_EQ(s.output_shape, (std::vector<int64_t>{3, 256, 256}));
  std::map<std::string, std::vector<int64_t>> shape;
  for (const auto& row : s.layers) shape[row.name] = row.output_shape;
  EXPECT_EQ(shape["conv1"], (std::vector<int64_t>{16, 256, 256}));
  EXPECT_EQ(shape["pool1"], (std::vector<int64_t>{16, 128, 128}));
  EXPECT_EQ(shape["conv2"], (std::vector<int64_t>{32, 63, 63}));
  EXPECT_EQ(shape["conv3.pad"], (std::vector<int64_t>{32, 65, 65}));  // TF pads (1, 1) here
  EXPECT_EQ(shape["conv3"], (std::vector<int64_t>{64, 32, 32}));
  EXPECT_EQ(shape["pool2"], (std::vector<int64_t>{64, 16, 16}));
  EXPECT_EQ(shape["conv8"], (std::vector<int64_t>{512, 16, 16}));
  EXPECT_EQ(shape["up1"], (std::vector<int64_t>{512, 32, 32}));
  EXPECT_EQ(shape["conv12"], (std::vector<int64_t>{128, 32, 32}));
  EXPECT_EQ(shape["conv13"], (std::vector<int64_t>{64, 64, 64}));
  EXPECT_EQ(shape["conv14"], (std::vector<int64_t>{32, 128, 128}));
  EXPECT_EQ(shape["conv15"], (std::vector<int64_t>{16, 256, 256}));
  EXPECT_EQ(s.total_params, 3624707);
  // ReLU after every conv but the last (the article's last ReLU is model.activation).
  EXPECT_EQ(s.layers.back().name, "conv16");
  int relus = 0;
  for (const auto& row : s.layers) relus += row.type == "Activation(relu)";
  EXPECT_EQ(relus, 15);
}

TEST(ModelsAutoencoder, OutputSizeEqualsInputForMultiplesOf16) {
  torch::manual_seed(0);
  ArticleAutoencoderOptions o;
  o.filters = 2;  // narrow, for speed; the structure is the article's
  o.in_channels = 1;
  o.out_channels = 2;
  ArticleAutoencoder net(o);
  torch::NoGradGuard no_grad;
  for (auto hw : {std::pair<int64_t, int64_t>{16, 16}, {32, 48}, {64, 16}, {80, 112}}) {
    torch::Tensor y = net(torch::rand({2, 1, hw.first, hw.second}));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 2, hw.first, hw.second}));
  }
}

TEST(ModelsAutoencoder, SizesNotMultipleOf16AreRefused) {
  ArticleAutoencoderOptions o;
  o.filters = 2;
  ArticleAutoencoder net(o);
  torch::NoGradGuard no_grad;
  for (auto hw : {std::pair<int64_t, int64_t>{40, 40}, {8, 8}, {256, 100}}) {
    std::string msg = test::error_message([&] { net(torch::zeros({1, 3, hw.first, hw.second})); });
    EXPECT_NE(msg.find("multiples of 16"), std::string::npos) << msg;
    EXPECT_NE(msg.find(fmt::format("got {}x{}", hw.first, hw.second)), std::string::npos) << msg;
    EXPECT_NE(msg.find("autoencoder_generic"), std::string::npos) << msg;
  }
  std::string msg = test::error_message([&] { net(torch::zeros({1, 4, 32, 32})); });
  EXPECT_NE(msg.find("expects 3 input channels"), std::string::npos) << msg;
}

TEST(ModelsAutoencoder, ArticleInitIsGlorotUniformZeroBias) {
  torch::manual_seed(0);
  ArticleAutoencoder net(ArticleAutoencoderOptions{});
  auto p = net->named_parameters();
  EXPECT_LE(p["conv8.weight"].abs().max().item<double>(), std::sqrt(6.0 / (9 * 256 + 9 * 512)));
  EXPECT_GT(p["conv8.weight"].abs().max().item<double>(),
            0.99 * std::sqrt(6.0 / (9 * 256 + 9 * 512)));
  EXPECT_EQ(p["conv8.bias"].abs().max().item<float>(), 0.0f);
}

GenericAutoencoderOptions generic(int64_t filters, int64_t depth, bool bn, double dropout = 0.1) {
  GenericAutoencoderOptions o;
  o.filters = filters;
  o.depth = depth;
  o.batch_norm = bn;
  o.dropout = dropout;
  return o;
}

TEST(ModelsGenericAutoencoder, ShapesForSeveralDepthsAndWidths) {
  torch::manual_seed(0);
  for (auto [filters, depth, h, w] : {std::tuple<int64_t, int64_t, int64_t, int64_t>{4, 1, 6, 10},
                                      {8, 2, 12, 8},
                                      {4, 3, 24, 40},
                                      {2, 5, 32, 64}}) {
    GenericAutoencoder net(generic(filters, depth, true));
    net->eval();
    torch::NoGradGuard no_grad;
    torch::Tensor y = net(torch::randn({2, 3, h, w}));
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 3, h, w})) << "depth " << depth;
  }
}

// Parameter count from the structure: blocks as in the U-Net, no transposed convs, decoder
// blocks take the wider tensor directly (no concatenation), 1x1 head.
TEST(ModelsGenericAutoencoder, ParameterCountByHand) {
  GenericAutoencoder net(generic(8, 2, false));
  // enc0 3->8: 216+8 + 576+8 = 808; enc1 8->16: 1152+16 + 2304+16 = 3488;
  // bottleneck 16->32: 4608+32 + 9216+32 = 13888; dec0 32->16: 4608+16 + 2304+16 = 6944;
  // dec1 16->8: 1152+8 + 576+8 = 1744; head 8->3: 24+3 = 27.  Total 26,899.
  EXPECT_EQ(test::trainable_params(*net), 26899);
  GenericAutoencoder bn(generic(8, 2, true));
  // + 2 BNs per block of width f: 4f trainable: 4 * (8+16+32+16+8) = 320
  EXPECT_EQ(test::trainable_params(*bn), 26899 + 320);
  EXPECT_EQ(test::float_buffer_elements(*bn), 320);
}

TEST(ModelsGenericAutoencoder, BadSizesGiveClearErrors) {
  GenericAutoencoder net(generic(2, 3, true));
  std::string msg = test::error_message([&] { net->check_input(3, 20, 16); });
  EXPECT_NE(msg.find("autoencoder_generic of depth 3 needs H and W divisible by 8; got 20x16"),
            std::string::npos)
      << msg;
  msg = test::error_message([] { GenericAutoencoder(generic(2, 11, true)); });
  EXPECT_NE(msg.find("model.depth"), std::string::npos) << msg;
}

TEST(ModelsGenericAutoencoder, DropoutOnlyInTrainingMode) {
  torch::manual_seed(0);
  GenericAutoencoder net(generic(4, 2, false, 0.5));
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({1, 3, 8, 8});
  net->train();
  EXPECT_FALSE(torch::allclose(net(x), net(x)));
  net->eval();
  EXPECT_TRUE(torch::equal(net(x), net(x)));
}

}  // namespace
}  // namespace tessera
