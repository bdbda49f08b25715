// Antialiased bicubic resampling: the "bicubic" of the super-resolution literature (MATLAB's
// imresize, BasicSR's matlab_functions.imresize, PIL's Image.BICUBIC), written here once.
//
// The kernel is the cubic convolution kernel of Keys with a = -0.5:
//   k(x) = 1.5|x|^3 - 2.5|x|^2 + 1          for |x| <= 1
//        = -0.5|x|^3 + 2.5|x|^2 - 4|x| + 2  for 1 < |x| < 2,   0 beyond.
// Each axis is resampled on its own (horizontal pass, then vertical pass). With s = in / out per
// axis, output pixel i is centred at input coordinate (i + 0.5) s (pixel j covers [j, j+1), so
// pixel centres are aligned as in imresize and PIL, not corners). When shrinking (s > 1) the
// kernel is widened by s, so it low-pass filters before sampling (antialiasing) and spans
// 4 s input pixels; when enlarging it is the plain 4-tap kernel. The weights of every output
// pixel are normalised to sum to 1. Pixels beyond the image border come from
//   - ResizeEdge::symmetric: mirror reflection without repeating the edge pixel's mirror axis
//     (index -1 -> 0, -2 -> 1, n -> n-1), as MATLAB's imresize and BasicSR do (the default);
//   - ResizeEdge::renormalize: not at all; the taps inside the image are renormalised to sum
//     to 1, as PIL does. The two differ only in the first and last ~2 s output pixels.
// Weights are precomputed per output pixel (AxisWeights), accumulated in float, and the result
// is rounded (half up) and clamped to [0, 255] once, at the end (no rounding between passes,
// as MATLAB; PIL rounds after each pass, which can differ by one level).
//
// Non-integer ratios and odd sizes are allowed (37x29 -> 12x9): s is in / out of that axis, as in
// PIL and in imresize given an output size. (imresize given a *factor* 1/3 would instead make
// ceil(37/3) = 13 pixels with s = 3 exactly.)
// Thread safety: pure functions on values.
#pragma once

#include <opencv2/core.hpp>

#include <vector>

namespace tessera {

enum class ResizeEdge { symmetric, renormalize };

// Keys' cubic kernel with a = -0.5.
double cubic_kernel(double x);

// The taps of one axis: output pixel i reads input pixels index[i * taps + t] with weights
// weight[i * taps + t], t < taps (unused taps have weight 0). Indices are inside 0..in_size-1.
struct AxisWeights {
  int in_size = 0, out_size = 0, taps = 0;
  std::vector<int> index;
  std::vector<float> weight;
};

// Throws tessera::Error unless both sizes are >= 1.
AxisWeights cubic_axis_weights(int in_size, int out_size, ResizeEdge edge);

// `src` 8-bit (CV_8UC(n), any n >= 1) resampled to `size` (width, height). Returns a new
// CV_8UC(n) image. Throws tessera::Error for other depths or empty images or sizes.
cv::Mat resize_bicubic_aa(const cv::Mat& src, cv::Size size,
                          ResizeEdge edge = ResizeEdge::symmetric);

}  // namespace tessera
