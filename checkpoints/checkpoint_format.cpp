#include "checkpoints/checkpoint_format.h"

#include "checkpoints/file_io.h"
#include "checkpoints/sha256.h"
#include "common/error.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <system_error>

namespace fs = std::filesystem;

namespace tessera::checkpoints {
namespace {

const nlohmann::json& require(const nlohmann::json& obj, const char* key,
                              const std::string& source) {
  const auto it = obj.find(key);
  TESSERA_CHECK(it != obj.end(), "{}: required key '{}' is missing", source, key);
  return *it;
}

// An integer in [min_value, max_value], range-checked before any narrowing.
std::int64_t require_int(const nlohmann::json& obj, const char* key, const std::string& source,
                         std::int64_t min_value,
                         std::int64_t max_value = std::numeric_limits<std::int64_t>::max()) {
  const nlohmann::json& v = require(obj, key, source);
  TESSERA_CHECK(v.is_number_integer(), "{}: key '{}' must be an integer, found {}", source, key,
                v.dump());
  TESSERA_CHECK(!v.is_number_unsigned() ||
                    v.get<std::uint64_t>() <=
                        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()),
                "{}: key '{}' is out of range, found {}", source, key, v.dump());
  const auto value = v.get<std::int64_t>();
  TESSERA_CHECK(value >= min_value && value <= max_value,
                "{}: key '{}' must be in {}..{}, found {}", source, key, min_value, max_value,
                value);
  return value;
}

std::string require_string(const nlohmann::json& obj, const char* key,
                           const std::string& source) {
  const nlohmann::json& v = require(obj, key, source);
  TESSERA_CHECK(v.is_string(), "{}: key '{}' must be a string, found {}", source, key, v.dump());
  return v.get<std::string>();
}

bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

}  // namespace

const std::string& CheckpointData::file(const std::string& name) const {
  const auto it = files.find(name);
  if (it == files.end()) {
    std::string available;
    for (const auto& [n, bytes] : files) available += (available.empty() ? "" : ", ") + n;
    TESSERA_THROW("checkpoint {} has no file '{}' (it has: {})", dir.empty() ? "<unsaved>" : dir,
                  name, available.empty() ? "no files" : available);
  }
  return it->second;
}

nlohmann::json meta_to_json(const CheckpointMeta& meta) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [name, rec] : meta.files) {
    files[name] = {{"size", rec.size}, {"sha256", rec.sha256}};
  }
  nlohmann::json j = {
      {"format", kFormatName},
      {"format_version", meta.format_version},
      {"step", meta.step},
      {"epoch", meta.epoch},
      {"world_size", meta.world_size},
      {"tessera_version", meta.tessera_version},
      {"created", meta.created},
      {"created_unix", meta.created_unix},
      {"files", files},
      {"extra", meta.extra.is_null() ? nlohmann::json::object() : meta.extra},
  };
  if (meta.metric && std::isfinite(*meta.metric)) {
    j["metric"] = *meta.metric;
  } else {
    j["metric"] = nullptr;
  }
  if (meta.format_version >= kFirstChecksummedFormat) {
    // Through text and back, so the checksum is of exactly what a reader will parse (NaN in
    // `extra` becomes null, as in the file).
    j = nlohmann::json::parse(j.dump());
    j[kMetaChecksumKey] = meta_checksum(j);
  }
  return j;
}

std::string meta_checksum(const nlohmann::json& json) {
  nlohmann::json copy = json;
  if (copy.is_object()) copy.erase(kMetaChecksumKey);
  return sha256_hex(copy.dump());
}

CheckpointMeta meta_from_json(const nlohmann::json& j, const std::string& source) {
  TESSERA_CHECK(j.is_object(), "{}: expected a JSON object, found {}", source, j.type_name());
  const std::string format = require_string(j, "format", source);
  TESSERA_CHECK(format == kFormatName, "{}: key 'format' is '{}', expected '{}'", source, format,
                kFormatName);
  CheckpointMeta m;
  m.format_version = static_cast<int>(require_int(j, "format_version", source, 1, 1 << 20));
  TESSERA_CHECK(m.format_version <= kFormatVersion,
                "{}: format_version {} was written by a newer tessera; this build reads up to {}",
                source, m.format_version, kFormatVersion);
  m.step = require_int(j, "step", source, 0);
  m.epoch = require_int(j, "epoch", source, 0);
  m.world_size = static_cast<int>(require_int(j, "world_size", source, 1, 1 << 24));
  m.tessera_version = require_string(j, "tessera_version", source);
  m.created = require_string(j, "created", source);
  if (const auto it = j.find("created_unix"); it != j.end() && it->is_number()) {
    m.created_unix = it->get<double>();
  }
  const nlohmann::json& metric = require(j, "metric", source);
  TESSERA_CHECK(metric.is_null() || metric.is_number(),
                "{}: key 'metric' must be a number or null, found {}", source, metric.dump());
  if (metric.is_number()) m.metric = metric.get<double>();
  const nlohmann::json& files = require(j, "files", source);
  TESSERA_CHECK(files.is_object(), "{}: key 'files' must be an object, found {}", source,
                files.type_name());
  for (const auto& [name, rec] : files.items()) {
    const std::string where = fmt::format("{} (files.{})", source, name);
    TESSERA_CHECK(is_valid_file_name(name), "{}: invalid file name '{}'", source, name);
    TESSERA_CHECK(rec.is_object(), "{}: expected an object with size and sha256", where);
    FileRecord r;
    r.size = static_cast<std::uint64_t>(require_int(rec, "size", where, 0));
    r.sha256 = require_string(rec, "sha256", where);
    TESSERA_CHECK(is_hex64(r.sha256), "{}: sha256 must be 64 lowercase hex digits, found '{}'",
                  where, r.sha256);
    m.files.emplace(name, std::move(r));
  }
  if (const auto it = j.find("extra"); it != j.end() && !it->is_null()) {
    TESSERA_CHECK(it->is_object(), "{}: key 'extra' must be an object, found {}", source,
                  it->type_name());
    m.extra = *it;
  }
  // After the schema (whose errors say more), the checksum covers every value.
  if (m.format_version >= kFirstChecksummedFormat) {
    const std::string recorded = require_string(j, kMetaChecksumKey, source);
    const std::string actual = meta_checksum(j);
    TESSERA_CHECK(recorded == actual,
                  "{} is corrupt: its contents have SHA-256 {} but its {} records {} (a value in "
                  "meta.json was modified or damaged)",
                  source, actual, kMetaChecksumKey, recorded);
  } else {
    m.checksummed = false;
  }
  return m;
}

CheckpointMeta read_meta(const std::string& step_dir) {
  std::error_code ec;
  TESSERA_CHECK(fs::is_directory(step_dir, ec), "checkpoint directory {} does not exist",
                step_dir);
  const std::string path = (fs::path(step_dir) / kMetaFileName).string();
  TESSERA_CHECK(fs::exists(path, ec),
                "checkpoint {} is incomplete: {} is missing (an interrupted write, or not a "
                "checkpoint directory)",
                step_dir, kMetaFileName);
  const std::string text = read_file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    TESSERA_THROW("checkpoint {} is corrupt: {} is not valid JSON ({})", step_dir, kMetaFileName,
                  e.what());
  }
  return meta_from_json(j, path);
}

CheckpointData load_checkpoint_dir(const std::string& step_dir) {
  const CheckpointMeta meta = read_meta(step_dir);
  if (!meta.checksummed) {
    spdlog::warn("checkpoint {} is in format {} (tessera {}), whose {} has no checksum of its "
                 "own: its files are verified, its step/epoch/world_size/metric are not. The "
                 "next save writes format {}",
                 step_dir, meta.format_version, meta.tessera_version, kMetaFileName,
                 kFormatVersion);
  }
  const std::string dir_name = fs::path(step_dir).lexically_normal().filename().string();
  if (const auto step = parse_step_dir_name(dir_name)) {
    TESSERA_CHECK(*step == meta.step,
                  "checkpoint {} is inconsistent: the directory name says step {} but {} says "
                  "step {}",
                  step_dir, *step, kMetaFileName, meta.step);
  }
  CheckpointData d;
  d.step = meta.step;
  d.epoch = meta.epoch;
  d.world_size = meta.world_size;
  d.meta_extra = meta.extra;
  d.dir = step_dir;
  d.metric = meta.metric;
  d.tessera_version = meta.tessera_version;
  d.created = meta.created;
  for (const auto& [name, rec] : meta.files) {
    const std::string path = (fs::path(step_dir) / name).string();
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    TESSERA_CHECK(!ec, "checkpoint {} is corrupt: file {} listed in {} is missing ({})", step_dir,
                  name, kMetaFileName, ec.message());
    TESSERA_CHECK(size == rec.size,
                  "checkpoint {} is corrupt: file {} has {} bytes but {} records {} bytes "
                  "(truncated or modified)",
                  step_dir, name, size, kMetaFileName, rec.size);
    std::string bytes = read_file(path);
    TESSERA_CHECK(bytes.size() == rec.size,
                  "checkpoint {} is corrupt: file {} read {} bytes but {} records {} bytes",
                  step_dir, name, bytes.size(), kMetaFileName, rec.size);
    const std::string sha = sha256_hex(bytes);
    TESSERA_CHECK(sha == rec.sha256,
                  "checkpoint {} is corrupt: file {} has SHA-256 {} but {} records {} (the "
                  "contents were modified or damaged)",
                  step_dir, name, sha, kMetaFileName, rec.sha256);
    d.files.emplace(name, std::move(bytes));
  }
  return d;
}

std::string step_dir_name(std::int64_t step) {
  TESSERA_CHECK(step >= 0, "checkpoint step must be >= 0, got {}", step);
  return fmt::format("step-{:07d}", step);
}

std::optional<std::int64_t> parse_step_dir_name(std::string_view name) {
  constexpr std::string_view prefix = "step-";
  if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) return std::nullopt;
  const std::string_view digits = name.substr(prefix.size());
  if (digits.size() > 18) return std::nullopt;
  std::int64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

bool is_valid_file_name(std::string_view name) {
  if (name.empty() || name.size() > 200 || name == kMetaFileName) return false;
  if (!std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

}  // namespace tessera::checkpoints
