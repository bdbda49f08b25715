// DatasetReader: random access to the samples of one dataset directory (shards + manifest, or
// h5py-written shards without a manifest), by global index across shards.
//
// Opening checks up front, before any training step: the directory exists; the manifest parses
// (or is derived); every shard exists, has the manifest's byte size (truncation), opens as HDF5,
// holds `inputs`/`targets` of the manifest's shapes and dtypes with the manifest's sample count
// (shape/dtype mismatches between shards), is not empty, and (when the manifest records it)
// has label values inside the class range. With VerifyMode::full it also compares each shard's
// CRC32C with the manifest. Per-sample problems that are only visible in the data (labels out of
// range, NaN inputs, corrupt compressed chunks, bytes that do not match the sample's stored
// CRC32C) are reported lazily by read(), naming the sample.
// Every error names the directory/file and sample, and what was expected.
//
// read() copies a sample's stored bytes. Shards in tessera's layout are read by direct I/O
// (pread + zlib, no HDF5 call; see shard_file.h): their small chunk index stays in memory and at
// most max_open_files descriptors are kept open (least recently used closed first). Other
// layouts go through HDF5 (one short H5Dread under its global lock); at most max_open_shards of
// those HDF5 files stay open (~0.5 MiB of HDF5 state each). Decompression and validation always
// run outside HDF5.
// Thread safety: read() and all const methods may be called from many threads at once.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "datasets/manifest.h"
#include "datasets/shard_probe.h"

namespace tessera {

class ShardFile;
class FileDescriptor;

enum class VerifyMode { none, size, full };

struct ReaderOptions {
  // none: no checks; size: file sizes vs manifest, and each sample against its CRC32C when the
  // shard stores them (integrity.h); full: + every shard's CRC32C at open.
  VerifyMode verify = VerifyMode::size;
  int max_open_shards = 32;  // HDF5-backed (non-direct) shards kept open
  int max_open_files = 64;   // file descriptors kept open for direct I/O
  // VerifyMode::full only for datasets of at most this many bytes (larger: size check plus the
  // per-sample checks, and a line saying so; a warning where shards lack per-sample checksums);
  // < 0 = no limit.
  int64_t full_verify_limit = -1;
  // Parse every shard whose whole-file CRC32C is not checked at this open (no manifest.json, a
  // dataset over full_verify_limit, verify below full) in tessera-shard-probe first, so that
  // HDF5 crashing or hanging on a damaged one ends in an Error naming it (shard_probe.h).
  bool probe_unverified = false;
  ProbeOptions probe = {};
};

struct RawSample {
  int64_t index = -1;
  std::vector<uint8_t> input;   // h*w*C elements of info().input_dtype, row-major
  std::vector<uint8_t> target;  // H*W (labels) or H*W*C elements of info().target_dtype
  int32_t label = 0;            // image-level label (0 when the dataset has none)
};

class DatasetReader {
 public:
  explicit DatasetReader(const std::string& dir, const ReaderOptions& options = {});
  ~DatasetReader();
  DatasetReader(const DatasetReader&) = delete;
  DatasetReader& operator=(const DatasetReader&) = delete;

  const std::string& dir() const { return dir_; }
  const Manifest& manifest() const { return manifest_; }
  const DatasetInfo& info() const { return manifest_.info; }
  int64_t size() const { return offsets_.back(); }
  int num_shards() const { return static_cast<int>(manifest_.shards.size()); }
  int64_t shard_begin(int shard) const { return offsets_[static_cast<size_t>(shard)]; }
  std::string shard_path(int shard) const;

  struct Location {
    int shard = 0;
    int64_t local = 0;
  };
  Location locate(int64_t index) const;  // throws if index is out of range
  // "sample 1041 (shard-00004.h5 #17) of DIR"
  std::string sample_name(int64_t index) const;

  void read(int64_t index, RawSample& out) const;

  // CRC32C of every shard against the manifest; one message per mismatch (empty = all good).
  // Derived manifests have no checksums: returns one message saying so.
  std::vector<std::string> verify_checksums() const;

 private:
  std::shared_ptr<const ShardFile> shard(int index) const;
  std::shared_ptr<const FileDescriptor> descriptor(int index) const;
  void check_shard(int index, const ShardFile& f) const;

  std::string dir_;
  ReaderOptions options_;
  Manifest manifest_;
  std::vector<int64_t> offsets_;  // offsets_[s] = first global index of shard s; back() = size

  mutable std::mutex mutex_;                                      // guards the caches below
  mutable std::vector<std::shared_ptr<const ShardFile>> shards_;  // opened shards
  mutable std::list<int> hdf5_lru_;  // HDF5-backed shards in shards_, most recent first
  mutable std::unordered_map<int, std::list<int>::iterator> hdf5_pos_;
  mutable std::list<int> fd_lru_;
  mutable std::unordered_map<
      int, std::pair<std::shared_ptr<const FileDescriptor>, std::list<int>::iterator>>
      fds_;
};

}  // namespace tessera
