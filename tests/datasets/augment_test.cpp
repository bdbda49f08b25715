// Augmentations: determinism from (seed, epoch, index), identical geometry on input and target,
// super-resolution alignment, rot90/flip conventions, photometric jitter on inputs only.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "datasets/augment.h"

namespace tessera {
namespace {

AugmentConfig all_on(float scale_jitter = 0.0f, float color = 0.2f) {
  AugmentConfig c;
  c.hflip = c.vflip = c.rot90 = c.crop = true;
  c.scale_jitter = scale_jitter;
  c.color_jitter = color;
  return c;
}

TEST(Augment, DeterministicPerSeedEpochIndex) {
  AugmentGeometry g{32, 32, 16, 16, 1};
  auto a = draw_augment(all_on(0.3f), g, 7, 2, 100);
  auto b = draw_augment(all_on(0.3f), g, 7, 2, 100);
  EXPECT_EQ(a.crop_y, b.crop_y);
  EXPECT_EQ(a.crop_x, b.crop_x);
  EXPECT_EQ(a.window_h, b.window_h);
  EXPECT_EQ(a.rot90, b.rot90);
  EXPECT_EQ(a.hflip, b.hflip);
  EXPECT_EQ(a.brightness, b.brightness);
  std::set<std::tuple<int, int, int, bool, bool>> variety;
  for (int64_t i = 0; i < 200; ++i) {
    auto p = draw_augment(all_on(), g, 7, 2, i);
    EXPECT_GE(p.crop_y, 0);
    EXPECT_LE(p.crop_y + p.window_h, 32);
    EXPECT_LE(p.crop_x + p.window_w, 32);
    EXPECT_LE(std::abs(p.brightness), 0.2f);
    EXPECT_LE(std::abs(p.contrast - 1.0f), 0.2f);
    variety.insert({p.crop_y, p.crop_x, p.rot90, p.hflip, p.vflip});
  }
  EXPECT_GT(variety.size(), 100u);
  auto other_epoch = draw_augment(all_on(), g, 7, 3, 100);
  auto same_epoch = draw_augment(all_on(), g, 7, 2, 100);
  EXPECT_FALSE(other_epoch.crop_y == same_epoch.crop_y && other_epoch.crop_x == same_epoch.crop_x &&
               other_epoch.brightness == same_epoch.brightness);
}

TEST(Augment, Rot90AndFlipsFollowNumpyConventions) {
  // 2x3 image [[0,1,2],[3,4,5]]; numpy.rot90 (k=1, CCW) = [[2,5],[1,4],[0,3]].
  std::vector<uint8_t> src = {0, 1, 2, 3, 4, 5};
  AugmentParams p;
  p.window_h = 2;
  p.window_w = 3;
  p.rot90 = 1;
  p.out_h = 3;
  p.out_w = 2;
  std::vector<int64_t> out(6);
  warp_labels(src.data(), 2, 3, p, out.data());
  EXPECT_EQ(out, (std::vector<int64_t>{2, 5, 1, 4, 0, 3}));
  p.rot90 = 2;
  p.out_h = 2;
  p.out_w = 3;
  warp_labels(src.data(), 2, 3, p, out.data());
  EXPECT_EQ(out, (std::vector<int64_t>{5, 4, 3, 2, 1, 0}));
  p.rot90 = 3;  // numpy.rot90 k=3 = [[3,0],[4,1],[5,2]]
  p.out_h = 3;
  p.out_w = 2;
  warp_labels(src.data(), 2, 3, p, out.data());
  EXPECT_EQ(out, (std::vector<int64_t>{3, 0, 4, 1, 5, 2}));
  p.rot90 = 0;
  p.out_h = 2;
  p.out_w = 3;
  p.hflip = true;
  warp_labels(src.data(), 2, 3, p, out.data());
  EXPECT_EQ(out, (std::vector<int64_t>{2, 1, 0, 5, 4, 3}));
  p.hflip = false;
  p.vflip = true;
  warp_labels(src.data(), 2, 3, p, out.data());
  EXPECT_EQ(out, (std::vector<int64_t>{3, 4, 5, 0, 1, 2}));
  // Crop window.
  p.vflip = false;
  p.crop_x = 1;
  p.window_w = 2;
  p.out_w = 2;
  p.window_h = 2;
  std::vector<int64_t> crop(4);
  warp_labels(src.data(), 2, 3, p, crop.data());
  EXPECT_EQ(crop, (std::vector<int64_t>{1, 2, 4, 5}));
}

TEST(Augment, InputAndTargetGetIdenticalGeometry) {
  // Input (3 channels) and label map both encode the pixel position; after any transform the
  // label at each output pixel must still match the input there.
  const int H = 20, W = 20;
  std::vector<uint8_t> img(H * W * 3), lab(H * W);
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      img[(y * W + x) * 3 + 0] = static_cast<uint8_t>(y);
      img[(y * W + x) * 3 + 1] = static_cast<uint8_t>(x);
      img[(y * W + x) * 3 + 2] = static_cast<uint8_t>(y * W + x);
      lab[y * W + x] = static_cast<uint8_t>((y * W + x) % 251);
    }
  }
  AugmentGeometry g{H, W, 12, 12, 1};
  for (int64_t i = 0; i < 50; ++i) {
    auto p = draw_augment(all_on(0.0f, 0.0f), g, 1, 0, i);
    std::vector<float> in(3 * 12 * 12);
    std::vector<int64_t> t(12 * 12);
    warp_to_chw(img.data(), false, 3, H, W, p, 1, false, 1.0f, in.data());
    warp_labels(lab.data(), H, W, p, t.data());
    for (int k = 0; k < 144; ++k) {
      int y = static_cast<int>(in[k]), x = static_cast<int>(in[144 + k]);
      EXPECT_EQ(t[k], (y * W + x) % 251) << "sample " << i << " pixel " << k;
      EXPECT_GE(y, p.crop_y);
      EXPECT_LT(y, p.crop_y + 12);
      EXPECT_GE(x, p.crop_x);
      EXPECT_LT(x, p.crop_x + 12);
    }
  }
}

TEST(Augment, SuperResolutionInputStaysAlignedWithTarget) {
  // Target T (float), input = exact 2x2 box down-scaling of T. After any aligned crop, flip and
  // rotation, every input pixel must equal the mean of its 2x2 block of the warped target.
  const int H = 24, W = 24, s = 2;
  std::vector<float> hr(H * W), lr((H / s) * (W / s));
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x)
      hr[y * W + x] = static_cast<float>(std::sin(0.7 * y) + 0.01 * x * x);
  }
  for (int y = 0; y < H / s; ++y) {
    for (int x = 0; x < W / s; ++x) {
      float sum = 0;
      for (int dy = 0; dy < s; ++dy) {
        for (int dx = 0; dx < s; ++dx) sum += hr[(y * s + dy) * W + x * s + dx];
      }
      lr[y * (W / s) + x] = sum / (s * s);
    }
  }
  AugmentGeometry g{H, W, 16, 16, s};
  for (int64_t i = 0; i < 40; ++i) {
    auto p = draw_augment(all_on(0.5f, 0.0f), g, 3, 1, i);
    EXPECT_EQ(p.crop_y % s, 0);
    EXPECT_EQ(p.crop_x % s, 0);
    EXPECT_EQ(p.window_h, 16);  // no scale jitter for super-resolution
    std::vector<float> t(16 * 16), in(8 * 8);
    warp_to_chw(reinterpret_cast<const uint8_t*>(hr.data()), true, 1, H, W, p, 1, false, 1.0f,
                t.data());
    warp_to_chw(reinterpret_cast<const uint8_t*>(lr.data()), true, 1, H / s, W / s, p, s, false,
                1.0f, in.data());
    for (int y = 0; y < 8; ++y) {
      for (int x = 0; x < 8; ++x) {
        float m = (t[(2 * y) * 16 + 2 * x] + t[(2 * y) * 16 + 2 * x + 1] +
                   t[(2 * y + 1) * 16 + 2 * x] + t[(2 * y + 1) * 16 + 2 * x + 1]) /
                  4;
        EXPECT_NEAR(in[y * 8 + x], m, 1e-5) << "sample " << i << " (" << y << "," << x << ")";
      }
    }
  }
}

TEST(Augment, ScaleJitterKeepsOutputSizeAndLabelValues) {
  const int H = 40, W = 40;
  std::vector<uint8_t> lab(H * W);
  for (int k = 0; k < H * W; ++k) lab[k] = static_cast<uint8_t>((k / 7) % 3);
  AugmentGeometry g{H, W, 16, 16, 1};
  std::set<int> windows;
  for (int64_t i = 0; i < 60; ++i) {
    auto p = draw_augment(all_on(0.5f), g, 5, 0, i);
    windows.insert(p.window_h);
    EXPECT_GE(p.window_h, 10);  // 16 / 1.5
    EXPECT_LE(p.window_h, 24);  // 16 * 1.5
    EXPECT_EQ(p.out_h, 16);
    std::vector<int64_t> t(16 * 16);
    warp_labels(lab.data(), H, W, p, t.data());
    for (auto v : t) EXPECT_TRUE(v >= 0 && v <= 2);  // nearest: no blended labels
  }
  EXPECT_GT(windows.size(), 5u);
}

TEST(Augment, NonSquareOutputsOnlyGetHalfTurns) {
  AugmentGeometry g{10, 20, 10, 20, 1};
  for (int64_t i = 0; i < 100; ++i) {
    auto p = draw_augment(all_on(), g, 1, 0, i);
    EXPECT_EQ(p.rot90 % 2, 0);
    EXPECT_EQ(p.out_h, 10);
    EXPECT_EQ(p.out_w, 20);
  }
}

TEST(Augment, ColorJitterChangesValuesWithinRangeAndIdentityIsExact) {
  const int h = 8, w = 8;
  std::vector<float> img(3 * h * w);
  for (size_t k = 0; k < img.size(); ++k) img[k] = static_cast<float>(k % 17) / 16.0f;
  std::vector<float> orig = img;
  AugmentParams id;
  color_jitter_chw(img.data(), 3, h, w, id);
  EXPECT_EQ(img, orig);
  AugmentParams p;
  p.brightness = 0.1f;
  p.contrast = 1.2f;
  p.hue = 0.05f;
  color_jitter_chw(img.data(), 3, h, w, p);
  EXPECT_NE(img, orig);
  for (float v : img) {
    EXPECT_GE(v, 0.0f);
    EXPECT_LE(v, 1.0f);
  }
  // Pure hue rotation keeps luma (Y) for in-gamut pixels.
  std::vector<float> px = {0.5f, 0.4f, 0.3f};  // one pixel, CHW with h=w=1
  AugmentParams hue;
  hue.hue = 0.1f;
  float y0 = 0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2];
  // Contrast/brightness identity except around the mean of a 1-pixel image: no change.
  color_jitter_chw(px.data(), 3, 1, 1, hue);
  float y1 = 0.299f * px[0] + 0.587f * px[1] + 0.114f * px[2];
  EXPECT_NEAR(y0, y1, 2e-3);
  EXPECT_GT(std::abs(px[0] - 0.5f) + std::abs(px[2] - 0.3f), 1e-3);
}

TEST(Augment, RejectsOutputLargerThanImageOrMisaligned) {
  EXPECT_THROW(draw_augment(all_on(), AugmentGeometry{8, 8, 16, 16, 1}, 0, 0, 0), Error);
  EXPECT_THROW(draw_augment(all_on(), AugmentGeometry{16, 16, 9, 9, 2}, 0, 0, 0), Error);
}

}  // namespace
}  // namespace tessera
