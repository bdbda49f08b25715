// Drawing helpers shared by the synthetic-data generators (synth_*.cpp).
//
// Images under construction are CV_32FC3 RGB with values in [0, 1] ("canvas"); label maps and
// masks are CV_8UC1. All randomness comes from the SynthRng passed in, so every helper is
// deterministic given the generator state. Lengths are in pixels; generators scale them with the
// image size through a unit u = size / 64.
//
// Note: OpenCV draws anti-aliased lines only on 8-bit images; the helpers that need smooth edges
// (blend_alpha) draw into an 8-bit alpha mask first and blend through it.
//
// Thread safety: pure functions of their arguments (no global state).
#pragma once

#include <opencv2/core.hpp>

#include <vector>

#include "datasets/synth_rng.h"

namespace tessera::synth {

using Colour = cv::Vec3f;  // RGB in [0, 1]

// Smooth value noise: a (cells+1)^2 grid of uniform values, bicubically up-sampled to h x w.
// CV_32FC1, values roughly in [0, 1].
cv::Mat value_noise(int h, int w, SynthRng& rng, int cells);

// Sum of `octaves` value-noise layers (cells doubling, amplitude * persistence per octave),
// min-max normalised to [0, 1]. CV_32FC1.
cv::Mat fractal_noise(int h, int w, SynthRng& rng, int base_cells, int octaves,
                      double persistence = 0.5);

// Per-pixel colour a + t * (b - a) for a CV_32FC1 field t. Returns CV_32FC3.
cv::Mat lerp_colour(const cv::Mat& t, const Colour& a, const Colour& b);

// canvas = canvas * (1 - alpha) + colour_image * alpha, alpha CV_32FC1 in [0, 1] or CV_8UC1
// (0..255). colour_image is CV_32FC3 or a constant colour.
void blend(cv::Mat& canvas, const cv::Mat& colour_image, const cv::Mat& alpha);
void blend(cv::Mat& canvas, const Colour& colour, const cv::Mat& alpha);

// Multiplies each canvas channel by `factor` where mask != 0 (shadows, highlights).
void shade(cv::Mat& canvas, const cv::Mat& mask, float factor);

// Cubic Bezier curve through control points p0..p3, sampled at n + 1 points.
std::vector<cv::Point2f> bezier(const cv::Point2f& p0, const cv::Point2f& p1, const cv::Point2f& p2,
                                const cv::Point2f& p3, int n);

// A random point on side `side` (0 top, 1 right, 2 bottom, 3 left) of a size x size image,
// `outside` pixels beyond the border so that thick curves leave the image cleanly.
cv::Point2f border_point(SynthRng& rng, int size, int side, float outside);

// Draws a polyline with sub-pixel vertices (fixed-point shift 4) and round joins. The same call
// on an image and on a mask marks exactly the same pixels for the same thickness.
void draw_curve(cv::Mat& img, const std::vector<cv::Point2f>& pts, const cv::Scalar& value,
                int thickness, int line_type);

// Corners of a rotated rectangle (angle in radians).
std::vector<cv::Point2f> rotated_rect(const cv::Point2f& centre, float w, float h, float angle);

void fill_polygon(cv::Mat& img, const std::vector<cv::Point2f>& pts, const cv::Scalar& value,
                  int line_type = 8);

// True when no pixel of the polygon is set in `occupied` (CV_8UC1) and the polygon lies fully
// inside the image.
bool polygon_free(const cv::Mat& occupied, const std::vector<cv::Point2f>& pts);

// Adds N(0, sigma^2) to every element of a CV_32F image (any channel count).
void add_gaussian_noise(cv::Mat& img, double sigma, SynthRng& rng);

// Clips a CV_32F image to [0, 1] and converts to CV_8U (x * 255, rounded).
cv::Mat to_u8(const cv::Mat& img);

// Gaussian blur with standard deviation sigma (no-op for sigma <= 0).
void blur(cv::Mat& img, double sigma);

// A house seen from above: shadow, then a roof of two halves split along the ridge.
// `occupied` (optional, CV_8UC1) gets the roof footprint; `labels` (optional) gets `label` there.
struct House {
  cv::Point2f centre;
  float length = 6.f, width = 4.f, angle = 0.f;
  Colour roof{0.6f, 0.3f, 0.22f};
};
void draw_house(cv::Mat& canvas, const House& house, float unit, cv::Mat* occupied,
                cv::Mat* labels = nullptr, int label = 0);
Colour random_roof_colour(SynthRng& rng);

// A tree crown seen from above: offset shadow, dark crown, lighter highlight.
void draw_tree(cv::Mat& canvas, const cv::Point2f& centre, float radius, SynthRng& rng);

}  // namespace tessera::synth
