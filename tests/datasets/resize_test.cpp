// datasets/resize.h, the antialiased bicubic down-scaler behind `--degradation bicubic_aa`:
// against PIL's Image.BICUBIC (tests/datasets/resize_reference.py, run by /usr/bin/python3) for
// x2, x3, x4 and odd sizes, with PIL's border rule and with MATLAB's mirrored borders; hand-checked
// pixels (constants stay constant, a ramp stays a ramp, the kernel's values); and the control:
// OpenCV's INTER_CUBIC, which does not antialias, is far from PIL on the same images.
#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "data_test_util.h"
#include "datasets/resize.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testutil::TempDir;

// High-frequency content in [16, 239]: blocks of hashed noise, a fine diagonal grating and flat
// blocks with hard edges. The range keeps PIL's first pass (rounded and clamped to 0..255 before
// the second, unlike ours) from clipping overshoots, so the two differ by rounding only.
cv::Mat test_image(int h, int w, int c) {
  cv::Mat m(h, w, CV_8UC(c));
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int k = 0; k < c; ++k) {
        uint32_t v = static_cast<uint32_t>(y * 7919 + x * 104729 + k * 1299709) * 2654435761u;
        v ^= v >> 15;
        const int kind = (x / 8 + y / 8) % 3;
        const double g = 111.5 + 111.5 * std::sin(2.7 * x + 1.9 * y + k);
        const int value = kind == 0   ? static_cast<int>(v % 224)
                          : kind == 1 ? static_cast<int>(std::lround(g))
                                      : 24 + 60 * k;
        m.ptr<uint8_t>(y)[x * c + k] = static_cast<uint8_t>(16 + value % 224);
      }
    }
  }
  return m;
}

fs::path script() {
  return fs::path(TESSERA_TEST_DATASETS_DIR) / "resize_reference.py";
}

bool have_pil() {
  return std::system("/usr/bin/python3 -c 'import numpy, PIL' >/dev/null 2>&1") == 0;
}

// PIL's resize of `src` (tests/datasets/resize_reference.py MODE).
cv::Mat pil_resize(const cv::Mat& src, cv::Size size, const std::string& mode) {
  TempDir dir;
  const std::string in = dir.sub("in.raw"), out = dir.sub("out.raw");
  std::ofstream(in, std::ios::binary)
      .write(reinterpret_cast<const char*>(src.data),
             static_cast<std::streamsize>(src.total() * src.elemSize()));
  const std::string cmd = "/usr/bin/python3 " + script().string() + " " + mode + " " + in + " " +
                          std::to_string(src.rows) + " " + std::to_string(src.cols) + " " +
                          std::to_string(src.channels()) + " " + std::to_string(size.height) + " " +
                          std::to_string(size.width) + " " + out;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  cv::Mat m(size, CV_8UC(src.channels()));
  std::ifstream(out, std::ios::binary)
      .read(reinterpret_cast<char*>(m.data),
            static_cast<std::streamsize>(m.total() * m.elemSize()));
  return m;
}

double max_diff(const cv::Mat& a, const cv::Mat& b, int frame = 0) {
  const cv::Rect r(frame, frame, a.cols - 2 * frame, a.rows - 2 * frame);
  cv::Mat d;
  cv::absdiff(a(r).reshape(1), b(r).reshape(1), d);
  double mx = 0;
  cv::minMaxLoc(d, nullptr, &mx);
  return mx;
}

struct Case {
  int h, w, c, oh, ow;
};

// (h, w, channels) -> (out h, out w): x2, x3, x4, and 37 x 29 / 3 (non-integer ratios 37/12, 29/9).
const Case kCases[] = {{64, 64, 3, 32, 32},
                       {48, 48, 3, 16, 16},
                       {64, 64, 1, 16, 16},
                       {37, 29, 3, 12, 9},
                       {29, 37, 2, 9, 12}};

TEST(ResizeVsPil, WithinOneLevelOfPilBicubic) {
  if (!have_pil())
    GTEST_SKIP() << "/usr/bin/python3 lacks numpy or PIL (scripts/setup.sh installs python3-pil)";
  for (const Case& k : kCases) {
    SCOPED_TRACE(testing::Message()
                 << k.h << "x" << k.w << "x" << k.c << " -> " << k.oh << "x" << k.ow);
    const cv::Mat src = test_image(k.h, k.w, k.c);
    const cv::Size size(k.ow, k.oh);
    const cv::Mat pil = pil_resize(src, size, "pil");
    const cv::Mat ours_pil_edges = resize_bicubic_aa(src, size, ResizeEdge::renormalize);
    const cv::Mat ours = resize_bicubic_aa(src, size);  // symmetric edges
    const double d_pil = max_diff(ours_pil_edges, pil);
    EXPECT_LE(d_pil, 1.0);
    // MATLAB's edges differ from PIL's only within 2 output pixels of the border.
    EXPECT_LE(max_diff(ours, pil, 2), 1.0);
    EXPECT_EQ(max_diff(ours, ours_pil_edges, 2), 0.0);
    const double d_edges = max_diff(ours, ours_pil_edges);
    EXPECT_GT(d_edges, 1.0) << "the edge rules should differ at the border";
    double d_sym = -1;
    if (k.h % k.oh == 0 && k.w % k.ow == 0 && k.h / k.oh == k.w / k.ow) {
      d_sym = max_diff(ours, pil_resize(src, size, "pil_symmetric"));
      EXPECT_LE(d_sym, 1.0);
    }
    std::printf(
        "%dx%dx%d -> %dx%d: max |ours - PIL| %.0f (PIL edges), %.0f (mirrored edges vs "
        "PIL of the mirror-padded image; -1 = not an integer factor); edge rules differ "
        "by up to %.0f at the border\n",
        k.h, k.w, k.c, k.oh, k.ow, d_pil, d_sym, d_edges);
  }
}

// The control: OpenCV's INTER_CUBIC (a = -0.75, no widening) on the same high-frequency image is
// many levels from PIL, so the comparison above can tell the two apart.
TEST(ResizeVsPil, OpenCvInterCubicIsFarFromPil) {
  if (!have_pil())
    GTEST_SKIP() << "/usr/bin/python3 lacks numpy or PIL (scripts/setup.sh installs python3-pil)";
  const cv::Mat src = test_image(64, 64, 3);
  for (int s : {2, 4}) {
    const cv::Size size(64 / s, 64 / s);
    cv::Mat cv_cubic;
    cv::resize(src, cv_cubic, size, 0, 0, cv::INTER_CUBIC);
    const double d = max_diff(cv_cubic, pil_resize(src, size, "pil"), 2);
    EXPECT_GE(d, 40.0) << "x" << s;
    std::printf("x%d: max |INTER_CUBIC - PIL| = %.0f levels (interior)\n", s, d);
  }
}

TEST(Resize, ConstantStaysConstant) {
  const uint8_t values[5] = {0, 1, 128, 254, 255};
  cv::Mat c(37, 29, CV_8UC(5));
  for (int y = 0; y < c.rows; ++y) {
    for (int x = 0; x < c.cols * 5; ++x) c.ptr<uint8_t>(y)[x] = values[x % 5];
  }
  for (ResizeEdge edge : {ResizeEdge::symmetric, ResizeEdge::renormalize}) {
    for (cv::Size size : {cv::Size(9, 12), cv::Size(29, 37), cv::Size(70, 81)}) {
      const cv::Mat out = resize_bicubic_aa(c, size, edge);
      ASSERT_EQ(out.size(), size);
      ASSERT_EQ(out.type(), CV_8UC(5));
      for (int y = 0; y < out.rows; ++y) {
        for (int x = 0; x < out.cols * 5; ++x) {
          ASSERT_EQ(out.ptr<uint8_t>(y)[x], values[x % 5]) << y << "," << x / 5;
        }
      }
    }
  }
}

// A linear ramp is reproduced exactly by a symmetric kernel with weights summing to 1, away from
// the borders (where no tap reaches past the edge): 10 + 2x shrunk by 2 samples x = 2i + 0.5,
// i.e. 11 + 4i; enlarged by 2 from 10 + 3x, x = (i + 0.5) / 2 - 0.5, i.e. 9.25 + 1.5 i.
TEST(Resize, RampStaysLinearAwayFromBorders) {
  cv::Mat ramp(8, 64, CV_8UC1), ramp3(8, 40, CV_8UC1);
  for (int x = 0; x < 64; ++x) ramp.col(x).setTo(10 + 2 * x);
  for (int x = 0; x < 40; ++x) ramp3.col(x).setTo(10 + 3 * x);
  const cv::Mat half = resize_bicubic_aa(ramp, cv::Size(32, 4));
  for (int i = 2; i < 30; ++i) EXPECT_EQ(half.at<uint8_t>(1, i), 11 + 4 * i) << i;
  const cv::Mat twice = resize_bicubic_aa(ramp3, cv::Size(80, 16));
  for (int i = 3; i <= 76; ++i) {
    EXPECT_EQ(twice.at<uint8_t>(5, i), static_cast<int>(std::floor(9.25 + 1.5 * i + 0.5))) << i;
  }
}

TEST(Resize, KernelAndWeightTables) {
  EXPECT_DOUBLE_EQ(cubic_kernel(0.0), 1.0);
  EXPECT_DOUBLE_EQ(cubic_kernel(0.5), 0.5625);
  EXPECT_DOUBLE_EQ(cubic_kernel(-1.0), 0.0);
  EXPECT_DOUBLE_EQ(cubic_kernel(1.5), -0.0625);
  EXPECT_DOUBLE_EQ(cubic_kernel(2.0), 0.0);
  // x2: the kernel widened to 8 input pixels; the weights of each output pixel sum to 1 and the
  // interior ones are the kernel at (j + 0.5 - 2i - 1) / 2, normalised.
  const AxisWeights a = cubic_axis_weights(64, 32, ResizeEdge::symmetric);
  EXPECT_EQ(a.taps, 10);
  for (int i = 0; i < 32; ++i) {
    double sum = 0;
    for (int t = 0; t < a.taps; ++t) sum += a.weight[static_cast<size_t>(i * a.taps + t)];
    EXPECT_NEAR(sum, 1.0, 1e-6) << i;
  }
  double norm = 0;
  for (int d = -4; d <= 3; ++d) norm += cubic_kernel((d + 0.5) / 2.0);
  const int i = 10;  // centre 21: taps 17..24
  for (int t = 0; t < a.taps; ++t) {
    const int j = a.index[static_cast<size_t>(i * a.taps + t)];
    const double w = a.weight[static_cast<size_t>(i * a.taps + t)];
    if (w == 0.0) continue;
    EXPECT_NEAR(w, cubic_kernel((j + 0.5 - 21.0) / 2.0) / norm, 1e-7) << j;
  }
  // Mirrored border taps land inside the image: -1 -> 0, -2 -> 1.
  for (int t = 0; t < a.taps; ++t) {
    EXPECT_GE(a.index[static_cast<size_t>(t)], 0);
    EXPECT_LT(a.index[static_cast<size_t>(t)], 64);
  }
}

TEST(Resize, RefusesOtherDepthsAndEmptySizes) {
  EXPECT_THROW(resize_bicubic_aa(cv::Mat(8, 8, CV_32FC1, 0.5f), cv::Size(4, 4)), Error);
  EXPECT_THROW(resize_bicubic_aa(cv::Mat(), cv::Size(4, 4)), Error);
  EXPECT_THROW(resize_bicubic_aa(cv::Mat(8, 8, CV_8UC1), cv::Size(0, 4)), Error);
}

}  // namespace
}  // namespace tessera
