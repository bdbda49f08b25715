#include "datasets/nifti_volume.h"

#include <nifti2_io.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

#include "common/error.h"
#include "datasets/nifti_raw_header.h"

namespace tessera {

namespace fs = std::filesystem;

struct NiftiVolume::Image {
  nifti_image* nim = nullptr;
  ~Image() {
    if (nim != nullptr) nifti_image_free(nim);
  }
};

namespace {

bool ends_with_ci(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  return std::equal(suffix.begin(), suffix.end(), s.end() - static_cast<long>(suffix.size()),
                    [](char a, char b) {
                      return std::tolower(static_cast<unsigned char>(a)) ==
                             std::tolower(static_cast<unsigned char>(b));
                    });
}

struct TypeInfo {
  int code;
  const char* name;
  bool integer;
};
constexpr TypeInfo kTypes[] = {
    {NIFTI_TYPE_UINT8, "UINT8", true},      {NIFTI_TYPE_INT8, "INT8", true},
    {NIFTI_TYPE_INT16, "INT16", true},      {NIFTI_TYPE_UINT16, "UINT16", true},
    {NIFTI_TYPE_INT32, "INT32", true},      {NIFTI_TYPE_UINT32, "UINT32", true},
    {NIFTI_TYPE_FLOAT32, "FLOAT32", false}, {NIFTI_TYPE_FLOAT64, "FLOAT64", false},
};

// Header checks, before any voxel is read (see the header's list).
void check_header(const nifti_image& h, const std::string& path) {
  TESSERA_CHECK(h.nifti_type == NIFTI_FTYPE_NIFTI1_1 || h.nifti_type == NIFTI_FTYPE_NIFTI2_1,
                "{}: not a single-file NIfTI volume (nifti_type {}); convert ANALYZE .hdr/.img "
                "pairs to .nii",
                path, h.nifti_type);
  for (int d = 1; d <= 3; ++d) {
    TESSERA_CHECK(h.dim[d] >= 1 && h.dim[d] <= kMaxVolumeExtent,
                  "{}: dimension {} has extent {}; expected 1..{}", path, d, h.dim[d],
                  kMaxVolumeExtent);
  }
  for (int d = 4; d <= 7 && d <= h.dim[0]; ++d) {
    TESSERA_CHECK(h.dim[d] == 1,
                  "{}: dimension {} has extent {}: a time series or vector volume ({}-D); "
                  "expected one 3-D scalar volume per file",
                  path, d, h.dim[d], h.dim[0]);
  }
  const int64_t voxels = h.dim[1] * h.dim[2] * h.dim[3];
  TESSERA_CHECK(voxels <= kMaxVolumeVoxels, "{}: {}x{}x{} = {} voxels, more than the limit {}",
                path, h.dim[1], h.dim[2], h.dim[3], voxels, kMaxVolumeVoxels);
}

}  // namespace

bool is_nifti_name(const std::string& path) {
  return ends_with_ci(path, ".nii") || ends_with_ci(path, ".nii.gz");
}

NiftiVolume::~NiftiVolume() = default;
NiftiVolume::NiftiVolume(NiftiVolume&&) noexcept = default;
NiftiVolume& NiftiVolume::operator=(NiftiVolume&&) noexcept = default;

NiftiVolume NiftiVolume::open(const std::string& path) {
  NiftiVolume v;
  v.path_ = path;
  std::error_code ec;
  TESSERA_CHECK(fs::is_regular_file(path, ec), "{}: no such file", path);
  check_raw_nifti_header(path);  // bounds nifticlib itself does not check (nifti_raw_header.h)
  nifti_set_debug_level(0);      // errors are ours, named below
  v.image_ = std::make_unique<Image>();
  v.image_->nim = nifti_image_read(path.c_str(), /*read_data=*/0);
  TESSERA_CHECK(v.image_->nim != nullptr,
                "{}: not a NIfTI volume nifticlib can read (damaged header, or not NIfTI)", path);
  nifti_image& h = *v.image_->nim;
  check_header(h, path);
  const TypeInfo* type = nullptr;
  for (const TypeInfo& t : kTypes) {
    if (t.code == h.datatype) type = &t;
  }
  TESSERA_CHECK(type != nullptr,
                "{}: voxel datatype {} ({}); supported: UINT8, INT8, INT16, UINT16, INT32, UINT32, "
                "FLOAT32, FLOAT64",
                path, nifti_datatype_string(h.datatype), h.datatype);
  v.datatype_ = type->name;
  v.integer_ = type->integer;
  v.shape_ = {h.dim[1], h.dim[2], h.dim[3]};
  const int64_t need = h.iname_offset + v.voxels() * h.nbyper;
  if (!ends_with_ci(path, ".gz")) {
    const auto size = static_cast<int64_t>(fs::file_size(path, ec));
    TESSERA_CHECK(!ec && size >= need,
                  "{}: the file holds {} bytes but its header describes {} bytes (voxel offset {} "
                  "+ {} voxels of {} bytes): truncated",
                  path, size, need, h.iname_offset, v.voxels(), h.nbyper);
  } else if (v.voxels() * h.nbyper > kNiftiGzVerifyAbove) {  // nifti_raw_header.h
    const int64_t have = decompressed_bytes_up_to(path, need);
    TESSERA_CHECK(have >= need,
                  "{}: its gzip stream holds {} bytes but its header describes {} bytes (voxel "
                  "offset {} + {} voxels of {} bytes): truncated or damaged (refused before the "
                  "voxel buffer is allocated)",
                  path, have, need, h.iname_offset, v.voxels(), h.nbyper);
  }
  TESSERA_CHECK(nifti_image_load(&h) == 0 && h.data != nullptr,
                "{}: reading its {} voxels failed (truncated or damaged data)", path, v.voxels());
  for (int d = 0; d < 3; ++d) v.spacing_[static_cast<size_t>(d)] = h.pixdim[d + 1];
  const nifti_dmat44* m = h.sform_code > 0 ? &h.sto_xyz : h.qform_code > 0 ? &h.qto_xyz : nullptr;
  v.affine_from_ = h.sform_code > 0 ? "sform" : h.qform_code > 0 ? "qform" : "pixdim";
  for (size_t r = 0; r < 4; ++r) {
    for (size_t c = 0; c < 4; ++c) {
      v.affine_[r][c] = m != nullptr ? m->m[r][c] : r == c ? (r < 3 ? v.spacing_[r] : 1.0) : 0.0;
    }
  }
  if (std::isfinite(h.scl_slope) && h.scl_slope != 0.0) {
    v.slope_ = h.scl_slope;
    v.inter_ = std::isfinite(h.scl_inter) ? h.scl_inter : 0.0;
  }
  return v;
}

double NiftiVolume::value_at(int64_t flat) const {
  const void* data = image_->nim->data;
  double raw = 0.0;
  switch (image_->nim->datatype) {
    case NIFTI_TYPE_UINT8:
      raw = static_cast<const uint8_t*>(data)[flat];
      break;
    case NIFTI_TYPE_INT8:
      raw = static_cast<const int8_t*>(data)[flat];
      break;
    case NIFTI_TYPE_INT16:
      raw = static_cast<const int16_t*>(data)[flat];
      break;
    case NIFTI_TYPE_UINT16:
      raw = static_cast<const uint16_t*>(data)[flat];
      break;
    case NIFTI_TYPE_INT32:
      raw = static_cast<const int32_t*>(data)[flat];
      break;
    case NIFTI_TYPE_UINT32:
      raw = static_cast<const uint32_t*>(data)[flat];
      break;
    case NIFTI_TYPE_FLOAT32:
      raw = static_cast<const float*>(data)[flat];
      break;
    default:
      raw = static_cast<const double*>(data)[flat];
      break;  // FLOAT64 (checked at open)
  }
  const double v = raw * slope_ + inter_;
  if (!std::isfinite(v)) throw_non_finite(flat);
  return v;
}

void NiftiVolume::throw_non_finite(int64_t flat) const {
  const int64_t i = flat % shape_[0], j = (flat / shape_[0]) % shape_[1];
  const int64_t k = flat / (shape_[0] * shape_[1]);
  TESSERA_THROW("{}: voxel (i={}, j={}, k={}) is not finite; NaN and inf voxels are refused", path_,
                i, j, k);
}

int64_t NiftiVolume::slices(int axis) const {
  TESSERA_CHECK(axis >= 0 && axis < 3, "slice axis {} out of range", axis);
  return shape_[static_cast<size_t>(axis)];
}

cv::Mat NiftiVolume::slice(int axis, int64_t index) const {
  TESSERA_CHECK(index >= 0 && index < slices(axis), "{}: slice {} along {} out of 0..{}", path_,
                index, slice_axis_name(axis), slices(axis) - 1);
  const int64_t nx = shape_[0], ny = shape_[1], nz = shape_[2];
  // (rows, cols) and the flat index of (row, col) for each axis (see the header).
  const int64_t rows = axis == 2 ? ny : nz;
  const int64_t cols = axis == 0 ? ny : nx;
  cv::Mat out(static_cast<int>(rows), static_cast<int>(cols), CV_64FC1);
  for (int64_t r = 0; r < rows; ++r) {
    auto* row = out.ptr<double>(static_cast<int>(r));
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t flat = axis == 2   ? (index * ny + r) * nx + c
                           : axis == 1 ? (r * ny + index) * nx + c
                                       : (r * ny + c) * nx + index;
      row[c] = value_at(flat);
    }
  }
  return out;
}

std::vector<float> NiftiVolume::values() const {
  std::vector<float> out(static_cast<size_t>(voxels()));
  for (int64_t n = 0; n < voxels(); ++n)
    out[static_cast<size_t>(n)] = static_cast<float>(value_at(n));
  return out;
}

int slice_axis_from_string(const std::string& name, const std::string& what) {
  if (name == "i") return 0;
  if (name == "j") return 1;
  if (name == "k") return 2;
  TESSERA_THROW("{}: slice axis '{}'; expected i, j or k (the volume's voxel axes)", what, name);
}

const char* slice_axis_name(int axis) {
  return axis == 0 ? "i" : axis == 1 ? "j" : "k";
}

}  // namespace tessera
