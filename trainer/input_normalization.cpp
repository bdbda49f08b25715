#include "trainer/input_normalization.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <vector>

#include "common/error.h"
#include "datasets/manifest.h"

namespace tessera {

void set_dataset_normalization(const Config& cfg, ImageModelImpl& model) {
  if (!model.normalizes_input()) return;
  const std::string where = cfg.data.train + "/manifest.json";
  const Manifest m = load_manifest(cfg.data.train);
  TESSERA_CHECK(m.stats && !m.stats->inputs.empty(),
                "data.normalize: dataset needs the per-channel statistics of data.train, which "
                "{}; repack the data with tessera pack (or synth), or set data.normalize: none",
                m.derived ? fmt::format("{} has no manifest.json to hold (its shards were "
                                        "written without one, e.g. by h5py)",
                                        cfg.data.train)
                          : fmt::format("{} lacks (written before tessera stored them)", where));
  const auto& inputs = m.stats->inputs;
  TESSERA_CHECK(static_cast<int64_t>(inputs.size()) == cfg.task.in_channels,
                "data.normalize: {} has statistics for {} input channels but task.in_channels "
                "is {}",
                where, inputs.size(), cfg.task.in_channels);
  std::vector<double> mean, std;
  std::string line;
  for (size_t c = 0; c < inputs.size(); ++c) {
    mean.push_back(inputs[c].mean);
    std.push_back(inputs[c].std > 0 ? inputs[c].std : 1.0);
    if (!(inputs[c].std > 0)) {
      spdlog::warn("data.normalize: channel {} is constant ({}) in {}; it is centred but not "
                   "scaled",
                   c, inputs[c].mean, cfg.data.train);
    }
    line += fmt::format("{}{}: mean {:.6g} std {:.6g}", c ? ", " : "", c, mean.back(), std.back());
  }
  model.set_input_normalization(mean, std, "data.normalize (" + where + ")");
  spdlog::info("data.normalize: dataset, from {}: {}", where, line);
}

}  // namespace tessera
