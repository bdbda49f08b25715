// Shuffle-mode names and the JSON form of SamplerCursor (declared in sampler.h).
#include "common/error.h"
#include "datasets/sampler.h"

namespace tessera {

ShuffleMode parse_shuffle_mode(const std::string& s) {
  if (s == "global") return ShuffleMode::global;
  if (s == "shards") return ShuffleMode::shards;
  TESSERA_THROW("data.shuffle: unknown mode '{}': expected 'global' or 'shards'", s);
}

std::string to_string(ShuffleMode mode) {
  return mode == ShuffleMode::global ? "global" : "shards";
}

nlohmann::json cursor_to_json(const SamplerCursor& c) {
  nlohmann::json segs = nlohmann::json::array();
  for (const auto& s : c.segments) {
    segs.push_back({{"start", s.start},
                    {"ranks", s.ranks},
                    {"batch_size", s.batch_size},
                    {"shuffle_buffer", s.shuffle_buffer}});
  }
  return {{"epoch", c.epoch},
          {"position", c.position},
          {"mode", c.mode},
          {"dataset_size", c.dataset_size},
          {"segments", segs}};
}

SamplerCursor cursor_from_json(const nlohmann::json& j) {
  SamplerCursor c;
  auto get = [&](const nlohmann::json& o, const char* key, auto& dst, bool required) {
    if (!o.is_object() || !o.contains(key)) {
      TESSERA_CHECK(!required, "sampler cursor: missing key '{}' in {}", key, o.dump());
      return;
    }
    try {
      o.at(key).get_to(dst);
    } catch (const nlohmann::json::exception& e) {
      TESSERA_THROW("sampler cursor: key '{}' has the wrong type in {}: {}", key, o.dump(),
                    e.what());
    }
  };
  get(j, "epoch", c.epoch, true);
  get(j, "position", c.position, true);
  get(j, "mode", c.mode, false);
  get(j, "dataset_size", c.dataset_size, false);
  if (j.contains("segments")) {
    TESSERA_CHECK(j["segments"].is_array(), "sampler cursor: 'segments' must be a list");
    for (const auto& e : j["segments"]) {
      CursorSegment s;
      get(e, "start", s.start, true);
      get(e, "ranks", s.ranks, true);
      get(e, "batch_size", s.batch_size, true);
      get(e, "shuffle_buffer", s.shuffle_buffer, false);
      c.segments.push_back(s);
    }
  }
  return c;
}

}  // namespace tessera
