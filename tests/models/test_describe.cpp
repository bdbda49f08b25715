// describe_model / summarize_model: the layer table behind `tessera inspect`.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>

#include "models/describe.h"
#include "models/unet.h"
#include "test_util.h"

namespace tessera {
namespace {

TEST(ModelsDescribe, UNetSummaryMatchesKerasCounts) {
  UNet net(UNetOptions{});  // 3 -> 1, 16 filters, depth 4, BN: the article's model
  net->train();
  const ModelSummary s = summarize_model(*net, 64, 64);
  EXPECT_TRUE(net->is_training());  // mode restored
  EXPECT_EQ(s.arch, "unet");
  EXPECT_EQ(s.input_shape, (std::vector<int64_t>{3, 64, 64}));
  EXPECT_EQ(s.output_shape, (std::vector<int64_t>{1, 64, 64}));
  EXPECT_EQ(s.trainable_params, 2161649);
  EXPECT_EQ(s.non_trainable_params, 2944);
  EXPECT_EQ(s.total_params, 2164593);
  int64_t rows = 0;
  std::map<std::string, LayerRow> by_name;
  for (const auto& r : s.layers) {
    rows += r.params;
    by_name[r.name] = r;
  }
  EXPECT_EQ(rows, s.total_params);  // every parameter appears in exactly one row
  EXPECT_EQ(by_name["encoder.0.conv1"].params, 448);
  EXPECT_EQ(by_name["encoder.0.conv1"].output_shape, (std::vector<int64_t>{16, 64, 64}));
  EXPECT_EQ(by_name["encoder.0.bn1"].params, 64);  // Keras: 4 * 16
  EXPECT_EQ(by_name["pool.3"].output_shape, (std::vector<int64_t>{128, 4, 4}));
  EXPECT_EQ(by_name["bottleneck.conv2"].output_shape, (std::vector<int64_t>{256, 4, 4}));
  EXPECT_EQ(by_name["up.0"].params, 295040);
  EXPECT_EQ(by_name["up.0"].output_shape, (std::vector<int64_t>{128, 8, 8}));
  EXPECT_EQ(by_name["concat.0"].output_shape, (std::vector<int64_t>{256, 8, 8}));
  EXPECT_EQ(by_name["head"].params, 17);
  EXPECT_EQ(s.layers.front().name, "encoder.0.conv1");
  EXPECT_EQ(s.layers.back().name, "head");
}

TEST(ModelsDescribe, DescribeModelText) {
  Config c;
  c.model.filters = 16;
  const std::string text = describe_model(c, 32);
  EXPECT_NE(text.find("model: unet"), std::string::npos) << text;
  EXPECT_NE(text.find("output activation sigmoid"), std::string::npos) << text;
  EXPECT_NE(text.find("total params:         2,164,593"), std::string::npos) << text;
  EXPECT_NE(text.find("trainable params:     2,161,649"), std::string::npos) << text;
  EXPECT_NE(text.find("output shape:         1 x 32 x 32"), std::string::npos) << text;
  EXPECT_NE(text.find("decoder.3.relu2"), std::string::npos) << text;

  c.model.arch = "autoencoder";
  c.task.out_channels = 3;
  const std::string ae = describe_model(c, 32);
  EXPECT_NE(ae.find("myTransformer"), std::string::npos) << ae;
  EXPECT_NE(ae.find("3,624,707"), std::string::npos) << ae;
  EXPECT_NE(ae.find("ZeroPadding2D(tf same)"), std::string::npos) << ae;

  // data.normalize: dataset adds a Normalization row holding the 2 x 3 input statistics, which
  // count as non-trainable; the trainable count is unchanged.
  c.model.arch = "unet";
  c.task.out_channels = 1;
  c.data.normalize = "dataset";
  const std::string norm = describe_model(c, 32);
  EXPECT_NE(norm.find("normalize"), std::string::npos) << norm;
  EXPECT_NE(norm.find("Normalization"), std::string::npos) << norm;
  EXPECT_NE(norm.find("total params:         2,164,599"), std::string::npos) << norm;
  EXPECT_NE(norm.find("trainable params:     2,161,649"), std::string::npos) << norm;
  EXPECT_NE(norm.find("data.normalize's input mean/std"), std::string::npos) << norm;
  EXPECT_EQ(text.find("data.normalize"), std::string::npos) << text;  // the control
}

TEST(ModelsDescribe, BadSizeIsTheModelsError) {
  Config c;
  std::string msg = test::error_message([&] { describe_model(c, 100); });
  EXPECT_NE(msg.find("U-Net of depth 4 needs H and W divisible by 16; got 100x100"),
            std::string::npos)
      << msg;
}

}  // namespace
}  // namespace tessera
