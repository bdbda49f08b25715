// Bounds on a NIfTI file's raw header, checked before nifticlib parses it.
//
// nifticlib 2.0 (Debian's libnifti2) trusts some header fields while it converts a header into a
// nifti_image: a NIfTI-2 header whose dim[0] (the number of dimensions) is far beyond 7 overflows
// a stack buffer inside nifti_convert_n2hdr2nim (found by tests/fuzz/fuzz_nifti; a plain C
// program calling nifti_image_read on that file dies, "stack smashing detected" or SIGSEGV, in
// about 6 address layouts of 10). So
// NiftiVolume::open (nifti_volume.h) reads the first bytes itself (through zlib, which reads a
// plain file as it is and a .nii.gz decompressed) and refuses, naming the file and the field:
//   - dim[0] outside 1..7;
//   - an extent dim[1..dim[0]] outside 1..kMaxVolumeExtent (so that no product of extents that
//     nifticlib forms can overflow);
//   - a negative, non-finite or absurd (over 2^40) vox_offset.
// A file whose first four bytes are not a NIfTI-1 (348) or NIfTI-2 (540) sizeof_hdr in either
// byte order is left to nifticlib, which refuses it; so is every other field (NiftiVolume's own
// checks follow). Byte-swapped headers are read swapped, as nifticlib reads them.
//
// Thread safety: pure functions of the file.
#pragma once

#include <cstdint>
#include <string>

namespace tessera {

// Throws tessera::Error naming `path` and the field when the header is recognisably NIfTI-1 or
// NIfTI-2 but a field above is out of bounds, or the file ends inside the header.
void check_raw_nifti_header(const std::string& path);

// A .nii.gz cannot be sized without inflating it, and nifticlib allocates the whole voxel buffer
// its header describes before it reads: a 600-byte file could make it allocate 4 GiB. So for a
// volume of more than kNiftiGzVerifyAbove bytes NiftiVolume::open first counts the decompressed
// stream (one extra inflate pass, stopping at `bytes`) and refuses a stream that ends short.
inline constexpr int64_t kNiftiGzVerifyAbove = int64_t{64} << 20;

// The number of bytes the (gzip or plain) stream of `path` holds, counted up to `bytes`.
int64_t decompressed_bytes_up_to(const std::string& path, int64_t bytes);

}  // namespace tessera
