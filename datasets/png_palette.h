// Palette PNGs (PNG colour type 3) read as their colour indices, through libpng.
//
// Segmentation datasets such as Pascal VOC and ADE20K store a mask as a palette PNG whose pixel
// values are the class indices and whose palette only colours them for viewing. OpenCV's decoder
// expands the palette to colours, which loses the index, so `tessera pack` reads these files
// here (datasets/label_maps.h decides what the indices mean).
//
// libpng reports errors by longjmp; every libpng call runs in a small C-style function holding
// only plain data, so no C++ object's destructor is skipped, and the handles are owned by an
// RAII holder that outlives those functions. Thread safety: independent calls are safe.
#pragma once

#include <opencv2/core.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tessera {

struct PaletteImage {
  cv::Mat indices;                              // CV_8UC1, one palette index per pixel
  std::vector<std::array<uint8_t, 3>> colours;  // the PLTE entries, RGB
};

// Images larger than this per side are refused before anything is allocated.
inline constexpr uint32_t kMaxPngSide = 1u << 15;

// The indices of a palette PNG (any bit depth 1..8, interlaced or not); nullopt when `path` is
// not a PNG file or is a PNG of another colour type (grey, RGB, ...). Throws tessera::Error
// naming the file when it cannot be opened, is damaged (libpng's message), or is larger than
// kMaxPngSide.
std::optional<PaletteImage> read_palette_png(const std::string& path);

}  // namespace tessera
