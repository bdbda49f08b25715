// Losses: hand-worked values, numerical stability, gradient checks (finite, right sign, equal to
// finite differences, a descent step lowers the loss), and the factory's errors.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/trainer/reference_inputs.h"
#include "tests/trainer/test_util.h"
#include "trainer/losses.h"

namespace tessera {
namespace {

using namespace tessera::testing;

double run(const std::string& name, const TaskConfig& task, const std::string& act,
           const torch::Tensor& logits, const torch::Tensor& target, LossConfig cfg = {}) {
  cfg.name = name;
  return (*make_loss(cfg, task, model_with(act)))(logits, target).item<double>();
}

// ---- hand-worked values ---------------------------------------------------------------------

TEST(LossHand, BceOfZeroLogitIsLog2) {
  const auto x = torch::zeros({1, 1, 2, 2});
  const auto y = torch::tensor({0, 1, 1, 0}, torch::kLong).reshape({1, 2, 2});
  EXPECT_NEAR(run("bce", segmentation_task(1), "sigmoid", x, y), std::log(2.0), 1e-7);
}

TEST(LossHand, BceIsStableForHugeLogits) {
  const auto x = torch::tensor({100.0f, -100.0f, 100.0f, -100.0f}).reshape({1, 1, 2, 2});
  // Wrong with confidence 100: each pixel costs 100 (log(1 + e^100) without overflow).
  const auto wrong = torch::tensor({0, 1, 0, 1}, torch::kLong).reshape({1, 2, 2});
  EXPECT_NEAR(run("bce", segmentation_task(1), "sigmoid", x, wrong), 100.0, 1e-4);
  const auto right = torch::tensor({1, 0, 1, 0}, torch::kLong).reshape({1, 2, 2});
  EXPECT_NEAR(run("bce", segmentation_task(1), "sigmoid", x, right), 0.0, 1e-30);
  auto xg = x.clone().requires_grad_(true);
  LossConfig c = loss_named("focal");
  c.focal_gamma = 0.5f;  // (1-p)^gamma with p == 1 in float: must not give NaN gradients
  for (const std::string name : {"bce", "dice", "bce_dice", "focal"}) {
    c.name = name;
    xg.mutable_grad() = torch::Tensor();
    (*make_loss(c, segmentation_task(1), model_with("sigmoid")))(xg, right).backward();
    EXPECT_TRUE(torch::isfinite(xg.grad()).all().item<bool>()) << name;
  }
}

TEST(LossHand, DiceOfConfidentPrediction) {
  // p = {1, 0, 1, 0}, y = {1, 0, 0, 0}, smooth 1: dice = (2*1 + 1) / (2 + 1 + 1) = 0.75.
  const auto x = torch::tensor({40.0f, -40.0f, 40.0f, -40.0f}).reshape({1, 1, 2, 2});
  const auto y = torch::tensor({1, 0, 0, 0}, torch::kLong).reshape({1, 2, 2});
  EXPECT_NEAR(run("dice", segmentation_task(1), "sigmoid", x, y), 0.25, 1e-7);
  LossConfig c;
  c.smooth = 0.5f;  // (2 + 0.5) / (3 + 0.5)
  EXPECT_NEAR(run("dice", segmentation_task(1), "sigmoid", x, y, c), 1.0 - 2.5 / 3.5, 1e-7);
  // Soft (float) labels are accepted: y = 0.5 everywhere, p = {1,0,1,0}: (2*1 + 1)/(2 + 2 + 1).
  const auto soft = torch::full({1, 1, 2, 2}, 0.5f);
  EXPECT_NEAR(run("dice", segmentation_task(1), "sigmoid", x, soft), 1.0 - 3.0 / 5.0, 1e-7);
}

TEST(LossHand, FocalGammaZeroAlphaHalfIsHalfBce) {
  const auto x = ref_logits({2, 1, 4, 5}, 37, 11);
  const auto y = ref_binary_labels({2, 4, 5});
  LossConfig c;
  c.focal_gamma = 0.0f;
  c.focal_alpha = 0.5f;
  EXPECT_NEAR(run("focal", segmentation_task(1), "sigmoid", x, y, c),
              0.5 * run("bce", segmentation_task(1), "sigmoid", x, y), 1e-7);
}

TEST(LossHand, CrossEntropyOfUniformLogitsIsLogK) {
  const auto x = torch::zeros({2, 4, 3, 3});
  const auto y = ref_mc_labels({2, 3, 3}, 4);
  EXPECT_NEAR(run("ce", segmentation_task(4), "softmax", x, y), std::log(4.0), 1e-6);
  // Weights do not change a loss that is the same on every pixel.
  LossConfig c;
  c.class_weights = {1, 2, 3, 4};
  EXPECT_NEAR(run("ce", segmentation_task(4), "softmax", x, y, c), std::log(4.0), 1e-6);
}

TEST(LossHand, EveryPixelIgnoredGivesZeroNotNan) {
  const auto x = torch::randn({1, 3, 2, 2}, torch::requires_grad());
  const auto y = torch::full({1, 2, 2}, 7, torch::kLong);
  LossConfig c;
  c.ignore_index = 7;
  for (const std::string name : {"ce", "focal", "multiclass_dice", "ce_dice"}) {
    c.name = name;
    auto loss = make_loss(c, segmentation_task(3), model_with("softmax"));
    const auto v = (*loss)(x, y);
    EXPECT_TRUE(std::isfinite(v.item<double>())) << name;
    x.mutable_grad() = torch::Tensor();
    v.backward();
    EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>()) << name;
  }
}

TEST(LossHand, MulticlassDiceOfOneHotPrediction) {
  // 2x2 image, K = 3, labels {0, 1, 2, 2}, predictions (one-hot) {0, 1, 1, 2}, smooth 1:
  // class 0: (2+1)/(1+1+1) = 1; class 1: (2+1)/(2+1+1) = .75; class 2: (2+1)/(1+2+1) = .75.
  auto x = torch::full({1, 3, 2, 2}, -60.0f);
  const int pred[4] = {0, 1, 1, 2};
  for (int i = 0; i < 4; ++i) x[0][pred[i]][i / 2][i % 2] = 60.0f;
  const auto y = torch::tensor({0, 1, 2, 2}, torch::kLong).reshape({1, 2, 2});
  EXPECT_NEAR(run("multiclass_dice", segmentation_task(3), "softmax", x, y),
              1.0 - (1.0 + 0.75 + 0.75) / 3.0, 1e-6);
}

TEST(LossHand, MseL1SsimWithActivationNone) {
  const auto x = torch::tensor({0.5f, 1.0f, 0.25f, 0.0f}).reshape({1, 1, 2, 2});
  const auto y = torch::tensor({0.0f, 1.0f, 0.75f, 0.0f}).reshape({1, 1, 2, 2});
  const auto task = image_task(TaskKind::denoising, 1);
  EXPECT_NEAR(run("mse", task, "none", x, y), (0.25 + 0.25) / 4.0, 1e-7);
  EXPECT_NEAR(run("l1", task, "none", x, y), (0.5 + 0.5) / 4.0, 1e-7);
  const auto img = ref_image({1, 3, 12, 12});
  const auto t3 = image_task(TaskKind::denoising, 3);
  EXPECT_NEAR(run("ssim", t3, "none", img, img), 0.0, 1e-6);
  LossConfig c;
  c.ssim_weight = 0.0f;
  const auto noisy = ref_near_image({1, 3, 12, 12});
  EXPECT_NEAR(run("ssim_l1", t3, "none", noisy, img, c), run("l1", t3, "none", noisy, img), 1e-7);
  c.ssim_weight = 1.0f;
  EXPECT_NEAR(run("ssim_l1", t3, "none", noisy, img, c), run("ssim", t3, "none", noisy, img), 1e-7);
}

TEST(LossHand, OutputActivation) {
  const auto x = torch::tensor({-1.0f, 0.0f, 2.0f}).reshape({1, 3, 1, 1});
  EXPECT_TRUE(output_activation(x, "none").equal(x));
  EXPECT_TRUE(output_activation(x, "relu").equal(torch::relu(x)));
  EXPECT_TRUE(output_activation(x, "sigmoid").equal(torch::sigmoid(x)));
  EXPECT_TRUE(output_activation(x, "softmax").equal(torch::softmax(x, 1)));
  expect_error([&] { output_activation(x, "tanh"); }, {"model.activation", "tanh", "sigmoid"});
}

TEST(LossHand, ReducedPrecisionLogitsAreComputedInFloat32) {
  const auto x = ref_logits({2, 1, 4, 5}, 37, 11);
  const auto y = ref_binary_labels({2, 4, 5});
  auto loss = make_loss(loss_named("bce_dice"), segmentation_task(1), model_with("sigmoid"));
  const auto half = (*loss)(x.to(torch::kBFloat16), y);
  EXPECT_EQ(half.scalar_type(), torch::kFloat);
  // Same value as float32 logits holding the same (bfloat16-rounded) numbers.
  EXPECT_NEAR(half.item<double>(),
              (*loss)(x.to(torch::kBFloat16).to(torch::kFloat), y).item<double>(), 1e-7);
}

TEST(LossHand, GaussianWindowMatchesOpenCv) {
  // exp(-(i-5)^2 / 4.5) / sum, as NumPy prints it (OpenCV's getGaussianKernel(11, 1.5) uses this
  // formula for ksize > 7): first tap and centre tap; symmetric.
  const auto g = gaussian_window_1d(torch::kDouble);
  EXPECT_NEAR(g.sum().item<double>(), 1.0, 1e-15);
  EXPECT_NEAR(g[0].item<double>(), 0.00102838008447911, 1e-15);
  EXPECT_NEAR(g[5].item<double>(), 0.26601172486179436, 1e-15);
  EXPECT_TRUE(g.equal(g.flip(0)));
}

// ---- gradients ------------------------------------------------------------------------------

struct GradCase {
  std::string name;
  TaskConfig task;
  std::string activation;
  torch::Tensor logits;
  torch::Tensor target;
};

std::vector<GradCase> grad_cases() {
  std::vector<GradCase> cases;
  const auto bl = ref_logits({2, 1, 4, 5}, 37, 11).to(torch::kDouble) * 0.5;
  const auto by = ref_binary_labels({2, 4, 5});
  for (const char* n : {"bce", "dice", "bce_dice", "focal"}) {
    cases.push_back({n, segmentation_task(1), "sigmoid", bl, by});
  }
  const auto ml = ref_logits({2, 3, 4, 5}, 53, 7).to(torch::kDouble) * 0.5;
  const auto my = ref_mc_labels({2, 4, 5}, 3);
  for (const char* n : {"ce", "multiclass_dice", "ce_dice", "focal"}) {
    cases.push_back({n, segmentation_task(3), "softmax", ml, my});
  }
  const auto il = ref_logits({1, 3, 12, 12}, 41, 3).to(torch::kDouble) * 0.5;
  const auto iy = ref_image({1, 3, 12, 12}).to(torch::kDouble);
  for (const char* n : {"mse", "l1", "ssim", "ssim_l1"}) {
    cases.push_back({n, image_task(TaskKind::translation), "sigmoid", il, iy});
  }
  return cases;
}

TEST(LossGradient, FiniteMatchesFiniteDifferencesAndDescends) {
  for (const GradCase& c : grad_cases()) {
    SCOPED_TRACE(c.name + " classes=" + std::to_string(c.task.classes));
    auto loss = make_loss(loss_named(c.name), c.task, model_with(c.activation));
    auto x = c.logits.clone().requires_grad_(true);
    const auto v = (*loss)(x, c.target);
    EXPECT_TRUE(v.requires_grad());
    v.backward();
    const auto g = x.grad();
    ASSERT_TRUE(torch::isfinite(g).all().item<bool>());
    ASSERT_GT(g.abs().sum().item<double>(), 0.0);
    // Central differences on a spread of coordinates (L1 is not smooth at 0: our inputs never
    // hit an exact tie between output and target).
    const auto flat = x.detach().reshape({-1});
    for (int64_t i = 0; i < flat.numel(); i += std::max<int64_t>(1, flat.numel() / 13)) {
      const double h = 1e-6;
      auto plus = flat.clone(), minus = flat.clone();
      plus[i] += h;
      minus[i] -= h;
      const double fd = ((*loss)(plus.reshape(x.sizes()), c.target).item<double>() -
                         (*loss)(minus.reshape(x.sizes()), c.target).item<double>()) /
                        (2 * h);
      EXPECT_NEAR(g.reshape({-1})[i].item<double>(), fd, 1e-6 + 1e-4 * std::abs(fd)) << i;
    }
    // A small step against the gradient lowers the loss.
    const double lr = 1e-3 / std::max(1e-12, g.abs().max().item<double>());
    const double after = (*loss)(x.detach() - lr * g, c.target).item<double>();
    EXPECT_LT(after, v.item<double>());
  }
}

TEST(LossGradient, SignsFollowTheTarget) {
  // Binary: raising a logit lowers the loss where the label is 1 and raises it where it is 0.
  const auto by = ref_binary_labels({2, 4, 5});
  for (const char* n : {"bce", "dice", "bce_dice", "focal"}) {
    auto x = (ref_logits({2, 1, 4, 5}, 37, 11) * 0.5f).requires_grad_(true);
    (*make_loss(loss_named(n), segmentation_task(1), model_with("sigmoid")))(x, by).backward();
    const auto g = x.grad().squeeze(1);
    EXPECT_TRUE((g.masked_select(by == 1) < 0).all().item<bool>()) << n;
    EXPECT_TRUE((g.masked_select(by == 0) > 0).all().item<bool>()) << n;
  }
  // Multi-class CE and focal: the true class's logit has a negative gradient, the others positive.
  const auto my = ref_mc_labels({2, 4, 5}, 3);
  const auto onehot = torch::one_hot(my, 3).permute({0, 3, 1, 2}).to(torch::kBool);
  for (const char* n : {"ce", "focal"}) {
    auto x = (ref_logits({2, 3, 4, 5}, 53, 7) * 0.5f).requires_grad_(true);
    (*make_loss(loss_named(n), segmentation_task(3), model_with("softmax")))(x, my).backward();
    EXPECT_TRUE((x.grad().masked_select(onehot) < 0).all().item<bool>()) << n;
    EXPECT_TRUE((x.grad().masked_select(~onehot) > 0).all().item<bool>()) << n;
  }
  // Image losses: gradient has the sign of (output - target) (sigmoid is increasing).
  const auto y = ref_image({1, 3, 12, 12});
  for (const char* n : {"mse", "l1"}) {
    auto x = ref_logits({1, 3, 12, 12}, 41, 3).requires_grad_(true);
    (*make_loss(loss_named(n), image_task(TaskKind::denoising), model_with("sigmoid")))(x, y)
        .backward();
    const auto diff = torch::sigmoid(x.detach()) - y;
    EXPECT_TRUE((x.grad() * diff >= 0).all().item<bool>()) << n;
  }
}

TEST(LossGradient, IgnoredPixelsGetNoGradient) {
  LossConfig c;
  c.ignore_index = 255;
  const auto by = ref_binary_labels({2, 4, 5}, 255);
  for (const char* n : {"bce", "dice", "bce_dice", "focal"}) {
    c.name = n;
    auto x = ref_logits({2, 1, 4, 5}, 37, 11).requires_grad_(true);
    (*make_loss(c, segmentation_task(1), model_with("sigmoid")))(x, by).backward();
    const auto g = x.grad().squeeze(1);
    EXPECT_TRUE((g.masked_select(by == 255) == 0).all().item<bool>()) << n;
    EXPECT_TRUE((g.masked_select(by != 255) != 0).all().item<bool>()) << n;
  }
  const auto my = ref_mc_labels({2, 4, 5}, 3, 255);
  for (const char* n : {"ce", "multiclass_dice", "ce_dice", "focal"}) {
    c.name = n;
    auto x = ref_logits({2, 3, 4, 5}, 53, 7).requires_grad_(true);
    (*make_loss(c, segmentation_task(3), model_with("softmax")))(x, my).backward();
    const auto ignored = (my == 255).unsqueeze(1).expand({2, 3, 4, 5});
    EXPECT_TRUE((x.grad().masked_select(ignored) == 0).all().item<bool>()) << n;
  }
}

}  // namespace
}  // namespace tessera
