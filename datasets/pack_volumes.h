// NIfTI volumes into `tessera pack --task segmentation`: image and label volumes become 2D
// slice samples, with the intensity mapping the user states (docs/data-format.md, "NIfTI
// volumes").
//
// Inputs are image volumes (.nii / .nii.gz), targets label volumes of the same grid, matched by
// stem as images are (nnU-Net's single-channel names `case_0000.nii.gz` match `case.nii.gz`;
// a second channel `case_0001` is refused: one modality per dataset). Each volume is one item of
// the split, so a volume's slices all land in the same split (split by volume, never by slice).
//
// Every slice along --slice-axis (i, j or k; default k) is one image, fitted to --size like any
// image (--fit resize | center-crop | tile; labels nearest). Inputs are stored as uint16, one
// channel: the voxel values v (after the header's scaling) are clipped to a window [lo, hi] of
// the volume and stored as round((v - lo) / (hi - lo) * 65535) (half up), so the loader's [0, 1]
// inputs are (v - lo) / (hi - lo). The window comes from --intensity (required for volumes):
//   window:LO,HI      fixed, in the file's units (CT Hounsfield units, e.g. window:-160,240)
//   percentile:P,Q    the volume's own P-th and Q-th percentiles (MR, e.g. percentile:0.5,99.5)
//   zscore:K          the volume's mean -/+ K standard deviations (MR per-volume z-score,
//                     clipped at K: the stored value is (z + K) / 2K)
// Labels: integer voxel values 0..classes-1 (binary: 0/1), --ignore-value V stored as 255; any
// other value is refused naming the file, a voxel and the count. The label volume must have the
// image's shape and affine (within 1e-4 of its scale), or the pair is refused naming both.
//
// The manifest's `sources` gets one entry per volume (volume_source): its files, sample range,
// shape, spacing, affine, datatype, axis, samples per slice and the window used, so sample s of
// the entry is slice (s - first_sample) / samples_per_slice of the volume.
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/label_maps.h"
#include "datasets/nifti_volume.h"
#include "datasets/pack_images.h"
#include "datasets/sample.h"

namespace tessera {

struct IntensityMapping {
  enum class Mode { window, percentile, zscore } mode = Mode::window;
  double a = 0.0, b = 0.0;  // window: lo, hi; percentile: P, Q; zscore: K (in a)
  std::string text;         // as given
};

// Parses --intensity; throws naming the accepted forms.
IntensityMapping parse_intensity(const std::string& text);

struct Window {
  double lo = 0.0, hi = 0.0;
};
// The window of one volume under `mapping` (percentiles and moments over all its voxels);
// throws naming the file when it is empty (hi <= lo: a constant volume).
Window volume_window(const IntensityMapping& mapping, const NiftiVolume& volume);

// One slice (CV_64FC1) as CV_16UC1 through the window.
cv::Mat window_to_u16(const cv::Mat& slice, const Window& w);

// Label slice `index` along `axis` (CV_64FC1) as CV_8UC1 labels; errors name `where` (the file),
// the slice and the first bad voxel as (i, j, k).
cv::Mat labels_to_u8(const cv::Mat& slice, const LabelMapOptions& options, const std::string& where,
                     int axis, int64_t index);

struct VolumeOptions {
  int axis = 2;
  IntensityMapping intensity;
  int size = 128;
  FitMode fit = FitMode::resize;
};

// The samples of one (image volume, label volume) pair, in slice order; `source` (optional)
// receives its manifest entry with first_sample 0 (the caller sets it).
std::vector<Sample> volume_samples(const VolumeOptions& options, const LabelMapOptions& labels,
                                   const std::string& image_path, const std::string& label_path,
                                   nlohmann::json* source = nullptr);

}  // namespace tessera
