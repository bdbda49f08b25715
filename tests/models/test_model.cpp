// The factory, the output activation and the residual wrapper.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "models/autoencoder.h"
#include "models/export.h"
#include "models/model.h"
#include "models/unet.h"
#include "test_util.h"

namespace tessera {
namespace {

TEST(ModelsFactory, BuildsEachArchFromTheConfig) {
  ModelConfig m;
  TaskConfig t;
  m.filters = 4;
  m.depth = 2;
  ImageModel unet = make_model(m, t);
  EXPECT_EQ(unet->arch(), "unet");
  EXPECT_NE(std::dynamic_pointer_cast<UNetImpl>(unet), nullptr);
  EXPECT_EQ(unet->in_channels(), 3);
  EXPECT_EQ(unet->out_channels(), 1);
  EXPECT_TRUE(unet->is_training());
  EXPECT_EQ(unet->forward(torch::zeros({1, 3, 8, 8})).sizes(), (std::vector<int64_t>{1, 1, 8, 8}));

  m.arch = "autoencoder_generic";
  m.batch_norm = false;
  t.kind = TaskKind::denoising;
  t.out_channels = 3;
  ImageModel gen = make_model(m, t);
  EXPECT_EQ(gen->arch(), "autoencoder_generic");
  EXPECT_EQ(gen->out_channels(), 3);
  EXPECT_EQ(test::float_buffer_elements(*gen), 0);  // batch_norm off honoured

  m.arch = "autoencoder";
  m.depth = 4;
  m.filters = 16;
  ImageModel ae = make_model(m, t);
  EXPECT_EQ(ae->arch(), "autoencoder");
  EXPECT_EQ(test::trainable_params(*ae), 3624707);
}

TEST(ModelsFactory, ErrorsNameTheKey) {
  ModelConfig m;
  TaskConfig t;
  m.arch = "resnet";
  std::string msg = test::error_message([&] { make_model(m, t); });
  EXPECT_NE(msg.find("unknown model.arch 'resnet'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unet, autoencoder, autoencoder_generic"), std::string::npos) << msg;

  m.arch = "autoencoder";
  m.depth = 3;
  msg = test::error_message([&] { make_model(m, t); });
  EXPECT_NE(msg.find("model.depth 4"), std::string::npos) << msg;

  m.arch = "unet";
  m.depth = 4;
  m.residual = true;  // 3 in, 1 out
  msg = test::error_message([&] { make_model(m, t); });
  EXPECT_NE(msg.find("model.residual"), std::string::npos) << msg;
  EXPECT_NE(msg.find("task.in_channels 3 and 1 output channels"), std::string::npos) << msg;
}

TEST(ModelsFactory, OutputChannelsFollowTheTask) {
  TaskConfig t;
  t.kind = TaskKind::segmentation;
  t.classes = 1;
  t.out_channels = 1;
  EXPECT_EQ(model_out_channels(t), 1);
  t.classes = 4;
  EXPECT_EQ(model_out_channels(t), 4);  // one logit per class
  t.out_channels = 4;
  EXPECT_EQ(model_out_channels(t), 4);
  t.out_channels = 3;
  std::string msg = test::error_message([&] { model_out_channels(t); });
  EXPECT_NE(msg.find("task.out_channels (3) contradicts task.classes (4)"), std::string::npos)
      << msg;
  t.kind = TaskKind::super_resolution;
  EXPECT_EQ(model_out_channels(t), 3);
}

TEST(ModelsFactory, ResidualAddsTheInput) {
  torch::manual_seed(0);
  UNetOptions o;
  o.in_channels = o.out_channels = 3;
  o.filters = 4;
  o.depth = 2;
  UNet plain(o);
  o.residual = true;
  UNet res(o);
  EXPECT_TRUE(res->residual());
  // Same weights in both.
  auto src = plain->named_parameters();
  torch::NoGradGuard no_grad;
  for (auto& item : res->named_parameters()) item.value().copy_(src[item.key()]);
  plain->eval();
  res->eval();
  torch::Tensor x = torch::randn({2, 3, 8, 8});
  EXPECT_TRUE(torch::allclose(res(x), plain(x) + x, 0, 1e-6));
  EXPECT_FALSE(torch::allclose(res(x), plain(x)));
}

// model.head_init: zero makes every arch's untrained residual network exactly x + 0; the Keras
// draw (the control) does not; gradients reach the layers below the head after one step.
TEST(ModelsFactory, ZeroHeadStartsAsTheIdentity) {
  TaskConfig t;
  t.kind = TaskKind::denoising;
  t.out_channels = 3;
  for (const std::string arch : {"unet", "autoencoder_generic", "autoencoder"}) {
    SCOPED_TRACE(arch);
    ModelConfig m;
    m.arch = arch;
    m.filters = arch == "autoencoder" ? 2 : 4;
    m.depth = arch == "autoencoder" ? 4 : 2;
    m.residual = true;
    torch::manual_seed(1);
    ImageModel keras = make_model(m, t);
    m.head_init = "zero";
    torch::manual_seed(1);
    ImageModel zero = make_model(m, t);
    keras->eval();
    zero->eval();
    torch::Tensor x = torch::rand({2, 3, 16, 16});
    EXPECT_TRUE(torch::equal(zero->forward(x), x));
    EXPECT_FALSE(torch::equal(keras->forward(x), x));
    // The article's autoencoder (16 Glorot-initialised convolutions with ReLU, no batch norm)
    // shrinks the signal ~2x per layer, so its Keras-drawn output is tiny, though not zero.
    if (arch != "autoencoder") EXPECT_FALSE(torch::allclose(keras->forward(x), x, 0, 1e-3));
    EXPECT_EQ(zero->output_conv()->weight.abs().sum().item<float>(), 0.0f);
    EXPECT_EQ(zero->output_conv()->bias.abs().sum().item<float>(), 0.0f);
    // Every other parameter is the Keras draw: the same as the control's.
    auto ref = keras->named_parameters();
    for (const auto& p : zero->named_parameters()) {
      if (p.value().is_same(zero->output_conv()->weight) ||
          p.value().is_same(zero->output_conv()->bias)) {
        continue;
      }
      EXPECT_TRUE(torch::equal(p.value(), ref[p.key()])) << p.key();
    }
    // It learns: two SGD steps towards another image move the output and reach the first
    // layer's weights.
    zero->train();
    torch::optim::SGD sgd(zero->parameters(), torch::optim::SGDOptions(0.1));
    torch::Tensor target = torch::rand({2, 3, 16, 16});
    torch::Tensor first_grad;
    for (int step = 0; step < 2; ++step) {
      sgd.zero_grad();
      torch::mse_loss(zero->forward(x), target).backward();
      first_grad = zero->parameters().front().grad().abs().sum();
      sgd.step();
    }
    EXPECT_GT(first_grad.item<float>(), 0.0f);
    zero->eval();
    EXPECT_FALSE(torch::equal(zero->forward(x), x));
  }
}

TEST(ModelsFactory, ZeroHeadNeedsTheResidual) {
  ModelConfig m;
  m.filters = 2;
  m.depth = 1;
  m.head_init = "zero";
  std::string msg = test::error_message([&] { make_model(m, TaskConfig{}); });
  EXPECT_NE(msg.find("model.head_init zero needs model.residual"), std::string::npos) << msg;
  m.residual = true;
  m.head_init = "he";
  TaskConfig t;
  t.out_channels = 3;
  t.kind = TaskKind::denoising;
  msg = test::error_message([&] { make_model(m, t); });
  EXPECT_NE(msg.find("unknown model.head_init 'he'"), std::string::npos) << msg;
}

// data.normalize: dataset. The network sees (x - mean) / std per channel: the normalising model
// on x equals the same weights without normalisation on the standardised input; with the
// residual, the raw x is added. Controls: before the statistics are set (0 / 1) the two agree
// on the raw x, after, they do not.
TEST(ModelsNormalize, TheNetworkSeesStandardisedInputs) {
  for (const bool residual : {false, true}) {
    SCOPED_TRACE(residual ? "residual" : "plain");
    Config cfg;
    cfg.model.filters = 4;
    cfg.model.depth = 2;
    cfg.model.residual = residual;
    if (residual) {
      cfg.task.kind = TaskKind::denoising;
      cfg.task.out_channels = 3;
    }
    cfg.data.normalize = "dataset";
    torch::manual_seed(5);
    ImageModel norm = make_model(cfg);
    torch::manual_seed(5);
    ImageModel plain = make_model(cfg.model, cfg.task);
    norm->eval();
    plain->eval();
    ASSERT_TRUE(norm->normalizes_input());
    ASSERT_FALSE(plain->normalizes_input());
    const torch::Tensor x = torch::rand({2, 3, 8, 8});
    EXPECT_TRUE(torch::equal(norm->forward(x), plain->forward(x)));  // mean 0, std 1
    norm->set_input_normalization({0.2, 0.4, 0.6}, {0.5, 0.25, 2.0}, "test");
    const torch::Tensor mean = torch::tensor({0.2f, 0.4f, 0.6f}).view({1, 3, 1, 1});
    const torch::Tensor std = torch::tensor({0.5f, 0.25f, 2.0f}).view({1, 3, 1, 1});
    const torch::Tensor z = (x - mean) / std;
    torch::Tensor want = plain->forward(z);
    if (residual) want = want - z + x;
    EXPECT_TRUE(torch::allclose(norm->forward(x), want, 1e-5, 1e-6));
    EXPECT_FALSE(torch::allclose(norm->forward(x), plain->forward(x), 1e-3, 1e-3));
    // The statistics are buffers: saved with the weights, not trained.
    const auto buffers = norm->named_buffers(/*recurse=*/false);
    ASSERT_TRUE(buffers.contains("input_mean") && buffers.contains("input_std"));
    EXPECT_TRUE(torch::allclose(buffers["input_std"], std.flatten()));
    for (const auto& p : norm->named_parameters()) EXPECT_EQ(p.key().find("input_"), std::string::npos);
  }
}

TEST(ModelsNormalize, BadStatisticsAndValuesAreRefused) {
  Config cfg;
  cfg.model.filters = 2;
  cfg.model.depth = 1;
  cfg.data.normalize = "dataset";
  ImageModel net = make_model(cfg);
  std::string msg = test::error_message([&] { net->set_input_normalization({0, 0}, {1, 1}, "m.json"); });
  EXPECT_NE(msg.find("m.json: 2 means and 2 standard deviations for a model of 3 input channels"),
            std::string::npos) << msg;
  msg = test::error_message([&] { net->set_input_normalization({0, 0, 0}, {1, 0, 1}, "m.json"); });
  EXPECT_NE(msg.find("channel 1 has mean 0 and standard deviation 0"), std::string::npos) << msg;
  msg = test::error_message(
      [&] { net->set_input_normalization({0, std::nan(""), 0}, {1, 1, 1}, "m.json"); });
  EXPECT_NE(msg.find("channel 1"), std::string::npos) << msg;
  ImageModel plain = make_model(cfg.model, cfg.task);
  msg = test::error_message([&] { plain->set_input_normalization({0, 0, 0}, {1, 1, 1}, "m.json"); });
  EXPECT_NE(msg.find("built without data.normalize"), std::string::npos) << msg;
  cfg.data.normalize = "zscore";
  msg = test::error_message([&] { make_model(cfg); });
  EXPECT_NE(msg.find("unknown data.normalize 'zscore'; expected none or dataset"),
            std::string::npos) << msg;
}

TEST(ModelsActivation, AppliesTheNamedActivation) {
  torch::Tensor raw = torch::tensor({-2.0f, 0.0f, 3.0f}).reshape({1, 3, 1, 1});
  EXPECT_TRUE(torch::allclose(apply_activation("sigmoid", raw), torch::sigmoid(raw)));
  EXPECT_NEAR(apply_activation("sigmoid", raw)[0][1][0][0].item<float>(), 0.5f, 1e-7);
  torch::Tensor sm = apply_activation("softmax", raw);
  EXPECT_NEAR(sm.sum(1).item<float>(), 1.0f, 1e-6);  // over the channels
  EXPECT_NEAR(sm[0][2][0][0].item<float>(), std::exp(3.0) / (std::exp(-2.0) + 1 + std::exp(3.0)),
              1e-6);
  EXPECT_EQ(apply_activation("relu", raw)[0][0][0][0].item<float>(), 0.0f);
  EXPECT_TRUE(torch::equal(apply_activation("none", raw), raw));
  std::string msg = test::error_message([&] { apply_activation("tanh", raw); });
  EXPECT_NE(msg.find("unknown model.activation 'tanh'"), std::string::npos) << msg;
}

TEST(ModelsFactory, ForwardRejectsNonFloatInput) {
  ModelConfig m;
  m.filters = 2;
  m.depth = 1;
  ImageModel net = make_model(m, TaskConfig{});
  std::string msg = test::error_message([&] {
    net->forward(torch::zeros({1, 3, 4, 4}, torch::kUInt8));
  });
  EXPECT_NE(msg.find("floating-point"), std::string::npos) << msg;
}

}  // namespace
}  // namespace tessera
