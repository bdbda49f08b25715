// The on-disk format of one checkpoint (docs/checkpoint-format.md): a directory `step-NNNNNNN/`
// holding named files plus `meta.json`, which lists every file with its size and SHA-256 and
// records step, epoch, world size, tessera version, creation time, metric and extra fields.
// Format 2 adds `meta_sha256`, the SHA-256 of meta.json's own canonical JSON (every other key),
// so a flipped byte in any value of meta.json is refused like one in a file. Format 1 (older
// tessera, no such key) is still read, with a warning that its meta.json is not verified.
//
// This header defines what a checkpoint carries in memory (CheckpointData), the meta.json
// schema (CheckpointMeta, to/from JSON) and the verifying reader of one checkpoint directory.
// The write-then-publish protocol, pointers and retention live in checkpoint_store.h.
//
// Errors: every function throws tessera::Error; for an invalid checkpoint the message names the
// checkpoint directory, the file (or meta.json key) and what mismatched. Reentrant; no state.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace tessera::checkpoints {

inline constexpr const char* kMetaFileName = "meta.json";
inline constexpr const char* kFormatName = "tessera-checkpoint";
inline constexpr int kFormatVersion = 2;
// The first format whose meta.json carries `meta_sha256` (and must).
inline constexpr int kFirstChecksummedFormat = 2;
inline constexpr const char* kMetaChecksumKey = "meta_sha256";

// What the trainer hands to CheckpointStore::save and gets back from load. File names are plain
// names ([A-Za-z0-9][A-Za-z0-9._-]*, not "meta.json"); contents are arbitrary bytes.
struct CheckpointData {
  std::int64_t step = 0;
  std::int64_t epoch = 0;
  int world_size = 1;
  std::map<std::string, std::string> files;  // name -> bytes (model.pt, optim.pt, rng.bin ...)
  nlohmann::json meta_extra = nlohmann::json::object();  // small extra state; must be an object

  // Filled by load (ignored by save, which takes the metric as an argument):
  std::string dir;                // the step directory this was loaded from
  std::optional<double> metric;   // the metric recorded at save time, if any
  std::string tessera_version;    // version of the tessera that wrote it
  std::string created;            // UTC creation time, ISO 8601

  // The bytes of file `name`; throws naming the checkpoint and the available files if absent.
  const std::string& file(const std::string& name) const;
  bool has_file(const std::string& name) const { return files.count(name) != 0; }
};

struct FileRecord {
  std::uint64_t size = 0;
  std::string sha256;  // 64 lowercase hex characters
};

// The parsed contents of meta.json.
struct CheckpointMeta {
  int format_version = kFormatVersion;
  std::int64_t step = 0;
  std::int64_t epoch = 0;
  int world_size = 1;
  std::string tessera_version;
  std::string created;
  double created_unix = 0.0;
  std::optional<double> metric;  // absent or NaN is stored as null
  std::map<std::string, FileRecord> files;
  nlohmann::json extra = nlohmann::json::object();
  bool checksummed = true;  // meta.json carried a verified meta_sha256 (false: format 1)
};

// The JSON of meta.json, with meta_sha256 (format 2).
nlohmann::json meta_to_json(const CheckpointMeta& meta);
// SHA-256 (hex) of the canonical form of `json` without its meta_sha256 key: nlohmann's compact
// dump (keys sorted, numbers in shortest round-trip form), so any change of a key or value
// changes it while whitespace does not.
std::string meta_checksum(const nlohmann::json& json);
// Validates the schema and (format >= 2) meta_sha256; errors name `source` (the meta.json path)
// and the offending key.
CheckpointMeta meta_from_json(const nlohmann::json& json, const std::string& source);
// Reads and parses `<step_dir>/meta.json` (no file verification).
CheckpointMeta read_meta(const std::string& step_dir);

// Reads a checkpoint directory and verifies it: meta.json present and valid, every listed file
// present with the recorded size and SHA-256. Throws on the first problem found.
CheckpointData load_checkpoint_dir(const std::string& step_dir);

// "step-0000200" for 200 (at least 7 digits, more when needed).
std::string step_dir_name(std::int64_t step);
// The step of a directory name "step-<digits>", or nullopt for anything else.
std::optional<std::int64_t> parse_step_dir_name(std::string_view name);
// Whether `name` is acceptable as a checkpoint file name.
bool is_valid_file_name(std::string_view name);

}  // namespace tessera::checkpoints
