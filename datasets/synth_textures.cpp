// Rich textures and the restoration tasks built on clean images: super-resolution, denoising,
// inpainting.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "datasets/resize.h"
#include "datasets/synth_draw.h"
#include "datasets/synth_generators.h"
#include "datasets/synth_terrain.h"

namespace tessera::synth {

namespace {

Colour random_colour(SynthRng& rng) {
  return Colour(static_cast<float>(rng.uniform(0.05, 0.95)),
                static_cast<float>(rng.uniform(0.05, 0.95)),
                static_cast<float>(rng.uniform(0.05, 0.95)));
}

// Sinusoid grating (frequency in cycles per pixel) shown where a smooth noise field is high.
void add_grating(cv::Mat& img, SynthRng& rng) {
  const int size = img.rows;
  const float f = static_cast<float>(rng.uniform(0.03, 0.3));
  const float th = static_cast<float>(rng.uniform(0, 3.14159265));
  const float phase = static_cast<float>(rng.uniform(0, 6.2831853));
  const float amp = static_cast<float>(rng.uniform(0.08, 0.25));
  const Colour tint = random_colour(rng) - Colour(0.5f, 0.5f, 0.5f) + Colour(1, 1, 1) * 0.3f;
  const cv::Mat region = fractal_noise(size, size, rng, 2, 2);
  const float c = std::cos(th) * f * 6.2831853f, s = std::sin(th) * f * 6.2831853f;
  for (int y = 0; y < size; ++y) {
    cv::Vec3f* row = img.ptr<cv::Vec3f>(y);
    const float* rr = region.ptr<float>(y);
    for (int x = 0; x < size; ++x) {
      const float w = std::min(1.f, std::max(0.f, (rr[x] - 0.35f) * 3.f));
      row[x] += tint *
                (amp * w * std::sin(static_cast<float>(x) * c + static_cast<float>(y) * s + phase));
    }
  }
}

// Hard-edged shapes (anti-aliased): polygons, discs, bars.
void add_shapes(cv::Mat& img, SynthRng& rng) {
  const int size = img.rows;
  const float fs = static_cast<float>(size);
  const int n = static_cast<int>(rng.integer(2, 6));
  for (int i = 0; i < n; ++i) {
    cv::Mat alpha = cv::Mat::zeros(size, size, CV_8UC1);
    const cv::Point2f c(static_cast<float>(rng.uniform(0, fs)),
                        static_cast<float>(rng.uniform(0, fs)));
    const float r = static_cast<float>(rng.uniform(0.08, 0.3)) * fs;
    switch (rng.integer(0, 2)) {
      case 0: {
        std::vector<cv::Point2f> poly;
        const int k = static_cast<int>(rng.integer(3, 6));
        for (int j = 0; j < k; ++j) {
          const float a = 6.2831853f *
                          (static_cast<float>(j) + static_cast<float>(rng.uniform(-0.3, 0.3))) /
                          static_cast<float>(k);
          poly.push_back(c + cv::Point2f(std::cos(a), std::sin(a)) *
                                 (r * static_cast<float>(rng.uniform(0.6, 1.0))));
        }
        fill_polygon(alpha, poly, cv::Scalar(255), cv::LINE_AA);
        break;
      }
      case 1:
        cv::circle(alpha, cv::Point(static_cast<int>(c.x) * 16, static_cast<int>(c.y) * 16),
                   static_cast<int>(r * 16.f), cv::Scalar(255), cv::FILLED, cv::LINE_AA, 4);
        break;
      default:
        fill_polygon(
            alpha,
            rotated_rect(c, r * 2.f, r * 0.35f, static_cast<float>(rng.uniform(0, 3.14159265))),
            cv::Scalar(255), cv::LINE_AA);
    }
    cv::Mat colour =
        lerp_colour(value_noise(size, size, rng, 3), random_colour(rng), random_colour(rng));
    blend(img, colour, alpha);
  }
}

// Text-like strokes: rows of glyphs, each 1-3 strokes inside a glyph box.
void add_text(cv::Mat& img, SynthRng& rng) {
  const int size = img.rows;
  const float fs = static_cast<float>(size);
  cv::Mat alpha = cv::Mat::zeros(size, size, CV_8UC1);
  const float gh = static_cast<float>(rng.uniform(5.0, std::max(6.0, 0.18 * fs)));
  const float gw = gh * static_cast<float>(rng.uniform(0.5, 0.75));
  const int thick = gh > 9.f ? 2 : 1;
  const int rows = static_cast<int>(rng.integer(1, 3));
  float y0 = static_cast<float>(rng.uniform(0, std::max(1.0, fs - rows * gh * 1.5)));
  const float x0 = static_cast<float>(rng.uniform(0, 0.4 * fs));
  const float x1 = x0 + static_cast<float>(rng.uniform(0.3, 0.9)) * fs;
  for (int r = 0; r < rows; ++r, y0 += gh * 1.5f) {
    for (float x = x0; x + gw < x1; x += gw * 1.3f) {
      if (rng.chance(0.15)) continue;  // word gap
      const int strokes = static_cast<int>(rng.integer(1, 3));
      for (int k = 0; k < strokes; ++k) {
        auto pt = [&] {
          return cv::Point2f(x + static_cast<float>(rng.integer(0, 2)) * 0.5f * gw,
                             y0 + static_cast<float>(rng.integer(0, 2)) * 0.5f * gh);
        };
        const cv::Point2f a = pt(), b = pt();
        draw_curve(
            alpha,
            {a, (a + b) * 0.5f + cv::Point2f(static_cast<float>(rng.uniform(-0.2, 0.2)) * gw, 0),
             b},
            cv::Scalar(255), thick, cv::LINE_AA);
      }
    }
  }
  const Colour ink = rng.chance(0.5) ? Colour(0.05f, 0.05f, 0.08f) : Colour(0.95f, 0.95f, 0.9f);
  blend(img, ink, alpha);
}

}  // namespace

cv::Mat rich_texture(int size, SynthRng& rng) {
  cv::Mat img = lerp_colour(fractal_noise(size, size, rng, 2, 5, 0.6), random_colour(rng),
                            random_colour(rng));
  const int gratings = static_cast<int>(rng.integer(1, 3));
  for (int i = 0; i < gratings; ++i) add_grating(img, rng);
  add_shapes(img, rng);
  if (rng.chance(0.7)) add_text(img, rng);
  // Noise at several scales: mid-scale mottling and fine grain.
  cv::Mat mottle = fractal_noise(size, size, rng, std::max(4, size / 8), 2);
  mottle.convertTo(mottle, CV_32F, 0.12, 0.94);
  cv::Mat m3;
  cv::merge(std::vector<cv::Mat>{mottle, mottle, mottle}, m3);
  cv::multiply(img, m3, img);
  add_gaussian_noise(img, 0.015, rng);
  return to_u8(img);
}

cv::Mat clean_image(int size, SynthRng& rng) {
  switch (rng.integer(0, 3)) {
    case 0:
    case 1:
      return rich_texture(size, rng);
    case 2:
      return landscape(size, rng);
    default:
      return multiclass(size, rng).input;
  }
}

cv::Mat downscale(const cv::Mat& hr, int scale, Degradation degradation) {
  TESSERA_CHECK(scale >= 1 && hr.cols / scale >= 1 && hr.rows / scale >= 1,
                "downscale: cannot down-scale {}x{} by {}", hr.cols, hr.rows, scale);
  const cv::Size size(hr.cols / scale, hr.rows / scale);
  if (degradation == Degradation::bicubic_aa) return resize_bicubic_aa(hr, size);
  cv::Mat lr;
  cv::resize(hr, lr, size, 0, 0,
             degradation == Degradation::area ? cv::INTER_AREA : cv::INTER_CUBIC);
  return lr;
}

Sample superres(int size, int scale, Degradation degradation, SynthRng& rng) {
  Sample s;
  s.target = rich_texture(size, rng);
  s.input = downscale(s.target, scale, degradation);
  return s;
}

cv::Mat add_noise_u8(const cv::Mat& clean, double sigma, SynthRng& noise_rng) {
  cv::Mat f;
  clean.convertTo(f, CV_32F, 1.0 / 255.0);
  add_gaussian_noise(f, sigma, noise_rng);
  return to_u8(f);
}

Sample denoise(int size, double sigma, SynthRng& rng, SynthRng& noise_rng) {
  Sample s;
  s.target = clean_image(size, rng);
  s.input = add_noise_u8(s.target, sigma, noise_rng);
  return s;
}

cv::Mat make_holes(const cv::Mat& clean, double fraction, SynthRng& rng, cv::Mat* clean_out) {
  cv::Mat target = cv::max(clean, cv::Scalar::all(1));
  const int h = clean.rows, w = clean.cols;
  const double goal = std::min(0.9, std::max(0.0, fraction)) * h * w;
  cv::Mat holes = cv::Mat::zeros(h, w, CV_8UC1);
  for (int i = 0; i < 12 && cv::countNonZero(holes) < goal; ++i) {
    if (rng.chance(0.5)) {
      const int rw = static_cast<int>(rng.uniform(0.1, 0.35) * w),
                rh = static_cast<int>(rng.uniform(0.1, 0.35) * h);
      const int x = static_cast<int>(rng.integer(0, std::max(0, w - rw))),
                y = static_cast<int>(rng.integer(0, std::max(0, h - rh)));
      cv::rectangle(holes, cv::Rect(x, y, std::max(1, rw), std::max(1, rh)), cv::Scalar(1),
                    cv::FILLED);
    } else {  // brush stroke
      auto p = [&] {
        return cv::Point2f(static_cast<float>(rng.uniform(0, w)),
                           static_cast<float>(rng.uniform(0, h)));
      };
      const int thick = std::max(2, static_cast<int>(rng.uniform(0.03, 0.08) * std::min(h, w)));
      draw_curve(holes, bezier(p(), p(), p(), p(), 32), cv::Scalar(1), thick, cv::LINE_8);
    }
  }
  cv::Mat input = target.clone();
  input.setTo(cv::Scalar::all(0), holes);
  if (clean_out) *clean_out = target;
  return input;
}

Sample inpaint(int size, double fraction, SynthRng& rng) {
  Sample s;
  const cv::Mat clean = clean_image(size, rng);
  s.input = make_holes(clean, fraction, rng, &s.target);
  return s;
}

}  // namespace tessera::synth
