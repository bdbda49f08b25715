// Augmentation: random geometric and photometric transforms of one sample, drawn
// deterministically from (seed, epoch, global sample index) so that the result does not depend
// on loader threads or timing and a resumed run sees the same augmentations.
//
// Geometry (identical on input and target): a crop window (random position; size = output size,
// or output size / zoom with scale jitter), resized to the output size (bilinear for images,
// nearest for label maps), then rot90 (k quarter turns counter-clockwise, numpy.rot90
// convention; odd k only when the output is square), then horizontal / vertical flips.
// Super-resolution aware: the input is target/scale, so the crop position and window are
// multiples of `scale` in target coordinates and the input uses the same window divided by
// scale (exactly aligned; scale jitter is disabled for super-resolution because it would break
// the down-scaling relation between input and target).
// Photometric (brightness: additive, contrast: around the image mean, hue: rotation of the
// chroma plane in YIQ space, 3-channel images only), drawn in [-j, j] for j =
// data.augment.color_jitter: applied to inputs only for label-map targets; for image targets
// (translation, denoising, super-resolution, ...) the same jitter is applied to input and target
// so that the pair stays consistent. Results are clamped to [0, 1]. Colour jitter is defined for
// 1- and 3-channel images only: the loader refuses data.augment.color_jitter > 0 on data with
// another channel count (multispectral bands have no brightness/hue to jitter), while the
// geometric transforms work on any channel count.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "common/config.h"

namespace tessera {

struct AugmentGeometry {
  int height = 0, width = 0;  // stored target size
  int out_h = 0, out_w = 0;   // output target size (crop size, or the full image)
  int scale = 1;              // input = target / scale (super-resolution), else 1
};

struct AugmentParams {
  int crop_y = 0, crop_x = 0;      // window top-left, target coordinates
  int window_h = 0, window_w = 0;  // window size, target coordinates
  int out_h = 0, out_w = 0;        // output size after rotation, target coordinates
  int rot90 = 0;                   // quarter turns counter-clockwise
  bool hflip = false, vflip = false;
  float brightness = 0.0f, contrast = 1.0f, hue = 0.0f;  // hue in turns (1 = 360 degrees)

  bool identity_geometry() const;
  bool identity_color() const { return brightness == 0.0f && contrast == 1.0f && hue == 0.0f; }
};

// No transform: full image, no color change.
AugmentParams identity_augment(const AugmentGeometry& geo);

// Draws the transform of sample `index` in `epoch`. Throws if the output is larger than the
// stored image or not aligned to the scale.
AugmentParams draw_augment(const AugmentConfig& cfg, const AugmentGeometry& geo, uint64_t seed,
                           int64_t epoch, int64_t index);

// Warps a row-major HWC source (uint8 or float) into a CHW float destination of
// p.out_h/div x p.out_w/div x C, multiplying values by `value_scale` (1/255 for uint8 sources).
// `div` is the scale for super-resolution inputs (1 for targets). Bilinear unless `nearest`.
void warp_to_chw(const uint8_t* src, bool src_float, int channels, int src_h, int src_w,
                 const AugmentParams& p, int div, bool nearest, float value_scale, float* dst);

// The same for a source of a shard dtype (uint8, uint16, float32), values mapped to [0, 1] by
// dtype_value_scale (shard_format.h): 1/255, 1/65535, 1.
void warp_to_chw(const uint8_t* src, const std::string& dtype, int channels, int src_h, int src_w,
                 const AugmentParams& p, int div, bool nearest, float* dst);

// Same geometry for a uint8 HW label map into an int64 HW destination (nearest).
void warp_labels(const uint8_t* src, int src_h, int src_w, const AugmentParams& p, int64_t* dst);

// Brightness/contrast/hue on a CHW float image in place, clamped to [0, 1].
void color_jitter_chw(float* img, int channels, int h, int w, const AugmentParams& p);

}  // namespace tessera
