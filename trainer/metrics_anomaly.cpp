// AnomalyMetrics: per-image reconstruction error and exact ROC-AUC over the gathered list.
#include "trainer/metrics_anomaly.h"

#include <algorithm>

#include "comm/communicator.h"
#include "common/error.h"
#include "trainer/losses.h"
#include "trainer/losses_internal.h"

namespace tessera {

AnomalyMetrics::AnomalyMetrics(const AnomalyOptions& options) : options_(options) {
  output_activation(torch::zeros({1, 1, 1, 1}), options.activation);  // validates the name
}

std::vector<std::vector<double>> AnomalyMetrics::update_batch(const torch::Tensor& output,
                                                              const torch::Tensor& target,
                                                              const torch::Tensor& labels) {
  detail::check_logits(output, "anomaly metrics");
  TESSERA_CHECK(target.defined() && target.sizes() == output.sizes() && target.is_floating_point(),
                "anomaly metrics: target must be a float N,C,H,W image of the output's shape {} "
                "(got {})",
                detail::shape_str(output), target.defined() ? detail::shape_str(target) : "none");
  const int64_t n = output.size(0);
  std::vector<int64_t> label(n, -1);
  if (labels.defined()) {
    TESSERA_CHECK(labels.numel() == n && !labels.is_floating_point(),
                  "anomaly metrics: labels must be {} integers (one per image, 0 normal, 1 "
                  "anomalous); got shape {} dtype {}",
                  n, detail::shape_str(labels), c10::toString(labels.scalar_type()));
    const torch::Tensor l = labels.reshape({-1}).to(torch::kCPU, torch::kLong).contiguous();
    for (int64_t i = 0; i < n; ++i) {
      label[i] = l.data_ptr<int64_t>()[i];
      TESSERA_CHECK(label[i] == 0 || label[i] == 1,
                    "anomaly metrics: image {} of the batch has label {}; expected 0 (normal) or "
                    "1 (anomalous)",
                    i, label[i]);
    }
  }
  std::vector<std::vector<double>> rows(n);
  for (int64_t i = 0; i < n; ++i) {
    // One image at a time: its score must not depend on batching (see metrics_image.cpp).
    const torch::Tensor o = output.index({torch::indexing::Slice(i, i + 1)}).contiguous();
    const torch::Tensor out = output_activation(o, options_.activation).to(torch::kDouble);
    const torch::Tensor t = target.index({torch::indexing::Slice(i, i + 1)})
                                .to(out.device(), torch::kDouble)
                                .contiguous();
    const double e = (out - t).pow(2).mean().item<double>();
    counts_[label[i] + 1] += 1;
    sums_[label[i] + 1] += e;
    rows[i] = {e, static_cast<double>(label[i])};
  }
  return rows;
}

void AnomalyMetrics::check_compatible(const Metrics& other) const {
  const auto& o = dynamic_cast<const AnomalyMetrics&>(other).options_;
  TESSERA_CHECK(o.activation == options_.activation,
                "cannot merge anomaly metrics with different activations ({} vs {})",
                options_.activation, o.activation);
}

void AnomalyMetrics::merge_sums(const Metrics& other) {
  const auto& o = dynamic_cast<const AnomalyMetrics&>(other);
  for (size_t j = 0; j < counts_.size(); ++j) {
    counts_[j] += o.counts_[j];
    sums_[j] += o.sums_[j];
  }
}

void AnomalyMetrics::reduce_sums(Communicator& comm) {
  comm.allreduce(counts_.data(), counts_.size(), ReduceOp::sum);
  comm.allreduce(sums_.data(), sums_.size(), ReduceOp::sum);
}

void AnomalyMetrics::sums_from_rows(const std::vector<ImageScore>& rows) {
  std::fill(sums_.begin(), sums_.end(), 0.0);
  for (const ImageScore& r : rows) sums_.at(static_cast<size_t>(static_cast<int>(r.values.at(1)) + 1)) += r.values.at(0);
}

std::map<std::string, double> AnomalyMetrics::compute() const {
  const int64_t total = counts_[0] + counts_[1] + counts_[2];
  TESSERA_CHECK(total > 0, "anomaly metrics: no images were evaluated (empty split?)");
  std::map<std::string, double> out;
  out["error"] = (sums_[0] + sums_[1] + sums_[2]) / static_cast<double>(total);
  if (counts_[1] > 0) out["error_normal"] = sums_[1] / static_cast<double>(counts_[1]);
  if (counts_[2] > 0) out["error_anomalous"] = sums_[2] / static_cast<double>(counts_[2]);
  if (counts_[1] > 0 && counts_[2] > 0) {
    std::vector<double> scores;
    std::vector<int> labels;
    for (const ImageScore& s : per_image()) {
      if (s.values[1] < 0) continue;
      scores.push_back(s.values[0]);
      labels.push_back(static_cast<int>(s.values[1]));
    }
    out["auc"] = roc_auc(scores, labels);
  }
  out["images"] = static_cast<double>(total);
  return out;
}

}  // namespace tessera
