// Pieces of the corruption sweep (corruption_sweep_test.cpp): the outcome of reading one
// damaged copy, the damaged copy itself, and the record a forked child sends for each.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace tessera {
namespace sweep {

enum Outcome : int {
  kIdentical = 0,   // every sample read back as written: the damage is in bytes nothing reads
  kRefused = 10,    // tessera::Error naming the shard
  kVague = 11,      // tessera::Error that does not name the shard
  kGarbage = 20,    // read without error, but the bytes differ
  kForeign = 30,    // an exception other than tessera::Error (bad_alloc ...)
  kCrashHdf5 = 40,  // a fatal signal whose innermost frame (past libc/zlib) is in libhdf5
  kHangHdf5 = 41,   // still running at the alarm, interrupted inside libhdf5
  kCrash = 50,      // a fatal signal anywhere else (tessera's code: always a failure)
  kHang = 51,       // a hang anywhere else
};

inline bool passes(int o) { return o == kIdentical || o == kRefused; }
inline bool hdf5_known(int o) { return o == kCrashHdf5 || o == kHangHdf5; }

inline const char* outcome_name(int o) {
  switch (o) {
    case kIdentical: return "read identical";
    case kRefused: return "refused";
    case kVague: return "refused without naming the shard";
    case kGarbage: return "READ GARBAGE";
    case kForeign: return "non-tessera exception";
    case kCrashHdf5: return "crash inside libhdf5";
    case kHangHdf5: return "hang inside libhdf5";
    case kCrash: return "CRASH";
    case kHang: return "HANG";
    default: return "unknown exit";
  }
}

inline std::vector<char> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(f), {});
}

inline void spit(const std::string& path, const char* data, size_t n) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data, static_cast<std::streamsize>(n));
}

// One damaged copy: the pristine shard truncated to `length`, or with bit `bit` of byte
// `offset` flipped.
struct Variant {
  bool truncate = false;
  size_t length = 0, offset = 0;
  int bit = 0;
  bool plant = false;  // control: the child crashes in tessera's code after reading this copy
  std::string describe() const {
    return (truncate ? fmt::format("truncated to {} bytes", length)
                     : fmt::format("bit {} of byte {} flipped", bit, offset)) +
           (plant ? " (then a planted crash)" : "");
  }
  void write(const std::string& path, std::vector<char>& bytes) const {
    if (truncate) {
      spit(path, bytes.data(), length);
      return;
    }
    bytes[offset] = static_cast<char>(bytes[offset] ^ (1 << bit));
    spit(path, bytes.data(), bytes.size());
    bytes[offset] = static_cast<char>(bytes[offset] ^ (1 << bit));
  }
};

// A child reports each variant's outcome as one fixed-size record on a pipe (atomic: < PIPE_BUF).
struct Record {
  int32_t variant;
  int32_t outcome;
  char message[504];
};

}  // namespace sweep
}  // namespace tessera
