// Anomaly: textured industrial surfaces, some with defects (image-level label 1).
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "datasets/synth_draw.h"
#include "datasets/synth_generators.h"

namespace tessera::synth {

namespace {

// Woven fabric: two orthogonal thread gratings with per-thread brightness variation.
cv::Mat fabric(int size, SynthRng& rng, float u) {
  const Colour base = rng.chance(0.5) ? Colour(0.78f, 0.72f, 0.60f) : Colour(0.40f, 0.48f, 0.66f);
  const float period = static_cast<float>(rng.uniform(4.0, 5.5)) * u;
  const float th = static_cast<float>(rng.uniform(-0.08, 0.08));
  const float c = std::cos(th), s = std::sin(th);
  const cv::Mat var = value_noise(size, size, rng, std::max(4, size / 4));
  cv::Mat img(size, size, CV_32FC3);
  for (int y = 0; y < size; ++y) {
    cv::Vec3f* row = img.ptr<cv::Vec3f>(y);
    const float* vr = var.ptr<float>(y);
    for (int x = 0; x < size; ++x) {
      const float px = (static_cast<float>(x) * c + static_cast<float>(y) * s) / period;
      const float py = (-static_cast<float>(x) * s + static_cast<float>(y) * c) / period;
      const float warp = std::sin(6.2831853f * px), weft = std::sin(6.2831853f * py);
      // Over/under: which thread is on top alternates per cell.
      const bool over = (static_cast<int>(std::floor(px)) + static_cast<int>(std::floor(py))) & 1;
      const float v = 0.8f + 0.15f * (over ? warp * warp : weft * weft) + 0.08f * (vr[x] - 0.5f);
      row[x] = base * v;
    }
  }
  return img;
}

// Brushed metal: noise smeared along one direction plus a soft sheen.
cv::Mat brushed_metal(int size, SynthRng& rng, float u) {
  cv::Mat n(size, size, CV_32FC1);
  for (int y = 0; y < size; ++y) {
    float* r = n.ptr<float>(y);
    for (int x = 0; x < size; ++x) r[x] = static_cast<float>(rng.uniform());
  }
  const int len = std::max(3, static_cast<int>(12 * u)) | 1;
  cv::blur(n, n, cv::Size(len, 1), cv::Point(-1, -1), cv::BORDER_REFLECT101);
  const cv::Mat sheen = value_noise(size, size, rng, 1);
  cv::Mat t = 0.55 * n + 0.45 * sheen;
  const float g = static_cast<float>(rng.uniform(0.55, 0.7));
  return lerp_colour(t, Colour(g * 0.8f, g * 0.8f, g * 0.84f),
                     Colour(g * 1.25f, g * 1.25f, g * 1.28f));
}

// Wood: growth rings distorted by smooth noise.
cv::Mat wood(int size, SynthRng& rng, float u) {
  const cv::Mat distort = fractal_noise(size, size, rng, 2, 3);
  const float freq = 1.f / (static_cast<float>(rng.uniform(5.0, 8.0)) * u);
  cv::Mat t(size, size, CV_32FC1);
  for (int y = 0; y < size; ++y) {
    float* r = t.ptr<float>(y);
    const float* d = distort.ptr<float>(y);
    for (int x = 0; x < size; ++x) {
      const float v = std::sin(6.2831853f * (static_cast<float>(y) + 10.f * u * d[x]) * freq);
      r[x] = 0.5f + 0.5f * v * std::fabs(v);
    }
  }
  return lerp_colour(t, Colour(0.62f, 0.44f, 0.28f), Colour(0.48f, 0.32f, 0.18f));
}

void add_defect(cv::Mat& img, SynthRng& rng, float u) {
  const int size = img.rows;
  const float fs = static_cast<float>(size);
  auto inner = [&] {
    return cv::Point2f(static_cast<float>(rng.uniform(0.15, 0.85)) * fs,
                       static_cast<float>(rng.uniform(0.15, 0.85)) * fs);
  };
  cv::Mat alpha = cv::Mat::zeros(size, size, CV_8UC1);
  Colour colour;
  switch (rng.integer(0, 2)) {
    case 0: {  // scratch: a thin, long, slightly curved line, bright or dark
      const cv::Point2f a = inner(), b = inner();
      const cv::Point2f m = (a + b) * 0.5f + cv::Point2f(static_cast<float>(rng.normal(0, 4 * u)),
                                                         static_cast<float>(rng.normal(0, 4 * u)));
      draw_curve(alpha, bezier(a, m, m, b, 24), cv::Scalar(255),
                 std::max(1, static_cast<int>(std::lround(u))), cv::LINE_AA);
      colour = rng.chance(0.5) ? Colour(0.95f, 0.95f, 0.95f) : Colour(0.1f, 0.1f, 0.1f);
      break;
    }
    case 1: {  // spot: a stain blob with a soft edge
      const cv::Point2f c = inner();
      cv::ellipse(alpha, cv::Point(static_cast<int>(c.x), static_cast<int>(c.y)),
                  cv::Size(std::max(2, static_cast<int>(rng.uniform(2.5, 6) * u)),
                           std::max(2, static_cast<int>(rng.uniform(2, 5) * u))),
                  rng.uniform(0, 180), 0, 360, cv::Scalar(230), cv::FILLED, cv::LINE_AA);
      cv::GaussianBlur(alpha, alpha, cv::Size(0, 0), 0.8 * u);
      colour = rng.chance(0.5) ? Colour(0.15f, 0.10f, 0.06f) : Colour(0.55f, 0.20f, 0.12f);
      break;
    }
    default: {  // crack: a jagged random walk with a branch
      cv::Point2f p = inner();
      float dir = static_cast<float>(rng.uniform(0, 6.2831853));
      std::vector<cv::Point2f> main{p};
      for (int i = 0; i < 10; ++i) {
        dir += static_cast<float>(rng.uniform(-0.7, 0.7));
        p += cv::Point2f(std::cos(dir), std::sin(dir)) * (2.2f * u);
        main.push_back(p);
      }
      draw_curve(alpha, main, cv::Scalar(255), std::max(1, static_cast<int>(std::lround(1.3 * u))),
                 cv::LINE_AA);
      std::vector<cv::Point2f> branch{main[5]};
      cv::Point2f q = main[5];
      float bdir = dir + 1.2f;
      for (int i = 0; i < 4; ++i) {
        bdir += static_cast<float>(rng.uniform(-0.6, 0.6));
        q += cv::Point2f(std::cos(bdir), std::sin(bdir)) * (2.f * u);
        branch.push_back(q);
      }
      draw_curve(alpha, branch, cv::Scalar(200), 1, cv::LINE_AA);
      colour = Colour(0.06f, 0.05f, 0.05f);
    }
  }
  blend(img, colour, alpha);
}

}  // namespace

Sample anomaly(int size, double defect_fraction, SynthRng& rng) {
  const float u = static_cast<float>(size) / 64.f;
  cv::Mat img;
  switch (rng.integer(0, 2)) {
    case 0:
      img = fabric(size, rng, u);
      break;
    case 1:
      img = brushed_metal(size, rng, u);
      break;
    default:
      img = wood(size, rng, u);
  }
  Sample s;
  s.label = rng.chance(defect_fraction) ? 1 : 0;
  if (s.label) {
    const int n = static_cast<int>(rng.integer(1, 2));
    for (int i = 0; i < n; ++i) add_defect(img, rng, u);
  }
  blur(img, 0.35 * u);
  add_gaussian_noise(img, 0.01, rng);
  s.input = to_u8(img);
  s.target = s.input.clone();
  return s;
}

}  // namespace tessera::synth
