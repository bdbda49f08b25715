// libFuzzer target: YAML config text and `--set` override strings. The input's first line
// holds the overrides (separated by ';'), the rest is the YAML document: every parse,
// merge, override and validation error must be a tessera::Error (fuzz_common.h).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tessera::fuzz::quiet_logs();
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::size_t nl = text.find('\n');
  const std::string first = nl == std::string::npos ? text : text.substr(0, nl);
  const std::string yaml = nl == std::string::npos ? std::string() : text.substr(nl + 1);
  std::vector<std::string> overrides;
  for (std::size_t start = 0; start <= first.size();) {
    const std::size_t semi = std::min(first.find(';', start), first.size());
    if (semi > start) overrides.push_back(first.substr(start, semi - start));
    start = semi + 1;
  }
  // Bases resolve against a directory with nothing in it: `base:` values get a clean error.
  tessera::fuzz::expect_clean("fuzz_config", [&] {
    const tessera::Config cfg =
        tessera::load_config_from_string(yaml, "fuzz.yaml", overrides, "/nonexistent-fuzz-dir");
    // What loads must round-trip through its own YAML (to_yaml's promise in config.h).
    const std::string again = tessera::to_yaml(cfg);
    const tessera::Config back = tessera::load_config_from_string(again, "again.yaml");
    if (tessera::flatten(back) != tessera::flatten(cfg)) {
      std::fprintf(stderr, "fuzz_config: to_yaml round trip changed the config\n");
      std::abort();
    }
  });
  return 0;
}
