// Fingerprint: before training, every rank proves it runs the same experiment. Three components
// are hashed with our own FNV-1a 64 (stable across platforms, compilers and runs):
//   config      the resolved config text (e.g. to_yaml(config) or flattened key=value lines),
//   parameters  one line per parameter and buffer: "name [shape] dtype" (describe_module()),
//   data        the dataset manifest text (shard names, sizes, sample counts...).
// verify_fingerprint() allgathers the hashes; when they differ it finds, for each component, the
// ranks that differ from rank 0 and the first differing line (rank 0's text is broadcast for
// that component only), and throws the same tessera::Error on every rank, e.g.
//   "fingerprint mismatch, refusing to start: rank 2 differs from rank 0 in parameters: line 3:
//    rank 0 has 'enc1.conv.weight [16, 3, 3, 3] Float', rank 2 has '... [16, 1, 3, 3] ...'"
// Items are compared line by line, so put one item per line.
//
// Threads: the training thread; verify_fingerprint() is a collective (every rank calls it).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace tessera {

class Communicator;

// FNV-1a 64-bit of the bytes, continuing from `seed` (default: the FNV offset basis).
uint64_t fnv1a64(const std::string& bytes, uint64_t seed = 0xcbf29ce484222325ULL);

struct FingerprintInput {
  std::string config;
  std::string parameters;
  std::string data;
};

// "name [d0, d1, ...] dtype" for every parameter, then "buffer name [...] dtype" for every
// buffer, in registration order, one per line.
std::string describe_module(const torch::nn::Module& module);

struct Fingerprint {
  uint64_t config = 0;
  uint64_t parameters = 0;
  uint64_t data = 0;
  std::string hex() const;  // "config=… parameters=… data=…"
};

Fingerprint compute_fingerprint(const FingerprintInput& input);

// Collective. Returns this rank's fingerprint when all ranks agree; throws otherwise.
Fingerprint verify_fingerprint(Communicator& comm, const FingerprintInput& input);

}  // namespace tessera
