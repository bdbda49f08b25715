// SegmentationMetrics: confusion counts per image and per class, reduced as int64.
#include "trainer/metrics_segmentation.h"

#include <fmt/format.h>

#include <cmath>

#include "comm/communicator.h"
#include "common/error.h"
#include "trainer/losses_internal.h"

namespace tessera {

namespace {

// num / den with the zero-denominator rule: 1 when the class is absent from target and
// prediction, else 0.
double ratio(double num, double den, const ClassCounts& c) {
  if (den > 0) return num / den;
  return (c.tp + c.fp + c.fn) == 0 ? 1.0 : 0.0;
}

bool occurs(const ClassCounts& c) {
  return c.tp + c.fp + c.fn > 0;
}

}  // namespace

double SegmentationMetrics::dice(const ClassCounts& c) {
  return ratio(2.0 * c.tp, 2.0 * c.tp + c.fp + c.fn, c);
}
double SegmentationMetrics::iou(const ClassCounts& c) {
  return ratio(static_cast<double>(c.tp), static_cast<double>(c.tp + c.fp + c.fn), c);
}
double SegmentationMetrics::precision(const ClassCounts& c) {
  return ratio(static_cast<double>(c.tp), static_cast<double>(c.tp + c.fp), c);
}
double SegmentationMetrics::recall(const ClassCounts& c) {
  return ratio(static_cast<double>(c.tp), static_cast<double>(c.tp + c.fn), c);
}

SegmentationMetrics::SegmentationMetrics(const SegmentationOptions& options) : options_(options) {
  TESSERA_CHECK(options.classes >= 1, "task.classes = {}: expected >= 1 (1 = binary)",
                options.classes);
  TESSERA_CHECK(options.threshold >= 0.0 && options.threshold <= 1.0,
                "eval.threshold = {}: expected a probability in [0, 1]", options.threshold);
  const int k = std::max(options.classes, 2);
  TESSERA_CHECK(options.ignore_index == -1 || options.ignore_index >= k,
                "ignore_index = {} is a valid class label (task.classes = {}): expected -1 or a "
                "label >= {}",
                options.ignore_index, options.classes, k);
  counts_.resize(k);
}

std::vector<std::vector<double>> SegmentationMetrics::update_batch(const torch::Tensor& output,
                                                                   const torch::Tensor& target,
                                                                   const torch::Tensor& labels) {
  TESSERA_CHECK(!labels.defined(), "segmentation metrics take no image labels");
  detail::check_logits(output, "segmentation metrics");
  const bool binary = options_.classes == 1;
  const int64_t k = num_classes();
  TESSERA_CHECK(output.size(1) == (binary ? 1 : options_.classes),
                "segmentation metrics: model output has {} channels; expected {} for "
                "task.classes = {}",
                output.size(1), binary ? 1 : options_.classes, options_.classes);
  const torch::Tensor truth =
      detail::checked_labels(output, target, k, options_.ignore_index, options_.classes);
  torch::Tensor pred;
  if (binary) {
    // sigmoid(x) > t  <=>  x > log(t / (1 - t)): compared exactly in float64, without a
    // rounded sigmoid, so the decision never depends on batching or vectorisation.
    const double t = options_.threshold;
    const double logit_t = t <= 0.0   ? -std::numeric_limits<double>::infinity()
                           : t >= 1.0 ? std::numeric_limits<double>::infinity()
                                      : std::log(t / (1.0 - t));
    pred = (output.to(torch::kDouble) > logit_t).squeeze(1).to(torch::kLong);
  } else {
    pred = output.argmax(1);
  }
  const int64_t n = output.size(0);
  torch::Tensor image = torch::arange(n, truth.options()).view({n, 1, 1});
  torch::Tensor index = (image * k + truth) * k + pred;  // [image][true][pred]
  if (options_.ignore_index >= 0) index = index.masked_select(truth != options_.ignore_index);
  const torch::Tensor conf =
      torch::bincount(index.reshape({-1}), {}, n * k * k).to(torch::kCPU).contiguous();
  const int64_t* m = conf.data_ptr<int64_t>();

  std::vector<std::vector<double>> rows(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t* ci = m + i * k * k;
    int64_t valid = 0;
    for (int64_t j = 0; j < k * k; ++j) valid += ci[j];
    std::vector<ClassCounts> per_class(k);
    for (int64_t c = 0; c < k; ++c) {
      ClassCounts& cc = per_class[c];
      cc.tp = ci[c * k + c];
      for (int64_t o = 0; o < k; ++o) {
        if (o == c) continue;
        cc.fn += ci[c * k + o];  // true c, predicted o
        cc.fp += ci[o * k + c];  // true o, predicted c
      }
      cc.tn = valid - cc.tp - cc.fp - cc.fn;
      counts_[c].tp += cc.tp;
      counts_[c].fp += cc.fp;
      counts_[c].fn += cc.fn;
      counts_[c].tn += cc.tn;
    }
    double d = 0.0, u = 0.0;
    if (binary) {
      d = dice(per_class[1]);
      u = iou(per_class[1]);
    } else {
      int present = 0;
      for (int64_t c = 1; c < k; ++c) {
        if (!occurs(per_class[c])) continue;
        d += dice(per_class[c]);
        u += iou(per_class[c]);
        ++present;
      }
      d = present ? d / present : 1.0;
      u = present ? u / present : 1.0;
    }
    dice_sum_ += d;
    iou_sum_ += u;
    rows[i] = {d, u};
  }
  image_count_ += n;
  return rows;
}

void SegmentationMetrics::check_compatible(const Metrics& other) const {
  const auto& o = dynamic_cast<const SegmentationMetrics&>(other);
  TESSERA_CHECK(o.options_.classes == options_.classes &&
                    o.options_.threshold == options_.threshold &&
                    o.options_.ignore_index == options_.ignore_index,
                "cannot merge segmentation metrics with different options (classes {} vs {}, "
                "threshold {} vs {}, ignore_index {} vs {})",
                options_.classes, o.options_.classes, options_.threshold, o.options_.threshold,
                options_.ignore_index, o.options_.ignore_index);
}

void SegmentationMetrics::merge_sums(const Metrics& other) {
  const auto& o = dynamic_cast<const SegmentationMetrics&>(other);
  for (int c = 0; c < num_classes(); ++c) {
    counts_[c].tp += o.counts_[c].tp;
    counts_[c].fp += o.counts_[c].fp;
    counts_[c].fn += o.counts_[c].fn;
    counts_[c].tn += o.counts_[c].tn;
  }
  image_count_ += o.image_count_;
  dice_sum_ += o.dice_sum_;
  iou_sum_ += o.iou_sum_;
}

void SegmentationMetrics::reduce_sums(Communicator& comm) {
  std::vector<int64_t> ints;
  ints.reserve(4 * counts_.size() + 1);
  for (const ClassCounts& c : counts_) ints.insert(ints.end(), {c.tp, c.fp, c.fn, c.tn});
  ints.push_back(image_count_);
  comm.allreduce(ints.data(), ints.size(), ReduceOp::sum);
  for (size_t c = 0; c < counts_.size(); ++c) {
    counts_[c] = ClassCounts{ints[4 * c], ints[4 * c + 1], ints[4 * c + 2], ints[4 * c + 3]};
  }
  image_count_ = ints.back();
  double sums[2] = {dice_sum_, iou_sum_};
  comm.allreduce(sums, 2, ReduceOp::sum);
  dice_sum_ = sums[0];
  iou_sum_ = sums[1];
}

void SegmentationMetrics::sums_from_rows(const std::vector<ImageScore>& rows) {
  dice_sum_ = 0.0;
  iou_sum_ = 0.0;
  for (const ImageScore& r : rows) {
    dice_sum_ += r.values.at(0);
    iou_sum_ += r.values.at(1);
  }
}

std::map<std::string, double> SegmentationMetrics::compute() const {
  TESSERA_CHECK(image_count_ > 0, "segmentation metrics: no images were evaluated (empty split?)");
  std::map<std::string, double> out;
  const int k = num_classes();
  int64_t correct = 0, valid = 0;
  double miou = 0, mdice = 0, fg_dice = 0, fg_iou = 0, fg_prec = 0, fg_rec = 0;
  int occurring = 0, fg_occurring = 0;
  for (int c = 0; c < k; ++c) {
    const ClassCounts& cc = counts_[c];
    out[fmt::format("dice/{}", c)] = dice(cc);
    out[fmt::format("iou/{}", c)] = iou(cc);
    out[fmt::format("precision/{}", c)] = precision(cc);
    out[fmt::format("recall/{}", c)] = recall(cc);
    correct += cc.tp;
    if (c == 0) valid = cc.tp + cc.fp + cc.fn + cc.tn;
    if (!occurs(cc)) continue;
    ++occurring;
    miou += iou(cc);
    mdice += dice(cc);
    if (c == 0) continue;
    ++fg_occurring;
    fg_dice += dice(cc);
    fg_iou += iou(cc);
    fg_prec += precision(cc);
    fg_rec += recall(cc);
  }
  out["miou"] = occurring ? miou / occurring : 1.0;
  out["mdice"] = occurring ? mdice / occurring : 1.0;
  if (options_.classes == 1) {
    out["dice"] = dice(counts_[1]);
    out["iou"] = iou(counts_[1]);
    out["precision"] = precision(counts_[1]);
    out["recall"] = recall(counts_[1]);
  } else {
    out["dice"] = fg_occurring ? fg_dice / fg_occurring : 1.0;
    out["iou"] = fg_occurring ? fg_iou / fg_occurring : 1.0;
    out["precision"] = fg_occurring ? fg_prec / fg_occurring : 1.0;
    out["recall"] = fg_occurring ? fg_rec / fg_occurring : 1.0;
  }
  out["pixel_acc"] = valid > 0 ? static_cast<double>(correct) / static_cast<double>(valid) : 1.0;
  out["dice_macro"] = dice_sum_ / static_cast<double>(image_count_);
  out["iou_macro"] = iou_sum_ / static_cast<double>(image_count_);
  out["images"] = static_cast<double>(image_count_);
  return out;
}

}  // namespace tessera
