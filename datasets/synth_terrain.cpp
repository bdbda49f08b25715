#include "datasets/synth_terrain.h"

#include <opencv2/imgproc.hpp>

#include <cmath>

#include "datasets/synth_draw.h"

namespace tessera::synth {

cv::Mat terrain(int size, SynthRng& rng) {
  const float j = static_cast<float>(rng.uniform(0.9, 1.1));
  const Colour grass = Colour(0.32f, 0.42f, 0.21f) * j;
  const Colour dry = Colour(0.56f, 0.53f, 0.37f) * j;
  const Colour soil = Colour(0.46f, 0.37f, 0.27f) * j;
  cv::Mat img = lerp_colour(fractal_noise(size, size, rng, 3, 4), grass, dry);
  // Patches of bare soil where a second, coarser field is high.
  cv::Mat patches = fractal_noise(size, size, rng, 2, 3);
  const float threshold = static_cast<float>(rng.uniform(0.55, 0.8));
  cv::Mat alpha;
  cv::subtract(patches, cv::Scalar(threshold), alpha);
  alpha.convertTo(alpha, CV_32F, 1.0 / 0.15);
  cv::threshold(alpha, alpha, 1.0, 1.0, cv::THRESH_TRUNC);
  cv::threshold(alpha, alpha, 0.0, 0.0, cv::THRESH_TOZERO);
  blend(img, soil, alpha);
  // Fine grain: multiplicative per-pixel-ish texture.
  cv::Mat grain = value_noise(size, size, rng, std::max(8, size / 2));
  grain.convertTo(grain, CV_32F, 0.16, 0.92);
  cv::Mat grain3;
  cv::merge(std::vector<cv::Mat>{grain, grain, grain}, grain3);
  cv::multiply(img, grain3, img);
  return img;
}

void add_fields(cv::Mat& canvas, SynthRng& rng, float unit) {
  static const Colour kCrops[] = {
      {0.70f, 0.64f, 0.38f}, {0.36f, 0.50f, 0.20f}, {0.52f, 0.41f, 0.30f}, {0.60f, 0.60f, 0.30f}};
  const int size = canvas.rows;
  const int n = static_cast<int>(rng.integer(0, 3));
  for (int f = 0; f < n; ++f) {
    const cv::Point2f centre(static_cast<float>(rng.uniform(0, size)),
                             static_cast<float>(rng.uniform(0, size)));
    const float w = static_cast<float>(rng.uniform(14, 34)) * unit;
    const float h = static_cast<float>(rng.uniform(10, 26)) * unit;
    const float angle = static_cast<float>(rng.uniform(0, 3.14159265));
    cv::Mat alpha = cv::Mat::zeros(size, size, CV_8UC1);
    fill_polygon(alpha, rotated_rect(centre, w, h, angle), cv::Scalar(215));
    // Crop rows along the field's long axis.
    const Colour crop = kCrops[rng.integer(0, 3)] * static_cast<float>(rng.uniform(0.9, 1.1));
    const float period = static_cast<float>(rng.uniform(2.5, 4.5)) * unit;
    const float c = std::cos(angle + 1.5707963f), s = std::sin(angle + 1.5707963f);
    cv::Mat colour(size, size, CV_32FC3);
    for (int y = 0; y < size; ++y) {
      cv::Vec3f* row = colour.ptr<cv::Vec3f>(y);
      for (int x = 0; x < size; ++x) {
        const float phase = (static_cast<float>(x) * c + static_cast<float>(y) * s) / period;
        row[x] = crop * (1.f + 0.07f * std::sin(6.2831853f * phase));
      }
    }
    blend(canvas, colour, alpha);
  }
}

}  // namespace tessera::synth
