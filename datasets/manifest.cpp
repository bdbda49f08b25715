#include "datasets/manifest.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "common/error.h"
#include "common/log.h"
#include "datasets/degradation.h"
#include "datasets/shard_file.h"

namespace tessera {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Bounds of the numbers a manifest may hold (docs/data-format.md): anything outside is refused
// before it is converted or summed, so no value of the file reaches undefined behaviour.
constexpr int64_t kMaxDim = int64_t{1} << 20;           // pixels per axis, channels
constexpr int64_t kMaxShardSamples = int64_t{1} << 40;  // samples in one shard
constexpr int64_t kMaxBytes = int64_t{1} << 60;         // bytes of one shard file

int64_t add_samples(int64_t a, int64_t b, const std::string& where) {
  int64_t out = 0;
  TESSERA_CHECK(!__builtin_add_overflow(a, b, &out),
                "{}: the shards' sample counts add up to more than {}", where,
                std::numeric_limits<int64_t>::max());
  return out;
}

}  // namespace

int64_t Manifest::total_samples() const {
  int64_t n = 0;
  for (const auto& s : shards) n = add_samples(n, s.samples, "dataset manifest");
  return n;
}

json manifest_to_json(const Manifest& m) {
  const DatasetInfo& i = m.info;
  json shards = json::array();
  for (const auto& s : m.shards) {
    json e = {{"file", s.file}, {"samples", s.samples}, {"bytes", s.bytes}, {"crc32c", s.crc32c}};
    if (s.target_max >= 0) e["target_max"] = s.target_max;
    if (s.sample_crc32c) e["sample_crc32c"] = true;
    shards.push_back(e);
  }
  json targets = {{"kind", i.target_kind},
                  {"shape", target_sample_shape(i)},
                  {"dtype", i.target_dtype},
                  {"classes", i.classes}};
  if (i.ignore_index >= 0) targets["ignore_index"] = i.ignore_index;
  if (!i.class_names.empty()) targets["class_names"] = i.class_names;
  json out{{"format", "tessera-dataset"},
           {"format_version", m.format_version},
           {"task", i.task},
           {"samples", m.total_samples()},
           {"inputs", {{"shape", input_sample_shape(i)}, {"dtype", i.input_dtype}}},
           {"targets", targets},
           {"labels", i.has_labels},
           {"checksum", "crc32c"},
           {"shards", shards}};
  if (!i.degradation.empty()) out[kDegradationKey] = i.degradation;
  if (m.stats) out["stats"] = stats_to_json(*m.stats);
  if (!m.sources.is_null()) out["sources"] = m.sources;
  return out;
}

namespace {

template <typename T>
T get(const json& j, const char* key, const std::string& where, const std::string& parent = "") {
  std::string path = parent.empty() ? key : parent + "." + key;
  TESSERA_CHECK(j.is_object() && j.contains(key), "{}: missing key '{}'", where, path);
  try {
    return j.at(key).get<T>();
  } catch (const json::exception& e) {
    TESSERA_THROW("{}: key '{}' has the wrong type ({}): {}", where, path, j.at(key).type_name(),
                  e.what());
  }
}

// An integer in [lo, hi]: a JSON integer, or a number with an integral value (10.0). Checked
// before any conversion (a double outside int64 would be undefined behaviour when cast).
int64_t checked_int(const json& v, const std::string& where, const std::string& path, int64_t lo,
                    int64_t hi) {
  bool ok = false;
  int64_t out = 0;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    ok = u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    out = ok ? static_cast<int64_t>(u) : 0;
  } else if (v.is_number_integer()) {
    out = v.get<int64_t>();
    ok = true;
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    ok = std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.2e18;
    out = ok ? static_cast<int64_t>(d) : 0;
  } else {
    TESSERA_THROW("{}: key '{}' must be an integer, found {} {}", where, path, v.type_name(),
                  v.dump().substr(0, 80));
  }
  TESSERA_CHECK(ok && out >= lo && out <= hi, "{}: key '{}' is {}, expected an integer in {}..{}",
                where, path, v.dump().substr(0, 80), lo, hi);
  return out;
}

int64_t get_int(const json& j, const char* key, const std::string& where, const std::string& parent,
                int64_t lo, int64_t hi) {
  std::string path = parent.empty() ? key : parent + "." + key;
  TESSERA_CHECK(j.is_object() && j.contains(key), "{}: missing key '{}'", where, path);
  return checked_int(j.at(key), where, path, lo, hi);
}

std::vector<int> get_shape(const json& j, const char* key, const std::string& where,
                           const std::string& parent) {
  std::string path = parent + "." + key;
  TESSERA_CHECK(j.is_object() && j.contains(key), "{}: missing key '{}'", where, path);
  const json& a = j.at(key);
  TESSERA_CHECK(a.is_array() && a.size() <= 4,
                "{}: key '{}' must be a list of up to 4 sizes, found {}", where, path,
                a.dump().substr(0, 80));
  std::vector<int> out;
  for (size_t k = 0; k < a.size(); ++k) {
    out.push_back(
        static_cast<int>(checked_int(a[k], where, fmt::format("{}[{}]", path, k), 1, kMaxDim)));
  }
  return out;
}

}  // namespace

Manifest manifest_from_json(const json& j, const std::string& where) {
  Manifest m;
  TESSERA_CHECK(j.is_object(), "{}: the manifest must be a JSON object", where);
  auto shape_of = [&](const json& parent, const char* name) {
    return get_shape(parent, "shape", where, name);
  };
  TESSERA_CHECK(get<std::string>(j, "format", where) == "tessera-dataset",
                "{}: 'format' must be \"tessera-dataset\"", where);
  m.format_version = static_cast<int>(get_int(j, "format_version", where, "", 0, 1 << 20));
  TESSERA_CHECK(m.format_version >= 1 && m.format_version <= kShardFormatVersion,
                "{}: format_version {} is not supported by this build (supports 1..{})", where,
                m.format_version, kShardFormatVersion);
  DatasetInfo& i = m.info;
  i.task = get<std::string>(j, "task", where);
  const json& in = j.contains("inputs") ? j["inputs"] : json();
  const json& tg = j.contains("targets") ? j["targets"] : json();
  auto ishape = shape_of(in, "inputs");
  TESSERA_CHECK(ishape.size() == 3, "{}: inputs.shape must be [h, w, C]", where);
  i.input_height = ishape[0];
  i.input_width = ishape[1];
  i.in_channels = ishape[2];
  i.input_dtype = get<std::string>(in, "dtype", where, "inputs");
  i.target_kind = get<std::string>(tg, "kind", where, "targets");
  auto tshape = shape_of(tg, "targets");
  TESSERA_CHECK(tshape.size() == (i.target_kind == "labels" ? 2u : 3u),
                "{}: targets.shape must be [H, W] for label maps, [H, W, C] for images", where);
  i.height = tshape[0];
  i.width = tshape[1];
  i.target_channels = tshape.size() == 3 ? tshape[2] : 0;
  i.target_dtype = get<std::string>(tg, "dtype", where, "targets");
  i.classes = static_cast<int>(get_int(tg, "classes", where, "targets", 1, 256));
  if (tg.contains("ignore_index"))
    i.ignore_index = static_cast<int>(get_int(tg, "ignore_index", where, "targets", -1, 255));
  if (tg.contains("class_names")) {
    const json& names = tg.at("class_names");
    TESSERA_CHECK(names.is_array() && names.size() <= 256,
                  "{}: key 'targets.class_names' must be a list of at most 256 names", where);
    for (const auto& n : names) {
      TESSERA_CHECK(n.is_string() && n.get<std::string>().size() <= 256,
                    "{}: key 'targets.class_names' holds {}, expected names (strings of at most "
                    "256 bytes)",
                    where, n.dump().substr(0, 80));
      i.class_names.push_back(n.get<std::string>());
    }
  }
  i.has_labels = get<bool>(j, "labels", where);
  // Absent: made before the key existed (effective_degradation() -> opencv_cubic).
  if (j.contains(kDegradationKey)) i.degradation = get<std::string>(j, kDegradationKey, where);
  validate_info(i, where);
  int64_t total = 0;
  TESSERA_CHECK(j.contains("shards") && j["shards"].is_array() && !j["shards"].empty(),
                "{}: 'shards' must be a non-empty list", where);
  for (const auto& e : j["shards"]) {
    ShardEntry s;
    s.file = get<std::string>(e, "file", where, "shards[]");
    TESSERA_CHECK(!s.file.empty() && s.file.find('/') == std::string::npos,
                  "{}: shard file '{}' must be a plain file name inside the dataset directory",
                  where, s.file);
    const std::string shard_key = "shards[" + s.file + "]";
    s.samples = get_int(e, "samples", where, shard_key, std::numeric_limits<int64_t>::min(),
                        kMaxShardSamples);
    TESSERA_CHECK(s.samples > 0, "{}: shard {} has {} samples (empty shard)", where, s.file,
                  s.samples);
    total = add_samples(total, s.samples, where);
    s.bytes = e.contains("bytes")
                  ? static_cast<uint64_t>(get_int(e, "bytes", where, shard_key, 0, kMaxBytes))
                  : 0;
    s.crc32c = e.contains("crc32c") ? get<std::string>(e, "crc32c", where, "shards[]") : "";
    s.target_max = e.contains("target_max")
                       ? static_cast<int>(get_int(e, "target_max", where, shard_key, -1, 255))
                       : -1;
    s.sample_crc32c =
        e.contains("sample_crc32c") && get<bool>(e, "sample_crc32c", where, shard_key);
    m.shards.push_back(s);
  }
  if (j.contains("stats")) m.stats = stats_from_json(j["stats"], i, where);
  if (j.contains("sources")) {
    TESSERA_CHECK(j["sources"].is_array(), "{}: key 'sources' must be a list, found {}", where,
                  j["sources"].type_name());
    m.sources = j["sources"];
  }
  if (j.contains("samples")) {
    const int64_t claimed =
        get_int(j, "samples", where, "", 0, std::numeric_limits<int64_t>::max());
    TESSERA_CHECK(claimed == total, "{}: 'samples' is {} but the shards add up to {}", where,
                  claimed, total);
  }
  return m;
}

void write_manifest(const std::string& dir, const Manifest& m) {
  fs::path final_path = fs::path(dir) / kManifestName;
  fs::path tmp = final_path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp);
    TESSERA_CHECK(out.good(), "cannot write {}", tmp.string());
    out << manifest_to_json(m).dump(2) << "\n";
    out.flush();
    TESSERA_CHECK(out.good(), "error writing {} (disk full?)", tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, final_path, ec);
  TESSERA_CHECK(!ec, "cannot rename {} to {}: {}", tmp.string(), final_path.string(), ec.message());
}

Manifest read_manifest_file(const std::string& path) {
  std::ifstream in(path);
  TESSERA_CHECK(in.good(), "cannot read dataset manifest {}", path);
  json j;
  try {
    in >> j;
  } catch (const json::exception& e) {
    TESSERA_THROW("{}: not valid JSON: {}", path, e.what());
  }
  return manifest_from_json(j, path);
}

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "(N";
  for (auto d : s) out += "," + std::to_string(d);
  return out + ")";
}

}  // namespace

std::vector<std::string> list_shard_files(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    auto ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".h5" || ext == ".hdf5")) {
      files.push_back(e.path().filename().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

Manifest derive_manifest(const std::string& dir) {
  const std::vector<std::string> files = list_shard_files(dir);
  TESSERA_CHECK(!files.empty(),
                "dataset directory {} holds neither manifest.json nor any *.h5 / *.hdf5 shard",
                dir);
  Manifest m;
  m.derived = true;
  std::string first;
  ShardLayout ref;
  for (const auto& name : files) {
    std::string path = (fs::path(dir) / name).string();
    ShardFile shard(path);
    const ShardLayout& l = shard.layout();
    if (first.empty()) {
      first = path;
      ref = l;
    } else {
      auto mismatch = [&](const char* what, const std::string& a, const std::string& b) {
        TESSERA_THROW(
            "{}: {} are {} but {} has {}: all shards of a dataset must have the same sample "
            "shape and dtype (variable image sizes are not supported; resize or tile when "
            "packing)",
            path, what, a, first, b);
      };
      if (l.input_shape != ref.input_shape || l.input_dtype != ref.input_dtype) {
        mismatch("inputs", shape_str(l.input_shape) + " " + l.input_dtype,
                 shape_str(ref.input_shape) + " " + ref.input_dtype);
      }
      if (l.target_shape != ref.target_shape || l.target_dtype != ref.target_dtype) {
        mismatch("targets", shape_str(l.target_shape) + " " + l.target_dtype,
                 shape_str(ref.target_shape) + " " + ref.target_dtype);
      }
      TESSERA_CHECK(l.has_labels == ref.has_labels, "{}: has {}a `labels` dataset but {} has {}",
                    path, l.has_labels ? "" : "no ", first, ref.has_labels ? "one" : "none");
      TESSERA_CHECK(l.task == ref.task && l.classes == ref.classes &&
                        l.ignore_index == ref.ignore_index && l.degradation == ref.degradation,
                    "{}: attributes task/classes/ignore_index/degradation differ from {}", path,
                    first);
    }
    ShardEntry e;
    e.file = name;
    e.samples = l.samples;
    e.sample_crc32c = l.has_sample_crc;
    m.shards.push_back(e);
  }
  for (const auto& d : ref.input_shape) {
    TESSERA_CHECK(d >= 1 && d <= kMaxDim, "{}: `inputs` sample dimension {} is outside 1..{}",
                  first, d, kMaxDim);
  }
  for (const auto& d : ref.target_shape) {
    TESSERA_CHECK(d >= 1 && d <= kMaxDim, "{}: `targets` sample dimension {} is outside 1..{}",
                  first, d, kMaxDim);
  }
  TESSERA_CHECK(!ref.classes || (*ref.classes >= 1 && *ref.classes <= 256),
                "{}: attribute classes is {}, expected 1..256", first, ref.classes.value_or(0));
  (void)m.total_samples();  // overflow-checked sum
  DatasetInfo& i = m.info;
  i.input_height = static_cast<int>(ref.input_shape[0]);
  i.input_width = static_cast<int>(ref.input_shape[1]);
  i.in_channels = static_cast<int>(ref.input_shape[2]);
  i.input_dtype = ref.input_dtype;
  i.height = static_cast<int>(ref.target_shape[0]);
  i.width = static_cast<int>(ref.target_shape[1]);
  bool labels = ref.target_shape.size() == 2;
  i.target_kind = labels ? "labels" : "image";
  // target_kind agrees with the shape: ShardFile checked it when it opened the shard.
  i.target_channels = labels ? 0 : static_cast<int>(ref.target_shape[2]);
  i.target_dtype = ref.target_dtype;
  i.classes = static_cast<int>(ref.classes.value_or(1));
  TESSERA_CHECK(!ref.ignore_index || (*ref.ignore_index >= -1 && *ref.ignore_index <= 255),
                "{}: attribute ignore_index is {}, expected -1..255", first, *ref.ignore_index);
  i.ignore_index = static_cast<int>(ref.ignore_index.value_or(-1));
  i.task = ref.task.value_or(labels ? "segmentation" : "translation");
  i.has_labels = ref.has_labels;
  i.degradation = ref.degradation.value_or("");
  validate_info(i, fmt::format("dataset {} (derived from the attributes and shapes of {}; no "
                               "manifest.json)",
                               dir, first));
  return m;
}

Manifest load_manifest(const std::string& dir) {
  std::error_code ec;
  TESSERA_CHECK(fs::exists(dir, ec), "dataset directory {} does not exist", dir);
  TESSERA_CHECK(fs::is_directory(dir, ec),
                "dataset path {} is not a directory (expected a directory of shards with "
                "manifest.json)",
                dir);
  fs::path mpath = fs::path(dir) / kManifestName;
  if (fs::exists(mpath, ec)) return read_manifest_file(mpath.string());
  Manifest m = derive_manifest(dir);
  spdlog::warn(
      "dataset {} has no {}: derived it from {} shard(s) ({}); its files carry no checksums, "
      "so corruption on disk goes unnoticed. Write one: `tessera inspect --write-manifest {}`",
      dir, kManifestName, m.shards.size(), describe(m.info), dir);
  return m;
}

}  // namespace tessera
