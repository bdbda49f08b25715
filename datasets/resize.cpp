// Antialiased bicubic resampling (MATLAB imresize / PIL BICUBIC): see resize.h.
#include "datasets/resize.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace tessera {

namespace {

// Input index j (any integer) mirrored into 0..n-1: -1 -> 0, -2 -> 1, n -> n-1, n+1 -> n-2,
// periodic with period 2n (so supports wider than the image still land inside).
int reflect(int j, int n) {
  const int period = 2 * n;
  int m = j % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

}  // namespace

double cubic_kernel(double x) {
  const double t = std::fabs(x);
  if (t <= 1.0) return (1.5 * t - 2.5) * t * t + 1.0;
  if (t < 2.0) return ((-0.5 * t + 2.5) * t - 4.0) * t + 2.0;
  return 0.0;
}

AxisWeights cubic_axis_weights(int in_size, int out_size, ResizeEdge edge) {
  TESSERA_CHECK(in_size >= 1 && out_size >= 1, "resize: sizes must be >= 1, got {} -> {}", in_size,
                out_size);
  const double scale = static_cast<double>(in_size) / out_size;
  const double widen = std::max(1.0, scale);  // antialiasing: the kernel stretched by s
  const double support = 2.0 * widen;         // half-width in input pixels
  AxisWeights a;
  a.in_size = in_size;
  a.out_size = out_size;
  a.taps = static_cast<int>(std::ceil(2.0 * support)) + 2;
  a.index.assign(static_cast<size_t>(out_size) * a.taps, 0);
  a.weight.assign(static_cast<size_t>(out_size) * a.taps, 0.0f);
  std::vector<double> w(static_cast<size_t>(a.taps));
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;  // in input coordinates; pixel j's centre is j + 0.5
    const int first = static_cast<int>(std::floor(center - support - 0.5));
    double sum = 0.0;
    for (int t = 0; t < a.taps; ++t) {
      const int j = first + t;
      const bool inside = j >= 0 && j < in_size;
      w[t] = (inside || edge == ResizeEdge::symmetric) ? cubic_kernel((j + 0.5 - center) / widen)
                                                       : 0.0;
      sum += w[t];
    }
    TESSERA_CHECK(sum > 0.0, "resize: no weight for output pixel {} of {} -> {}", i, in_size,
                  out_size);
    for (int t = 0; t < a.taps; ++t) {
      const int j = first + t;
      const size_t k = static_cast<size_t>(i) * a.taps + t;
      a.index[k] =
          edge == ResizeEdge::symmetric ? reflect(j, in_size) : std::clamp(j, 0, in_size - 1);
      a.weight[k] = static_cast<float>(w[t] / sum);
    }
  }
  return a;
}

cv::Mat resize_bicubic_aa(const cv::Mat& src, cv::Size size, ResizeEdge edge) {
  TESSERA_CHECK(!src.empty() && src.depth() == CV_8U,
                "resize: expected a non-empty 8-bit image, got depth {} ({}x{})", src.depth(),
                src.cols, src.rows);
  TESSERA_CHECK(size.width >= 1 && size.height >= 1, "resize: output size {}x{} must be positive",
                size.width, size.height);
  const int c = src.channels();
  const AxisWeights hx = cubic_axis_weights(src.cols, size.width, edge);
  const AxisWeights vy = cubic_axis_weights(src.rows, size.height, edge);

  // Horizontal pass: src rows x (out width * c), in float.
  const size_t row_len = static_cast<size_t>(size.width) * c;
  std::vector<float> mid(static_cast<size_t>(src.rows) * row_len, 0.0f);
  for (int y = 0; y < src.rows; ++y) {
    const uint8_t* in = src.ptr<uint8_t>(y);
    float* out = mid.data() + static_cast<size_t>(y) * row_len;
    for (int x = 0; x < size.width; ++x) {
      float* px = out + static_cast<size_t>(x) * c;
      const size_t base = static_cast<size_t>(x) * hx.taps;
      for (int t = 0; t < hx.taps; ++t) {
        const float wt = hx.weight[base + t];
        if (wt == 0.0f) continue;
        const uint8_t* s = in + static_cast<size_t>(hx.index[base + t]) * c;
        for (int ch = 0; ch < c; ++ch) px[ch] += wt * static_cast<float>(s[ch]);
      }
    }
  }

  // Vertical pass over whole rows, then one rounding and clamp to uint8.
  cv::Mat dst(size, CV_8UC(c));
  std::vector<float> acc(row_len);
  for (int y = 0; y < size.height; ++y) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    const size_t base = static_cast<size_t>(y) * vy.taps;
    for (int t = 0; t < vy.taps; ++t) {
      const float wt = vy.weight[base + t];
      if (wt == 0.0f) continue;
      const float* row = mid.data() + static_cast<size_t>(vy.index[base + t]) * row_len;
      for (size_t k = 0; k < row_len; ++k) acc[k] += wt * row[k];
    }
    uint8_t* out = dst.ptr<uint8_t>(y);
    for (size_t k = 0; k < row_len; ++k) {
      const float v = std::clamp(acc[k], 0.0f, 255.0f);
      out[k] = static_cast<uint8_t>(v + 0.5f);
    }
  }
  return dst;
}

}  // namespace tessera
