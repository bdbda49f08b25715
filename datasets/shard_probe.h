// Shard probe: shards that no checksum vouches for are parsed by HDF5 in a separate process
// first, so that a damaged one stops the job with an error instead of crashing or hanging it.
//
// HDF5 1.10.8 crashes (SIGSEGV, heap overflows, memcpy of 2^64 bytes) or loops forever on some
// damaged metadata (docs/RELIABILITY.md, "Corruption sweep": 0.12-0.14% of single-bit flips of a
// manifest-less shard). A shard whose whole-file CRC32C was checked against its manifest before
// HDF5 saw it is safe to parse; a shard without one (no manifest.json, or a dataset over the
// full-verify limit) is not. probe_shards() starts `tessera-shard-probe` (a small executable
// built beside `tessera`, no LibTorch: datasets/probe/), which opens each shard exactly as
// ShardFile does and, for shards HDF5 reads itself (not direct I/O), reads their first and last
// samples. It reports each shard as it goes; a signal or a shard that takes longer than the
// timeout becomes a tessera::Error here naming the dataset, the shard and the cause (the child
// is killed and reaped first). A shard the probe refuses cleanly (a tessera::Error in the child)
// is an error here too, with the child's message: this process does not parse it again.
// Cost: one process start plus the metadata parse of each shard, once per open of a dataset.
// Thread safety: no shared state; the call blocks the calling thread until the child is reaped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

struct ProbeOptions {
  // The probe executable; "" = default_probe_executable().
  std::string executable;
  // Seconds one shard may take in the probe before it counts as a hang.
  double timeout_s = 30;
};

// DIR_OF(/proc/self/exe)/tessera-shard-probe when that file is executable, else "".
std::string default_probe_executable();

// Probes `shards` (paths) of dataset `dataset`; `why` says why no checksum vouches for them
// (for the message). Throws tessera::Error on a crash, a hang, or a probe that cannot start.
void probe_shards(const std::string& dataset, const std::vector<std::string>& shards,
                  const std::string& why, const ProbeOptions& options);

// When directory `dir` holds no manifest.json: probes the *.h5 / *.hdf5 shards a manifest would
// be derived from (load_manifest(), `tessera inspect --write-manifest`). Else does nothing.
void probe_if_manifest_less(const std::string& dir, const ProbeOptions& options);

}  // namespace tessera
