// ShardFile: one shard (read-only) of the format in shard_format.h, with per-sample reads that
// keep HDF5 (one global lock in the thread-safe build) out of the hot path.
//
// Opening reads the layout (dataset shapes, dtypes, chunking, filters, root attributes) and the
// optional `labels` dataset (N int32, kept in memory) and `sample_crc32c` (per-sample checksums,
// integrity.h; kept in memory and checked on every read when verify_samples). When both `inputs`
// and `targets` are chunked one sample per chunk, with no filter or only gzip (deflate), in the
// native type (tessera's own layout), opening also records each sample's chunk file offset and size
// (a B-tree lookup per chunk) and then CLOSES the HDF5 file: reads are plain pread() calls on a
// file descriptor plus zlib inflation, no HDF5 call and no lock at all ("direct I/O"; ~24 bytes
// of index per sample instead of ~0.5 MiB of HDF5 state per open file). Other layouts (e.g.
// h5py's default contiguous datasets, big-endian data, other filters) keep the HDF5 file open and
// read a hyperslab with H5Dread (type conversion by HDF5).
// Every error names the file, the dataset and the sample.
// Thread safety: read_* may be called concurrently from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "datasets/hdf5_handle.h"
#include "datasets/integrity.h"

namespace tessera {

struct ShardLayout {
  int64_t samples = 0;
  std::vector<int64_t> input_shape;   // per sample: h, w, C
  std::vector<int64_t> target_shape;  // per sample: H, W  or  H, W, C
  std::string input_dtype;            // uint8 | float32
  std::string target_dtype;           // uint8 | float32
  bool has_labels = false;
  bool has_sample_crc = false;    // `sample_crc32c` present (integrity.h)
  bool one_sample_chunks = true;  // both datasets chunked (1, ...)
  // Root attributes (absent in files written by other tools).
  std::optional<int64_t> format_version, classes, ignore_index;
  std::optional<std::string> task, target_kind, degradation;
};

// An open read-only file descriptor (RAII); throws naming the path if it cannot be opened.
class FileDescriptor {
 public:
  explicit FileDescriptor(const std::string& path);
  ~FileDescriptor();
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

class ShardFile {
 public:
  // expected_samples >= 0: the manifest's count, checked before the file's dimensions size
  // anything. Every size the file claims is bounded (by the file size, by compressBound of the
  // sample for compressed chunks) before it sizes an allocation; a file that breaks a bound is
  // refused with a tessera::Error naming it. verify_samples: check each sample read against the
  // shard's `sample_crc32c` (when it has one); a mismatch throws naming the file and sample.
  explicit ShardFile(const std::string& path, int64_t expected_samples = -1,
                     bool verify_samples = true);
  ~ShardFile();
  ShardFile(const ShardFile&) = delete;
  ShardFile& operator=(const ShardFile&) = delete;

  const std::string& path() const { return path_; }
  const ShardLayout& layout() const { return layout_; }
  const std::vector<int32_t>& labels() const { return labels_; }

  // True when every read is direct I/O (the HDF5 file is closed; see above).
  bool direct_io() const;

  // Copies sample `local`'s stored bytes (row-major h,w,C) into dst (exactly the sample size).
  // `what` names the sample in errors ("sample 17 (global 1041)"). Direct I/O reads through
  // `fd` (an open descriptor of this file, e.g. from a cache), or opens one for the call.
  void read_input(int64_t local, std::vector<uint8_t>& dst, const std::string& what,
                  const FileDescriptor* fd = nullptr) const;
  void read_target(int64_t local, std::vector<uint8_t>& dst, const std::string& what,
                   const FileDescriptor* fd = nullptr) const;

  struct Access;  // per-dataset read strategy (defined in shard_file.cpp)

 private:
  std::string path_;
  H5Id file_;
  ShardLayout layout_;
  std::vector<int32_t> labels_;
  std::vector<SampleCrc> crcs_;  // empty: none stored, or verify_samples off
  std::unique_ptr<Access> inputs_, targets_;
};

}  // namespace tessera
