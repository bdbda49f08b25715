// Fixtures shared by the CheckpointStore tests: deterministic checkpoint contents, error text
// capture, directory listings and a capture of the default spdlog logger.
#pragma once

#include "checkpoints/checkpoint_format.h"
#include "common/error.h"
#include "tests/log_capture.h"

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace tessera::checkpoints::testing {

namespace fs = std::filesystem;

inline std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

inline CheckpointData make_data(std::int64_t step, unsigned seed = 0) {
  CheckpointData d;
  d.step = step;
  d.epoch = step / 10;
  d.world_size = 2;
  d.files["model.pt"] = random_bytes(10000 + static_cast<std::size_t>(step % 1000),
                                     seed + static_cast<unsigned>(step));
  d.files["optim.pt"] = random_bytes(20000, seed + 1000 + static_cast<unsigned>(step));
  d.files["state.json"] = "{\"cursor\": " + std::to_string(step * 8) + "}";
  d.files["empty.bin"] = "";
  d.meta_extra = {{"cursor", step * 8}, {"note", "x"}};
  return d;
}

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

inline std::vector<std::string> names(const std::vector<std::string>& dirs) {
  std::vector<std::string> out;
  for (const auto& d : dirs) out.push_back(fs::path(d).filename().string());
  return out;
}

inline std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

using tessera::testutil::LogCapture;  // tests/log_capture.h

}  // namespace tessera::checkpoints::testing
