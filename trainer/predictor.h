// `tessera predict`: apply a trained model to real image files of any size, or to the samples
// of a dataset split, and write PNGs a person can look at.
//
// Inputs: an image file (PNG/JPEG/BMP, or a TIFF/GeoTIFF read through GDAL with
// task.in_channels bands, 8- or 16-bit, scaled as the loader scales packed data: /255, /65535),
// a directory of them, or a dataset directory (shards + manifest; its targets enable error
// overlays). Inputs with other than 3 channels are drawn through --rgb-bands. Per input stem, in --out:
//   segmentation:  <stem>_mask.png (binary 0/255, or class ids for multi-class),
//                  <stem>_color.png (multi-class palette), <stem>_overlay.png (prediction over
//                  the input; with a target: true positives green, false positives red, false
//                  negatives blue), <stem>_grid.png (input | target | prediction)
//   image tasks:   <stem>_pred.png (the output image; super-resolution: task.scale times the
//                  input size), <stem>_grid.png (input | target | prediction; the input
//                  bicubic-upscaled for super-resolution)
//   anomaly:       also <stem>_error.png (per-pixel reconstruction error heat map) and
//                  scores.csv (stem, mean squared error).
// Large images go through tiled sliding-window inference (trainer/tiling.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"

namespace tessera {

struct PredictOptions {
  std::string checkpoint = "best";  // best | latest | PATH
  std::string input;
  std::string targets;  // optional: ground truth for image-file inputs, matched by file stem
  std::string out;
  int64_t limit = 0;  // dataset inputs: samples to render (0 = eval.save_predictions)
  // Input channels drawn in the pictures (input, overlay, grid), 1-based: 3 as R,G,B or 1 as
  // grey, e.g. {4, 3, 2} (near-infrared false colour of RGB+NIR tiles). Empty: the first three
  // channels (or the only one).
  std::vector<int> rgb_bands;
};

// Returns the number of inputs written.
int64_t run_predict(const Config& cfg, const PredictOptions& opts);

}  // namespace tessera
