#include "datasets/augment.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "datasets/random.h"
#include "datasets/shard_format.h"

namespace tessera {

bool AugmentParams::identity_geometry() const {
  return crop_y == 0 && crop_x == 0 && window_h == out_h && window_w == out_w && rot90 == 0 &&
         !hflip && !vflip;
}

AugmentParams identity_augment(const AugmentGeometry& geo) {
  AugmentParams p;
  p.window_h = p.out_h = geo.height;
  p.window_w = p.out_w = geo.width;
  return p;
}

AugmentParams draw_augment(const AugmentConfig& cfg, const AugmentGeometry& geo, uint64_t seed,
                           int64_t epoch, int64_t index) {
  const int s = geo.scale;
  TESSERA_CHECK(geo.out_h <= geo.height && geo.out_w <= geo.width,
                "augmentation: output {}x{} is larger than the stored images {}x{}", geo.out_h,
                geo.out_w, geo.height, geo.width);
  TESSERA_CHECK(geo.out_h % s == 0 && geo.out_w % s == 0,
                "augmentation: output {}x{} must be a multiple of the super-resolution scale {}",
                geo.out_h, geo.out_w, s);
  Rng rng(
      mix_seed({seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(index), 0x61756700ull}));
  AugmentParams p;
  // Window size (scale jitter: zoom in [1/(1+j), 1+j], log-uniform; not for super-resolution).
  int wh = geo.out_h, ww = geo.out_w;
  if (cfg.scale_jitter > 0.0f && s == 1) {
    double lim = std::log1p(static_cast<double>(cfg.scale_jitter));
    double zoom = std::exp(rng.uniform(-lim, lim));
    wh = std::clamp(static_cast<int>(std::lround(geo.out_h / zoom)), 1, geo.height);
    ww = std::clamp(static_cast<int>(std::lround(geo.out_w / zoom)), 1, geo.width);
  }
  p.window_h = wh;
  p.window_w = ww;
  if (cfg.crop) {
    // Positions in units of the scale so the input window is exactly aligned.
    p.crop_y = static_cast<int>(rng.uniform(static_cast<uint64_t>((geo.height - wh) / s + 1))) * s;
    p.crop_x = static_cast<int>(rng.uniform(static_cast<uint64_t>((geo.width - ww) / s + 1))) * s;
  } else {
    p.crop_y = (geo.height - wh) / (2 * s) * s;  // centred (equal sizes: 0)
    p.crop_x = (geo.width - ww) / (2 * s) * s;
  }
  int k = 0;
  if (cfg.rot90) {
    k = static_cast<int>(rng.uniform(4));
    if (geo.out_h != geo.out_w) k &= 2;  // only half turns keep a non-square shape
  }
  p.rot90 = k;
  p.out_h = (k % 2) ? geo.out_w : geo.out_h;
  p.out_w = (k % 2) ? geo.out_h : geo.out_w;
  p.hflip = cfg.hflip && rng.coin();
  p.vflip = cfg.vflip && rng.coin();
  if (cfg.color_jitter > 0.0f) {
    double j = cfg.color_jitter;
    p.brightness = static_cast<float>(rng.uniform(-j, j));
    p.contrast = static_cast<float>(rng.uniform(1.0 - j, 1.0 + j));
    p.hue = static_cast<float>(rng.uniform(-j, j) * 0.5);
  }
  return p;
}

namespace {

// For an output pixel (i, j) of the rotated/flipped image, the pixel (a, b) of the resized,
// un-rotated window (size rh x rw).
inline void unrotate(int i, int j, int oh, int ow, int rh, int rw, const AugmentParams& p, int& a,
                     int& b) {
  if (p.vflip) i = oh - 1 - i;
  if (p.hflip) j = ow - 1 - j;
  switch (p.rot90) {
    case 1:
      a = j;
      b = rw - 1 - i;
      break;
    case 2:
      a = rh - 1 - i;
      b = rw - 1 - j;
      break;
    case 3:
      a = rh - 1 - j;
      b = i;
      break;
    default:
      a = i;
      b = j;
      break;
  }
}

struct Tap {
  int i0 = 0, i1 = 0;
  float w1 = 0.0f;  // weight of i1
};

// Source taps along one axis: window [start, start+win) of a source of length `len`, resized
// to `out` samples.
std::vector<Tap> taps(int start, int win, int out, int len, bool nearest) {
  std::vector<Tap> t(static_cast<size_t>(out));
  double ratio = static_cast<double>(win) / out;
  for (int a = 0; a < out; ++a) {
    Tap& x = t[static_cast<size_t>(a)];
    if (win == out) {
      x.i0 = x.i1 = start + a;
    } else if (nearest) {
      x.i0 = x.i1 = start + std::min(win - 1, static_cast<int>(std::floor((a + 0.5) * ratio)));
    } else {
      double c = std::clamp((a + 0.5) * ratio - 0.5, 0.0, static_cast<double>(win - 1));
      int c0 = static_cast<int>(std::floor(c));
      x.i0 = start + c0;
      x.i1 = start + std::min(c0 + 1, win - 1);
      x.w1 = static_cast<float>(c - c0);
    }
    x.i0 = std::clamp(x.i0, 0, len - 1);
    x.i1 = std::clamp(x.i1, 0, len - 1);
  }
  return t;
}

template <typename T, typename Out>
void warp_impl(const T* src, int C, int sh, int sw, const AugmentParams& p, int div, bool nearest,
               float vs, Out* dst, bool planar) {
  int oh = p.out_h / div, ow = p.out_w / div;
  int rh = (p.rot90 % 2) ? ow : oh, rw = (p.rot90 % 2) ? oh : ow;
  const int y0 = p.crop_y / div, x0 = p.crop_x / div;
  if (p.window_h / div == rh && p.window_w / div == rw) {
    // No resizing: an integer mapping. Along an output row the source offset changes by a
    // constant step (+-C or +-src_w*C depending on rotation/flip).
    TESSERA_CHECK(y0 >= 0 && x0 >= 0 && y0 + rh <= sh && x0 + rw <= sw,
                  "augmentation window {}x{} at ({}, {}) exceeds the {}x{} image", rh, rw, y0, x0,
                  sh, sw);
    const size_t plane = static_cast<size_t>(oh) * ow;
    for (int i = 0; i < oh; ++i) {
      int a, b;
      unrotate(i, 0, oh, ow, rh, rw, p, a, b);
      const ptrdiff_t off0 = (static_cast<ptrdiff_t>(y0 + a) * sw + (x0 + b)) * C;
      ptrdiff_t step = 0;
      if (ow > 1) {
        unrotate(i, 1, oh, ow, rh, rw, p, a, b);
        step = (static_cast<ptrdiff_t>(y0 + a) * sw + (x0 + b)) * C - off0;
      }
      for (int c = 0; c < C; ++c) {
        const T* s = src + off0 + c;
        if (planar) {
          Out* d = dst + c * plane + static_cast<size_t>(i) * ow;
          for (int j = 0; j < ow; ++j) d[j] = static_cast<Out>(s[j * step] * vs);
        } else {
          Out* d = dst + static_cast<size_t>(i) * ow * C + c;
          for (int j = 0; j < ow; ++j) d[j * C] = static_cast<Out>(s[j * step] * vs);
        }
      }
    }
    return;
  }
  auto ty = taps(p.crop_y / div, p.window_h / div, rh, sh, nearest);
  auto tx = taps(p.crop_x / div, p.window_w / div, rw, sw, nearest);
  const size_t plane = static_cast<size_t>(oh) * ow;
  for (int i = 0; i < oh; ++i) {
    for (int j = 0; j < ow; ++j) {
      int a, b;
      unrotate(i, j, oh, ow, rh, rw, p, a, b);
      const Tap& y = ty[static_cast<size_t>(a)];
      const Tap& x = tx[static_cast<size_t>(b)];
      size_t o = static_cast<size_t>(i) * ow + j;
      const T* p00 = src + (static_cast<size_t>(y.i0) * sw + x.i0) * C;
      if (y.w1 == 0.0f && x.w1 == 0.0f) {
        for (int c = 0; c < C; ++c) {
          dst[planar ? c * plane + o : o * C + c] = static_cast<Out>(p00[c] * vs);
        }
        continue;
      }
      const T* p01 = src + (static_cast<size_t>(y.i0) * sw + x.i1) * C;
      const T* p10 = src + (static_cast<size_t>(y.i1) * sw + x.i0) * C;
      const T* p11 = src + (static_cast<size_t>(y.i1) * sw + x.i1) * C;
      float wy = y.w1, wx = x.w1;
      for (int c = 0; c < C; ++c) {
        float top = static_cast<float>(p00[c]) * (1 - wx) + static_cast<float>(p01[c]) * wx;
        float bot = static_cast<float>(p10[c]) * (1 - wx) + static_cast<float>(p11[c]) * wx;
        dst[planar ? c * plane + o : o * C + c] =
            static_cast<Out>((top * (1 - wy) + bot * wy) * vs);
      }
    }
  }
}

}  // namespace

void warp_to_chw(const uint8_t* src, bool src_float, int channels, int src_h, int src_w,
                 const AugmentParams& p, int div, bool nearest, float value_scale, float* dst) {
  if (src_float) {
    // Source bytes may be unaligned for float: copy once.
    std::vector<float> f(static_cast<size_t>(src_h) * src_w * channels);
    std::memcpy(f.data(), src, f.size() * sizeof(float));
    warp_impl(f.data(), channels, src_h, src_w, p, div, nearest, value_scale, dst, true);
  } else {
    warp_impl(src, channels, src_h, src_w, p, div, nearest, value_scale, dst, true);
  }
}

void warp_to_chw(const uint8_t* src, const std::string& dtype, int channels, int src_h, int src_w,
                 const AugmentParams& p, int div, bool nearest, float* dst) {
  dtype_size(dtype);  // throws on an unknown dtype
  // As float: the same factors the loader always used for uint8 (1.0f / 255.0f), bit for bit.
  const float vs = dtype == "uint8" ? 1.0f / 255.0f : dtype == "uint16" ? 1.0f / 65535.0f : 1.0f;
  if (dtype == "uint16") {
    // Source bytes may be unaligned for uint16: copy once.
    std::vector<uint16_t> u(static_cast<size_t>(src_h) * src_w * channels);
    std::memcpy(u.data(), src, u.size() * sizeof(uint16_t));
    warp_impl(u.data(), channels, src_h, src_w, p, div, nearest, vs, dst, true);
    return;
  }
  warp_to_chw(src, dtype == "float32", channels, src_h, src_w, p, div, nearest, vs, dst);
}

void warp_labels(const uint8_t* src, int src_h, int src_w, const AugmentParams& p, int64_t* dst) {
  warp_impl(src, 1, src_h, src_w, p, 1, true, 1.0f, dst, true);
}

void color_jitter_chw(float* img, int channels, int h, int w, const AugmentParams& p) {
  if (p.identity_color()) return;
  const size_t plane = static_cast<size_t>(h) * w;
  const size_t n = plane * channels;
  double mean = 0.0;
  for (size_t k = 0; k < n; ++k) mean += img[k];
  const float m = static_cast<float>(mean / static_cast<double>(n));
  // v' = clamp(contrast * (H v - m) + m + brightness), H = hue rotation (identity unless RGB):
  // folded into one affine map per pixel.
  const float c = p.contrast;
  const float off = m * (1.0f - c) + p.brightness;
  if (channels == 3 && p.hue != 0.0f) {
    // Rotation of the chroma (I, Q) plane of YIQ by the hue angle, Y (luma) unchanged:
    // H = T^-1 R T with T the RGB->YIQ matrix.
    static const float T[3][3] = {
        {0.299f, 0.587f, 0.114f}, {0.596f, -0.274f, -0.322f}, {0.211f, -0.523f, 0.312f}};
    static const float Ti[3][3] = {
        {1.0f, 0.956f, 0.621f}, {1.0f, -0.272f, -0.647f}, {1.0f, -1.106f, 1.703f}};
    const float th = p.hue * 2.0f * 3.14159265358979f;
    const float cs = std::cos(th), sn = std::sin(th);
    const float R[3][3] = {{1, 0, 0}, {0, cs, -sn}, {0, sn, cs}};
    float RT[3][3], M[3][3];
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) {
        RT[i][j] = R[i][0] * T[0][j] + R[i][1] * T[1][j] + R[i][2] * T[2][j];
      }
    }
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) {
        M[i][j] = c * (Ti[i][0] * RT[0][j] + Ti[i][1] * RT[1][j] + Ti[i][2] * RT[2][j]);
      }
    }
    float* r = img;
    float* g = img + plane;
    float* b = img + 2 * plane;
    for (size_t k = 0; k < plane; ++k) {
      const float r0 = r[k], g0 = g[k], b0 = b[k];
      r[k] = std::clamp(M[0][0] * r0 + M[0][1] * g0 + M[0][2] * b0 + off, 0.0f, 1.0f);
      g[k] = std::clamp(M[1][0] * r0 + M[1][1] * g0 + M[1][2] * b0 + off, 0.0f, 1.0f);
      b[k] = std::clamp(M[2][0] * r0 + M[2][1] * g0 + M[2][2] * b0 + off, 0.0f, 1.0f);
    }
    return;
  }
  for (size_t k = 0; k < n; ++k) img[k] = std::clamp(img[k] * c + off, 0.0f, 1.0f);
}

}  // namespace tessera
