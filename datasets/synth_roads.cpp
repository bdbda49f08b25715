// Roads: satellite-like tiles with a road network and the binary road mask.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "datasets/synth_draw.h"
#include "datasets/synth_generators.h"
#include "datasets/synth_terrain.h"

namespace tessera::synth {

namespace {

struct Road {
  std::vector<cv::Point2f> pts;
  int width = 3;
};

// A road from one border to another (or from a point on an existing road to a border), as a
// cubic Bezier whose control points are pushed sideways for curvature.
Road make_road(SynthRng& rng, int size, float unit, const std::vector<Road>& existing) {
  Road road;
  const float s = static_cast<float>(size);
  cv::Point2f p0, p3;
  const bool branch = !existing.empty() && rng.chance(0.45);
  if (branch) {
    const Road& parent =
        existing[static_cast<size_t>(rng.integer(0, static_cast<int64_t>(existing.size()) - 1))];
    const size_t n = parent.pts.size();
    p0 = parent.pts[static_cast<size_t>(
        rng.integer(static_cast<int64_t>(n / 5), static_cast<int64_t>(4 * n / 5)))];
    p3 = border_point(rng, size, static_cast<int>(rng.integer(0, 3)), 6.f * unit);
    road.width = std::max(2, static_cast<int>(std::lround(rng.uniform(2.2, 3.8) * unit)));
  } else {
    const int side0 = static_cast<int>(rng.integer(0, 3));
    const int side1 = (side0 + static_cast<int>(rng.integer(1, 3))) & 3;
    p0 = border_point(rng, size, side0, 6.f * unit);
    p3 = border_point(rng, size, side1, 6.f * unit);
    road.width = std::max(2, static_cast<int>(std::lround(rng.uniform(2.8, 5.5) * unit)));
  }
  const cv::Point2f d = p3 - p0;
  const float len = std::max(1.f, std::sqrt(d.dot(d)));
  const cv::Point2f normal(-d.y / len, d.x / len);
  const float bend1 = static_cast<float>(rng.uniform(-0.35, 0.35)) * s;
  const float bend2 = rng.chance(0.5) ? bend1 : static_cast<float>(rng.uniform(-0.35, 0.35)) * s;
  const cv::Point2f p1 = p0 + d * (1.f / 3.f) + normal * bend1;
  const cv::Point2f p2 = p0 + d * (2.f / 3.f) + normal * bend2;
  road.pts = bezier(p0, p1, p2, p3, std::max(24, size / 2));
  return road;
}

// Point on a road, its unit tangent and normal.
void road_frame(const Road& road, size_t i, cv::Point2f* p, cv::Point2f* tangent,
                cv::Point2f* normal) {
  const size_t j = std::min(i + 1, road.pts.size() - 1), k = i == j ? i - 1 : i;
  cv::Point2f t = road.pts[j] - road.pts[k];
  const float l = std::max(1e-6f, std::sqrt(t.dot(t)));
  t *= 1.f / l;
  *p = road.pts[i];
  *tangent = t;
  *normal = cv::Point2f(-t.y, t.x);
}

}  // namespace

Sample roads(int size, SynthRng& rng) {
  const float u = static_cast<float>(size) / 64.f;
  cv::Mat img = terrain(size, rng);
  add_fields(img, rng, u);

  // Road network.
  std::vector<Road> network;
  const int main_roads = static_cast<int>(rng.integer(1, 3));
  const int total = main_roads + static_cast<int>(rng.integer(0, 2));
  for (int i = 0; i < total; ++i) {
    // Keep roads that really cross the tile (not ones that only clip a corner or bulge out of
    // the image): at least ~60% of a side's length inside for main roads, 25% for branches.
    const double min_length = (network.empty() ? 0.6 : 0.25) * size;
    Road road;
    for (int attempt = 0; attempt < 12; ++attempt) {
      road = make_road(rng, size, u, network);
      cv::Mat probe = cv::Mat::zeros(size, size, CV_8UC1);
      draw_curve(probe, road.pts, cv::Scalar(1), road.width, cv::LINE_8);
      if (cv::countNonZero(probe) >= min_length * road.width) break;
    }
    network.push_back(road);
  }

  cv::Mat mask = cv::Mat::zeros(size, size, CV_8UC1);
  const cv::Mat grain = value_noise(size, size, rng, std::max(4, size / 3));
  for (const Road& road : network) {
    cv::Mat layer = cv::Mat::zeros(size, size, CV_8UC1);
    draw_curve(layer, road.pts, cv::Scalar(255), road.width, cv::LINE_8);
    const bool dirt = rng.chance(0.2);
    const float g = static_cast<float>(rng.uniform(0.36, 0.58));
    const Colour base = dirt ? Colour(0.74f, 0.67f, 0.55f)
                             : Colour(g, g * static_cast<float>(rng.uniform(0.97, 1.02)),
                                      g * static_cast<float>(rng.uniform(0.98, 1.06)));
    cv::Mat colour = lerp_colour(grain, base * 0.92f, base * 1.08f);
    blend(img, colour, layer);
    if (!dirt && road.width >= static_cast<int>(5 * u)) {  // dashed centre line
      for (size_t i = 0; i + 3 < road.pts.size(); i += 6) {
        std::vector<cv::Point2f> dash(road.pts.begin() + static_cast<long>(i),
                                      road.pts.begin() + static_cast<long>(i + 3));
        draw_curve(img, dash, cv::Scalar(0.85, 0.85, 0.8), 1, cv::LINE_8);
      }
    }
    cv::bitwise_or(mask, layer, mask);
  }
  mask.setTo(1, mask);

  // Houses: most along the roads (facing them), some scattered; never on a road.
  cv::Mat occupied;
  cv::dilate(mask, occupied, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(5, 5)),
             cv::Point(-1, -1), std::max(1, static_cast<int>(std::lround(u))));
  const int houses = static_cast<int>(rng.integer(2, 9) * u * u);
  for (int i = 0, tries = 0; i < houses && tries < houses * 8; ++tries) {
    House h;
    h.length = static_cast<float>(rng.uniform(4.5, 8.5)) * u;
    h.width = static_cast<float>(rng.uniform(3.5, 5.5)) * u;
    h.roof = random_roof_colour(rng);
    if (rng.chance(0.7)) {
      const Road& road =
          network[static_cast<size_t>(rng.integer(0, static_cast<int64_t>(network.size()) - 1))];
      cv::Point2f p, t, n;
      road_frame(road,
                 static_cast<size_t>(rng.integer(1, static_cast<int64_t>(road.pts.size()) - 2)), &p,
                 &t, &n);
      const float side = rng.chance(0.5) ? 1.f : -1.f;
      const float dist = static_cast<float>(road.width) * 0.5f + h.width * 0.5f +
                         static_cast<float>(rng.uniform(2.0, 4.0)) * u;
      h.centre = p + n * (side * dist);
      h.angle = std::atan2(t.y, t.x);
    } else {
      h.centre = cv::Point2f(static_cast<float>(rng.uniform(0, size)),
                             static_cast<float>(rng.uniform(0, size)));
      h.angle = static_cast<float>(rng.uniform(0, 3.14159265));
    }
    if (!polygon_free(occupied, rotated_rect(h.centre, h.length + 2 * u, h.width + 2 * u, h.angle)))
      continue;
    draw_house(img, h, u, &occupied);
    ++i;
  }

  // Trees: clumps and singles away from roads, plus a few canopies reaching over a road edge
  // (the mask keeps the road underneath, as in hand-labelled road maps).
  const int clumps = static_cast<int>(rng.integer(1, 4));
  for (int c = 0; c < clumps; ++c) {
    const cv::Point2f centre(static_cast<float>(rng.uniform(0, size)),
                             static_cast<float>(rng.uniform(0, size)));
    const int n = static_cast<int>(rng.integer(3, 12) * u);
    for (int k = 0; k < n; ++k) {
      const cv::Point2f p = centre + cv::Point2f(static_cast<float>(rng.normal(0, 5.0 * u)),
                                                 static_cast<float>(rng.normal(0, 5.0 * u)));
      const float r = static_cast<float>(rng.uniform(1.5, 3.2)) * u;
      const int x = static_cast<int>(p.x), y = static_cast<int>(p.y);
      if (x < 0 || y < 0 || x >= size || y >= size || occupied.at<uchar>(y, x)) continue;
      if (!polygon_free(occupied, rotated_rect(p, 2 * r + 2, 2 * r + 2, 0.f))) continue;
      draw_tree(img, p, r, rng);
    }
  }
  const int occluders = static_cast<int>(rng.integer(0, 2));
  for (int k = 0; k < occluders; ++k) {
    const Road& road =
        network[static_cast<size_t>(rng.integer(0, static_cast<int64_t>(network.size()) - 1))];
    cv::Point2f p, t, n;
    road_frame(road, static_cast<size_t>(rng.integer(2, static_cast<int64_t>(road.pts.size()) - 3)),
               &p, &t, &n);
    const float r = std::min(static_cast<float>(road.width) * 0.6f, 2.5f * u);
    const float side = rng.chance(0.5) ? 1.f : -1.f;
    draw_tree(img, p + n * (side * (static_cast<float>(road.width) * 0.5f + r * 0.5f)), r, rng);
  }

  // Sensor: slight global colour cast, optics blur, noise.
  const Colour cast(static_cast<float>(rng.uniform(0.92, 1.08)),
                    static_cast<float>(rng.uniform(0.95, 1.05)),
                    static_cast<float>(rng.uniform(0.92, 1.08)));
  cv::multiply(img, cv::Scalar(cast[0], cast[1], cast[2]), img);
  blur(img, 0.45 * u);
  add_gaussian_noise(img, 0.012, rng);
  Sample s;
  s.input = to_u8(img);
  s.target = mask;
  return s;
}

}  // namespace tessera::synth
