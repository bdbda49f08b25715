// Segmentation metrics against hand-worked confusion counts, the zero-denominator rule, the
// threshold, ignore_index, per-image (macro) Dice, and input errors.
#include <gtest/gtest.h>

#include "tests/trainer/fake_communicator.h"
#include "tests/trainer/test_util.h"
#include "trainer/metrics_segmentation.h"

namespace tessera {
namespace {

using namespace tessera::testing;

SegmentationMetrics seg(int classes, double threshold = 0.5, int ignore = -1) {
  SegmentationOptions o;
  o.classes = classes;
  o.threshold = threshold;
  o.ignore_index = ignore;
  return SegmentationMetrics(o);
}

// 1x1x2x3 logits; sigmoid > 0.5 <=> logit > 0: predictions {1,0,1,0,1,0}.
torch::Tensor binary_logits() {
  return torch::tensor({2.0f, -1.0f, 0.3f, -3.0f, 1.0f, -0.2f}).reshape({1, 1, 2, 3});
}
torch::Tensor binary_target() {
  return torch::tensor({1, 1, 0, 0, 1, 0}, torch::kLong).reshape({1, 2, 3});
}

TEST(SegmentationMetrics, BinaryHandWorked) {
  auto m = seg(1);
  m.update(binary_logits(), binary_target());
  // Foreground: TP at 0,4; FP at 2; FN at 1; TN at 3,5. Background mirrors it.
  ASSERT_EQ(m.counts().size(), 2u);
  const ClassCounts& fg = m.counts()[1];
  EXPECT_EQ(fg.tp, 2);
  EXPECT_EQ(fg.fp, 1);
  EXPECT_EQ(fg.fn, 1);
  EXPECT_EQ(fg.tn, 2);
  const ClassCounts& bg = m.counts()[0];
  EXPECT_EQ(bg.tp, 2);
  EXPECT_EQ(bg.fp, 1);
  EXPECT_EQ(bg.fn, 1);
  EXPECT_EQ(bg.tn, 2);
  const auto r = m.compute();
  EXPECT_DOUBLE_EQ(r.at("dice"), 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(r.at("iou"), 0.5);
  EXPECT_DOUBLE_EQ(r.at("precision"), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.at("recall"), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.at("pixel_acc"), 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(r.at("miou"), 0.5);
  EXPECT_DOUBLE_EQ(r.at("mdice"), 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(r.at("dice/1"), 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(r.at("dice/0"), 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(r.at("dice_macro"), 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(r.at("iou_macro"), 0.5);
  EXPECT_EQ(r.at("images"), 1.0);
}

TEST(SegmentationMetrics, ThresholdIsOnTheSigmoidProbability) {
  auto m = seg(1, 0.6);  // sigmoid(0.3) = 0.574 is now background; sigmoid(1) = 0.73 is not
  m.update(binary_logits(), binary_target());
  EXPECT_EQ(m.counts()[1].tp, 2);
  EXPECT_EQ(m.counts()[1].fp, 0);
  EXPECT_EQ(m.counts()[1].fn, 1);
  EXPECT_EQ(m.counts()[1].tn, 3);
  EXPECT_DOUBLE_EQ(m.compute().at("precision"), 1.0);
  EXPECT_DOUBLE_EQ(m.compute().at("dice"), 4.0 / 5.0);
  // A probability exactly at the threshold is background (strict >).
  auto at = seg(1, 0.5);
  at.update(torch::zeros({1, 1, 1, 2}), torch::tensor({1, 0}, torch::kLong).reshape({1, 1, 2}));
  EXPECT_EQ(at.counts()[1].tp, 0);
  EXPECT_EQ(at.counts()[1].fn, 1);
  EXPECT_EQ(at.counts()[1].tn, 1);
}

TEST(SegmentationMetrics, MulticlassHandWorked) {
  // Predictions {0,1,1,2}, labels {0,1,2,2}.
  auto x = torch::zeros({1, 3, 2, 2});
  const int pred[4] = {0, 1, 1, 2};
  for (int i = 0; i < 4; ++i) x[0][pred[i]][i / 2][i % 2] = 5.0f;
  const auto y = torch::tensor({0, 1, 2, 2}, torch::kLong).reshape({1, 2, 2});
  auto m = seg(3);
  m.update(x, y);
  const auto& c = m.counts();
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].tp, 1);
  EXPECT_EQ(c[0].fp, 0);
  EXPECT_EQ(c[0].fn, 0);
  EXPECT_EQ(c[0].tn, 3);
  EXPECT_EQ(c[1].tp, 1);
  EXPECT_EQ(c[1].fp, 1);
  EXPECT_EQ(c[1].fn, 0);
  EXPECT_EQ(c[1].tn, 2);
  EXPECT_EQ(c[2].tp, 1);
  EXPECT_EQ(c[2].fp, 0);
  EXPECT_EQ(c[2].fn, 1);
  EXPECT_EQ(c[2].tn, 2);
  const auto r = m.compute();
  EXPECT_DOUBLE_EQ(r.at("dice/0"), 1.0);
  EXPECT_DOUBLE_EQ(r.at("dice/1"), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.at("dice/2"), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(r.at("iou/1"), 0.5);
  EXPECT_DOUBLE_EQ(r.at("precision/1"), 0.5);
  EXPECT_DOUBLE_EQ(r.at("recall/1"), 1.0);
  EXPECT_DOUBLE_EQ(r.at("precision/2"), 1.0);
  EXPECT_DOUBLE_EQ(r.at("recall/2"), 0.5);
  EXPECT_DOUBLE_EQ(r.at("dice"), 2.0 / 3.0);  // foreground classes 1, 2
  EXPECT_DOUBLE_EQ(r.at("iou"), 0.5);
  EXPECT_DOUBLE_EQ(r.at("precision"), 0.75);
  EXPECT_DOUBLE_EQ(r.at("recall"), 0.75);
  EXPECT_DOUBLE_EQ(r.at("miou"), 2.0 / 3.0);  // (1 + .5 + .5) / 3
  EXPECT_DOUBLE_EQ(r.at("mdice"), 7.0 / 9.0);
  EXPECT_DOUBLE_EQ(r.at("pixel_acc"), 0.75);
  EXPECT_DOUBLE_EQ(r.at("dice_macro"), 2.0 / 3.0);
  ASSERT_EQ(m.per_image().size(), 1u);
  EXPECT_DOUBLE_EQ(m.per_image()[0].values[0], 2.0 / 3.0);
}

TEST(SegmentationMetrics, AbsentClassesAndZeroDenominators) {
  // K = 4; class 3 never appears and is never predicted: its ratios are 1 and it is left out of
  // the class means. Class 2 is in the target but never predicted: precision 0 (0/0, missed).
  auto x = torch::zeros({1, 4, 1, 3});
  x[0][0][0][0] = 5;
  x[0][1][0][1] = 5;
  x[0][1][0][2] = 5;  // predictions {0, 1, 1}
  const auto y = torch::tensor({0, 1, 2}, torch::kLong).reshape({1, 1, 3});
  auto m = seg(4);
  m.update(x, y);
  const auto r = m.compute();
  EXPECT_DOUBLE_EQ(r.at("dice/3"), 1.0);
  EXPECT_DOUBLE_EQ(r.at("iou/3"), 1.0);
  EXPECT_DOUBLE_EQ(r.at("precision/3"), 1.0);
  EXPECT_DOUBLE_EQ(r.at("recall/3"), 1.0);
  EXPECT_DOUBLE_EQ(r.at("precision/2"), 0.0);
  EXPECT_DOUBLE_EQ(r.at("recall/2"), 0.0);
  EXPECT_DOUBLE_EQ(r.at("dice/2"), 0.0);
  EXPECT_DOUBLE_EQ(r.at("miou"), (1.0 + 0.5 + 0.0) / 3.0);
  EXPECT_DOUBLE_EQ(r.at("dice"), (2.0 / 3.0 + 0.0) / 2.0);
  // Binary: an image with an empty target and an empty prediction has Dice 1.
  auto b = seg(1);
  b.update(torch::full({2, 1, 2, 2}, -3.0f), torch::zeros({2, 2, 2}, torch::kLong));
  EXPECT_DOUBLE_EQ(b.compute().at("dice"), 1.0);
  EXPECT_DOUBLE_EQ(b.compute().at("dice_macro"), 1.0);
  EXPECT_DOUBLE_EQ(b.compute().at("miou"), 1.0);  // only the background occurs
}

TEST(SegmentationMetrics, MacroDiceAveragesImagesMicroPoolsPixels) {
  // Image 0: 3 foreground pixels, all found (dice 1). Image 1: 1 foreground pixel, missed, and
  // 1 false positive (dice 0). Micro: TP 3, FP 1, FN 1 -> 6/8. Macro: (1 + 0) / 2.
  auto x = torch::full({2, 1, 2, 2}, -4.0f);
  auto y = torch::zeros({2, 2, 2}, torch::kLong);
  x[0][0][0][0] = x[0][0][0][1] = x[0][0][1][0] = 4.0f;
  y[0][0][0] = y[0][0][1] = y[0][1][0] = 1;
  x[1][0][1][1] = 4.0f;
  y[1][0][0] = 1;
  auto m = seg(1);
  m.update(x, y, {}, {10, 11});
  const auto r = m.compute();
  EXPECT_DOUBLE_EQ(r.at("dice"), 6.0 / 8.0);
  EXPECT_DOUBLE_EQ(r.at("dice_macro"), 0.5);
  EXPECT_DOUBLE_EQ(r.at("iou_macro"), 0.5);
  ASSERT_EQ(m.per_image().size(), 2u);
  EXPECT_EQ(m.per_image()[0].id, 10);
  EXPECT_DOUBLE_EQ(m.per_image()[0].values[0], 1.0);
  EXPECT_EQ(m.per_image()[1].id, 11);
  EXPECT_DOUBLE_EQ(m.per_image()[1].values[0], 0.0);
  EXPECT_EQ(m.score_names(), (std::vector<std::string>{"dice", "iou"}));
}

TEST(SegmentationMetrics, IgnoredPixelsAreNotCounted) {
  auto y = binary_target();
  y[0][0][1] = 255;  // the FN pixel
  y[0][1][0] = 255;  // a TN pixel
  auto m = seg(1, 0.5, 255);
  m.update(binary_logits(), y);
  EXPECT_EQ(m.counts()[1].tp, 2);
  EXPECT_EQ(m.counts()[1].fp, 1);
  EXPECT_EQ(m.counts()[1].fn, 0);
  EXPECT_EQ(m.counts()[1].tn, 1);
  EXPECT_DOUBLE_EQ(m.compute().at("pixel_acc"), 3.0 / 4.0);
}

TEST(SegmentationMetrics, SingleRankAllReduceUsesOneIntAndOneDoubleAllreduce) {
  ThreadGroup group(1);
  FakeCommunicator comm(group, 0);
  auto m = seg(1);
  m.update(binary_logits(), binary_target());
  const auto before = m.compute();
  m.all_reduce(comm);
  EXPECT_EQ(comm.allreduces_int64, 1);
  EXPECT_EQ(comm.allreduces_double, 1);
  EXPECT_EQ(comm.allgathers, 1);
  EXPECT_EQ(m.compute(), before);
  EXPECT_TRUE(m.reduced());
  expect_error([&] { m.all_reduce(comm); }, {"all_reduce() called twice"});
  expect_error([&] { m.update(binary_logits(), binary_target()); }, {"after all_reduce"});
}

TEST(SegmentationMetrics, Errors) {
  auto m = seg(1);
  expect_error([&] { m.compute(); }, {"no images were evaluated"});
  expect_error(
      [&] {
        m.update(binary_logits(), torch::full({1, 2, 3}, 2, torch::kLong));
      },
      {"label 2", "task.classes = 1"});
  expect_error(
      [&] {
        m.update(torch::zeros({1, 2, 2, 3}), binary_target());
      },
      {"2 channels", "expected 1"});
  expect_error(
      [&] {
        m.update(binary_logits(), binary_target(), {}, {1, 2});
      },
      {"2 sample ids for a batch of 1"});
  expect_error(
      [&] {
        m.update(binary_logits(), torch::tensor({0, 1}, torch::kLong));
      },
      {"target has shape [2]"});
  expect_error([] { seg(1, 1.5); }, {"eval.threshold", "[0, 1]"});
  expect_error([] { seg(3, 0.5, 2); }, {"ignore_index = 2"});
  auto three = seg(3);
  expect_error([&] { m.merge(three); }, {"different options"});
}

}  // namespace
}  // namespace tessera
