#include "datasets/dataset_stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/error.h"

namespace tessera {

using nlohmann::json;

StatsAccumulator::StatsAccumulator(const DatasetInfo& info)
    : info_(info),
      sum_(static_cast<size_t>(info.in_channels), 0.0),
      sumsq_(static_cast<size_t>(info.in_channels), 0.0),
      min_(static_cast<size_t>(info.in_channels), std::numeric_limits<double>::infinity()),
      max_(static_cast<size_t>(info.in_channels), -std::numeric_limits<double>::infinity()),
      label_pixels_(256, 0) {}

void StatsAccumulator::add(const void* input, const void* target) {
  const size_t c = static_cast<size_t>(info_.in_channels);
  const size_t pixels = static_cast<size_t>(info_.input_height) * info_.input_width;
  const bool f32 = info_.input_dtype == "float32", u16 = info_.input_dtype == "uint16";
  std::vector<double> s(c, 0.0), q(c, 0.0);
  for (size_t p = 0; p < pixels; ++p) {
    for (size_t k = 0; k < c; ++k) {
      double v = 0;
      if (f32) {
        float f = 0;
        std::memcpy(&f, static_cast<const uint8_t*>(input) + (p * c + k) * 4, 4);
        v = f;
      } else if (u16) {
        uint16_t u = 0;
        std::memcpy(&u, static_cast<const uint8_t*>(input) + (p * c + k) * 2, 2);
        v = u / 65535.0;
      } else {
        v = static_cast<const uint8_t*>(input)[p * c + k] / 255.0;
      }
      s[k] += v;
      q[k] += v * v;
      min_[k] = std::min(min_[k], v);
      max_[k] = std::max(max_[k], v);
    }
  }
  for (size_t k = 0; k < c; ++k) {
    sum_[k] += s[k];
    sumsq_[k] += q[k];
  }
  values_ += static_cast<int64_t>(pixels);
  if (info_.target_kind == "labels" && target != nullptr) {
    const auto* t = static_cast<const uint8_t*>(target);
    const size_t n = static_cast<size_t>(info_.height) * info_.width;
    for (size_t p = 0; p < n; ++p) ++label_pixels_[t[p]];
  }
}

DatasetStats StatsAccumulator::result() const {
  DatasetStats out;
  const double n = static_cast<double>(std::max<int64_t>(values_, 1));
  for (size_t k = 0; k < sum_.size(); ++k) {
    ChannelSummary cs;
    cs.mean = sum_[k] / n;
    cs.std = std::sqrt(std::max(0.0, sumsq_[k] / n - cs.mean * cs.mean));
    cs.min = values_ > 0 ? min_[k] : 0.0;
    cs.max = values_ > 0 ? max_[k] : 0.0;
    out.inputs.push_back(cs);
  }
  if (info_.target_kind == "labels") {
    out.class_pixels.assign(label_pixels_.begin(), label_pixels_.begin() + max_label(info_) + 1);
    if (info_.ignore_index >= 0) out.ignored_pixels = label_pixels_[static_cast<size_t>(info_.ignore_index)];
  }
  return out;
}

json stats_to_json(const DatasetStats& s) {
  json mean = json::array(), sd = json::array(), lo = json::array(), hi = json::array();
  for (const auto& c : s.inputs) {
    mean.push_back(c.mean);
    sd.push_back(c.std);
    lo.push_back(c.min);
    hi.push_back(c.max);
  }
  json j = {{"inputs", {{"mean", mean}, {"std", sd}, {"min", lo}, {"max", hi}}}};
  if (!s.class_pixels.empty()) {
    j["class_pixels"] = s.class_pixels;
    j["ignored_pixels"] = s.ignored_pixels;
  }
  return j;
}

namespace {
std::vector<double> numbers(const json& j, const char* key, size_t n, const std::string& where) {
  const std::string path = std::string("stats.inputs.") + key;
  TESSERA_CHECK(j.is_object() && j.contains(key) && j[key].is_array() && j[key].size() == n,
                "{}: '{}' must be a list of {} numbers (one per input channel)", where, path, n);
  std::vector<double> out;
  for (const auto& v : j[key]) {
    TESSERA_CHECK(v.is_number() && std::isfinite(v.get<double>()),
                  "{}: '{}' holds {}, expected finite numbers", where, path, v.dump().substr(0, 40));
    out.push_back(v.get<double>());
  }
  return out;
}
}  // namespace

DatasetStats stats_from_json(const json& j, const DatasetInfo& info, const std::string& where) {
  TESSERA_CHECK(j.is_object() && j.contains("inputs"), "{}: 'stats' must hold 'inputs'", where);
  const size_t c = static_cast<size_t>(info.in_channels);
  const auto mean = numbers(j["inputs"], "mean", c, where), sd = numbers(j["inputs"], "std", c, where),
             lo = numbers(j["inputs"], "min", c, where), hi = numbers(j["inputs"], "max", c, where);
  DatasetStats s;
  for (size_t k = 0; k < c; ++k) s.inputs.push_back({mean[k], sd[k], lo[k], hi[k]});
  if (info.target_kind == "labels" && j.contains("class_pixels")) {
    const json& cp = j["class_pixels"];
    const size_t values = static_cast<size_t>(max_label(info)) + 1;
    TESSERA_CHECK(cp.is_array() && cp.size() <= 256,
                  "{}: 'stats.class_pixels' must be a list of at most 256 counts", where);
    // Counts for another number of classes are stale (targets.classes was edited): dropped, so
    // the reader's own label checks report the real problem and loss.class_weighting refuses.
    if (cp.size() != values) return s;
    for (const auto& v : cp) {
      TESSERA_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0,
                    "{}: 'stats.class_pixels' holds {}, expected counts >= 0", where,
                    v.dump().substr(0, 40));
      s.class_pixels.push_back(v.get<int64_t>());
    }
    if (j.contains("ignored_pixels")) {
      TESSERA_CHECK(j["ignored_pixels"].is_number_integer() && j["ignored_pixels"].get<int64_t>() >= 0,
                    "{}: 'stats.ignored_pixels' must be a count >= 0", where);
      s.ignored_pixels = j["ignored_pixels"].get<int64_t>();
    }
  }
  return s;
}

}  // namespace tessera
