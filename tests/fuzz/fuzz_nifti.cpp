// libFuzzer target: the NIfTI reader (NiftiVolume, datasets/nifti_volume.h) on the bytes of a
// file. The first input byte chooses the form: even -> the rest written as `.nii`, odd -> the rest
// gzip-compressed (zlib) and written as `.nii.gz`, so that both of nifticlib's paths (plain and
// znzlib's gzip) parse what the fuzzer makes. Files go to a private path under /dev/shm. An
// accepted volume is read: up to 2 slices along each axis and, for volumes of at most 64 Ki
// voxels, every value. Every refusal must be a tessera::Error; no allocation may be sized by the
// file beyond NiftiVolume's documented bounds (libFuzzer's -malloc_limit_mb).
//
// nifticlib parses the header itself (nifti_image_read). A crash inside libniftiio/libznz on a
// hostile file would be nifticlib's; scripts/fuzz.sh reports it with its stack like any other.
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "datasets/nifti_volume.h"
#include "fuzz_common.h"

namespace {

void write_plain(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
}

void write_gzip(const std::string& path, const std::uint8_t* data, std::size_t size) {
  gzFile f = gzopen(path.c_str(), "wb1");
  if (!f) std::abort();
  if (size > 0 && gzwrite(f, data, static_cast<unsigned>(size)) != static_cast<int>(size)) {
    std::abort();
  }
  if (gzclose(f) != Z_OK) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string base = [] {
    tessera::fuzz::quiet_logs();
    return "/dev/shm/tessera-fuzz-nifti-" + std::to_string(::getpid());
  }();
  if (size == 0) return 0;
  const bool gz = (data[0] & 1) != 0;
  const std::string path = base + (gz ? ".nii.gz" : ".nii");
  if (gz) {
    write_gzip(path, data + 1, size - 1);
  } else {
    write_plain(path, data + 1, size - 1);
  }
  tessera::fuzz::expect_clean("fuzz_nifti", [&] {
    const tessera::NiftiVolume v = tessera::NiftiVolume::open(path);
    for (int axis = 0; axis < 3; ++axis) {
      const std::int64_t n = v.slices(axis);
      for (std::int64_t i : {std::int64_t{0}, n - 1}) {
        if (i >= 0 && i < n) (void)v.slice(axis, i);
      }
    }
    if (v.voxels() <= 65536) (void)v.values();
  });
  ::unlink(path.c_str());
  return 0;
}
