// Multiclass: aerial scenes with water, buildings, vegetation and roads on bare ground, and the
// label map (MulticlassLabel values). Layers are painted in order background, vegetation, water,
// roads, buildings; each layer writes its colour and its label over the same pixels, so the label
// map is exactly the visible top layer.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "datasets/synth_draw.h"
#include "datasets/synth_generators.h"
#include "datasets/synth_terrain.h"

namespace tessera::synth {

namespace {

// Pixels where a smooth noise field exceeds a threshold: organic blobs (lakes, woods).
cv::Mat blobs(int size, SynthRng& rng, int cells, double threshold) {
  const cv::Mat field = fractal_noise(size, size, rng, cells, 3, 0.45);
  cv::Mat mask;
  cv::compare(field, cv::Scalar(threshold), mask, cv::CMP_GT);
  return mask;  // 0 / 255
}

void paint(cv::Mat& img, cv::Mat& labels, const cv::Mat& mask255, const cv::Mat& colour,
           int label) {
  blend(img, colour, mask255);
  labels.setTo(label, mask255);
}

}  // namespace

Sample multiclass(int size, SynthRng& rng) {
  const float u = static_cast<float>(size) / 64.f;
  // Background: bare, light ground (lighter and yellower than any vegetation).
  cv::Mat img = lerp_colour(fractal_noise(size, size, rng, 3, 4), Colour(0.62f, 0.57f, 0.44f),
                            Colour(0.74f, 0.68f, 0.52f));
  cv::Mat labels = cv::Mat::zeros(size, size, CV_8UC1);

  // Vegetation: woods with a crown texture.
  {
    const cv::Mat mask = blobs(size, rng, 2, rng.uniform(0.55, 0.72));
    const cv::Mat crowns = value_noise(size, size, rng, std::max(6, size / 3));
    const cv::Mat colour =
        lerp_colour(crowns, Colour(0.10f, 0.22f, 0.08f), Colour(0.26f, 0.42f, 0.16f));
    paint(img, labels, mask, colour, kVegetation);
  }
  // Water: a lake (noise blob) and/or a river (thick curve).
  {
    cv::Mat mask = cv::Mat::zeros(size, size, CV_8UC1);
    if (rng.chance(0.6)) mask |= blobs(size, rng, 2, rng.uniform(0.68, 0.8));
    if (rng.chance(0.5)) {
      const int side = static_cast<int>(rng.integer(0, 3));
      const cv::Point2f p0 = border_point(rng, size, side, 8 * u);
      const cv::Point2f p3 = border_point(rng, size, side + 2, 8 * u);
      const cv::Point2f p1(static_cast<float>(rng.uniform(0, size)),
                           static_cast<float>(rng.uniform(0, size)));
      const cv::Point2f p2(static_cast<float>(rng.uniform(0, size)),
                           static_cast<float>(rng.uniform(0, size)));
      draw_curve(mask, bezier(p0, p1, p2, p3, 48), cv::Scalar(255),
                 static_cast<int>(std::lround(rng.uniform(4.0, 8.0) * u)), cv::LINE_8);
    }
    const cv::Mat ripple = value_noise(size, size, rng, std::max(4, size / 4));
    const cv::Mat colour =
        lerp_colour(ripple, Colour(0.08f, 0.18f, 0.32f), Colour(0.14f, 0.27f, 0.42f));
    paint(img, labels, mask, colour, kWater);
  }
  // Roads (bridges over water are roads).
  cv::Mat occupied;
  cv::compare(labels, cv::Scalar(kWater), occupied, cv::CMP_EQ);
  {
    const int n = static_cast<int>(rng.integer(1, 2));
    cv::Mat mask = cv::Mat::zeros(size, size, CV_8UC1);
    for (int i = 0; i < n; ++i) {
      const int side = static_cast<int>(rng.integer(0, 3));
      const cv::Point2f p0 = border_point(rng, size, side, 4 * u);
      const cv::Point2f p3 =
          border_point(rng, size, side + static_cast<int>(rng.integer(1, 3)), 4 * u);
      const cv::Point2f p1 = p0 + (p3 - p0) * 0.33f +
                             cv::Point2f(static_cast<float>(rng.uniform(-12, 12)) * u,
                                         static_cast<float>(rng.uniform(-12, 12)) * u);
      const cv::Point2f p2 = p0 + (p3 - p0) * 0.66f +
                             cv::Point2f(static_cast<float>(rng.uniform(-12, 12)) * u,
                                         static_cast<float>(rng.uniform(-12, 12)) * u);
      draw_curve(mask, bezier(p0, p1, p2, p3, 48), cv::Scalar(255),
                 std::max(2, static_cast<int>(std::lround(rng.uniform(2.5, 4.5) * u))), cv::LINE_8);
    }
    const float g = static_cast<float>(rng.uniform(0.40, 0.52));
    const cv::Mat colour = lerp_colour(value_noise(size, size, rng, std::max(4, size / 3)),
                                       Colour(g * 0.94f, g * 0.94f, g * 0.97f),
                                       Colour(g * 1.06f, g * 1.06f, g * 1.1f));
    paint(img, labels, mask, colour, kRoad);
    cv::Mat grown;
    cv::dilate(mask, grown, cv::Mat(), cv::Point(-1, -1),
               std::max(1, static_cast<int>(std::lround(1.5 * u))));
    occupied |= grown;
  }
  // Buildings: roofs with ridge shading and a shadow; the shadow keeps the label underneath.
  {
    const int n = static_cast<int>(rng.integer(2, 8) * u * u);
    for (int i = 0, tries = 0; i < n && tries < 8 * n; ++tries) {
      House h;
      h.centre = cv::Point2f(static_cast<float>(rng.uniform(0, size)),
                             static_cast<float>(rng.uniform(0, size)));
      h.length = static_cast<float>(rng.uniform(5.0, 11.0)) * u;
      h.width = static_cast<float>(rng.uniform(4.0, 7.0)) * u;
      h.angle = static_cast<float>(rng.uniform(0, 3.14159265));
      h.roof = random_roof_colour(rng);
      if (!polygon_free(occupied,
                        rotated_rect(h.centre, h.length + 2 * u, h.width + 2 * u, h.angle)))
        continue;
      cv::Mat footprint = cv::Mat::zeros(size, size, CV_8UC1);
      draw_house(img, h, u, &footprint, &labels, kBuilding);
      occupied |= footprint;
      ++i;
    }
  }
  blur(img, 0.45 * u);
  add_gaussian_noise(img, 0.012, rng);
  Sample s;
  s.input = to_u8(img);
  s.target = labels;
  return s;
}

}  // namespace tessera::synth
