// SHA-256 (FIPS 180-4) for the per-file checksums of checkpoints, computed by OpenSSL's EVP
// interface (libcrypto): it uses the CPU's SHA extensions where present (~1.8 GB/s on this
// project's machines, against ~0.25 GB/s for the scalar implementation it replaced; measured side
// by side by bench_checkpoint, docs/PERFORMANCE.md section 4).
//
// Sha256 is a streaming hasher: update() any number of times with any split of the input, then
// digest()/hex_digest() once (finalizing; the object must be reset() before reuse). The free
// functions hash a whole buffer or a whole file.
//
// Thread safety: a Sha256 object is not shared between threads; the free functions are
// reentrant. Errors (misuse, a libcrypto failure, an unreadable file) throw tessera::Error;
// sha256_file_hex names the file.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX; <openssl/evp.h> stays out of this header

namespace tessera::checkpoints {

class Sha256 {
 public:
  using Digest = std::array<std::uint8_t, 32>;

  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void reset();
  void update(const void* data, std::size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  // Finalizes and returns the 32-byte digest. Call reset() before hashing something else.
  Digest digest();
  // Finalizes and returns the digest as 64 lowercase hex characters.
  std::string hex_digest();

 private:
  struct CtxFree {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, CtxFree> ctx_;
  bool finalized_ = false;
};

// Lowercase hex of a digest.
std::string to_hex(const Sha256::Digest& digest);

// SHA-256 of a buffer, as lowercase hex.
std::string sha256_hex(std::string_view bytes);

// SHA-256 of a file's contents, as lowercase hex (streamed; the file is not held in memory).
std::string sha256_file_hex(const std::string& path);

}  // namespace tessera::checkpoints
