// Every loss against values from tools/reference/losses_metrics.py (PyTorch + scikit-image),
// on the closed-form inputs of reference_inputs.h. Each case runs twice: in float64 (the same
// math as the reference: 1e-10) and in float32 as training runs it (1e-5 relative).
#include <gtest/gtest.h>

#include <cmath>

#include "tests/trainer/reference_inputs.h"
#include "tests/trainer/test_util.h"
#include "trainer/losses.h"

namespace tessera {
namespace {

using namespace tessera::testing;

// Pasted from `/usr/bin/python3 tools/reference/losses_metrics.py`.
constexpr double kBce = 1.2291143054718503;
constexpr double kBceIgnore = 1.2434747139931726;
constexpr double kDice = 0.54629727099690861;
constexpr double kDiceIgnore = 0.55605408441412718;
constexpr double kBceDice07_13 = 1.5705664661262764;
constexpr double kFocalBin = 0.47820184540200533;
constexpr double kFocalBinG05Ignore = 0.57754984898789841;
constexpr double kCe = 2.3882551711726312;
constexpr double kCeWeighted = 2.2865483439485836;
constexpr double kCeWeightedIgnore = 2.2855505880993339;
constexpr double kMcDice = 0.65528596882488133;
constexpr double kMcDiceIgnore = 0.65275922803765329;
constexpr double kCeDice06_04 = 1.6324340440746616;
constexpr double kFocalMc = 2.1385899779898088;
constexpr double kFocalMcWeightedIgnore = 2.0011325935633639;
constexpr double kMse = 0.21271414213892151;
constexpr double kL1 = 0.37936886149893906;
constexpr double kMseNone = 5.7660459193776772;
constexpr double kL1Relu = 1.0489511858777405;
constexpr double kSsim = 1.0287901613386405;
constexpr double kSsimL1_084 = 0.92488275336428827;
constexpr double kSsimNear = 0.029309796726462833;

// Runs the loss on `logits` in float64 and float32 and checks both against `expected`.
void check(const LossConfig& cfg, const TaskConfig& task, const std::string& activation,
           const torch::Tensor& logits, const torch::Tensor& target, double expected) {
  auto loss = make_loss(cfg, task, model_with(activation));
  const torch::Tensor t64 = target.is_floating_point() ? target.to(torch::kDouble) : target;
  const double v64 = (*loss)(logits.to(torch::kDouble), t64).item<double>();
  EXPECT_NEAR(v64, expected, 1e-10) << cfg.name << " (float64)";
  const torch::Tensor l32 = (*loss)(logits, target);
  EXPECT_EQ(l32.scalar_type(), torch::kFloat);
  EXPECT_EQ(l32.dim(), 0);
  EXPECT_NEAR(l32.item<double>(), expected, 1e-5 * std::max(1.0, std::abs(expected)))
      << cfg.name << " (float32)";
}

const torch::Tensor& bin_logits() {
  static const torch::Tensor t = ref_logits({2, 1, 4, 5}, 37, 11);
  return t;
}
const torch::Tensor& mc_logits() {
  static const torch::Tensor t = ref_logits({2, 3, 4, 5}, 53, 7);
  return t;
}

TEST(LossReference, Bce) {
  check(loss_named("bce"), segmentation_task(1), "sigmoid", bin_logits(),
        ref_binary_labels({2, 4, 5}), kBce);
  // N,1,H,W targets are accepted as well.
  check(loss_named("bce"), segmentation_task(1), "sigmoid", bin_logits(),
        ref_binary_labels({2, 1, 4, 5}), kBce);
}

TEST(LossReference, BceIgnoreIndex) {
  LossConfig c = loss_named("bce");
  c.ignore_index = 255;
  check(c, segmentation_task(1), "sigmoid", bin_logits(), ref_binary_labels({2, 4, 5}, 255),
        kBceIgnore);
}

TEST(LossReference, SoftDice) {
  check(loss_named("dice"), segmentation_task(1), "sigmoid", bin_logits(),
        ref_binary_labels({2, 4, 5}), kDice);
  LossConfig c = loss_named("dice");
  c.ignore_index = 255;
  check(c, segmentation_task(1), "sigmoid", bin_logits(), ref_binary_labels({2, 4, 5}, 255),
        kDiceIgnore);
}

TEST(LossReference, BceDiceWeights) {
  LossConfig c = loss_named("bce_dice");
  c.bce_weight = 0.7f;
  c.dice_weight = 1.3f;
  // The weights are floats: the reference uses 0.7/1.3 exactly, so allow their float rounding.
  auto loss = make_loss(c, segmentation_task(1), model_with("sigmoid"));
  const double v =
      (*loss)(bin_logits().to(torch::kDouble), ref_binary_labels({2, 4, 5})).item<double>();
  EXPECT_NEAR(v, kBceDice07_13, 1e-7);
  EXPECT_NEAR(v, 0.7f * kBce + 1.3f * kDice, 1e-10);
}

TEST(LossReference, BinaryFocal) {
  check(loss_named("focal"), segmentation_task(1), "sigmoid", bin_logits(),
        ref_binary_labels({2, 4, 5}), kFocalBin);
  LossConfig c = loss_named("focal");
  c.focal_gamma = 0.5f;
  c.ignore_index = 255;
  check(c, segmentation_task(1), "sigmoid", bin_logits(), ref_binary_labels({2, 4, 5}, 255),
        kFocalBinG05Ignore);
}

TEST(LossReference, CrossEntropy) {
  check(loss_named("ce"), segmentation_task(3), "softmax", mc_logits(), ref_mc_labels({2, 4, 5}, 3),
        kCe);
  LossConfig c = loss_named("ce");
  c.class_weights = {0.2f, 1.0f, 2.5f};
  auto loss = make_loss(c, segmentation_task(3), model_with("softmax"));
  // 0.2f is not 0.2: compare the float64 run at the float-weight rounding level.
  EXPECT_NEAR((*loss)(mc_logits().to(torch::kDouble), ref_mc_labels({2, 4, 5}, 3)).item<double>(),
              kCeWeighted, 1e-7);
  c.ignore_index = 255;
  loss = make_loss(c, segmentation_task(3), model_with("softmax"));
  EXPECT_NEAR(
      (*loss)(mc_logits().to(torch::kDouble), ref_mc_labels({2, 4, 5}, 3, 255)).item<double>(),
      kCeWeightedIgnore, 1e-7);
  EXPECT_NEAR((*loss)(mc_logits(), ref_mc_labels({2, 4, 5}, 3, 255)).item<double>(),
              kCeWeightedIgnore, 1e-5);
}

TEST(LossReference, MulticlassDice) {
  check(loss_named("multiclass_dice"), segmentation_task(3), "softmax", mc_logits(),
        ref_mc_labels({2, 4, 5}, 3), kMcDice);
  LossConfig c = loss_named("multiclass_dice");
  c.ignore_index = 255;
  check(c, segmentation_task(3), "softmax", mc_logits(), ref_mc_labels({2, 4, 5}, 3, 255),
        kMcDiceIgnore);
}

TEST(LossReference, CeDice) {
  LossConfig c = loss_named("ce_dice");
  c.bce_weight = 0.6f;  // the CE term's weight
  c.dice_weight = 0.4f;
  c.class_weights = {0.2f, 1.0f, 2.5f};
  c.ignore_index = 255;
  auto loss = make_loss(c, segmentation_task(3), model_with("softmax"));
  EXPECT_NEAR(
      (*loss)(mc_logits().to(torch::kDouble), ref_mc_labels({2, 4, 5}, 3, 255)).item<double>(),
      kCeDice06_04, 1e-6);
}

TEST(LossReference, MulticlassFocal) {
  check(loss_named("focal"), segmentation_task(3), "softmax", mc_logits(),
        ref_mc_labels({2, 4, 5}, 3), kFocalMc);
  LossConfig c = loss_named("focal");
  c.class_weights = {0.2f, 1.0f, 2.5f};
  c.ignore_index = 255;
  auto loss = make_loss(c, segmentation_task(3), model_with("softmax"));
  EXPECT_NEAR(
      (*loss)(mc_logits().to(torch::kDouble), ref_mc_labels({2, 4, 5}, 3, 255)).item<double>(),
      kFocalMcWeightedIgnore, 1e-7);
  // gamma = 0 is exactly the weighted cross-entropy.
  c.focal_gamma = 0.0f;
  auto focal0 = make_loss(c, segmentation_task(3), model_with("softmax"));
  LossConfig ce = c;
  ce.name = "ce";
  auto cross = make_loss(ce, segmentation_task(3), model_with("softmax"));
  const auto lg = mc_logits().to(torch::kDouble);
  const auto lb = ref_mc_labels({2, 4, 5}, 3, 255);
  EXPECT_NEAR((*focal0)(lg, lb).item<double>(), (*cross)(lg, lb).item<double>(), 1e-14);
}

TEST(LossReference, MseL1) {
  const auto task = image_task(TaskKind::denoising);
  const auto x = ref_logits({2, 3, 16, 16}, 41, 3);
  const auto y = ref_image({2, 3, 16, 16});
  check(loss_named("mse"), task, "sigmoid", x, y, kMse);
  check(loss_named("l1"), task, "sigmoid", x, y, kL1);
  check(loss_named("mse"), task, "none", x, y, kMseNone);
  check(loss_named("l1"), task, "relu", x, y, kL1Relu);
}

TEST(LossReference, SsimAgainstScikitImage) {
  const auto task = image_task(TaskKind::super_resolution);
  const auto x = ref_logits({2, 3, 16, 16}, 41, 3);
  const auto y = ref_image({2, 3, 16, 16});
  check(loss_named("ssim"), task, "sigmoid", x, y, kSsim);
  check(loss_named("ssim"), task, "none", ref_near_image({2, 3, 16, 16}), y, kSsimNear);
  LossConfig c = loss_named("ssim_l1");
  c.ssim_weight = 0.84f;
  auto loss = make_loss(c, task, model_with("sigmoid"));
  const double v = (*loss)(x.to(torch::kDouble), y.to(torch::kDouble)).item<double>();
  EXPECT_NEAR(v, kSsimL1_084, 1e-7);
  EXPECT_NEAR(v, 0.84f * kSsim + (1.0f - 0.84f) * kL1, 1e-10);
}

}  // namespace
}  // namespace tessera
