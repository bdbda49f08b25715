// Input images of `tessera pack` with any band count and 8- or 16-bit samples: how the dataset's
// input channels and dtype are decided, how each file is read into them, and the manifest's
// `sources` entries that keep each TIFF's georeferencing (docs/data-format.md, "Multi-band and
// 16-bit GeoTIFF tiles").
//
// The input format comes from the first input file (in file-name order) and --channels:
//   TIFF (.tif/.tiff, read through GDAL, datasets/geotiff.h): channels = --channels, or the
//     file's band count (less an alpha band, which is dropped as from RGBA PNGs) when
//     --channels is not given (0); dtype uint8 for Byte samples, uint16
//     for UInt16 samples: 16-bit values are stored as they are (never scaled to 8 bits), and the
//     loader maps them to [0, 1] by 1/65535 (shard_format.h, dtype_value_scale).
//   anything else (PNG, JPEG, BMP): channels = --channels or 3, dtype uint8; read exactly as
//     before (pack_images.h, read_image: 1 or 3 channels, 16-bit PNGs scaled to 8 bits).
//   NIfTI (.nii/.nii.gz): channels 1, dtype uint16, slices windowed (datasets/pack_volumes.h).
// Every later file must agree: a TIFF with another band count (a 1-band TIFF into 3 channels is
// replicated, as grey PNGs are), with another sample type, or a PNG/JPEG into a uint16 or
// N-channel dataset is refused naming the file, what it has and what the first file set.
// Multi-band (channels other than 1 and 3) and 16-bit inputs are packed for --task segmentation
// (label-map targets); other tasks refuse them (pack.cpp).
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include <array>
#include <string>
#include <vector>

#include "datasets/geotiff.h"
#include "datasets/pack_images.h"

namespace tessera {

struct InputFormat {
  int channels = 3;
  std::string dtype = "uint8";  // uint8 | uint16
  bool tiff = false;            // the first file is a TIFF (sources go into the manifest)
  bool volume = false;          // the first file is a NIfTI volume (pack_volumes.h): 1 x uint16
  std::string first_file;       // named in errors
};

// `channels_option`: --channels, 0 = not given.
InputFormat resolve_input_format(const std::string& first_input, int channels_option);

// Reads one input file in the dataset's format: CV_8UC(channels) or CV_16UC(channels), band
// order as stored (RGB for PNG/JPEG). `header` receives the TIFF header (left untouched for
// other files).
// `page` >= 0: that page (0-based) of a multi-page TIFF; -1 refuses a multi-page file.
cv::Mat read_input_image(const std::string& path, const InputFormat& format,
                         RasterHeader* header = nullptr, int page = -1);

// The manifest `sources` entry of one TIFF input: file (and target), the split's sample range
// [first_sample, first_sample + samples), size, bands, sample type, and its georeferencing with
// the geotransform of every sample it gave (the patch's own pixel grid after --fit).
nlohmann::json source_entry(const std::string& input, const std::string& target,
                            const RasterHeader& header, int64_t first_sample, int64_t samples,
                            int size, FitMode mode);

// Geotransforms of the patches fit_image() makes of a width x height image with geotransform
// `gt` (resize: pixel size scaled; center-crop: scaled and offset; tile: offset per tile, in
// fit_image's row-major order).
std::vector<std::array<double, 6>> patch_geotransforms(const std::array<double, 6>& gt, int width,
                                                       int height, int size, FitMode mode);

}  // namespace tessera
