// make_loss: which losses fit which task, and the errors for everything else (each names the
// config key and what was expected). Also bad targets at call time.
#include <gtest/gtest.h>

#include "tests/trainer/reference_inputs.h"
#include "tests/trainer/test_util.h"
#include "trainer/losses.h"

namespace tessera {
namespace {

using namespace tessera::testing;

TEST(LossFactory, BuildsEveryLossForItsTask) {
  for (const auto& n : loss_names_for(segmentation_task(1))) {
    EXPECT_EQ(make_loss(loss_named(n), segmentation_task(1), model_with("sigmoid"))->name(), n);
  }
  for (const auto& n : loss_names_for(segmentation_task(4))) {
    EXPECT_EQ(make_loss(loss_named(n), segmentation_task(4), model_with("softmax"))->name(), n);
  }
  for (auto kind : {TaskKind::translation, TaskKind::super_resolution, TaskKind::denoising,
                    TaskKind::inpainting, TaskKind::anomaly}) {
    for (const auto& n : loss_names_for(image_task(kind))) {
      for (const char* act : {"sigmoid", "relu", "none", "softmax"}) {
        EXPECT_EQ(make_loss(loss_named(n), image_task(kind), model_with(act))->name(), n);
      }
    }
  }
  EXPECT_EQ(loss_names().size(), 11u);
  // The default LossConfig (bce_dice) fits the default task (binary segmentation, sigmoid).
  EXPECT_EQ(make_loss(LossConfig{}, TaskConfig{}, ModelConfig{})->name(), "bce_dice");
}

TEST(LossFactory, UnknownName) {
  expect_error([] { make_loss(loss_named("hinge"), segmentation_task(1), model_with("sigmoid")); },
               {"loss.name", "hinge", "expected one of", "bce_dice", "ssim_l1"});
}

TEST(LossFactory, LossDoesNotFitTheTask) {
  expect_error([] { make_loss(loss_named("ce"), segmentation_task(1), model_with("sigmoid")); },
               {"loss.name", "'ce'", "task.classes = 1", "bce, dice, bce_dice, focal"});
  expect_error([] { make_loss(loss_named("bce"), segmentation_task(3), model_with("softmax")); },
               {"loss.name", "'bce'", "task.classes = 3", "ce, multiclass_dice, ce_dice"});
  expect_error([] { make_loss(loss_named("dice"), segmentation_task(3), model_with("softmax")); },
               {"loss.name", "multiclass_dice"});
  expect_error([] { make_loss(loss_named("mse"), segmentation_task(1), model_with("sigmoid")); },
               {"loss.name", "image loss", "segmentation"});
  expect_error(
      [] {
        make_loss(loss_named("bce_dice"), image_task(TaskKind::denoising), model_with("sigmoid"));
      },
      {"loss.name", "segmentation loss", "denoising", "mse, l1, ssim, ssim_l1"});
}

TEST(LossFactory, ActivationMustMatchSegmentationLoss) {
  expect_error([] { make_loss(loss_named("bce"), segmentation_task(1), model_with("none")); },
               {"model.activation", "'none'", "expected 'sigmoid'"});
  expect_error([] { make_loss(loss_named("ce"), segmentation_task(3), model_with("sigmoid")); },
               {"model.activation", "expected 'softmax'"});
  expect_error(
      [] { make_loss(loss_named("mse"), image_task(TaskKind::denoising), model_with("tanh")); },
      {"model.activation", "tanh"});
}

TEST(LossFactory, BadOptions) {
  LossConfig c = loss_named("ce");
  c.class_weights = {1.0f, 2.0f};
  expect_error([&] { make_loss(c, segmentation_task(3), model_with("softmax")); },
               {"loss.class_weights", "2 entries", "task.classes = 3"});
  c.class_weights = {1.0f, -2.0f, 1.0f};
  expect_error([&] { make_loss(c, segmentation_task(3), model_with("softmax")); },
               {"loss.class_weights[1]", ">= 0"});
  c.class_weights = {0.0f, 0.0f, 0.0f};
  expect_error([&] { make_loss(c, segmentation_task(3), model_with("softmax")); },
               {"loss.class_weights", "all 0"});
  c = loss_named("multiclass_dice");
  c.class_weights = {1.0f, 1.0f, 1.0f};
  expect_error([&] { make_loss(c, segmentation_task(3), model_with("softmax")); },
               {"loss.class_weights", "does not use"});
  c = loss_named("bce");
  c.ignore_index = 1;
  expect_error([&] { make_loss(c, segmentation_task(1), model_with("sigmoid")); },
               {"loss.ignore_index = 1", "valid class label"});
  c = loss_named("dice");
  c.smooth = 0.0f;
  expect_error([&] { make_loss(c, segmentation_task(1), model_with("sigmoid")); },
               {"loss.smooth", "> 0"});
  c = loss_named("focal");
  c.focal_alpha = 1.5f;
  expect_error([&] { make_loss(c, segmentation_task(1), model_with("sigmoid")); },
               {"loss.focal_alpha", "[0, 1]"});
  c = loss_named("ssim_l1");
  c.ssim_weight = -0.1f;
  expect_error([&] { make_loss(c, image_task(TaskKind::denoising), model_with("sigmoid")); },
               {"loss.ssim_weight"});
  c = loss_named("bce_dice");
  c.bce_weight = 0.0f;
  c.dice_weight = 0.0f;
  expect_error([&] { make_loss(c, segmentation_task(1), model_with("sigmoid")); },
               {"loss.bce_weight", "loss.dice_weight", "both 0"});
}

TEST(LossFactory, BadTargetsAtCallTime) {
  auto bce = make_loss(loss_named("bce"), segmentation_task(1), model_with("sigmoid"));
  const auto x = torch::zeros({2, 1, 4, 5});
  expect_error(
      [&] {
        (*bce)(x, torch::zeros({2, 4, 6}, torch::kLong));
      },
      {"target has shape [2,4,6]", "expected N,H,W = [2,4,5]"});
  auto labels = torch::zeros({2, 4, 5}, torch::kLong);
  labels[1][2][3] = 2;
  expect_error([&] { (*bce)(x, labels); },
               {"label 2", "sample 1, y 2, x 3", "outside 0..1", "task.classes = 1"});
  expect_error(
      [&] {
        (*bce)(torch::zeros({2, 2, 4, 5}), torch::zeros({2, 4, 5}, torch::kLong));
      },
      {"1 channel", "got 2 channels"});
  expect_error([&] { (*bce)(x, torch::full({2, 4, 5}, 1.5f)); }, {"[0, 1]"});
  auto ce = make_loss(loss_named("ce"), segmentation_task(3), model_with("softmax"));
  expect_error(
      [&] {
        (*ce)(torch::zeros({2, 3, 4, 5}), torch::full({2, 4, 5}, 3, torch::kLong));
      },
      {"label 3", "outside 0..2", "task.classes = 3", "no loss.ignore_index"});
  expect_error(
      [&] {
        (*ce)(torch::zeros({2, 3, 4, 5}), torch::zeros({2, 4, 5}));
      },
      {"integer labels"});
  expect_error(
      [&] {
        (*ce)(torch::zeros({2, 2, 4, 5}), torch::zeros({2, 4, 5}, torch::kLong));
      },
      {"task.classes = 3", "got 2 channels"});
  auto ssim = make_loss(loss_named("ssim"), image_task(TaskKind::denoising), model_with("none"));
  expect_error(
      [&] {
        (*ssim)(torch::zeros({1, 3, 10, 16}), torch::zeros({1, 3, 10, 16}));
      },
      {"11x11", "10x16"});
  auto mse = make_loss(loss_named("mse"), image_task(TaskKind::denoising), model_with("none"));
  expect_error(
      [&] {
        (*mse)(torch::zeros({1, 3, 8, 8}), torch::zeros({1, 1, 8, 8}));
      },
      {"model output's shape [1,3,8,8]", "got [1,1,8,8]"});
}

}  // namespace
}  // namespace tessera
