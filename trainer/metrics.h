// Evaluation metrics that are exact across ranks.
//
// A Metrics accumulator is fed batch by batch with update(), then, under data parallelism,
// all_reduce() combines every rank's partial state, and compute() turns it into an ordered map
// name -> value. The evaluation split is never padded: each rank just accumulates what it saw and
// the reduction sums it. Exactness:
//   - integer counts (TP/FP/FN/TN, image counts) are int64 and summed: bit-exact;
//   - float sums (per-image PSNR, SSIM, Dice, ...) are float64: equal to the single-process value
//     up to summation order (well under 1e-12 relative);
//   - per-image score lists are gathered to every rank (allgather_bytes), so rank-order statistics
//     (ROC-AUC) are computed on the complete list and are exact.
// Each accumulator issues, in this order, at most one int64 allreduce, one float64 allreduce and
// one allgather_bytes; every rank must call all_reduce() once, with the same configuration.
//
// Inputs: `output` is the model's output BEFORE its activation (the same tensor the loss gets);
// the accumulator applies the activation rule of trainer/losses.h itself (sigmoid + threshold for
// binary segmentation, argmax for multi-class, model.activation for image tasks). Conventions and
// formulas: docs/metrics.md.
//
// Threads: not thread-safe; use one accumulator per thread or lock around it. Tensors may be on
// any device; only small results are copied to the host.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"

namespace tessera {

class Communicator;

// One image's scores, columns named by Metrics::score_names().
struct ImageScore {
  int64_t id = -1;  // the sample id given to update() (e.g. index in the split); -1 if none
  std::vector<double> values;
};

class Metrics {
 public:
  virtual ~Metrics() = default;

  // output: N,C,H,W model output (pre-activation). target: segmentation labels N,H,W (int), or
  // images N,C,H,W (float in [0,1]). labels: anomaly only, N image labels (0 normal, 1 anomalous);
  // must be undefined for other tasks. ids: empty or N sample ids (used to order per_image()).
  void update(const torch::Tensor& output, const torch::Tensor& target,
              const torch::Tensor& labels = {}, const std::vector<int64_t>& ids = {});

  // Adds another accumulator's state (same kind and options) to this one, as all_reduce would:
  // for in-process combination and tests.
  void merge(const Metrics& other);

  // Sums every rank's state into every rank (collective; call once on every rank).
  void all_reduce(Communicator& comm);

  // name -> value over everything accumulated (after all_reduce: over all ranks). Throws when
  // no image was accumulated.
  virtual std::map<std::string, double> compute() const = 0;

  // Column names of per_image() values, e.g. {"dice", "iou"} or {"psnr", "ssim", ...}.
  virtual std::vector<std::string> score_names() const = 0;
  // Per-image scores, ordered by id (stable: rank order, then update order, for equal ids).
  const std::vector<ImageScore>& per_image() const { return per_image_; }

  // "segmentation", "image" or "anomaly".
  virtual std::string kind() const = 0;
  int64_t images() const { return static_cast<int64_t>(per_image_.size()); }
  bool reduced() const { return reduced_; }

 protected:
  // Validates one batch, adds its counts/sums and returns one score row per image.
  virtual std::vector<std::vector<double>> update_batch(const torch::Tensor& output,
                                                        const torch::Tensor& target,
                                                        const torch::Tensor& labels) = 0;
  // Adds `other`'s counts/sums (same dynamic type and options, checked by the caller's
  // check_compatible first).
  virtual void merge_sums(const Metrics& other) = 0;
  virtual void check_compatible(const Metrics& other) const = 0;
  // One int64 allreduce and/or one float64 allreduce of the counts/sums.
  virtual void reduce_sums(Communicator& comm) = 0;
  // After all_reduce gathered every rank's rows (ordered by id): recomputes the floating-point
  // sums from the per-image scores in id order, so results do not depend on how the samples were
  // divided among ranks (a float sum's value depends on its order). Integer counts stay.
  virtual void sums_from_rows(const std::vector<ImageScore>& rows) = 0;

 private:
  std::vector<ImageScore> per_image_;
  bool reduced_ = false;
};

// ---- factory --------------------------------------------------------------------------------

// Segmentation -> SegmentationMetrics (task.classes, eval.threshold, ignore_index from
// loss.ignore_index); anomaly -> AnomalyMetrics; every other task -> ImageMetrics
// (model.activation, eval.border_crop).
std::unique_ptr<Metrics> make_metrics(const TaskConfig& task, const ModelConfig& model,
                                      const EvalConfig& eval, int ignore_index = -1);

// Every metric name compute() can return for the task (per-class names like "dice/2" included).
std::vector<std::string> metric_names_for(const TaskConfig& task);

// Throws tessera::Error naming eval.metrics[i] when a requested name is not one of
// metric_names_for(task). make_metrics does not call it (the default eval.metrics is
// segmentation's); the trainer calls it once the config is final.
void check_metric_names(const std::vector<std::string>& names, const TaskConfig& task);

// ---- helpers shared with tests and evaluation -----------------------------------------------

// Exact ROC-AUC (Mann-Whitney U with ties counted 1/2): the probability that a random positive
// scores higher than a random negative. labels: 0/1. Throws when a class is missing or a score
// is NaN.
double roc_auc(const std::vector<double>& scores, const std::vector<int>& labels);

}  // namespace tessera
