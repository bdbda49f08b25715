// ShardFile: one open shard (read-only) of the format in shard_format.h, with short HDF5 calls
// for per-sample reads.
//
// Opening reads the layout (dataset shapes, dtypes, chunking, filters, root attributes) and the
// optional `labels` dataset (N int32, kept in memory). read_input()/read_target() fetch sample
// `local`'s bytes. When a dataset is chunked one sample per chunk with no filter or only gzip
// (deflate), and stored in the native type, the raw chunk is fetched with H5Dread_chunk (a short
// call under HDF5's global lock) and inflated with zlib OUTSIDE the lock; other layouts (e.g.
// h5py defaults: contiguous, or big-endian) fall back to a hyperslab H5Dread with conversion.
// Every error names the file, the dataset and the sample.
// Thread safety: read_* may be called concurrently from several threads (HDF5 is built
// thread-safe; the object holds no mutable state besides HDF5's).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "datasets/hdf5_handle.h"

namespace tessera {

struct ShardLayout {
  int64_t samples = 0;
  std::vector<int64_t> input_shape;   // per sample: h, w, C
  std::vector<int64_t> target_shape;  // per sample: H, W  or  H, W, C
  std::string input_dtype;            // uint8 | float32
  std::string target_dtype;           // uint8 | float32
  bool has_labels = false;
  bool one_sample_chunks = true;      // both datasets chunked (1, ...)
  // Root attributes (absent in files written by other tools).
  std::optional<int64_t> format_version, classes;
  std::optional<std::string> task, target_kind;
};

class ShardFile {
 public:
  explicit ShardFile(const std::string& path);
  ~ShardFile();
  ShardFile(const ShardFile&) = delete;
  ShardFile& operator=(const ShardFile&) = delete;

  const std::string& path() const { return path_; }
  const ShardLayout& layout() const { return layout_; }
  const std::vector<int32_t>& labels() const { return labels_; }

  // Copies sample `local`'s stored bytes (row-major h,w,C) into dst (exactly the sample size).
  // `what` names the sample in errors ("sample 17 (global 1041)").
  void read_input(int64_t local, std::vector<uint8_t>& dst, const std::string& what) const;
  void read_target(int64_t local, std::vector<uint8_t>& dst, const std::string& what) const;

  struct Access;  // per-dataset read strategy (defined in shard_file.cpp)

 private:
  std::string path_;
  H5Id file_;
  ShardLayout layout_;
  std::vector<int32_t> labels_;
  std::unique_ptr<Access> inputs_, targets_;
};

}  // namespace tessera
