// Cells: fluorescence-microscope-like images of nuclei and their binary mask.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "datasets/synth_draw.h"
#include "datasets/synth_generators.h"

namespace tessera::synth {

namespace {

struct Cell {
  cv::Point2f centre;
  float a = 5.f, b = 4.f;  // semi-axes
};

// An irregular ellipse: the ellipse radius modulated by low harmonics (lobes, flattened sides).
std::vector<cv::Point2f> cell_outline(const Cell& cell, SynthRng& rng) {
  const float angle = static_cast<float>(rng.uniform(0, 3.14159265));
  float amp[3], phase[3];
  for (int k = 0; k < 3; ++k) {
    amp[k] = static_cast<float>(rng.uniform(0.0, 0.07));
    phase[k] = static_cast<float>(rng.uniform(0, 6.2831853));
  }
  const int n = 32;
  std::vector<cv::Point2f> pts;
  pts.reserve(n);
  const float ca = std::cos(angle), sa = std::sin(angle);
  for (int i = 0; i < n; ++i) {
    const float t = 6.2831853f * static_cast<float>(i) / static_cast<float>(n);
    float r = 1.f;
    for (int k = 0; k < 3; ++k) r += amp[k] * std::cos(static_cast<float>(k + 2) * t + phase[k]);
    const float x = cell.a * r * std::cos(t), y = cell.b * r * std::sin(t);
    pts.emplace_back(cell.centre.x + x * ca - y * sa, cell.centre.y + x * sa + y * ca);
  }
  return pts;
}

}  // namespace

Sample cells(int size, SynthRng& rng) {
  const float u = static_cast<float>(size) / 64.f;
  const float fs = static_cast<float>(size);

  // Nuclei: some scattered, many in clusters where they touch or overlap.
  std::vector<Cell> cells;
  const int n = std::max(3, static_cast<int>(rng.uniform(7, 18) * u * u));
  for (int i = 0; i < n; ++i) {
    Cell c;
    c.a = static_cast<float>(rng.uniform(4.0, 7.5)) * u;
    c.b = c.a * static_cast<float>(rng.uniform(0.6, 1.0));
    if (!cells.empty() && rng.chance(0.45)) {
      const Cell& prev =
          cells[static_cast<size_t>(rng.integer(0, static_cast<int64_t>(cells.size()) - 1))];
      const float dir = static_cast<float>(rng.uniform(0, 6.2831853));
      const float dist = (0.5f * (prev.a + prev.b) + 0.5f * (c.a + c.b)) *
                         static_cast<float>(rng.uniform(0.72, 1.0));
      c.centre = prev.centre + cv::Point2f(std::cos(dir), std::sin(dir)) * dist;
    } else {
      c.centre = cv::Point2f(static_cast<float>(rng.uniform(-0.05, 1.05)) * fs,
                             static_cast<float>(rng.uniform(-0.05, 1.05)) * fs);
    }
    cells.push_back(c);
  }

  cv::Mat mask = cv::Mat::zeros(size, size, CV_8UC1);
  cv::Mat signal = cv::Mat::zeros(size, size, CV_32FC1);
  const cv::Mat chromatin = fractal_noise(size, size, rng, std::max(4, size / 8), 3);
  for (const Cell& c : cells) {
    const auto outline = cell_outline(c, rng);
    cv::Mat body = cv::Mat::zeros(size, size, CV_8UC1);
    fill_polygon(body, outline, cv::Scalar(1));
    const float level = static_cast<float>(rng.uniform(0.5, 0.9));
    // Nucleoli: one or two small darker spots inside.
    cv::Mat spots = cv::Mat::zeros(size, size, CV_8UC1);
    const int nspots = static_cast<int>(rng.integer(0, 2));
    for (int k = 0; k < nspots; ++k) {
      const cv::Point2f off(static_cast<float>(rng.uniform(-0.4, 0.4)) * c.a,
                            static_cast<float>(rng.uniform(-0.4, 0.4)) * c.b);
      const int r = std::max(1, static_cast<int>(std::lround(rng.uniform(0.12, 0.22) * c.b)));
      cv::circle(
          spots,
          cv::Point(static_cast<int>(c.centre.x + off.x), static_cast<int>(c.centre.y + off.y)), r,
          cv::Scalar(1), cv::FILLED);
    }
    for (int y = 0; y < size; ++y) {
      const uchar* br = body.ptr<uchar>(y);
      const uchar* sr = spots.ptr<uchar>(y);
      const float* cr = chromatin.ptr<float>(y);
      float* out = signal.ptr<float>(y);
      for (int x = 0; x < size; ++x) {
        if (!br[x]) continue;
        float v = level * (0.8f + 0.35f * cr[x]) * (sr[x] ? 0.75f : 1.f);
        // Overlapping nuclei add up partially (brighter overlap, as in fluorescence).
        out[x] = out[x] > 0.f ? std::max(out[x], v) + 0.12f : v;
      }
    }
    cv::bitwise_or(mask, body, mask);
  }

  // Out-of-focus debris: faint, very blurry blobs that are not cells.
  cv::Mat debris = cv::Mat::zeros(size, size, CV_32FC1);
  const int ndebris = static_cast<int>(rng.integer(0, 3));
  for (int k = 0; k < ndebris; ++k) {
    cv::circle(
        debris,
        cv::Point(static_cast<int>(rng.uniform(0, size)), static_cast<int>(rng.uniform(0, size))),
        std::max(2, static_cast<int>(rng.uniform(3, 7) * u)), cv::Scalar(rng.uniform(0.08, 0.14)),
        cv::FILLED);
  }
  blur(debris, 3.0 * u);

  // Optics: blur of the in-focus signal; background level, illumination gradient, vignetting-like
  // low-frequency variation; camera noise.
  blur(signal, 0.7 * u);
  const float bg = static_cast<float>(rng.uniform(0.04, 0.12));
  const float gdir = static_cast<float>(rng.uniform(0, 6.2831853));
  const float gamp = static_cast<float>(rng.uniform(0.0, 0.08));
  const cv::Mat illum = value_noise(size, size, rng, 2);
  cv::Mat intensity(size, size, CV_32FC1);
  for (int y = 0; y < size; ++y) {
    const float* sr = signal.ptr<float>(y);
    const float* dr = debris.ptr<float>(y);
    const float* ir = illum.ptr<float>(y);
    float* out = intensity.ptr<float>(y);
    for (int x = 0; x < size; ++x) {
      const float g = gamp * ((static_cast<float>(x) / fs - 0.5f) * std::cos(gdir) +
                              (static_cast<float>(y) / fs - 0.5f) * std::sin(gdir));
      out[x] = (bg + g + 0.04f * ir[x] + dr[x] + sr[x]) * (0.9f + 0.2f * ir[x]);
    }
  }
  add_gaussian_noise(intensity, rng.uniform(0.015, 0.045), rng);

  // Stain colour: DAPI blue, GFP green or grey.
  static const Colour kStains[] = {
      {0.35f, 0.55f, 1.0f}, {0.40f, 1.0f, 0.45f}, {0.95f, 0.95f, 0.95f}};
  const Colour stain = kStains[rng.integer(0, 2)];
  cv::Mat rgb = lerp_colour(intensity, Colour(0.f, 0.f, 0.f), stain);
  Sample s;
  s.input = to_u8(rgb);
  s.target = mask;
  return s;
}

}  // namespace tessera::synth
