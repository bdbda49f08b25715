// libFuzzer target: a dataset's manifest.json text. JSON syntax errors and every schema or
// range violation (counts, sizes, checksums, numbers out of range) must be a tessera::Error;
// no undefined behaviour (UBSan: out-of-range float->int casts, signed overflow).
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "datasets/manifest.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tessera::fuzz::quiet_logs();
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;  // not JSON: the reader reports that before this parser
  tessera::fuzz::expect_clean("fuzz_manifest", [&] {
    const tessera::Manifest m = tessera::manifest_from_json(j, "fuzz/manifest.json");
    // What parses must write back and parse to the same JSON.
    const nlohmann::json again = tessera::manifest_to_json(m);
    if (tessera::manifest_to_json(tessera::manifest_from_json(again, "again")) != again) {
      std::fprintf(stderr, "fuzz_manifest: manifest JSON round trip changed it\n");
      std::abort();
    }
  });
  return 0;
}
