// Manifest: the small JSON index of a dataset directory (DIR/manifest.json): format version,
// DatasetInfo, and per shard its file name, sample count, byte size, CRC32C checksum and (label
// maps) largest label value and whether it holds per-sample checksums. The layout of the JSON is
// documented in docs/data-format.md.
//
// load_manifest(dir) reads DIR/manifest.json; when it is absent but DIR holds *.h5 / *.hdf5
// shards (e.g. written with h5py), it derives the manifest from the shards themselves (shapes,
// dtypes, attributes; no checksums) and logs one warning. Every error names the directory or
// file and what was expected. write_manifest() is atomic (temporary file + rename).
// Thread safety: pure functions on values.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "datasets/dataset_stats.h"
#include "datasets/shard_format.h"

namespace tessera {

struct ShardEntry {
  std::string file;  // file name inside the dataset directory
  int64_t samples = 0;
  uint64_t bytes = 0;          // file size; 0 = unknown (derived manifest)
  std::string crc32c;          // 8 lower-case hex digits of CRC32C(file bytes); "" = unknown
  int target_max = -1;         // largest label value in the shard (label maps); -1 = unknown
  bool sample_crc32c = false;  // the shard holds per-sample checksums (integrity.h)
};

struct Manifest {
  int format_version = kShardFormatVersion;
  DatasetInfo info;
  std::vector<ShardEntry> shards;
  bool derived = false;  // built from the shards because manifest.json was absent
  std::optional<DatasetStats> stats;  // written by DatasetWriter; absent in older manifests
  // Optional, informational (never read by training): where the samples came from, one entry
  // per source image, written by `tessera pack` for TIFF inputs (file, sample range, bands,
  // sample type, georeferencing; docs/data-format.md). null = absent.
  nlohmann::json sources;

  int64_t total_samples() const;
};

nlohmann::json manifest_to_json(const Manifest& m);
// `where` names the source in errors (the manifest path).
Manifest manifest_from_json(const nlohmann::json& j, const std::string& where);

void write_manifest(const std::string& dir, const Manifest& m);
Manifest read_manifest_file(const std::string& path);

// The *.h5 / *.hdf5 files of `dir`, sorted by name (the shards a derived manifest lists).
std::vector<std::string> list_shard_files(const std::string& dir);

// Derives a manifest by opening every *.h5 / *.hdf5 file of `dir` (sorted by name). Shapes and
// dtypes must agree across shards; missing attributes take the documented defaults.
Manifest derive_manifest(const std::string& dir);

// DIR/manifest.json if present, else derive_manifest(dir) with a warning. Throws if `dir` is
// missing, not a directory, or holds neither a manifest nor shards.
Manifest load_manifest(const std::string& dir);

}  // namespace tessera
