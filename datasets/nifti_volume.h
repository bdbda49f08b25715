// NIfTI volumes (.nii, .nii.gz; NIfTI-1 and NIfTI-2) as nnU-Net and MONAI users keep them, read
// through Debian's nifticlib (libnifti2, which reads both versions; gzip through znzlib).
//
// NiftiVolume::open(): the header is read first and bounded before a voxel is allocated:
//   - a single-file NIfTI (.nii / .nii.gz; ANALYZE pairs and NIfTI-ASCII are refused);
//   - 3 spatial dimensions, each in 1..kMaxVolumeExtent (a 4th..7th dimension of extent 1 is
//     accepted; a time series or vector volume is refused), at most kMaxVolumeVoxels voxels;
//   - a scalar datatype: uint8, int8, int16, uint16, int32, uint32, float32 or float64;
//   - an uncompressed file must hold vox_offset + the voxel bytes (a truncated file is refused
//     before the read); a .nii.gz of more than 64 MiB of voxels is inflated once to check the
//     same before nifticlib allocates its buffer; a smaller truncated .nii.gz fails in the read,
//     with the same kind of error. The raw header's dim[0], extents and vox_offset are bounded
//     before nifticlib parses anything (nifti_raw_header.h).
// Voxel values are the stored values after the header's scaling: v * scl_slope + scl_inter when
// scl_slope is finite and non-zero (the NIfTI rule), else v. nifticlib itself reads NaN and inf
// stored in float volumes as 0 (its documented behaviour); a value that the scaling makes
// non-finite is refused when a slice or the statistics reach it, naming the file and the voxel.
//
// Geometry: spacing = pixdim[1..3]; affine = voxel (i, j, k) -> world (x, y, z): the sform when
// sform_code > 0, else the qform when qform_code > 0, else diag(spacing) ("pixdim").
//
// Slices: slice(axis, index) is the 2D grid at voxel index `index` along `axis` (0 = i, 1 = j,
// 2 = k), as CV_64FC1; its rows and columns are the two other axes in storage order: axis k ->
// rows j, columns i; axis j -> rows k, columns i; axis i -> rows k, columns j. No reorientation
// (to RAS or radiological view) is made: samples are the file's own voxel grid, and the
// manifest keeps the affine (docs/data-format.md, "NIfTI volumes").
//
// Thread safety: nifticlib keeps a process-wide debug level (set to quiet on every open) and is
// otherwise re-entrant; a NiftiVolume is used by one thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace tessera {

inline constexpr int64_t kMaxVolumeExtent = 16384;
inline constexpr int64_t kMaxVolumeVoxels = int64_t{1} << 29;  // 512 Mi voxels

// "case.nii.gz" / "case.nii" (any case of the extension).
bool is_nifti_name(const std::string& path);

class NiftiVolume {
 public:
  static NiftiVolume open(const std::string& path);
  ~NiftiVolume();
  NiftiVolume(NiftiVolume&&) noexcept;
  NiftiVolume& operator=(NiftiVolume&&) noexcept;

  const std::string& path() const { return path_; }
  std::array<int64_t, 3> shape() const { return shape_; }  // (nx, ny, nz)
  std::array<double, 3> spacing() const { return spacing_; }
  const std::array<std::array<double, 4>, 4>& affine() const { return affine_; }
  const std::string& affine_from() const { return affine_from_; }  // sform | qform | pixdim
  const std::string& datatype() const { return datatype_; }        // e.g. "INT16"
  bool integer_type() const { return integer_; }
  int64_t voxels() const { return shape_[0] * shape_[1] * shape_[2]; }

  // Number of slices along `axis` and slice `index` (see above). Throws on a non-finite voxel.
  int64_t slices(int axis) const;
  cv::Mat slice(int axis, int64_t index) const;

  // Every voxel value (scaled), i fastest; throws on a non-finite voxel.
  std::vector<float> values() const;

 private:
  struct Image;
  NiftiVolume() = default;
  double value_at(int64_t flat) const;
  void throw_non_finite(int64_t flat) const;

  std::string path_;
  std::unique_ptr<Image> image_;
  std::array<int64_t, 3> shape_{};
  std::array<double, 3> spacing_{};
  std::array<std::array<double, 4>, 4> affine_{};
  std::string affine_from_;
  std::string datatype_;
  bool integer_ = false;
  double slope_ = 1.0, inter_ = 0.0;
};

// "i" | "j" | "k" -> 0 | 1 | 2; throws naming `what` otherwise.
int slice_axis_from_string(const std::string& name, const std::string& what);
const char* slice_axis_name(int axis);

}  // namespace tessera
