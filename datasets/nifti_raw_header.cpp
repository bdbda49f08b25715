#include "datasets/nifti_raw_header.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "common/error.h"
#include "datasets/nifti_volume.h"

namespace tessera {

namespace {

constexpr int kNifti1Size = 348;
constexpr int kNifti2Size = 540;
constexpr double kMaxVoxOffset = 1099511627776.0;  // 2^40 bytes

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};

// The field of type T at byte `offset`, in the file's byte order.
template <typename T>
T field(const std::array<unsigned char, kNifti2Size>& b, int offset, bool swapped) {
  std::array<unsigned char, sizeof(T)> bytes{};
  std::memcpy(bytes.data(), b.data() + offset, sizeof(T));
  if (swapped) std::reverse(bytes.begin(), bytes.end());
  T v;
  std::memcpy(&v, bytes.data(), sizeof(T));
  return v;
}

int32_t byte_swapped(int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  return static_cast<int32_t>((u >> 24) | ((u >> 8) & 0xff00u) | ((u << 8) & 0xff0000u) |
                              (u << 24));
}

}  // namespace

void check_raw_nifti_header(const std::string& path) {
  std::unique_ptr<gzFile_s, GzCloser> f(gzopen(path.c_str(), "rb"));
  TESSERA_CHECK(f != nullptr, "{}: cannot open it to read its NIfTI header", path);
  std::array<unsigned char, kNifti2Size> b{};
  const int n = gzread(f.get(), b.data(), static_cast<unsigned>(b.size()));
  if (n < 4) return;  // nifticlib refuses what is too short to hold sizeof_hdr
  const auto size = field<int32_t>(b, 0, false);
  bool swapped = false;
  if (size != kNifti1Size && size != kNifti2Size) {
    swapped = byte_swapped(size) == kNifti1Size || byte_swapped(size) == kNifti2Size;
    if (!swapped) return;  // not NIfTI: nifticlib refuses it
  }
  const bool v2 = (swapped ? byte_swapped(size) : size) == kNifti2Size;
  const int need = v2 ? kNifti2Size : kNifti1Size;
  TESSERA_CHECK(n >= need, "{}: the file ends inside its NIfTI-{} header ({} of {} bytes)", path,
                v2 ? 2 : 1, n, need);
  std::array<int64_t, 8> dim{};
  for (size_t d = 0; d < dim.size(); ++d) {
    dim[d] = v2 ? field<int64_t>(b, 16 + 8 * static_cast<int>(d), swapped)
                : field<int16_t>(b, 40 + 2 * static_cast<int>(d), swapped);
  }
  TESSERA_CHECK(dim[0] >= 1 && dim[0] <= 7,
                "{}: NIfTI-{} header: dim[0] (the number of dimensions) is {}; expected 1..7",
                path, v2 ? 2 : 1, dim[0]);
  for (int64_t d = 1; d <= dim[0]; ++d) {
    const int64_t e = dim[static_cast<size_t>(d)];
    TESSERA_CHECK(e >= 1 && e <= kMaxVolumeExtent,
                  "{}: NIfTI-{} header: dim[{}] (an extent) is {}; expected 1..{}", path,
                  v2 ? 2 : 1, d, e, kMaxVolumeExtent);
  }
  const double offset = v2 ? static_cast<double>(field<int64_t>(b, 168, swapped))
                           : static_cast<double>(field<float>(b, 108, swapped));
  TESSERA_CHECK(std::isfinite(offset) && offset >= 0 && offset <= kMaxVoxOffset,
                "{}: NIfTI-{} header: vox_offset (where the voxels start) is {}; expected 0..2^40",
                path, v2 ? 2 : 1, offset);
}

int64_t decompressed_bytes_up_to(const std::string& path, int64_t bytes) {
  std::unique_ptr<gzFile_s, GzCloser> f(gzopen(path.c_str(), "rb"));
  TESSERA_CHECK(f != nullptr, "{}: cannot open it to count its voxel bytes", path);
  std::vector<unsigned char> chunk(size_t{1} << 20);
  int64_t total = 0;
  while (total < bytes) {
    const int n = gzread(f.get(), chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n <= 0) break;  // end of the stream, or damaged data: the count so far
    total += n;
  }
  return std::min(total, bytes);
}

}  // namespace tessera
