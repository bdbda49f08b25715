// What the crash-test writer saves: contents that are a pure function of (step, generation), so
// a loaded checkpoint can be checked for being exactly one whole save, not a mixture.
#pragma once

#include "checkpoints/checkpoint_format.h"

#include <cstdint>
#include <random>
#include <string>

namespace tessera::checkpoints::testing {

inline constexpr int kKeepLast = 2;
inline constexpr int kKeepBest = 1;

inline std::string crash_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t v = rng();
    for (int b = 0; b < 8; ++b) s[i + b] = static_cast<char>(v >> (8 * b));
  }
  for (; i < n; ++i) s[i] = static_cast<char>(rng());
  return s;
}

inline CheckpointData crash_content(std::int64_t step, int generation, double mb) {
  const auto total = static_cast<std::size_t>(mb * 1e6);
  const std::uint64_t seed = static_cast<std::uint64_t>(step) * 1000 + generation;
  CheckpointData d;
  d.step = step;
  d.epoch = step / 7;
  d.world_size = 1;
  d.files["model.pt"] = crash_bytes(total / 3, seed * 3);
  d.files["optim.pt"] = crash_bytes(total - total / 3, seed * 3 + 1);
  d.files["state.json"] = "{\"step\": " + std::to_string(step) + "}";
  d.meta_extra = {{"generation", generation}};
  return d;
}

// Varies up and down so that the `best` pointer sometimes moves and sometimes stays.
inline double crash_metric(std::int64_t step, int generation) {
  return static_cast<double>((step * 7 + generation * 3) % 10);
}

}  // namespace tessera::checkpoints::testing
