#include "launcher/runs_sweep.h"

#include <set>

#include "common/error.h"
#include "common/text.h"

namespace tessera {

GridAxis parse_grid_axis(const std::string& arg) {
  const auto eq = arg.find('=');
  TESSERA_CHECK(eq != std::string::npos && eq > 0,
                "--grid '{}': expected KEY=V1,V2,... (e.g. --grid optim.lr=1e-3,3e-4)",
                escape_text(arg));
  GridAxis axis{arg.substr(0, eq), {}};
  const std::string list = arg.substr(eq + 1);
  size_t start = 0;
  while (true) {
    const auto comma = list.find(',', start);
    const std::string v = list.substr(start, comma == std::string::npos ? comma : comma - start);
    TESSERA_CHECK(!v.empty(), "--grid '{}': an empty value (expected KEY=V1,V2,...)",
                  escape_text(arg));
    for (const std::string& seen : axis.values) {
      TESSERA_CHECK(seen != v, "--grid '{}': value '{}' is given twice", escape_text(arg),
                    escape_text(v));
    }
    axis.values.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return axis;
}

namespace {

std::string name_part(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    out += ok ? c : '_';
  }
  return out;
}

std::string key_tail(const std::string& key) {
  const auto dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

}  // namespace

std::vector<SweepPoint> expand_sweep(const std::string& base_name,
                                     const std::vector<GridAxis>& axes, int seeds,
                                     uint64_t base_seed) {
  TESSERA_CHECK(seeds >= 1, "--seeds {}: expected at least 1", seeds);
  size_t count = static_cast<size_t>(seeds);
  for (const GridAxis& a : axes) {
    TESSERA_CHECK(!a.values.empty(), "--grid {}: no values", a.key);
    TESSERA_CHECK(count <= kMaxSweepPoints / a.values.size(),
                  "the sweep has more than {} points (the grid times --seeds)", kMaxSweepPoints);
    count *= a.values.size();
  }
  std::vector<SweepPoint> points;
  std::set<std::string> names;
  std::vector<size_t> at(axes.size(), 0);  // an odometer over the axes, the last one fastest
  for (size_t n = 0; n < count / static_cast<size_t>(seeds); ++n) {
    for (int s = 0; s < seeds; ++s) {
      SweepPoint p;
      p.name = base_name;
      for (size_t i = 0; i < axes.size(); ++i) {
        const std::string& v = axes[i].values[at[i]];
        p.name += "-" + name_part(key_tail(axes[i].key) + "_" + v);
        p.overrides.push_back(axes[i].key + "=" + v);
      }
      if (seeds > 1) {
        p.name += "-s" + std::to_string(s);
        p.overrides.push_back("experiment.seed=" + std::to_string(base_seed + s));
      }
      p.overrides.push_back("experiment.name=" + p.name);
      TESSERA_CHECK(names.insert(p.name).second,
                    "two sweep points would both be run '{}': grid keys that end alike need "
                    "distinct values",
                    p.name);
      points.push_back(std::move(p));
    }
    for (size_t i = axes.size(); i-- > 0;) {
      if (++at[i] < axes[i].values.size()) break;
      at[i] = 0;
    }
  }
  return points;
}

}  // namespace tessera
