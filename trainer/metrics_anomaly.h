// Anomaly-detection metrics for reconstruction models (see trainer/metrics.h for the accumulator
// contract and docs/metrics.md for the formulas).
//
// Per image: the reconstruction error, the mean squared difference (float64, [0, 1] scale, no
// clamping) between output_activation(output, activation) and the target (the clean input).
// Image labels come with each batch: 0 normal, 1 anomalous; a batch without labels counts as
// unlabelled (-1): it enters `error` but not the per-class means or the AUC.
// compute() keys: error (mean over all images), error_normal, error_anomalous (when that class
// was seen), auc (exact ROC-AUC of error as the anomaly score, ties counted 1/2; present only when
// both classes were seen), images. all_reduce: one int64 allreduce (image counts per label), one
// float64 allreduce (error sums), and the per-image (error, label) list gathered to every rank,
// so the AUC is computed on the complete list on every rank. per_image() columns: error, label.
#pragma once

#include <array>
#include <string>

#include "trainer/metrics.h"

namespace tessera {

struct AnomalyOptions {
  std::string activation = "sigmoid";  // model.activation
};

class AnomalyMetrics : public Metrics {
 public:
  explicit AnomalyMetrics(const AnomalyOptions& options);

  std::map<std::string, double> compute() const override;
  std::vector<std::string> score_names() const override { return {"error", "label"}; }
  std::string kind() const override { return "anomaly"; }

 protected:
  std::vector<std::vector<double>> update_batch(const torch::Tensor& output,
                                                const torch::Tensor& target,
                                                const torch::Tensor& labels) override;
  void merge_sums(const Metrics& other) override;
  void check_compatible(const Metrics& other) const override;
  void reduce_sums(Communicator& comm) override;
  void sums_from_rows(const std::vector<ImageScore>& rows) override;

 private:
  AnomalyOptions options_;
  std::array<int64_t, 3> counts_{};  // images: unlabelled, normal, anomalous
  std::array<double, 3> sums_{};     // error sums, same order
};

}  // namespace tessera
