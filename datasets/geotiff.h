// GeoTIFF / TIFF rasters read through GDAL, for `tessera pack` and `tessera predict`: any band
// count (RGB + near-infrared, 13-band multispectral, ...), 8- or 16-bit unsigned samples, kept
// exactly as stored (no scaling, band order as in the file, interleaved H x W x bands), with the
// file's georeferencing (geotransform, projection WKT, EPSG code when GDAL identifies one).
//
// Only GDAL's GTiff driver is allowed: a file named .tif that is not a TIFF (a PNG renamed, a
// truncated file) is refused naming the file. Refused likewise, before any pixel is allocated:
// more than kMaxTiffSide pixels a side or kMaxTiffPixels pixels, more than kMaxTiffBands bands,
// bands of different sample types, sample types other than Byte/UInt16 (Int16, Float32, complex,
// ...). Multi-page TIFFs (stacks such as the ISBI 2012 EM sections; GDAL subdatasets) are read
// one page at a time (`page` >= 0, through GDAL's GTIFF_DIR:N:file); a caller that does not
// name a page (page -1) gets a multi-page file refused, naming its page count.
//
// GDAL handles are owned by RAII wrappers (GDALClose in a destructor). GDAL's own error
// messages are captured, not printed, and appended to the thrown tessera::Error.
// Thread safety: functions may be called from any thread (GDAL datasets are not shared).
#pragma once

#include <opencv2/core.hpp>

#include <array>
#include <cstdint>
#include <string>

namespace tessera {

inline constexpr int kMaxTiffSide = 32768;
inline constexpr uint64_t kMaxTiffPixels = uint64_t{1} << 28;
inline constexpr int kMaxTiffBands = 64;
inline constexpr int kMaxTiffPages = 65536;

struct GeoReference {
  bool has_geotransform = false;
  // GDAL order: x0, pixel width, row rotation, y0, column rotation, pixel height (negative for
  // north-up). Pixel (col, row) has its top-left corner at x0 + col*gt[1] + row*gt[2],
  // y0 + col*gt[4] + row*gt[5].
  std::array<double, 6> geotransform{0, 1, 0, 0, 0, 1};
  std::string projection_wkt;  // "" = none
  int epsg = 0;                // 0 = not identified
};

struct RasterHeader {
  int width = 0, height = 0, bands = 0;
  int bits = 8;             // 8 (Byte) or 16 (UInt16)
  std::string sample_type;  // GDAL name: "Byte", "UInt16"
  bool alpha_last = false;  // the last band is an alpha band (colour interpretation Alpha)
  GeoReference geo;
};

// TIFF file name (.tif / .tiff, any case): these go through GDAL in pack and predict.
bool is_tiff_name(const std::string& path);

// Number of pages (image file directories) of a TIFF: 1 for a single-page file; at most
// kMaxTiffPages, else refused.
int tiff_pages(const std::string& path);

// Opens the file (page `page`, 0-based, of a multi-page TIFF; -1: the file must have one page),
// checks everything listed above, reads no pixels.
RasterHeader read_tiff_header(const std::string& path, int page = -1);

// Reads every band: CV_8UC(bands) or CV_16UC(bands), band order as stored (band 1 first).
// `header` (optional) receives the header; `page` as for read_tiff_header.
cv::Mat read_tiff(const std::string& path, RasterHeader* header = nullptr, int page = -1);

}  // namespace tessera
