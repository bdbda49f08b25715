// Dataset statistics computed while a dataset is written (DatasetWriter, so `tessera synth` and
// `tessera pack` both) and stored in its manifest (`stats`, docs/data-format.md): per input
// channel mean, standard deviation, minimum and maximum in the units the network sees (uint8
// value / 255, float32 as stored), and for label maps the pixel count of every label value and
// of ignored pixels. `loss.class_weighting` turns the train split's class counts into
// cross-entropy weights (trainer/class_weights.h).
//
// StatsAccumulator sums per sample in double (one partial sum per sample, then added), which
// keeps the relative error of a mean over 10^10 pixels near 1e-12. Not thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/shard_format.h"

namespace tessera {

struct ChannelSummary {
  double mean = 0, std = 0, min = 0, max = 0;
};

struct DatasetStats {
  std::vector<ChannelSummary> inputs;  // one per input channel
  std::vector<int64_t> class_pixels;  // labels: one per label value (max_label + 1)
  int64_t ignored_pixels = 0;         // labels: pixels equal to ignore_index
};

class StatsAccumulator {
 public:
  explicit StatsAccumulator(const DatasetInfo& info);
  // One sample as stored: input h*w*C values of info.input_dtype, channels last; target (labels
  // only) H*W uint8 values, already validated.
  void add(const void* input, const void* target);
  DatasetStats result() const;

 private:
  DatasetInfo info_;
  int64_t values_ = 0;  // input values per channel so far
  std::vector<double> sum_, sumsq_, min_, max_;
  std::vector<int64_t> label_pixels_;  // 256 entries
};

nlohmann::json stats_to_json(const DatasetStats& s);
// Checks sizes against `info` (channels, label values) and every number (finite, counts >= 0);
// `where` names the manifest in errors.
DatasetStats stats_from_json(const nlohmann::json& j, const DatasetInfo& info,
                             const std::string& where);

}  // namespace tessera
