// CRC32C (Castagnoli polynomial 0x1EDC6F41, reflected, init and final XOR 0xFFFFFFFF: the
// checksum of iSCSI/ext4/Google's crc32c package) of byte buffers and whole files. Shard
// checksums in manifest.json are crc32c_file() of the shard, as 8 lower-case hex digits.
// Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise (same result).
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tessera {

// Extends a running CRC (start with 0) by `n` bytes: crc32c(crc32c(0,a),b) == crc32c(0,a+b).
uint32_t crc32c(uint32_t crc, const void* data, size_t n);

struct FileChecksum {
  uint32_t crc = 0;
  uint64_t bytes = 0;
};

// Streams the file; throws tessera::Error naming the path if it cannot be read.
FileChecksum crc32c_file(const std::string& path);

std::string crc32c_hex(uint32_t crc);  // "e3069283"

}  // namespace tessera
