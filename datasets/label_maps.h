// Label maps of `tessera pack --task segmentation`: the mask formats datasets come in, turned
// into stored uint8 label values (docs/data-format.md, "Bringing segmentation masks").
//
//   grey masks       8- or 16-bit single channel (or 3 identical channels): the values are the
//                    labels. Binary (classes 1): {0,1} kept, otherwise value >= half the range
//                    -> 1 (0/255 masks, tolerant of JPEG noise). Multi-class: values 0..classes-1.
//   palette PNGs     (PNG colour type 3, VOC / ADE20K style): the colour indices are the labels,
//                    not the colours (read through libpng, datasets/png_palette.h). Binary:
//                    indices must be 0/1.
//   colour masks     with a class table (`--palette FILE`, CamVid / Cityscapes style): each
//                    pixel's RGB is looked up in the table (palette PNGs are expanded to their
//                    colours first). A colour not in the table is an error naming the file, the
//                    first such pixel, its colour and how many pixels have unknown colours.
//   ignored pixels   `--ignore-value V` (grey value or palette index V), or table rows whose
//                    class is `ignore`: stored as kIgnoreLabel (255); the dataset's manifest then
//                    has targets.ignore_index 255 and training needs loss.ignore_index 255.
// Any other value is an error naming the file, the value, a pixel and the count of such pixels.
//
// Class table (CSV, one header line; blank lines and lines starting with '#' skipped):
//   name,r,g,b[,class]     r, g, b in 0..255; `class` is a label 0..classes-1 or `ignore`.
//   Without a class column the rows are the classes in order (one row per label value: classes,
//   or 2 for binary). Several colours may map to one class; a colour may appear only once.
// Thread safety: pure functions; a ClassPalette is immutable after read_class_palette.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

inline constexpr int kIgnoreLabel = 255;

struct PaletteClass {
  std::string name;
  uint8_t r = 0, g = 0, b = 0;
  int label = 0;  // a class label, or kIgnoreLabel
};

struct ClassPalette {
  std::string path;
  std::vector<PaletteClass> entries;
  std::vector<uint32_t> keys;   // sorted (r << 16 | g << 8 | b), for lookup
  std::vector<uint8_t> labels;  // label of keys[k]
  bool has_ignore = false;      // some row maps to kIgnoreLabel
};

// Reads and checks a class table for `classes` (1 = binary); errors name the file and line.
ClassPalette read_class_palette(const std::string& path, int classes);

// One name per label value (classes, or 2 for binary) from the table: the first row of each
// class; "class_K" for a class no row names.
std::vector<std::string> class_names(const ClassPalette& palette, int classes);

struct LabelMapOptions {
  int classes = 1;
  int ignore_value = -1;                 // source value stored as kIgnoreLabel; -1 = none
  const ClassPalette* palette = nullptr;  // colour masks; not owned
};

// Decodes a label map as CV_8UC1 with values in 0..max(1, classes - 1), or kIgnoreLabel.
// `page` >= 0: that page (0-based) of a multi-page TIFF of masks.
cv::Mat read_label_map(const std::string& path, const LabelMapOptions& options, int page = -1);

}  // namespace tessera
