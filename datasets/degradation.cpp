// Super-resolution degradations (how LR inputs are made) and their cross-dataset check.
#include "datasets/degradation.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "common/error.h"

namespace tessera {

const std::vector<std::string>& degradation_names() {
  static const std::vector<std::string> kNames = {"bicubic_aa", "opencv_cubic", "area"};
  return kNames;
}

std::string to_string(Degradation d) {
  return degradation_names()[static_cast<size_t>(d)];
}

Degradation degradation_from_string(const std::string& name, const std::string& option) {
  const auto& names = degradation_names();
  const auto it = std::find(names.begin(), names.end(), name);
  TESSERA_CHECK(it != names.end(),
                "{}: unknown degradation '{}'; accepted: {} (bicubic_aa = MATLAB imresize / PIL "
                "antialiased bicubic, opencv_cubic = cv::INTER_CUBIC, area = cv::INTER_AREA)",
                option, name, fmt::join(names, ", "));
  return static_cast<Degradation>(it - names.begin());
}

bool recordable_degradation(const std::string& name) {
  const auto& names = degradation_names();
  return name == kUnknownDegradation || std::find(names.begin(), names.end(), name) != names.end();
}

std::string effective_degradation(const DatasetInfo& info) {
  if (!info.degradation.empty()) return info.degradation;
  return info.task == "super_resolution" ? kLegacyDegradation : "";
}

void check_same_degradation(const DatasetInfo& a, const std::string& a_name, const DatasetInfo& b,
                            const std::string& b_name) {
  if (a.task != "super_resolution" || b.task != "super_resolution") return;
  const std::string da = effective_degradation(a), db = effective_degradation(b);
  if (da == db) return;
  const auto shown = [](const DatasetInfo& i, const std::string& d) {
    return i.degradation.empty()
               ? fmt::format("{} (no '{}' key: made before it was recorded)", d, kDegradationKey)
               : d;
  };
  TESSERA_THROW(
      "{} and {} were made with different super-resolution degradations (manifest key '{}'): "
      "{} has {}, {} has {}. A model trained on one and scored on the other measures the "
      "difference between the degradations, not the model; make both with the same "
      "`tessera pack|synth --degradation` (docs/synthetic-data.md)",
      a_name, b_name, kDegradationKey, a_name, shown(a, da), b_name, shown(b, db));
}

}  // namespace tessera
