#include "trainer/class_weights.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/error.h"
#include "datasets/manifest.h"

namespace tessera {

std::vector<float> class_weights_from_counts(const std::vector<int64_t>& pixels,
                                             const std::string& mode) {
  TESSERA_CHECK(mode == "inverse_frequency" || mode == "median_frequency",
                "loss.class_weighting: unknown mode '{}'", mode);
  double total = 0;
  std::vector<double> present;
  for (int64_t n : pixels) {
    total += static_cast<double>(n);
    if (n > 0) present.push_back(static_cast<double>(n));
  }
  TESSERA_CHECK(total > 0, "loss.class_weighting: the class pixel counts are all 0");
  std::sort(present.begin(), present.end());
  const size_t m = present.size();
  const double median_n = m % 2 == 1 ? present[m / 2] : 0.5 * (present[m / 2 - 1] + present[m / 2]);
  std::vector<float> w;
  for (int64_t n : pixels) {
    if (n == 0) {
      w.push_back(1.0f);
    } else if (mode == "inverse_frequency") {
      w.push_back(static_cast<float>(total / (static_cast<double>(pixels.size()) * n)));
    } else {
      w.push_back(static_cast<float>(median_n / static_cast<double>(n)));
    }
  }
  return w;
}

LossConfig resolve_class_weights(const Config& cfg) {
  LossConfig loss = cfg.loss;
  if (loss.class_weighting == "none") return loss;
  const Manifest m = load_manifest(cfg.data.train);
  TESSERA_CHECK(m.stats && !m.stats->class_pixels.empty(),
                "loss.class_weighting: {} needs the class pixel counts of data.train ({}), which "
                "its manifest lacks (written by tessera synth and pack since 2026-12; repack the "
                "data, or set loss.class_weights by hand)",
                loss.class_weighting, cfg.data.train);
  const auto& pixels = m.stats->class_pixels;
  TESSERA_CHECK(static_cast<int>(pixels.size()) == cfg.task.classes,
                "loss.class_weighting: data.train {} has {} classes but task.classes is {}",
                cfg.data.train, pixels.size(), cfg.task.classes);
  loss.class_weights = class_weights_from_counts(pixels, loss.class_weighting);
  std::string line;
  for (size_t c = 0; c < pixels.size(); ++c) {
    const std::string name = m.info.class_names.size() == pixels.size() ? " " + m.info.class_names[c] : "";
    line += fmt::format("{}{}{}: {} px -> {:.4g}", c ? ", " : "", c, name, pixels[c],
                        loss.class_weights[c]);
    if (pixels[c] == 0)
      spdlog::warn("loss.class_weighting: class {} has no pixel in {}; its weight is 1", c,
                   cfg.data.train);
  }
  spdlog::info("loss.class_weighting {} from {}: {}", loss.class_weighting, cfg.data.train, line);
  return loss;
}

}  // namespace tessera
