#include "checkpoints/sha256.h"

#include "common/error.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <vector>

namespace tessera::checkpoints {
namespace {

// The newest OpenSSL error on this thread, for a message ("" when the queue is empty).
std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  if (code == 0) return "no OpenSSL error queued";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

#define TESSERA_CHECK_EVP(call)                                                         \
  TESSERA_CHECK((call) == 1, "OpenSSL {} failed: {} (libcrypto {})", #call, openssl_error(), \
                OpenSSL_version(OPENSSL_VERSION))

}  // namespace

void Sha256::CtxFree::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  TESSERA_CHECK(ctx_ != nullptr, "OpenSSL EVP_MD_CTX_new failed (out of memory?): {}",
                openssl_error());
  reset();
}

Sha256::~Sha256() = default;

void Sha256::reset() {
  TESSERA_CHECK_EVP(EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr));
  finalized_ = false;
}

void Sha256::update(const void* data, std::size_t size) {
  TESSERA_CHECK(!finalized_, "Sha256::update called after digest(); call reset() first");
  if (size == 0) return;
  TESSERA_CHECK_EVP(EVP_DigestUpdate(ctx_.get(), data, size));
}

Sha256::Digest Sha256::digest() {
  TESSERA_CHECK(!finalized_, "Sha256::digest called twice; call reset() first");
  Digest out{};
  unsigned int length = 0;
  TESSERA_CHECK_EVP(EVP_DigestFinal_ex(ctx_.get(), out.data(), &length));
  TESSERA_CHECK(length == out.size(), "OpenSSL SHA-256 returned {} bytes, expected {}", length,
                out.size());
  finalized_ = true;
  return out;
}

std::string Sha256::hex_digest() { return to_hex(digest()); }

std::string to_hex(const Sha256::Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(digest.size() * 2, '0');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  Sha256 hasher;
  hasher.update(bytes);
  return hasher.hex_digest();
}

std::string sha256_file_hex(const std::string& path) {
  struct Fd {
    int fd;
    ~Fd() {
      if (fd >= 0) ::close(fd);
    }
  } file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  TESSERA_CHECK(file.fd >= 0, "cannot open {} for hashing: {}", path, std::strerror(errno));
  Sha256 hasher;
  std::vector<char> chunk(1 << 20);
  for (;;) {
    const ssize_t n = ::read(file.fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    TESSERA_CHECK(n >= 0, "cannot read {} for hashing: {}", path, std::strerror(errno));
    if (n == 0) break;
    hasher.update(chunk.data(), static_cast<std::size_t>(n));
  }
  return hasher.hex_digest();
}

}  // namespace tessera::checkpoints
