// The synthetic-data generators, one per synth task (docs/synthetic-data.md describes what each
// draws). Each is a pure function of (size, parameters, generator state): the caller derives the
// SynthRng from (seed, sample index) with SynthRng::for_sample, so a sample is reproducible alone.
//
// Conventions of the returned tessera::Sample (datasets/sample.h):
//   images are RGB, CV_8UC3, size x size (super-resolution inputs: size/scale);
//   segmentation targets are CV_8UC1 label maps (binary masks 0/1, multiclass 0..4);
//   image targets are CV_8UC3.
// Thread safety: pure functions; no shared state.
#pragma once

#include <opencv2/core.hpp>

#include "datasets/degradation.h"
#include "datasets/sample.h"
#include "datasets/synth_rng.h"

namespace tessera::synth {

inline constexpr int kMulticlassClasses = 5;
enum MulticlassLabel : int {
  kBackground = 0,
  kWater = 1,
  kBuilding = 2,
  kVegetation = 3,
  kRoad = 4
};

// Satellite-like tile with a road network; target = road mask (0/1).
Sample roads(int size, SynthRng& rng);

// Fluorescence-microscope-like image of touching/overlapping cells; target = cell mask (0/1).
Sample cells(int size, SynthRng& rng);

// Aerial scene; target = label map 0 background, 1 water, 2 building, 3 vegetation, 4 road.
Sample multiclass(int size, SynthRng& rng);

// A photo-like landscape (input) and the same scene through painterly_filter (target).
Sample style(int size, SynthRng& rng);

// The photo-like landscape alone (CV_8UC3 RGB).
cv::Mat landscape(int size, SynthRng& rng);

// The fixed painterly filter: edge-preserving smoothing, colour quantisation, brush-stroke
// texture derived from the image itself, ink outlines and a warm palette shift. A deterministic
// function of its input (no randomness), so input -> target is learnable. CV_8UC3 -> CV_8UC3.
cv::Mat painterly_filter(const cv::Mat& rgb);

// Rich texture: gratings, hard-edged shapes, text-like strokes, noise at several scales.
cv::Mat rich_texture(int size, SynthRng& rng);

// A clean natural-looking image for the restoration tasks: a rich texture, a landscape, or an
// aerial scene, chosen by the generator. CV_8UC3.
cv::Mat clean_image(int size, SynthRng& rng);

// Super-resolution pair: target = rich texture size x size, input = its down-scaling to
// size/scale by `degradation` (downscale below). size must be divisible by scale.
Sample superres(int size, int scale, Degradation degradation, SynthRng& rng);

// The low-resolution image of a super-resolution pair, used by superres and pack: `hr` (8-bit,
// any channels) down-scaled by `scale` to (cols / scale) x (rows / scale), rounded down:
// bicubic_aa = resize_bicubic_aa (datasets/resize.h, MATLAB-style symmetric edges),
// opencv_cubic = cv::INTER_CUBIC, area = cv::INTER_AREA.
cv::Mat downscale(const cv::Mat& hr, int scale, Degradation degradation);

// Denoising pair: target = clean image, input = clip(clean + N(0, sigma^2)) in [0,1] units,
// uint8. `noise_rng` draws the noise (a separate stream, so the clean image does not depend on
// sigma).
Sample denoise(int size, double sigma, SynthRng& rng, SynthRng& noise_rng);
cv::Mat add_noise_u8(const cv::Mat& clean, double sigma, SynthRng& noise_rng);

// Inpainting pair: target = clean image with every channel >= 1, input = the same with holes
// (rectangles and brush strokes covering about `fraction` of the image) set to 0, so value
// (0,0,0) marks exactly the hidden pixels.
Sample inpaint(int size, double fraction, SynthRng& rng);
// Applies random holes (value 0) to a copy of `clean` (clamped to >= 1 first). Returns the
// masked input; `clean_out` receives the clamped clean image.
cv::Mat make_holes(const cv::Mat& clean, double fraction, SynthRng& rng, cv::Mat* clean_out);

// Anomaly sample: a textured surface (fabric, brushed metal, wood grain); with probability
// defect_fraction a defect (scratch, spot, crack) is added and label = 1. input = target.
Sample anomaly(int size, double defect_fraction, SynthRng& rng);

}  // namespace tessera::synth
