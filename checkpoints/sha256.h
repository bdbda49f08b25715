// SHA-256 (FIPS 180-4), our own implementation, used for the per-file checksums of checkpoints.
//
// Sha256 is a streaming hasher: update() any number of times with any split of the input, then
// digest()/hex_digest() once (finalizing; the object must be reset() before reuse). The free
// functions hash a whole buffer or a whole file. Lengths up to 2^61-1 bytes.
//
// Thread safety: a Sha256 object is not shared between threads; the free functions are
// reentrant. sha256_file throws tessera::Error naming the file when it cannot be read.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tessera::checkpoints {

class Sha256 {
 public:
  using Digest = std::array<std::uint8_t, 32>;

  Sha256() { reset(); }

  void reset();
  void update(const void* data, std::size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  // Finalizes and returns the 32-byte digest. Call reset() before hashing something else.
  Digest digest();
  // Finalizes and returns the digest as 64 lowercase hex characters.
  std::string hex_digest();

 private:
  void compress(const std::uint8_t* block);

  std::array<std::uint32_t, 8> state_{};
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
  bool finalized_ = false;
};

// Lowercase hex of a digest.
std::string to_hex(const Sha256::Digest& digest);

// SHA-256 of a buffer, as lowercase hex.
std::string sha256_hex(std::string_view bytes);

// SHA-256 of a file's contents, as lowercase hex (streamed; the file is not held in memory).
std::string sha256_file_hex(const std::string& path);

}  // namespace tessera::checkpoints
