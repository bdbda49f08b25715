#include "datasets/synth_draw.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace tessera::synth {

cv::Mat value_noise(int h, int w, SynthRng& rng, int cells) {
  cells = std::max(cells, 1);
  cv::Mat grid(cells + 1, cells + 1, CV_32FC1);
  for (int y = 0; y < grid.rows; ++y) {
    float* row = grid.ptr<float>(y);
    for (int x = 0; x < grid.cols; ++x) row[x] = static_cast<float>(rng.uniform());
  }
  cv::Mat out;
  cv::resize(grid, out, cv::Size(w, h), 0, 0, cv::INTER_CUBIC);
  return out;
}

cv::Mat fractal_noise(int h, int w, SynthRng& rng, int base_cells, int octaves,
                      double persistence) {
  cv::Mat sum = cv::Mat::zeros(h, w, CV_32FC1);
  double amplitude = 1.0;
  int cells = std::max(base_cells, 1);
  for (int o = 0; o < octaves; ++o) {
    cv::scaleAdd(value_noise(h, w, rng, cells), amplitude, sum, sum);
    amplitude *= persistence;
    cells = std::min(cells * 2, std::max(h, w));
  }
  double lo = 0, hi = 0;
  cv::minMaxLoc(sum, &lo, &hi);
  if (hi - lo < 1e-9) return cv::Mat(h, w, CV_32FC1, cv::Scalar(0.5));
  sum.convertTo(sum, CV_32F, 1.0 / (hi - lo), -lo / (hi - lo));
  return sum;
}

cv::Mat lerp_colour(const cv::Mat& t, const Colour& a, const Colour& b) {
  CV_Assert(t.type() == CV_32FC1);
  cv::Mat out(t.size(), CV_32FC3);
  const Colour d = b - a;
  for (int y = 0; y < t.rows; ++y) {
    const float* tr = t.ptr<float>(y);
    cv::Vec3f* o = out.ptr<cv::Vec3f>(y);
    for (int x = 0; x < t.cols; ++x) o[x] = a + d * tr[x];
  }
  return out;
}

namespace {
cv::Mat alpha_f32(const cv::Mat& alpha) {
  if (alpha.type() == CV_32FC1) return alpha;
  CV_Assert(alpha.type() == CV_8UC1);
  cv::Mat a;
  alpha.convertTo(a, CV_32F, 1.0 / 255.0);
  return a;
}
}  // namespace

void blend(cv::Mat& canvas, const cv::Mat& colour_image, const cv::Mat& alpha) {
  CV_Assert(canvas.type() == CV_32FC3 && colour_image.type() == CV_32FC3);
  const cv::Mat a = alpha_f32(alpha);
  for (int y = 0; y < canvas.rows; ++y) {
    cv::Vec3f* c = canvas.ptr<cv::Vec3f>(y);
    const cv::Vec3f* s = colour_image.ptr<cv::Vec3f>(y);
    const float* ar = a.ptr<float>(y);
    for (int x = 0; x < canvas.cols; ++x) {
      if (ar[x] > 0.f) c[x] = c[x] * (1.f - ar[x]) + s[x] * ar[x];
    }
  }
}

void blend(cv::Mat& canvas, const Colour& colour, const cv::Mat& alpha) {
  CV_Assert(canvas.type() == CV_32FC3);
  const cv::Mat a = alpha_f32(alpha);
  for (int y = 0; y < canvas.rows; ++y) {
    cv::Vec3f* c = canvas.ptr<cv::Vec3f>(y);
    const float* ar = a.ptr<float>(y);
    for (int x = 0; x < canvas.cols; ++x) {
      if (ar[x] > 0.f) c[x] = c[x] * (1.f - ar[x]) + colour * ar[x];
    }
  }
}

void shade(cv::Mat& canvas, const cv::Mat& mask, float factor) {
  CV_Assert(canvas.type() == CV_32FC3 && mask.type() == CV_8UC1);
  for (int y = 0; y < canvas.rows; ++y) {
    cv::Vec3f* c = canvas.ptr<cv::Vec3f>(y);
    const uchar* m = mask.ptr<uchar>(y);
    for (int x = 0; x < canvas.cols; ++x) {
      if (m[x]) c[x] *= factor;
    }
  }
}

std::vector<cv::Point2f> bezier(const cv::Point2f& p0, const cv::Point2f& p1, const cv::Point2f& p2,
                                const cv::Point2f& p3, int n) {
  std::vector<cv::Point2f> pts;
  pts.reserve(static_cast<size_t>(n) + 1);
  for (int i = 0; i <= n; ++i) {
    const float t = static_cast<float>(i) / static_cast<float>(n);
    const float s = 1.f - t;
    pts.push_back(p0 * (s * s * s) + p1 * (3.f * s * s * t) + p2 * (3.f * s * t * t) +
                  p3 * (t * t * t));
  }
  return pts;
}

cv::Point2f border_point(SynthRng& rng, int size, int side, float outside) {
  const float along = static_cast<float>(rng.uniform(0.1, 0.9)) * static_cast<float>(size);
  const float lo = -outside, hi = static_cast<float>(size) + outside;
  switch (side & 3) {
    case 0:
      return {along, lo};
    case 1:
      return {hi, along};
    case 2:
      return {along, hi};
    default:
      return {lo, along};
  }
}

namespace {
constexpr int kShift = 4;
constexpr float kScale = 1 << kShift;
cv::Point fixed(const cv::Point2f& p) {
  return {static_cast<int>(std::lround(p.x * kScale)), static_cast<int>(std::lround(p.y * kScale))};
}
}  // namespace

void draw_curve(cv::Mat& img, const std::vector<cv::Point2f>& pts, const cv::Scalar& value,
                int thickness, int line_type) {
  if (pts.size() < 2) return;
  std::vector<cv::Point> fp;
  fp.reserve(pts.size());
  for (const auto& p : pts) fp.push_back(fixed(p));
  const std::vector<std::vector<cv::Point>> polys{fp};
  cv::polylines(img, polys, false, value, std::max(thickness, 1), line_type, kShift);
}

std::vector<cv::Point2f> rotated_rect(const cv::Point2f& centre, float w, float h, float angle) {
  const float c = std::cos(angle), s = std::sin(angle);
  const cv::Point2f ax(c * w * 0.5f, s * w * 0.5f), ay(-s * h * 0.5f, c * h * 0.5f);
  return {centre - ax - ay, centre + ax - ay, centre + ax + ay, centre - ax + ay};
}

void fill_polygon(cv::Mat& img, const std::vector<cv::Point2f>& pts, const cv::Scalar& value,
                  int line_type) {
  std::vector<cv::Point> fp;
  fp.reserve(pts.size());
  for (const auto& p : pts) fp.push_back(fixed(p));
  const std::vector<std::vector<cv::Point>> polys{fp};
  cv::fillPoly(img, polys, value, line_type, kShift);
}

bool polygon_free(const cv::Mat& occupied, const std::vector<cv::Point2f>& pts) {
  const cv::Rect bounds = cv::boundingRect(pts);
  const cv::Rect image(0, 0, occupied.cols, occupied.rows);
  if ((bounds & image) != bounds) return false;
  cv::Mat poly = cv::Mat::zeros(bounds.height + 1, bounds.width + 1, CV_8UC1);
  std::vector<cv::Point2f> local;
  for (const auto& p : pts)
    local.emplace_back(p.x - static_cast<float>(bounds.x), p.y - static_cast<float>(bounds.y));
  fill_polygon(poly, local, cv::Scalar(1));
  const cv::Rect roi = cv::Rect(bounds.x, bounds.y, poly.cols, poly.rows) & image;
  cv::Mat overlap;
  cv::bitwise_and(poly(cv::Rect(0, 0, roi.width, roi.height)), occupied(roi), overlap);
  return cv::countNonZero(overlap) == 0;
}

void add_gaussian_noise(cv::Mat& img, double sigma, SynthRng& rng) {
  CV_Assert(img.depth() == CV_32F);
  if (sigma <= 0) return;
  const int n = img.cols * img.channels();
  for (int y = 0; y < img.rows; ++y) {
    float* r = img.ptr<float>(y);
    for (int x = 0; x < n; ++x) r[x] += static_cast<float>(sigma * rng.normal());
  }
}

cv::Mat to_u8(const cv::Mat& img) {
  cv::Mat out;
  img.convertTo(out, CV_8U, 255.0);  // saturate_cast rounds and clips
  return out;
}

void blur(cv::Mat& img, double sigma) {
  if (sigma <= 0) return;
  cv::GaussianBlur(img, img, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT101);
}

Colour random_roof_colour(SynthRng& rng) {
  static const Colour kRoofs[] = {{0.62f, 0.30f, 0.22f},
                                  {0.50f, 0.24f, 0.18f},
                                  {0.30f, 0.31f, 0.35f},
                                  {0.86f, 0.84f, 0.80f},
                                  {0.55f, 0.42f, 0.30f}};
  const Colour base = kRoofs[rng.integer(0, 4)];
  const float j = static_cast<float>(rng.uniform(0.9, 1.1));
  return base * j;
}

void draw_house(cv::Mat& canvas, const House& house, float unit, cv::Mat* occupied, cv::Mat* labels,
                int label) {
  const auto footprint = rotated_rect(house.centre, house.length, house.width, house.angle);
  // Shadow: the footprint shifted down-right (sun from the top-left).
  std::vector<cv::Point2f> shadow;
  const cv::Point2f offset(1.2f * unit, 1.2f * unit);
  for (const auto& p : footprint) shadow.push_back(p + offset);
  cv::Mat shadow_mask = cv::Mat::zeros(canvas.size(), CV_8UC1);
  fill_polygon(shadow_mask, shadow, cv::Scalar(1));
  shade(canvas, shadow_mask, 0.55f);
  // Roof halves split along the ridge (the long axis): one lit, one darker.
  const cv::Point2f a = (footprint[0] + footprint[3]) * 0.5f,
                    b = (footprint[1] + footprint[2]) * 0.5f;
  const std::vector<cv::Point2f> half1{footprint[0], footprint[1], b, a};
  const std::vector<cv::Point2f> half2{a, b, footprint[2], footprint[3]};
  const Colour lit = house.roof * 1.08f, dark = house.roof * 0.78f;
  fill_polygon(canvas, half1, cv::Scalar(lit[0], lit[1], lit[2]));
  fill_polygon(canvas, half2, cv::Scalar(dark[0], dark[1], dark[2]));
  if (occupied) fill_polygon(*occupied, footprint, cv::Scalar(1));
  if (labels) fill_polygon(*labels, footprint, cv::Scalar(label));
}

void draw_tree(cv::Mat& canvas, const cv::Point2f& centre, float radius, SynthRng& rng) {
  const int r = std::max(1, static_cast<int>(std::lround(radius)));
  const cv::Point c(static_cast<int>(std::lround(centre.x)),
                    static_cast<int>(std::lround(centre.y)));
  cv::Mat shadow = cv::Mat::zeros(canvas.size(), CV_8UC1);
  const int so = std::max(1, r / 2);
  cv::circle(shadow, c + cv::Point(so, so), r, cv::Scalar(1), cv::FILLED);
  shade(canvas, shadow, 0.6f);
  const float g = static_cast<float>(rng.uniform(0.85, 1.15));
  const Colour crown = Colour(0.15f, 0.29f, 0.11f) * g;
  const Colour light = Colour(0.24f, 0.40f, 0.16f) * g;
  cv::circle(canvas, c, r, cv::Scalar(crown[0], crown[1], crown[2]), cv::FILLED);
  if (r >= 2) {
    cv::circle(canvas, c - cv::Point(r / 3, r / 3), std::max(1, r / 2),
               cv::Scalar(light[0], light[1], light[2]), cv::FILLED);
  }
}

}  // namespace tessera::synth
