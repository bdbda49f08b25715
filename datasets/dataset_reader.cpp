#include "datasets/dataset_reader.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "common/error.h"
#include "common/log.h"
#include "datasets/checksum.h"
#include "datasets/integrity.h"
#include "datasets/shard_file.h"

namespace tessera {

namespace fs = std::filesystem;

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "(N";
  for (auto d : s) out += "," + std::to_string(d);
  return out + ")";
}

// load_manifest(), but with no manifest.json the shards it derives one from are probed first.
Manifest open_manifest(const std::string& dir, const ReaderOptions& o) {
  if (o.probe_unverified) probe_if_manifest_less(dir, o.probe);
  return load_manifest(dir);
}

}  // namespace

DatasetReader::DatasetReader(const std::string& dir, const ReaderOptions& options)
    : dir_(dir), options_(options), manifest_(open_manifest(dir, options)) {
  TESSERA_CHECK(options_.max_open_shards >= 1 && options_.max_open_files >= 1,
                "ReaderOptions.max_open_shards and max_open_files must be >= 1");
  shards_.resize(manifest_.shards.size());
  offsets_.push_back(0);
  uint64_t total_bytes = 0;
  for (const auto& s : manifest_.shards) {
    offsets_.push_back(offsets_.back() + s.samples);
    total_bytes += s.bytes;
  }
  const bool over_limit = options_.verify == VerifyMode::full && options_.full_verify_limit >= 0 &&
                          total_bytes > static_cast<uint64_t>(options_.full_verify_limit);
  if (over_limit) {
    const bool per_sample = std::all_of(manifest_.shards.begin(), manifest_.shards.end(),
                                        [](const ShardEntry& e) { return e.sample_crc32c; });
    if (per_sample) {
      spdlog::info(
          "dataset {}: {:.1f} GiB: checking shard sizes now and each sample's CRC32C as it is "
          "read (whole files: `tessera inspect --verify {}`)",
          dir_, total_bytes / double(1 << 30), dir_);
    } else {
      spdlog::warn(
          "dataset {}: {:.1f} GiB, too large to checksum at every start, and some shards carry "
          "no per-sample checksums (written by an older tessera or another tool): their samples "
          "are NOT verified as read. Check the files with `tessera inspect --verify {}`, or "
          "repack the dataset with this tessera",
          dir_, total_bytes / double(1 << 30), dir_);
    }
    options_.verify = VerifyMode::size;
  }
  std::vector<std::string> unverified;  // shards whose bytes no checksum vouches for here
  for (int i = 0; i < num_shards(); ++i) {
    const ShardEntry& e = manifest_.shards[static_cast<size_t>(i)];
    std::string path = shard_path(i);
    std::error_code ec;
    TESSERA_CHECK(fs::is_regular_file(path, ec),
                  "dataset {}: shard {} listed in the manifest is missing", dir_, path);
    if (options_.verify != VerifyMode::none && e.bytes > 0) {
      auto size = fs::file_size(path, ec);
      TESSERA_CHECK(!ec && size == e.bytes,
                    "dataset {}: shard {} is {} bytes but the manifest says {} (truncated or "
                    "modified file)",
                    dir_, path, ec ? 0 : size, e.bytes);
    }
    if (options_.verify == VerifyMode::full && !e.crc32c.empty()) {
      std::string got = crc32c_hex(crc32c_file(path).crc);
      TESSERA_CHECK(got == e.crc32c,
                    "dataset {}: checksum mismatch for shard {}: CRC32C {} but the manifest "
                    "says {} (corrupt or modified file)",
                    dir_, path, got, e.crc32c);
    }
    if (e.target_max >= 0 && manifest_.info.target_kind == "labels") {
      // target_max is the largest class label, ignored pixels not counted.
      const int limit = max_label(manifest_.info);
      TESSERA_CHECK(e.target_max <= limit,
                    "dataset {}: shard {} holds label value {} but the dataset has {} (valid "
                    "labels 0..{})",
                    dir_, path, e.target_max,
                    manifest_.info.classes == 1 ? std::string("binary targets")
                                                : fmt::format("{} classes", manifest_.info.classes),
                    limit);
    }
    if (!(options_.verify == VerifyMode::full && !e.crc32c.empty())) unverified.push_back(path);
  }
  // A derived manifest's shards were probed by open_manifest().
  if (options_.probe_unverified && !manifest_.derived) {
    probe_shards(dir_, unverified,
                 over_limit ? fmt::format("the dataset is over the {:.1f} GiB whole-file "
                                          "check limit of an open",
                                          options_.full_verify_limit / double(1 << 30))
                 : options_.verify == VerifyMode::full ? "its manifest records no CRC32C"
                                                       : "whole-file checks are off",
                 options_.probe);
  }
  // Opens (and caches) each shard: validates its layout against the manifest.
  for (int i = 0; i < num_shards(); ++i) shard(i);
}

DatasetReader::~DatasetReader() = default;

std::string DatasetReader::shard_path(int shard) const {
  return (fs::path(dir_) / manifest_.shards[static_cast<size_t>(shard)].file).string();
}

void DatasetReader::check_shard(int index, const ShardFile& f) const {
  const DatasetInfo& i = manifest_.info;
  const ShardLayout& l = f.layout();
  const ShardEntry& e = manifest_.shards[static_cast<size_t>(index)];
  auto want_in = input_sample_shape(i);
  auto want_t = target_sample_shape(i);
  TESSERA_CHECK(l.input_shape == want_in && l.input_dtype == i.input_dtype,
                "dataset {}: shard {} has inputs {} {} but the dataset ({}) has {} {}: all shards "
                "must have the same sample shape and dtype",
                dir_, f.path(), shape_str(l.input_shape), l.input_dtype,
                manifest_.derived ? "first shard" : "manifest", shape_str(want_in), i.input_dtype);
  TESSERA_CHECK(l.target_shape == want_t && l.target_dtype == i.target_dtype,
                "dataset {}: shard {} has targets {} {} but the dataset ({}) has {} {}: all "
                "shards must have the same sample shape and dtype",
                dir_, f.path(), shape_str(l.target_shape), l.target_dtype,
                manifest_.derived ? "first shard" : "manifest", shape_str(want_t), i.target_dtype);
  TESSERA_CHECK(l.samples == e.samples,
                "dataset {}: shard {} holds {} samples but the manifest says {}", dir_, f.path(),
                l.samples, e.samples);
  TESSERA_CHECK(l.has_sample_crc || !e.sample_crc32c,
                "dataset {}: shard {} lacks the `sample_crc32c` dataset the manifest records for "
                "it (modified or replaced file)",
                dir_, f.path());
  TESSERA_CHECK(l.has_labels == i.has_labels,
                "dataset {}: shard {} {} a `labels` dataset but the manifest says labels={}", dir_,
                f.path(), l.has_labels ? "has" : "lacks", i.has_labels);
}

std::shared_ptr<const ShardFile> DatasetReader::shard(int index) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& slot = shards_[static_cast<size_t>(index)];
  if (slot) {
    auto it = hdf5_pos_.find(index);
    if (it != hdf5_pos_.end()) hdf5_lru_.splice(hdf5_lru_.begin(), hdf5_lru_, it->second);
    return slot;
  }
  const int64_t expected =
      manifest_.derived ? -1 : manifest_.shards[static_cast<size_t>(index)].samples;
  auto f = std::make_shared<const ShardFile>(shard_path(index), expected,
                                             options_.verify != VerifyMode::none);
  check_shard(index, *f);
  slot = f;
  if (!f->direct_io()) {
    hdf5_lru_.push_front(index);
    hdf5_pos_[index] = hdf5_lru_.begin();
    while (static_cast<int>(hdf5_lru_.size()) > options_.max_open_shards) {
      int victim = hdf5_lru_.back();
      hdf5_lru_.pop_back();
      hdf5_pos_.erase(victim);
      shards_[static_cast<size_t>(victim)].reset();  // closed when the last reader lets go
    }
  }
  return f;
}

std::shared_ptr<const FileDescriptor> DatasetReader::descriptor(int index) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = fds_.find(index);
  if (it != fds_.end()) {
    fd_lru_.splice(fd_lru_.begin(), fd_lru_, it->second.second);
    return it->second.first;
  }
  auto fd = std::make_shared<const FileDescriptor>(shard_path(index));
  fd_lru_.push_front(index);
  fds_[index] = {fd, fd_lru_.begin()};
  while (static_cast<int>(fd_lru_.size()) > options_.max_open_files) {
    fds_.erase(fd_lru_.back());  // closed when the last reader lets go
    fd_lru_.pop_back();
  }
  return fd;
}

DatasetReader::Location DatasetReader::locate(int64_t index) const {
  TESSERA_CHECK(index >= 0 && index < size(), "dataset {}: sample {} out of range (0..{})", dir_,
                index, size() - 1);
  auto it = std::upper_bound(offsets_.begin(), offsets_.end(), index);
  int s = static_cast<int>(it - offsets_.begin()) - 1;
  return {s, index - offsets_[static_cast<size_t>(s)]};
}

std::string DatasetReader::sample_name(int64_t index) const {
  Location loc = locate(index);
  return fmt::format("sample {} ({} #{}) of {}", index,
                     manifest_.shards[static_cast<size_t>(loc.shard)].file, loc.local, dir_);
}

void DatasetReader::read(int64_t index, RawSample& out) const {
  Location loc = locate(index);
  auto f = shard(loc.shard);
  std::string what = fmt::format("sample {} (global index {})", loc.local, index);
  out.index = index;
  std::shared_ptr<const FileDescriptor> fd;
  if (f->direct_io()) fd = descriptor(loc.shard);
  f->read_input(loc.local, out.input, what, fd.get());
  f->read_target(loc.local, out.target, what, fd.get());
  out.label = f->labels().empty() ? 0 : f->labels()[static_cast<size_t>(loc.local)];

  // Validation outside HDF5.
  const DatasetInfo& i = info();
  if (i.target_kind == "labels") {
    const int limit = max_label(i);
    const int ignore = i.ignore_index;
    auto bad = std::find_if(out.target.begin(), out.target.end(),
                            [limit, ignore](uint8_t v) { return v > limit && v != ignore; });
    if (bad != out.target.end()) {
      auto pos = bad - out.target.begin();
      TESSERA_THROW(
          "{}: target label {} at pixel (y={}, x={}) is out of range 0..{} ({}{}; binary masks "
          "must be 0/1, not 0/255; multi-class datasets set the `classes` attribute)",
          sample_name(index), static_cast<int>(*bad), pos / i.width, pos % i.width, limit,
          i.classes == 1 ? std::string("binary dataset") : fmt::format("{} classes", i.classes),
          ignore >= 0 ? fmt::format(", ignored pixels {}", ignore) : std::string());
    }
  }
  auto check_finite = [&](const std::vector<uint8_t>& bytes, const char* name) {
    size_t n = bytes.size() / sizeof(float);
    for (size_t k = 0; k < n; ++k) {
      float v;
      std::memcpy(&v, bytes.data() + k * sizeof(float), sizeof(float));
      TESSERA_CHECK(std::isfinite(v), "{}: {} value #{} is {} (expected finite float32 data)",
                    sample_name(index), name, k, v);
    }
  };
  if (i.input_dtype == "float32") check_finite(out.input, "input");
  if (i.target_kind == "image" && i.target_dtype == "float32") check_finite(out.target, "target");
}

std::vector<std::string> DatasetReader::verify_checksums() const {
  return verify_shard_checksums(dir_, manifest_);
}

}  // namespace tessera
