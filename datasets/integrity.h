// Integrity of dataset files: per-sample checksums stored inside each shard, and the whole-shard
// CRC32C of the manifest checked before HDF5 parses a file.
//
// Per-sample checksums: a shard written by tessera (format_version 1, since this change) holds
//   sample_crc32c  (N, 2)  uint32   [CRC32C(input bytes), CRC32C(target bytes ++ label)]
// where the bytes are the sample as stored (row-major, little-endian) and "++ label" appends the
// image-level label as 4 bytes int32 little-endian when the shard has a `labels` dataset. Shards
// without it (older tessera, h5py) stay readable; the manifest records per shard whether it has
// one ("sample_crc32c": true), so a shard that lost it is refused. Verifying a sample costs one
// hardware CRC32C pass over bytes just read (measured in bench/loader.cpp: docs/PERFORMANCE.md).
//
// Whole-shard checksums (manifest.json "crc32c") are checked by verify_shard_checksums, which only
// reads the manifest's JSON and the files' bytes: a shard whose HDF5 structure is damaged is
// named by its checksum, never parsed.
// Thread safety: pure functions; the vectors they fill belong to the caller.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "datasets/manifest.h"

namespace tessera {

inline constexpr const char* kSampleCrcName = "sample_crc32c";

struct SampleCrc {
  uint32_t input = 0;
  uint32_t target = 0;  // of the target bytes, then the label (int32 LE) where the shard has labels
};

uint32_t input_crc(const uint8_t* data, size_t n);
uint32_t target_crc(const uint8_t* data, size_t n, const int32_t* label);

// Writes `sample_crc32c` (N,2) uint32 into an open shard; `where` names it in errors.
void write_sample_crcs(hid_t file, const std::vector<SampleCrc>& crcs, const std::string& where);

// Reads `sample_crc32c` of an open shard of `samples` samples (already bounded by the file size);
// nullopt when the shard has none. A dataset of another shape or type is refused, naming `path`.
std::optional<std::vector<SampleCrc>> read_sample_crcs(hid_t file, int64_t samples,
                                                       const std::string& path);

// Throws when `got` (input_crc / target_crc of the bytes read) differs from `want` (stored),
// naming the file, the dataset, the sample and both checksums.
void check_sample_crc(uint32_t want, uint32_t got, const std::string& path, const char* dataset,
                      const std::string& what);

// CRC32C and size of every shard of `dir` against manifest `m` (manifest.json only: no HDF5 call).
// One message per problem; a derived manifest yields one message saying there are no checksums.
std::vector<std::string> verify_shard_checksums(const std::string& dir, const Manifest& m);

// For `tessera inspect --write-manifest DIR`: derives the manifest of a directory of shards that
// has none (h5py-written), records each shard's size, CRC32C and whether it carries per-sample
// checksums, and writes DIR/manifest.json atomically. Refuses a directory that has a manifest.
// Returns the manifest written.
Manifest write_derived_manifest(const std::string& dir);

}  // namespace tessera
