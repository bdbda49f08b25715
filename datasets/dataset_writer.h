// DatasetWriter: writes a dataset directory (shards + manifest) in the shard format of
// shard_format.h / docs/data-format.md.
//
// Samples are appended in order; sample k lands in shard k / samples_per_shard at position
// k % samples_per_shard. A shard is written to "shard-XXXXX.h5.tmp" and renamed when complete;
// finish() closes the last shard, computes each shard's checksum and writes manifest.json
// atomically (tmp + rename), so a directory with a manifest is always complete. The directory is
// created if missing; it must not already contain shards or a manifest (no silent overwrite).
// add() validates each sample's shape, type and value range against the DatasetInfo and throws
// tessera::Error naming the sample index. If the writer is destroyed without finish() (e.g. an
// exception), partial files are removed and no manifest is written.
//
// Thread safety: one thread per writer. Ownership: the writer owns its open HDF5 handles.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "datasets/sample.h"
#include "datasets/shard_format.h"

namespace tessera {

class DatasetWriter {  // writes DIR/shard-00000.h5 ... + DIR/manifest.json (atomically, at finish)
 public:
  DatasetWriter(const std::string& dir, const DatasetInfo& info, int64_t samples_per_shard,
                int gzip_level = 0);
  ~DatasetWriter();
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  void add(const Sample& s);  // validates shape/dtype against info, names the sample index
  void finish();              // closes the last shard, checksums, writes manifest.json
  int64_t count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera
