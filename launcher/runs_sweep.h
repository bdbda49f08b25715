// `tessera sweep`: a grid of configs as separate runs. Pure planning, no processes or files:
// launcher/cmd_sweep.cpp loads, validates and starts them.
//
// parse_grid_axis("optim.lr=1e-3,3e-4") -> {key "optim.lr", values {"1e-3", "3e-4"}}; a missing
// '=', an empty value or a repeated value is a tessera::Error naming the --grid argument.
// expand_sweep() makes the cartesian product of the axes (the first axis varies slowest), times
// `seeds` seeds (base_seed, base_seed + 1, ...), each point a readable run name
// "<base>-<key tail>_<value>[-...][-s<k>]" (the last dotted component of each key; characters
// outside [A-Za-z0-9._-], which experiment.name allows, become '_') and the overrides that make it: every KEY=VALUE, then
// experiment.seed when seeds > 1, then experiment.name. Two points with the same name (axes whose
// keys end alike) are a tessera::Error. At most kMaxSweepPoints points.
// Thread-safe: no state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

inline constexpr size_t kMaxSweepPoints = 1000;

struct GridAxis {
  std::string key;
  std::vector<std::string> values;
};
GridAxis parse_grid_axis(const std::string& arg);

struct SweepPoint {
  std::string name;                    // experiment.name of the run
  std::vector<std::string> overrides;  // --set arguments, after the sweep's own --set
};
std::vector<SweepPoint> expand_sweep(const std::string& base_name,
                                     const std::vector<GridAxis>& axes, int seeds,
                                     uint64_t base_seed);

}  // namespace tessera
