#include "tests/common/config_test_util.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

namespace tessera::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path p = fs::temp_directory_path() / ("tessera-config-test-" + std::to_string(rd()));
    if (fs::create_directory(p)) {
      path_ = p.string();
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& rel, const std::string& text) const {
  const fs::path p = fs::path(path_) / rel;
  fs::create_directories(p.parent_path());
  std::ofstream out(p);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + p.string());
  return p.string();
}

std::string expect_config_error(const std::function<void()>& load,
                                const std::vector<std::string>& fragments) {
  try {
    load();
  } catch (const ConfigError& e) {
    for (const auto& f : fragments) {
      EXPECT_NE(e.message().find(f), std::string::npos)
          << "expected fragment: " << f << "\nin message:        " << e.message();
    }
    return e.message();
  }
  ADD_FAILURE() << "no ConfigError thrown; expected one containing: " << fragments.front();
  return "";
}

Config load_text(const std::string& yaml, const std::vector<std::string>& overrides) {
  return load_config_from_string(yaml, "t.yaml", overrides);
}

std::string source_dir() {
  const char* dir = std::getenv("TESSERA_SOURCE_DIR");
  if (dir == nullptr || *dir == '\0') {
    ADD_FAILURE() << "TESSERA_SOURCE_DIR is not set (ctest sets it; run the test through ctest "
                     "or export it to the source tree)";
    return ".";
  }
  return dir;
}

}  // namespace tessera::testing
