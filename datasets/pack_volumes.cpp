#include "datasets/pack_volumes.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "common/error.h"

namespace tessera {

namespace {

double parse_number(const std::string& s, const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  TESSERA_CHECK(!s.empty() && end == s.c_str() + s.size() && std::isfinite(v),
                "pack: --intensity {}: '{}' is not a number", text, s);
  return v;
}

// Linear interpolation between closest ranks, as numpy.percentile's default.
double percentile(std::vector<float>& v, double p) {
  const double pos = p / 100.0 * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(lo), v.end());
  const double a = v[lo];
  if (lo + 1 >= v.size()) return a;
  const double b = *std::min_element(v.begin() + static_cast<long>(lo) + 1, v.end());
  return a + (pos - static_cast<double>(lo)) * (b - a);
}

// Voxel (i, j, k) of (row, col) of slice `index` along `axis` (nifti_volume.h).
std::string voxel_name(int axis, int64_t index, int row, int col) {
  const int64_t i = axis == 0 ? index : col;
  const int64_t j = axis == 1 ? index : axis == 0 ? col : row;
  const int64_t k = axis == 2 ? index : row;
  return fmt::format("voxel (i={}, j={}, k={})", i, j, k);
}

void check_same_grid(const NiftiVolume& image, const NiftiVolume& labels) {
  TESSERA_CHECK(image.shape() == labels.shape(),
                "{} is {}x{}x{} but its label volume {} is {}x{}x{}", image.path(),
                image.shape()[0], image.shape()[1], image.shape()[2], labels.path(),
                labels.shape()[0], labels.shape()[1], labels.shape()[2]);
  for (size_t r = 0; r < 3; ++r) {
    for (size_t c = 0; c < 4; ++c) {
      const double a = image.affine()[r][c], b = labels.affine()[r][c];
      TESSERA_CHECK(std::abs(a - b) <= 1e-4 * std::max({1.0, std::abs(a), std::abs(b)}),
                    "{} and its label volume {} are on different grids: affine[{}][{}] is {} "
                    "({}) vs {} ({}); resample the labels to the image first",
                    image.path(), labels.path(), r, c, a, image.affine_from(), b,
                    labels.affine_from());
    }
  }
}

nlohmann::json source_json(const VolumeOptions& o, const NiftiVolume& image,
                           const std::string& label_path, const Window& w, int64_t samples,
                           int64_t per_slice) {
  nlohmann::json affine = nlohmann::json::array();
  for (const auto& row : image.affine()) affine.push_back(row);
  return {{"file", image.path()},
          {"target", label_path},
          {"first_sample", 0},
          {"samples", samples},
          {"format", "nifti"},
          {"shape", image.shape()},
          {"spacing", image.spacing()},
          {"affine", affine},
          {"affine_from", image.affine_from()},
          {"datatype", image.datatype()},
          {"slice_axis", slice_axis_name(o.axis)},
          {"slices", image.slices(o.axis)},
          {"samples_per_slice", per_slice},
          {"intensity", {{"mapping", o.intensity.text}, {"lo", w.lo}, {"hi", w.hi}}}};
}

}  // namespace

IntensityMapping parse_intensity(const std::string& text) {
  IntensityMapping m;
  m.text = text;
  const auto colon = text.find(':');
  const std::string mode = text.substr(0, colon);
  const std::string args = colon == std::string::npos ? "" : text.substr(colon + 1);
  const auto comma = args.find(',');
  if (mode == "window" || mode == "percentile") {
    TESSERA_CHECK(comma != std::string::npos, "pack: --intensity {} needs two numbers: {}:A,B",
                  text, mode);
    m.mode = mode == "window" ? IntensityMapping::Mode::window : IntensityMapping::Mode::percentile;
    m.a = parse_number(args.substr(0, comma), text);
    m.b = parse_number(args.substr(comma + 1), text);
    TESSERA_CHECK(m.a < m.b, "pack: --intensity {}: the first number must be below the second",
                  text);
    TESSERA_CHECK(mode == "window" || (m.a >= 0 && m.b <= 100),
                  "pack: --intensity {}: percentiles must be in 0..100", text);
    return m;
  }
  if (mode == "zscore") {
    m.mode = IntensityMapping::Mode::zscore;
    m.a = args.empty() ? 3.0 : parse_number(args, text);
    TESSERA_CHECK(m.a > 0 && m.a <= 100, "pack: --intensity {}: K must be in (0, 100]", text);
    return m;
  }
  TESSERA_THROW(
      "pack: --intensity '{}': expected window:LO,HI (fixed, in the file's units, e.g. "
      "CT window:-160,240), percentile:P,Q (the volume's own, e.g. percentile:0.5,99.5) "
      "or zscore:K (the volume's mean -/+ K standard deviations)",
      text);
}

Window volume_window(const IntensityMapping& m, const NiftiVolume& volume) {
  Window w;
  if (m.mode == IntensityMapping::Mode::window) {
    w = {m.a, m.b};
  } else if (m.mode == IntensityMapping::Mode::percentile) {
    std::vector<float> v = volume.values();
    w = {percentile(v, m.a), percentile(v, m.b)};
  } else {
    double sum = 0.0, sq = 0.0;
    const std::vector<float> v = volume.values();
    for (float x : v) sum += x;
    const double mean = sum / static_cast<double>(v.size());
    for (float x : v) sq += (x - mean) * (x - mean);
    const double sd = std::sqrt(sq / static_cast<double>(v.size()));
    w = {mean - m.a * sd, mean + m.a * sd};
  }
  TESSERA_CHECK(w.hi > w.lo,
                "{}: --intensity {} gives the empty window [{}, {}] (a constant volume?)",
                volume.path(), m.text, w.lo, w.hi);
  return w;
}

cv::Mat window_to_u16(const cv::Mat& slice, const Window& w) {
  cv::Mat out(slice.rows, slice.cols, CV_16UC1);
  const double scale = 65535.0 / (w.hi - w.lo);
  for (int r = 0; r < slice.rows; ++r) {
    const auto* in = slice.ptr<double>(r);
    auto* o = out.ptr<uint16_t>(r);
    for (int c = 0; c < slice.cols; ++c) {
      const double v = std::clamp(in[c], w.lo, w.hi);
      o[c] = static_cast<uint16_t>(std::lround((v - w.lo) * scale));
    }
  }
  return out;
}

cv::Mat labels_to_u8(const cv::Mat& slice, const LabelMapOptions& o, const std::string& where,
                     int axis, int64_t index) {
  const int top = std::max(1, o.classes - 1);
  cv::Mat out(slice.rows, slice.cols, CV_8UC1);
  int64_t bad = 0;
  double first_value = 0;
  int first_row = 0, first_col = 0;
  for (int r = 0; r < slice.rows; ++r) {
    const auto* in = slice.ptr<double>(r);
    auto* o8 = out.ptr<uint8_t>(r);
    for (int c = 0; c < slice.cols; ++c) {
      const double v = in[c];
      if (o.ignore_value >= 0 && v == o.ignore_value) {
        o8[c] = kIgnoreLabel;
      } else if (v >= 0 && v <= top && v == std::floor(v)) {
        o8[c] = static_cast<uint8_t>(v);
      } else {
        if (bad++ == 0) first_value = v, first_row = r, first_col = c;
        o8[c] = 0;
      }
    }
  }
  TESSERA_CHECK(
      bad == 0,
      "{}: {} voxel(s) of slice {}={} hold label values outside 0..{}{} (first: {} at {}); "
      "expected integer labels 0..{} (--classes {})",
      where, bad, slice_axis_name(axis), index, top,
      o.ignore_value >= 0 ? fmt::format(" and the ignore value {}", o.ignore_value) : "",
      first_value, voxel_name(axis, index, first_row, first_col), top, o.classes);
  return out;
}

std::vector<Sample> volume_samples(const VolumeOptions& o, const LabelMapOptions& lo,
                                   const std::string& image_path, const std::string& label_path,
                                   nlohmann::json* source) {
  const NiftiVolume image = NiftiVolume::open(image_path);
  const NiftiVolume labels = NiftiVolume::open(label_path);
  check_same_grid(image, labels);
  const Window w = volume_window(o.intensity, image);
  std::vector<Sample> out;
  int64_t per_slice = 0;
  for (int64_t s = 0; s < image.slices(o.axis); ++s) {
    const std::string at = fmt::format("slice {}={}", slice_axis_name(o.axis), s);
    const cv::Mat label_slice = labels_to_u8(labels.slice(o.axis, s), lo, label_path, o.axis, s);
    const auto pairs = fit_pair(window_to_u16(image.slice(o.axis, s), w), label_slice, o.size, 1,
                                o.fit, true, image_path + " " + at, label_path + " " + at);
    per_slice = static_cast<int64_t>(pairs.size());
    for (const auto& [in, tg] : pairs) {
      Sample sample;
      sample.input = in;
      sample.target = tg;
      out.push_back(std::move(sample));
    }
  }
  if (source != nullptr) {
    *source = source_json(o, image, label_path, w, static_cast<int64_t>(out.size()), per_slice);
  }
  return out;
}

}  // namespace tessera
