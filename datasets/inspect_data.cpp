#include "datasets/inspect_data.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <vector>

#include "common/error.h"
#include "datasets/dataset_reader.h"
#include "datasets/degradation.h"
#include "datasets/integrity.h"

namespace tessera {

namespace {

std::string human_bytes(uint64_t b) {
  if (b >= (1ull << 30)) return fmt::format("{:.2f} GiB", b / double(1ull << 30));
  if (b >= (1ull << 20)) return fmt::format("{:.2f} MiB", b / double(1ull << 20));
  if (b >= (1ull << 10)) return fmt::format("{:.1f} KiB", b / double(1ull << 10));
  return fmt::format("{} B", b);
}

struct ChannelStats {
  std::vector<double> sum, sq;
  int64_t count = 0;  // values per channel
  explicit ChannelStats(int c) : sum(c, 0.0), sq(c, 0.0) {}
  void add(const std::vector<uint8_t>& bytes, const std::string& dtype, int channels) {
    const bool is_float = dtype == "float32", is_u16 = dtype == "uint16";
    size_t elem = static_cast<size_t>(dtype_size(dtype));
    size_t n = bytes.size() / elem;
    for (size_t k = 0; k < n; ++k) {
      double v;
      if (is_float) {
        float f;
        std::memcpy(&f, bytes.data() + 4 * k, 4);
        v = f;
      } else if (is_u16) {
        uint16_t u;
        std::memcpy(&u, bytes.data() + 2 * k, 2);
        v = u / 65535.0;
      } else {
        v = bytes[k] / 255.0;
      }
      size_t c = k % static_cast<size_t>(channels);
      sum[c] += v;
      sq[c] += v * v;
    }
    count += static_cast<int64_t>(n / static_cast<size_t>(channels));
  }
  std::string str() const {
    std::string out;
    for (size_t c = 0; c < sum.size(); ++c) {
      double mean = sum[c] / static_cast<double>(count);
      double var = std::max(0.0, sq[c] / static_cast<double>(count) - mean * mean);
      out += fmt::format("{}c{}: {:.4f} +- {:.4f}", c ? "  " : "", c, mean, std::sqrt(var));
    }
    return out;
  }
};

// With verify: the shards' CRC32C against manifest.json before anything parses them as HDF5
// (a damaged file is named by its checksum, not by an HDF5 error deep in its structure).
std::string check_before_open(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path mpath = fs::path(dir) / kManifestName;
  if (!fs::exists(mpath, ec)) {
    return fmt::format(
        "checksums: none (no manifest.json; derived from the shards). Write one with "
        "`tessera inspect --write-manifest {}`",
        dir);
  }
  const Manifest m = read_manifest_file(mpath.string());
  auto problems = verify_shard_checksums(dir, m);
  if (!problems.empty()) {
    std::string msg;
    for (const auto& p : problems) msg += "\n  " + p;
    TESSERA_THROW("dataset {}: {} of {} shard(s) failed verification:{}", dir, problems.size(),
                  m.shards.size(), msg);
  }
  return fmt::format("checksums: all {} shard(s) OK (CRC32C)", m.shards.size());
}

namespace fs = std::filesystem;

bool holds_dataset(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / kManifestName, ec)) return true;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".h5") return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> dataset_root_splits(const std::string& dir) {
  std::vector<std::string> out;
  if (holds_dataset(dir)) return out;
  std::vector<std::string> others;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_directory(ec) || !holds_dataset(it->path())) continue;
    others.push_back(it->path().filename().string());
  }
  std::sort(others.begin(), others.end());
  for (const char* name : {"train", "val", "test"}) {
    auto hit = std::find(others.begin(), others.end(), name);
    if (hit == others.end()) continue;
    out.push_back(*hit);
    others.erase(hit);
  }
  out.insert(out.end(), others.begin(), others.end());
  return out;
}

std::string inspect_dataset_root(const std::string& root, bool verify) {
  const auto splits = dataset_root_splits(root);
  TESSERA_CHECK(!splits.empty(),
                "{} is not a dataset (no manifest.json, no .h5 shard) and holds no split "
                "directory that is one (expected train/, val/, test/ as synth and pack write)",
                root);
  std::string summary = fmt::format("dataset root {}: {} split(s)\n", root, splits.size());
  std::string details;
  std::optional<DatasetInfo> first;
  std::string mismatches;
  for (const auto& name : splits) {
    const std::string dir = (fs::path(root) / name).string();
    details += "\n" + inspect_dataset(dir, verify);
    ReaderOptions ro;
    ro.verify = VerifyMode::size;
    const DatasetReader reader(dir, ro);  // verified (and probed) just above
    const DatasetInfo& info = reader.manifest().info;
    summary += fmt::format("  {:<6} {} samples in {} shard(s)\n", name, reader.size(),
                           reader.manifest().shards.size());
    if (!first) {
      first = info;
      continue;
    }
    for (const auto& d : info_differences(*first, info, splits.front(), name)) {
      mismatches += "  " + d + "\n";
    }
  }
  summary += mismatches.empty()
                 ? std::string("  splits agree on task, channels, sizes, dtypes and classes\n")
                 : "  WARNING: the splits disagree (training on one and validating on another "
                   "would be refused):\n" +
                       mismatches;
  return summary + details;
}

std::string inspect_dataset(const std::string& dir, bool verify) {
  const std::string check_line = verify ? check_before_open(dir) : std::string();
  ReaderOptions ro;
  ro.verify = VerifyMode::size;
  ro.probe_unverified = true;
  DatasetReader reader(dir, ro);
  const Manifest& m = reader.manifest();
  const DatasetInfo& i = m.info;
  std::string out;
  auto line = [&out](const std::string& s) { out += s + "\n"; };

  line(fmt::format("dataset {}", dir));
  line(m.derived
           ? "  manifest: none, derived from the shards (h5py-written dataset)"
           : fmt::format("  manifest: {} (format_version {})", kManifestName, m.format_version));
  line(fmt::format("  task: {}", i.task));
  line(fmt::format("  samples: {} in {} shard(s)", reader.size(), m.shards.size()));
  line(fmt::format("  inputs: (N,{},{},{}) {}", i.input_height, i.input_width, i.in_channels,
                   i.input_dtype));
  if (i.target_kind == "labels") {
    std::string names;
    for (const auto& n : i.class_names) names += (names.empty() ? "" : ", ") + n;
    line(fmt::format(
        "  targets: (N,{},{}) uint8 label maps, {}{}{}", i.height, i.width,
        i.classes == 1 ? std::string("binary (0/1)") : fmt::format("{} classes", i.classes),
        names.empty() ? std::string() : " (" + names + ")",
        i.ignore_index >= 0
            ? fmt::format("; pixels labelled {} are ignored (loss.ignore_index must be {})",
                          i.ignore_index, i.ignore_index)
            : std::string()));
  } else {
    line(fmt::format("  targets: (N,{},{},{}) {} images", i.height, i.width, i.target_channels,
                     i.target_dtype));
  }
  if (i.has_labels) line("  labels: (N,) int32 image-level labels");
  if (i.task == "super_resolution") {
    line(fmt::format(
        "  degradation: {}{}", effective_degradation(i),
        i.degradation.empty() ? " (not recorded: made before the key existed)" : std::string()));
  }
  line("  shards:");
  uint64_t total = 0;
  for (const auto& s : m.shards) {
    total += s.bytes;
    line(fmt::format("    {}  {} samples{}{}", s.file, s.samples,
                     s.bytes ? "  " + human_bytes(s.bytes) : std::string(),
                     s.crc32c.empty() ? std::string() : "  crc32c " + s.crc32c));
  }
  const auto with_crcs = std::count_if(m.shards.begin(), m.shards.end(),
                                       [](const ShardEntry& s) { return s.sample_crc32c; });
  line(fmt::format("  per-sample checksums: {}",
                   with_crcs == static_cast<long>(m.shards.size())
                       ? std::string("every shard (each sample is verified as it is read)")
                   : with_crcs == 0
                       ? std::string("none (samples are verified only by whole-file checks)")
                       : fmt::format("{} of {} shards", with_crcs, m.shards.size())));
  if (total) line(fmt::format("  size: {}", human_bytes(total)));

  // One pass over every sample.
  ChannelStats in_stats(i.in_channels);
  ChannelStats t_stats(std::max(1, i.target_channels));
  std::vector<int64_t> class_pixels(256, 0);  // every uint8 value (the reader checked them)
  std::map<int32_t, int64_t> label_counts;
  RawSample raw;
  for (int64_t k = 0; k < reader.size(); ++k) {
    reader.read(k, raw);
    in_stats.add(raw.input, i.input_dtype, i.in_channels);
    if (i.target_kind == "labels") {
      for (uint8_t v : raw.target) ++class_pixels[v];
    } else {
      t_stats.add(raw.target, i.target_dtype, i.target_channels);
    }
    if (i.has_labels) ++label_counts[raw.label];
  }
  line(fmt::format("  input mean +- std per channel: {}", in_stats.str()));
  if (i.target_kind == "labels") {
    int64_t pixels = 0;
    for (auto c : class_pixels) pixels += c;
    std::string bal;
    const size_t values = static_cast<size_t>(max_label(i)) + 1;
    for (size_t c = 0; c < values; ++c) {
      const std::string name =
          i.class_names.size() == values ? fmt::format(" {}", i.class_names[c]) : std::string();
      bal += fmt::format("{}{}{}: {:.2f}%", c ? "  " : "", c, name,
                         100.0 * class_pixels[c] / static_cast<double>(pixels));
    }
    if (i.ignore_index >= 0) {
      bal += fmt::format("  ignored ({}): {:.2f}%", i.ignore_index,
                         100.0 * class_pixels[static_cast<size_t>(i.ignore_index)] /
                             static_cast<double>(pixels));
    }
    line(fmt::format("  class balance (pixels): {}", bal));
  } else {
    line(fmt::format("  target mean +- std per channel: {}", t_stats.str()));
  }
  if (i.has_labels) {
    std::string lab;
    for (const auto& [label, count] : label_counts) {
      lab += fmt::format("{}{}: {} ({:.1f}%)", lab.empty() ? "" : "  ", label, count,
                         100.0 * count / static_cast<double>(reader.size()));
    }
    line(fmt::format("  image labels: {}", lab));
  }
  if (!check_line.empty()) line("  " + check_line);
  return out;
}

}  // namespace tessera
