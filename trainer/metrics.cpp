// Metrics base class (per-image rows, merge, all_reduce), factory, metric names, exact ROC-AUC.
#include "trainer/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "comm/communicator.h"
#include "common/error.h"
#include "trainer/losses_internal.h"
#include "trainer/metrics_anomaly.h"
#include "trainer/metrics_image.h"
#include "trainer/metrics_segmentation.h"

namespace tessera {

namespace {

// Row layout on the wire: int64 count, then per row int64 id and `columns` float64 values.
std::string pack_rows(const std::vector<ImageScore>& rows, size_t columns) {
  std::string out;
  out.resize(sizeof(int64_t) * (1 + rows.size()) + sizeof(double) * columns * rows.size());
  char* p = out.data();
  const int64_t n = static_cast<int64_t>(rows.size());
  std::memcpy(p, &n, sizeof n);
  p += sizeof n;
  for (const ImageScore& r : rows) {
    std::memcpy(p, &r.id, sizeof r.id);
    p += sizeof r.id;
    std::memcpy(p, r.values.data(), sizeof(double) * columns);
    p += sizeof(double) * columns;
  }
  return out;
}

void unpack_rows(const std::string& bytes, size_t columns, int from_rank,
                 std::vector<ImageScore>& out) {
  int64_t n = 0;
  TESSERA_CHECK(bytes.size() >= sizeof n,
                "metrics all_reduce: rank {} sent {} bytes of per-image "
                "scores; expected at least {}",
                from_rank, bytes.size(), sizeof n);
  std::memcpy(&n, bytes.data(), sizeof n);
  const size_t want = sizeof(int64_t) * (1 + n) + sizeof(double) * columns * n;
  TESSERA_CHECK(n >= 0 && bytes.size() == want,
                "metrics all_reduce: rank {} sent {} bytes for {} per-image rows of {} columns; "
                "expected {} (ranks built different metrics?)",
                from_rank, bytes.size(), n, columns, want);
  const char* p = bytes.data() + sizeof n;
  for (int64_t i = 0; i < n; ++i) {
    ImageScore r;
    std::memcpy(&r.id, p, sizeof r.id);
    p += sizeof r.id;
    r.values.resize(columns);
    std::memcpy(r.values.data(), p, sizeof(double) * columns);
    p += sizeof(double) * columns;
    out.push_back(std::move(r));
  }
}

void sort_by_id(std::vector<ImageScore>& rows) {
  std::stable_sort(rows.begin(), rows.end(),
                   [](const ImageScore& a, const ImageScore& b) { return a.id < b.id; });
}

}  // namespace

void Metrics::update(const torch::Tensor& output, const torch::Tensor& target,
                     const torch::Tensor& labels, const std::vector<int64_t>& ids) {
  TESSERA_CHECK(!reduced_,
                "{} metrics: update() after all_reduce(); reset by building a new "
                "accumulator",
                kind());
  TESSERA_CHECK(output.defined() && output.dim() == 4,
                "{} metrics: model output must be N,C,H,W (got a {}-D tensor)", kind(),
                output.defined() ? output.dim() : 0);
  const int64_t n = output.size(0);
  TESSERA_CHECK(ids.empty() || static_cast<int64_t>(ids.size()) == n,
                "{} metrics: {} sample ids for a batch of {} images", kind(), ids.size(), n);
  torch::NoGradGuard no_grad;
  std::vector<std::vector<double>> rows = update_batch(output.detach(), target, labels);
  TESSERA_CHECK(static_cast<int64_t>(rows.size()) == n, "internal: {} rows for {} images",
                rows.size(), n);
  const auto old_end = static_cast<std::ptrdiff_t>(per_image_.size());
  for (int64_t i = 0; i < n; ++i) {
    per_image_.push_back(ImageScore{ids.empty() ? -1 : ids[i], std::move(rows[i])});
  }
  // Keep per_image_ ordered by id (stable) in O(size) per batch.
  const auto by_id = [](const ImageScore& a, const ImageScore& b) { return a.id < b.id; };
  std::stable_sort(per_image_.begin() + old_end, per_image_.end(), by_id);
  std::inplace_merge(per_image_.begin(), per_image_.begin() + old_end, per_image_.end(), by_id);
}

void Metrics::merge(const Metrics& other) {
  TESSERA_CHECK(kind() == other.kind(), "cannot merge {} metrics into {} metrics", other.kind(),
                kind());
  TESSERA_CHECK(&other != this, "cannot merge a metrics accumulator into itself");
  check_compatible(other);
  merge_sums(other);
  per_image_.insert(per_image_.end(), other.per_image_.begin(), other.per_image_.end());
  sort_by_id(per_image_);
}

void Metrics::all_reduce(Communicator& comm) {
  TESSERA_CHECK(!reduced_, "{} metrics: all_reduce() called twice (would count twice)", kind());
  reduce_sums(comm);
  const size_t columns = score_names().size();
  const std::vector<std::string> parts = comm.allgather_bytes(pack_rows(per_image_, columns));
  TESSERA_CHECK(static_cast<int>(parts.size()) == comm.size(),
                "metrics all_reduce: allgather_bytes returned {} parts for {} ranks", parts.size(),
                comm.size());
  std::vector<ImageScore> all;
  for (size_t r = 0; r < parts.size(); ++r)
    unpack_rows(parts[r], columns, static_cast<int>(r), all);
  sort_by_id(all);
  per_image_ = std::move(all);
  sums_from_rows(per_image_);
  reduced_ = true;
}

// ---- factory and names ----------------------------------------------------------------------

std::unique_ptr<Metrics> make_metrics(const TaskConfig& task, const ModelConfig& model,
                                      const EvalConfig& eval, int ignore_index) {
  if (task.kind == TaskKind::segmentation) {
    SegmentationOptions o;
    o.classes = task.classes;
    o.threshold = eval.threshold;
    o.ignore_index = ignore_index;
    return std::make_unique<SegmentationMetrics>(o);
  }
  if (task.kind == TaskKind::anomaly) {
    return std::make_unique<AnomalyMetrics>(AnomalyOptions{model.activation});
  }
  ImageOptions o;
  o.channels = task.out_channels;
  o.activation = model.activation;
  o.border_crop = eval.border_crop;
  return std::make_unique<ImageMetrics>(o);
}

std::vector<std::string> metric_names_for(const TaskConfig& task) {
  if (task.kind == TaskKind::segmentation) {
    std::vector<std::string> names = {"dice", "iou",   "precision",  "recall",    "pixel_acc",
                                      "miou", "mdice", "dice_macro", "iou_macro", "images"};
    const int k = std::max(task.classes, 2);
    for (const char* m : {"dice", "iou", "precision", "recall"}) {
      for (int c = 0; c < k; ++c) names.push_back(fmt::format("{}/{}", m, c));
    }
    return names;
  }
  if (task.kind == TaskKind::anomaly) {
    return {"auc", "error", "error_normal", "error_anomalous", "images"};
  }
  if (task.out_channels == 1 || task.out_channels == 3) {
    return {"psnr", "ssim", "psnr_y", "ssim_y", "mae", "mse", "images"};
  }
  return {"psnr", "ssim", "mae", "mse", "images"};
}

void check_metric_names(const std::vector<std::string>& names, const TaskConfig& task) {
  const std::vector<std::string> known = metric_names_for(task);
  for (size_t i = 0; i < names.size(); ++i) {
    if (std::find(known.begin(), known.end(), names[i]) != known.end()) continue;
    std::string list;
    for (const std::string& k : known) {
      if (k.find('/') == std::string::npos) list += (list.empty() ? "" : ", ") + k;
    }
    TESSERA_THROW(
        "eval.metrics[{}]: '{}' is not a metric of task.kind = {}{}; expected one of "
        "{}{}",
        i, names[i], to_string(task.kind),
        task.kind == TaskKind::segmentation ? fmt::format(" (task.classes = {})", task.classes)
                                            : std::string(),
        list,
        task.kind == TaskKind::segmentation
            ? fmt::format(", or per class 'dice/c' etc. with c in 0..{}",
                          std::max(task.classes, 2) - 1)
            : std::string());
  }
}

// ---- ROC-AUC --------------------------------------------------------------------------------

double roc_auc(const std::vector<double>& scores, const std::vector<int>& labels) {
  TESSERA_CHECK(scores.size() == labels.size(), "roc_auc: {} scores but {} labels", scores.size(),
                labels.size());
  int64_t positives = 0, negatives = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    TESSERA_CHECK(!std::isnan(scores[i]), "roc_auc: score {} is NaN", i);
    TESSERA_CHECK(labels[i] == 0 || labels[i] == 1, "roc_auc: label {} is {}; expected 0 or 1", i,
                  labels[i]);
    (labels[i] ? positives : negatives) += 1;
  }
  TESSERA_CHECK(positives > 0 && negatives > 0,
                "roc_auc: needs both anomalous (label 1) and normal (label 0) images; got {} and "
                "{}",
                positives, negatives);
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Twice the Mann-Whitney U: 2 per (positive, lower negative) pair + 1 per tied pair. Integer.
  int64_t twice_u = 0, negatives_below = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    int64_t pos = 0, neg = 0;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) {
      (labels[order[j]] ? pos : neg) += 1;
      ++j;
    }
    twice_u += 2 * pos * negatives_below + pos * neg;
    negatives_below += neg;
    i = j;
  }
  return static_cast<double>(twice_u) /
         (2.0 * static_cast<double>(positives) * static_cast<double>(negatives));
}

}  // namespace tessera
