// Style: photo-like landscapes and their painterly rendering by a fixed filter.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "datasets/synth_draw.h"
#include "datasets/synth_generators.h"

namespace tessera::synth {

namespace {

// A ridge line y(x) from 1-D value noise at two scales.
std::vector<float> ridge(int size, SynthRng& rng, float base, float amplitude) {
  const cv::Mat coarse = value_noise(1, size, rng, 4), fine = value_noise(1, size, rng, 12);
  std::vector<float> y(static_cast<size_t>(size));
  for (int x = 0; x < size; ++x) {
    y[static_cast<size_t>(x)] =
        base - amplitude * (0.75f * coarse.at<float>(0, x) + 0.25f * fine.at<float>(0, x));
  }
  return y;
}

void fill_below(cv::Mat& img, const std::vector<float>& ridge_y, const cv::Mat& colour) {
  for (int y = 0; y < img.rows; ++y) {
    cv::Vec3f* row = img.ptr<cv::Vec3f>(y);
    const cv::Vec3f* c = colour.ptr<cv::Vec3f>(y);
    for (int x = 0; x < img.cols; ++x) {
      const float d = static_cast<float>(y) - ridge_y[static_cast<size_t>(x)];
      if (d > 0.f) {
        const float a = std::min(1.f, d);  // one pixel of anti-aliasing
        row[x] = row[x] * (1.f - a) + c[x] * a;
      }
    }
  }
}

}  // namespace

cv::Mat landscape(int size, SynthRng& rng) {
  const float u = static_cast<float>(size) / 64.f;
  const float fs = static_cast<float>(size);
  const float horizon = static_cast<float>(rng.uniform(0.38, 0.55)) * fs;
  cv::Mat img(size, size, CV_32FC3);
  // Sky: gradient from deep blue to a pale horizon, then clouds.
  const bool dusk = rng.chance(0.25);
  const Colour top = dusk ? Colour(0.30f, 0.28f, 0.55f) : Colour(0.30f, 0.50f, 0.85f);
  const Colour low = dusk ? Colour(0.98f, 0.70f, 0.45f) : Colour(0.78f, 0.87f, 0.96f);
  for (int y = 0; y < size; ++y) {
    const float t = std::min(1.f, static_cast<float>(y) / std::max(1.f, horizon));
    const Colour c = top + (low - top) * t;
    cv::Vec3f* row = img.ptr<cv::Vec3f>(y);
    for (int x = 0; x < size; ++x) row[x] = c;
  }
  cv::Mat clouds = fractal_noise(size, size, rng, 3, 4);
  cv::subtract(clouds, cv::Scalar(rng.uniform(0.5, 0.7)), clouds);
  clouds.convertTo(clouds, CV_32F, 2.5);
  cv::threshold(clouds, clouds, 0.9, 0.9, cv::THRESH_TRUNC);
  cv::threshold(clouds, clouds, 0.0, 0.0, cv::THRESH_TOZERO);
  blend(img, Colour(0.97f, 0.97f, 0.97f), clouds);
  if (rng.chance(0.5)) {  // sun with a glow
    const cv::Point c(static_cast<int>(rng.uniform(0.1, 0.9) * fs),
                      static_cast<int>(rng.uniform(0.1, 0.6) * horizon));
    cv::Mat glow = cv::Mat::zeros(size, size, CV_32FC1);
    cv::circle(glow, c, std::max(2, static_cast<int>(5 * u)), cv::Scalar(0.6), cv::FILLED);
    blur(glow, 3.0 * u);
    cv::circle(glow, c, std::max(1, static_cast<int>(2.5 * u)), cv::Scalar(1.0), cv::FILLED);
    blend(img, Colour(1.0f, 0.96f, 0.82f), glow);
  }
  // Mountains: a far bluish range and a nearer green-grey range.
  fill_below(img, ridge(size, rng, horizon, static_cast<float>(rng.uniform(0.12, 0.3)) * fs),
             lerp_colour(fractal_noise(size, size, rng, 4, 3), Colour(0.45f, 0.50f, 0.62f),
                         Colour(0.58f, 0.62f, 0.72f)));
  fill_below(img,
             ridge(size, rng, horizon + 2 * u, static_cast<float>(rng.uniform(0.05, 0.15)) * fs),
             lerp_colour(fractal_noise(size, size, rng, 5, 4), Colour(0.22f, 0.32f, 0.24f),
                         Colour(0.36f, 0.44f, 0.30f)));
  // Ground: meadows and fields below the horizon.
  const std::vector<float> ground_line(static_cast<size_t>(size), horizon + 4 * u);
  fill_below(img, ground_line,
             lerp_colour(fractal_noise(size, size, rng, 3, 5), Colour(0.30f, 0.48f, 0.18f),
                         Colour(0.70f, 0.66f, 0.34f)));
  // Trees (trunk + crown) and houses (wall, windows, gabled roof), larger when nearer (lower).
  const int objects = static_cast<int>(rng.integer(3, 8));
  for (int i = 0; i < objects; ++i) {
    const float by = static_cast<float>(rng.uniform(horizon + 6 * u, fs));
    const float scale = 0.5f + 1.2f * (by - horizon) / std::max(1.f, fs - horizon);
    const float bx = static_cast<float>(rng.uniform(0, fs));
    if (rng.chance(0.65)) {
      const float h = static_cast<float>(rng.uniform(6, 11)) * u * scale;
      cv::rectangle(
          img, cv::Point(static_cast<int>(bx - 0.5f * u * scale), static_cast<int>(by - 0.4f * h)),
          cv::Point(static_cast<int>(bx + 0.5f * u * scale), static_cast<int>(by)),
          cv::Scalar(0.3, 0.2, 0.12), cv::FILLED);
      const float g = static_cast<float>(rng.uniform(0.8, 1.2));
      cv::ellipse(img, cv::Point(static_cast<int>(bx), static_cast<int>(by - 0.65f * h)),
                  cv::Size(std::max(1, static_cast<int>(0.3f * h)),
                           std::max(1, static_cast<int>(0.4f * h))),
                  0, 0, 360, cv::Scalar(0.12 * g, 0.30 * g, 0.10 * g), cv::FILLED);
      cv::ellipse(img,
                  cv::Point(static_cast<int>(bx - 0.08f * h), static_cast<int>(by - 0.75f * h)),
                  cv::Size(std::max(1, static_cast<int>(0.14f * h)),
                           std::max(1, static_cast<int>(0.18f * h))),
                  0, 0, 360, cv::Scalar(0.22 * g, 0.45 * g, 0.16 * g), cv::FILLED);
    } else {
      const float w = static_cast<float>(rng.uniform(8, 14)) * u * scale, h = w * 0.6f;
      const Colour wall =
          rng.chance(0.5) ? Colour(0.90f, 0.86f, 0.76f) : Colour(0.80f, 0.70f, 0.60f);
      const cv::Point2f bl(bx, by);
      fill_polygon(img,
                   {bl, bl + cv::Point2f(w, 0), bl + cv::Point2f(w, -h), bl + cv::Point2f(0, -h)},
                   cv::Scalar(wall[0], wall[1], wall[2]));
      fill_polygon(img,
                   {bl + cv::Point2f(-0.1f * w, -h), bl + cv::Point2f(1.1f * w, -h),
                    bl + cv::Point2f(0.5f * w, -h - 0.45f * w)},
                   cv::Scalar(0.62, 0.22, 0.16));
      const float ws = std::max(1.f, 0.16f * w);
      for (int k = 0; k < 2; ++k) {
        const cv::Point2f wp =
            bl + cv::Point2f((0.2f + 0.45f * static_cast<float>(k)) * w, -0.7f * h);
        fill_polygon(
            img, {wp, wp + cv::Point2f(ws, 0), wp + cv::Point2f(ws, ws), wp + cv::Point2f(0, ws)},
            cv::Scalar(0.2, 0.25, 0.32));
      }
    }
  }
  blur(img, 0.4 * u);
  add_gaussian_noise(img, 0.01, rng);
  return to_u8(img);
}

cv::Mat painterly_filter(const cv::Mat& rgb) {
  CV_Assert(rgb.type() == CV_8UC3);
  const int size = std::min(rgb.rows, rgb.cols);
  const double u = std::max(1.0, size / 64.0);
  // 1. Edge-preserving smoothing: two bilateral passes flatten texture, keep boundaries.
  cv::Mat smooth, tmp;
  const int d = static_cast<int>(std::lround(5 * u)) | 1;
  cv::bilateralFilter(rgb, tmp, d, 40.0, 3.0 * u);
  cv::bilateralFilter(tmp, smooth, d, 40.0, 3.0 * u);
  // 2. Colour quantisation: 8 levels per channel (posterisation).
  cv::Mat q(smooth.size(), CV_32FC3);
  for (int y = 0; y < smooth.rows; ++y) {
    const cv::Vec3b* s = smooth.ptr<cv::Vec3b>(y);
    cv::Vec3f* o = q.ptr<cv::Vec3f>(y);
    for (int x = 0; x < smooth.cols; ++x) {
      for (int c = 0; c < 3; ++c)
        o[x][c] = (std::floor(static_cast<float>(s[x][c]) / 32.f) + 0.5f) * 32.f / 255.f;
    }
  }
  // 3. Brush strokes: smear along a fixed diagonal (a short motion-blur kernel), then a relief
  //    (emboss) of the smeared luminance, as if lit paint ridges.
  cv::Mat kernel = cv::Mat::zeros(d, d, CV_32FC1);
  for (int i = 0; i < d; ++i) kernel.at<float>(i, d - 1 - i) = 1.f / static_cast<float>(d);
  cv::Mat strokes;
  cv::filter2D(q, strokes, -1, kernel, cv::Point(-1, -1), 0, cv::BORDER_REFLECT101);
  cv::Mat gray;
  cv::cvtColor(strokes, gray, cv::COLOR_RGB2GRAY);
  const cv::Mat emboss = (cv::Mat_<float>(3, 3) << -1, -1, 0, -1, 0, 1, 0, 1, 1);
  cv::Mat relief;
  cv::filter2D(gray, relief, -1, emboss, cv::Point(-1, -1), 0, cv::BORDER_REFLECT101);
  // 4. Ink outlines where the smoothed image has strong edges.
  cv::Mat gx, gy, sgray;
  cv::cvtColor(smooth, sgray, cv::COLOR_RGB2GRAY);
  cv::Sobel(sgray, gx, CV_32F, 1, 0);
  cv::Sobel(sgray, gy, CV_32F, 0, 1);
  // 5. Palette shift: warm the image (more red, less blue) and raise saturation.
  cv::Mat out(rgb.size(), CV_32FC3);
  for (int y = 0; y < out.rows; ++y) {
    const cv::Vec3f* s = strokes.ptr<cv::Vec3f>(y);
    const float* r = relief.ptr<float>(y);
    const float* ax = gx.ptr<float>(y);
    const float* ay = gy.ptr<float>(y);
    cv::Vec3f* o = out.ptr<cv::Vec3f>(y);
    for (int x = 0; x < out.cols; ++x) {
      const float lum = 0.299f * s[x][0] + 0.587f * s[x][1] + 0.114f * s[x][2];
      cv::Vec3f c = s[x];
      for (int k = 0; k < 3; ++k) c[k] = lum + 1.35f * (c[k] - lum);  // saturation
      c = cv::Vec3f(c[0] * 1.08f + 0.03f, c[1] * 1.0f + 0.01f, c[2] * 0.85f);
      c += cv::Vec3f(1, 1, 1) * (0.35f * r[x]);
      const float edge = std::sqrt(ax[x] * ax[x] + ay[x] * ay[x]) / 255.f;
      const float ink = std::min(1.f, std::max(0.f, (edge - 0.6f) * 2.f));
      o[x] = c * (1.f - 0.6f * ink);
    }
  }
  return to_u8(out);
}

Sample style(int size, SynthRng& rng) {
  Sample s;
  s.input = landscape(size, rng);
  s.target = painterly_filter(s.input);
  return s;
}

}  // namespace tessera::synth
