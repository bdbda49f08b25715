// libFuzzer target: the shard reader (ShardFile) on the bytes of a file. The bytes are written
// to a private file under /dev/shm and opened as a shard without a manifest (the path on which
// HDF5 parses whatever is there); up to 4 samples are read with per-sample verification on.
// Every refusal must be a tessera::Error naming the file; no allocation may be sized by the file
// beyond its bounds (libFuzzer's -rss_limit_mb / -malloc_limit_mb catch that).
//
// HDF5 itself parses the superblock and object headers; a crash inside libhdf5 on a hostile
// file is reported by this target like any other (scripts/fuzz.sh prints the stack). HDF5 1.10's
// H5Fopen leaks a little memory when it fails on a damaged file (found by this target; the
// stack is all inside H5F_open): lsan.supp suppresses exactly that, and this target checks
// instead that no HDF5 id stays open.
//
// Control of scripts/fuzz.sh's classifier: with TESSERA_FUZZ_CONTROL=overflow in the
// environment, every input that opens as a shard then writes one byte past a heap buffer here,
// in tessera's own code; fuzz.sh runs that first and fails unless it is caught as ours.
#include <hdf5.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "datasets/shard_file.h"
#include "fuzz_common.h"

namespace {

__attribute__((noinline)) void control_overflow() {
  volatile char* p = new char[8];
  p[8] = 1;  // deliberately out of bounds: ASan reports it with this frame
  delete[] p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = [] {
    spdlog::set_level(spdlog::level::off);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // HDF5's own error stack print: noise
    return "/dev/shm/tessera-fuzz-shard-" + std::to_string(::getpid()) + ".h5";
  }();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  tessera::fuzz::expect_clean("fuzz_shard", [&] {
    tessera::ShardFile shard(path, -1, /*verify_samples=*/true);
    static const bool control = std::getenv("TESSERA_FUZZ_CONTROL") != nullptr;
    if (control) control_overflow();
    std::vector<std::uint8_t> buf;
    const std::int64_t n = std::min<std::int64_t>(shard.layout().samples, 4);
    for (std::int64_t i = 0; i < n; ++i) {
      shard.read_input(i, buf, "sample " + std::to_string(i));
      shard.read_target(i, buf, "sample " + std::to_string(i));
    }
  });
  ::unlink(path.c_str());
  // Our handle hygiene, checked directly (the LSan suppression of leaks inside a failed
  // H5Fopen, lsan.supp, would also hide a file id we forgot to close): nothing may stay open.
  const ssize_t open_ids = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  if (open_ids != 0) {
    std::fprintf(stderr, "fuzz_shard: %zd HDF5 object(s) left open after the shard closed\n",
                 open_ids);
    std::abort();
  }
  return 0;
}
