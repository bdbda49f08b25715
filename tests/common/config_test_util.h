// Helpers for the config tests: temporary directories of YAML files, and assertions that a load
// fails with a ConfigError whose message contains given fragments.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "common/config.h"

namespace tessera::testing {

// A fresh directory under the system temp dir, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `text` to path()/rel (creating parent directories); returns the full path.
  std::string write(const std::string& rel, const std::string& text) const;

 private:
  std::string path_;
};

// The minimal valid document: the two required keys.
inline const char* kRequired = "experiment: {name: t}\ntask: {kind: segmentation}\n";

// Runs `load`; the test fails unless it throws ConfigError whose message() contains every
// fragment. Returns the message (empty when nothing was thrown).
std::string expect_config_error(const std::function<void()>& load,
                                const std::vector<std::string>& fragments);

// load_config_from_string with name "t.yaml".
Config load_text(const std::string& yaml, const std::vector<std::string>& overrides = {});

// The source tree (TESSERA_SOURCE_DIR, set by ctest); fails the test when unset.
std::string source_dir();

}  // namespace tessera::testing
