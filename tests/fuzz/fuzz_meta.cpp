// libFuzzer target: a checkpoint's meta.json text. Every malformed, out-of-range or
// checksum-failing meta.json must be a tessera::Error; a meta.json that parses writes back to
// JSON that parses to the same record.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "checkpoints/checkpoint_format.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tessera::fuzz::quiet_logs();
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  using namespace tessera::checkpoints;
  tessera::fuzz::expect_clean("fuzz_meta", [&] {
    const CheckpointMeta meta = meta_from_json(j, "fuzz/meta.json");
    const nlohmann::json again = meta_to_json(meta);
    if (meta_to_json(meta_from_json(again, "again")) != again) {
      std::fprintf(stderr, "fuzz_meta: meta.json round trip changed it\n");
      std::abort();
    }
  });
  return 0;
}
