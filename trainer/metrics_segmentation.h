// Segmentation metrics from integer confusion counts (see trainer/metrics.h for the accumulator
// contract and docs/metrics.md for the formulas).
//
// Prediction rule: binary (classes == 1): foreground where sigmoid(logit) > threshold, decided
// exactly as logit > log(t / (1 - t)) in float64; multi-class: argmax over channels (lowest
// index wins ties). Counting: per class c of max(classes, 2) classes, TP/FP/FN/TN over every
// non-ignored pixel (int64); pixels whose label equals ignore_index are left out entirely.
// all_reduce: one int64 allreduce of all counts plus the image count, one float64 allreduce of the
// per-image Dice/IoU sums.
//
// compute() keys: dice, iou, precision, recall (binary: the foreground class 1; multi-class:
// mean over foreground classes 1..K-1 that occur), pixel_acc, miou, mdice (mean over all classes
// that occur, background included), dice_macro, iou_macro (mean over images of the per-image
// score), images, and per class dice/c, iou/c, precision/c, recall/c. A ratio whose denominator
// is 0 is 1 when the class is absent from both target and prediction and 0 otherwise; "occurs"
// means TP + FP + FN > 0 (in the target or the prediction). per_image() columns: dice, iou.
#pragma once

#include <array>

#include "trainer/metrics.h"

namespace tessera {

struct SegmentationOptions {
  int classes = 1;         // task.classes (1 = binary, sigmoid)
  double threshold = 0.5;  // eval.threshold, on the sigmoid probability (binary only)
  int ignore_index = -1;   // label excluded from every count (-1 = none)
};

// TP/FP/FN/TN of one class.
struct ClassCounts {
  int64_t tp = 0, fp = 0, fn = 0, tn = 0;
};

class SegmentationMetrics : public Metrics {
 public:
  explicit SegmentationMetrics(const SegmentationOptions& options);

  std::map<std::string, double> compute() const override;
  std::vector<std::string> score_names() const override { return {"dice", "iou"}; }
  std::string kind() const override { return "segmentation"; }

  // max(classes, 2) entries: class 0 is background for binary tasks.
  const std::vector<ClassCounts>& counts() const { return counts_; }
  const SegmentationOptions& options() const { return options_; }

  // Per-class ratio rules, exposed for tests and reports.
  static double dice(const ClassCounts& c);
  static double iou(const ClassCounts& c);
  static double precision(const ClassCounts& c);
  static double recall(const ClassCounts& c);

 protected:
  std::vector<std::vector<double>> update_batch(const torch::Tensor& output,
                                                const torch::Tensor& target,
                                                const torch::Tensor& labels) override;
  void merge_sums(const Metrics& other) override;
  void check_compatible(const Metrics& other) const override;
  void reduce_sums(Communicator& comm) override;
  void sums_from_rows(const std::vector<ImageScore>& rows) override;

 private:
  int num_classes() const { return static_cast<int>(counts_.size()); }

  SegmentationOptions options_;
  std::vector<ClassCounts> counts_;
  int64_t image_count_ = 0;
  double dice_sum_ = 0.0;  // sum over images of the per-image Dice
  double iou_sum_ = 0.0;
};

}  // namespace tessera
