// Synthetic generators: determinism, shapes/dtypes, and that targets agree with what the images
// show (mask coverage, colour statistics under the mask, exact pair relations).
#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <set>

#include "datasets/resize.h"
#include "datasets/synth.h"
#include "datasets/synth_generators.h"
#include "datasets/synth_rng.h"

namespace tessera {
namespace {

bool same_bytes(const cv::Mat& a, const cv::Mat& b) {
  if (a.type() != b.type() || a.size() != b.size()) return false;
  if (a.empty()) return true;
  return cv::countNonZero(a.reshape(1) != b.reshape(1)) == 0;
}

TEST(SynthRng, MatchesReferenceSplitmix64) {
  // Reference outputs of splitmix64 seeded with 0 (Vigna's splitmix64.c): a fixed platform-
  // independent sequence.
  SynthRng rng(0);
  EXPECT_EQ(rng.next_u64(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(rng.next_u64(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(rng.next_u64(), 0x06c45d188009454fULL);
}

TEST(SynthRng, DistributionsInRangeAndMoments) {
  SynthRng rng = SynthRng::for_sample(1, 2, 3);
  double sum = 0, sq = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    const int64_t k = rng.integer(-3, 5);
    ASSERT_GE(k, -3);
    ASSERT_LE(k, 5);
    const double z = rng.normal();
    sum += z;
    sq += z * z;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.03);
  EXPECT_NEAR(sq / n, 1.0, 0.05);
  // Streams and indices give different generators.
  EXPECT_NE(SynthRng::for_sample(1, 2, 0).next_u64(), SynthRng::for_sample(1, 2, 1).next_u64());
  EXPECT_NE(SynthRng::for_sample(1, 2).next_u64(), SynthRng::for_sample(1, 3).next_u64());
  EXPECT_NE(SynthRng::for_sample(1, 2).next_u64(), SynthRng::for_sample(2, 2).next_u64());
}

TEST(SynthTasks, ParseAndUnknownListsAccepted) {
  EXPECT_EQ(synth_task_from_string("superres"), SynthTask::superres);
  try {
    synth_task_from_string("road");
    FAIL() << "no error for an unknown task";
  } catch (const Error& e) {
    const std::string m = e.what();
    for (const auto& name : synth_task_names()) EXPECT_NE(m.find(name), std::string::npos) << m;
  }
}

// Every task: shapes and dtypes as DatasetInfo says, byte-identical for the same (seed, index),
// different for another index.
TEST(SynthTasks, ShapesDtypesAndDeterminism) {
  for (const auto& name : synth_task_names()) {
    const SynthTask task = synth_task_from_string(name);
    SynthParams p;
    p.size = 48;
    p.scale = 3;
    const DatasetInfo info = synth_dataset_info(task, p);
    validate_info(info, name);
    const Sample a = synth_sample(task, p, 7, 3);
    const Sample b = synth_sample(task, p, 7, 3);
    const Sample c = synth_sample(task, p, 7, 4);
    SCOPED_TRACE(name);
    EXPECT_EQ(a.input.rows, info.input_height);
    EXPECT_EQ(a.input.cols, info.input_width);
    EXPECT_EQ(a.input.type(), CV_8UC3);
    EXPECT_EQ(a.target.rows, info.height);
    EXPECT_EQ(a.target.cols, info.width);
    if (info.target_kind == "labels") {
      EXPECT_EQ(a.target.type(), CV_8UC1);
      double hi = 0;
      cv::minMaxLoc(a.target, nullptr, &hi);
      EXPECT_LE(hi, info.classes == 1 ? 1 : info.classes - 1);
    } else {
      EXPECT_EQ(a.target.type(), CV_8UC(info.target_channels));
    }
    EXPECT_TRUE(same_bytes(a.input, b.input));
    EXPECT_TRUE(same_bytes(a.target, b.target));
    EXPECT_EQ(a.label, b.label);
    EXPECT_FALSE(same_bytes(a.input, c.input));
    EXPECT_FALSE(same_bytes(synth_sample(task, p, 8, 3).input, a.input)) << "seed ignored";
  }
}

double chroma_mean(const cv::Mat& rgb, const cv::Mat& mask) {
  double sum = 0;
  int n = 0;
  for (int y = 0; y < rgb.rows; ++y) {
    for (int x = 0; x < rgb.cols; ++x) {
      if (!mask.at<uchar>(y, x)) continue;
      const cv::Vec3b v = rgb.at<cv::Vec3b>(y, x);
      sum += std::max({v[0], v[1], v[2]}) - std::min({v[0], v[1], v[2]});
      ++n;
    }
  }
  return n ? sum / n : 0.0;
}

TEST(SynthRoads, MaskCoverageAndRoadsLookDifferentFromTerrain) {
  double road_chroma = 0, terrain_chroma = 0;
  for (int i = 0; i < 20; ++i) {
    SynthRng rng = SynthRng::for_sample(11, static_cast<uint64_t>(i));
    const Sample s = synth::roads(64, rng);
    const double cover = cv::countNonZero(s.target) / (64.0 * 64.0);
    EXPECT_GT(cover, 0.02) << "sample " << i;
    EXPECT_LT(cover, 0.6) << "sample " << i;
    cv::Mat off = s.target == 0;
    road_chroma += chroma_mean(s.input, s.target);
    terrain_chroma += chroma_mean(s.input, off);
  }
  // Asphalt and gravel are nearly grey; grass, fields and trees are coloured.
  EXPECT_LT(road_chroma / 20, 0.5 * terrain_chroma / 20);
}

TEST(SynthCells, NucleiBrighterThanBackground) {
  for (int i = 0; i < 20; ++i) {
    SynthRng rng = SynthRng::for_sample(5, static_cast<uint64_t>(i));
    const Sample s = synth::cells(64, rng);
    const double cover = cv::countNonZero(s.target) / (64.0 * 64.0);
    EXPECT_GT(cover, 0.03) << "sample " << i;
    EXPECT_LT(cover, 0.8) << "sample " << i;
    cv::Mat grey;
    cv::cvtColor(s.input, grey, cv::COLOR_RGB2GRAY);
    const double in = cv::mean(grey, s.target)[0], out = cv::mean(grey, s.target == 0)[0];
    EXPECT_GT(in, out + 35) << "sample " << i;
  }
}

TEST(SynthMulticlass, EveryClassAppearsWithItsColour) {
  std::set<int> seen;
  cv::Scalar water_sum, veg_sum;
  for (int i = 0; i < 20; ++i) {
    SynthRng rng = SynthRng::for_sample(3, static_cast<uint64_t>(i));
    const Sample s = synth::multiclass(64, rng);
    for (int c = 0; c < synth::kMulticlassClasses; ++c) {
      if (cv::countNonZero(s.target == c)) seen.insert(c);
    }
    if (cv::countNonZero(s.target == synth::kWater))
      water_sum += cv::mean(s.input, s.target == synth::kWater);
    if (cv::countNonZero(s.target == synth::kVegetation))
      veg_sum += cv::mean(s.input, s.target == synth::kVegetation);
  }
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_GT(water_sum[2], water_sum[0] * 1.5);  // water is blue (RGB order)
  EXPECT_GT(veg_sum[1], veg_sum[0] * 1.2);      // vegetation is green
}

TEST(SynthStyle, TargetIsTheFixedFilterOfTheInput) {
  for (int i = 0; i < 3; ++i) {
    SynthRng rng = SynthRng::for_sample(9, static_cast<uint64_t>(i));
    const Sample s = synth::style(64, rng);
    EXPECT_TRUE(same_bytes(s.target, synth::painterly_filter(s.input)));
    cv::Mat diff;
    cv::absdiff(s.input, s.target, diff);
    EXPECT_GT(cv::mean(diff)[0], 5.0) << "the painterly rendering should visibly differ";
  }
}

TEST(SynthSuperres, InputIsTheChosenDownscaleOfTarget) {
  SynthRng rng = SynthRng::for_sample(2, 0);
  const Sample s = synth::superres(64, 4, Degradation::bicubic_aa, rng);
  ASSERT_EQ(s.input.size(), cv::Size(16, 16));
  EXPECT_TRUE(same_bytes(s.input, resize_bicubic_aa(s.target, cv::Size(16, 16))));
  // The other degradations are OpenCV's, on the same target (same generator state).
  for (const auto& [d, interp] : {std::pair{Degradation::opencv_cubic, cv::INTER_CUBIC},
                                  std::pair{Degradation::area, cv::INTER_AREA}}) {
    SynthRng again = SynthRng::for_sample(2, 0);
    const Sample o = synth::superres(64, 4, d, again);
    ASSERT_TRUE(same_bytes(o.target, s.target));
    cv::Mat expect;
    cv::resize(s.target, expect, cv::Size(16, 16), 0, 0, interp);
    EXPECT_TRUE(same_bytes(o.input, expect)) << to_string(d);
    EXPECT_FALSE(same_bytes(o.input, s.input)) << to_string(d);
  }
  // Rich texture: real high-frequency content.
  cv::Mat grey, lap;
  cv::cvtColor(s.target, grey, cv::COLOR_RGB2GRAY);
  cv::Laplacian(grey, lap, CV_32F);
  cv::Scalar mean, stddev;
  cv::meanStdDev(lap, mean, stddev);
  EXPECT_GT(stddev[0], 5.0);
}

TEST(SynthDenoise, NoiseHasTheRequestedSigmaAndCleanIsIndependentOfIt) {
  SynthParams p;
  p.size = 64;
  p.noise = 0.1;
  double sq = 0;
  int n = 0;
  for (int i = 0; i < 4; ++i) {
    const Sample s = synth_sample(SynthTask::denoise, p, 4, i);
    for (int y = 0; y < 64; ++y) {
      for (int x = 0; x < 64; ++x) {
        for (int c = 0; c < 3; ++c) {
          const int t = s.target.at<cv::Vec3b>(y, x)[c];
          if (t < 60 || t > 195) continue;  // away from clipping
          const double d = s.input.at<cv::Vec3b>(y, x)[c] - t;
          sq += d * d;
          ++n;
        }
      }
    }
  }
  ASSERT_GT(n, 1000);
  EXPECT_NEAR(std::sqrt(sq / n), 25.5, 2.5);
  SynthParams q = p;
  q.noise = 0.2;
  EXPECT_TRUE(same_bytes(synth_sample(SynthTask::denoise, p, 4, 1).target,
                         synth_sample(SynthTask::denoise, q, 4, 1).target));
}

TEST(SynthInpaint, HolesAreExactlyTheZeroPixels) {
  for (int i = 0; i < 5; ++i) {
    SynthRng rng = SynthRng::for_sample(6, static_cast<uint64_t>(i));
    const Sample s = synth::inpaint(64, 0.25, rng);
    std::vector<cv::Mat> ch;
    cv::split(s.target, ch);
    double lo = 0;
    for (const auto& c : ch) {
      cv::minMaxLoc(c, &lo);
      EXPECT_GE(lo, 1.0) << "clean target must never be 0 in a channel";
    }
    cv::Mat hole;
    cv::inRange(s.input, cv::Scalar(0, 0, 0), cv::Scalar(0, 0, 0), hole);
    const double frac = cv::countNonZero(hole) / (64.0 * 64.0);
    EXPECT_GT(frac, 0.05);
    EXPECT_LT(frac, 0.7);
    cv::Mat diff;
    cv::absdiff(s.input, s.target, diff);
    std::vector<cv::Mat> d;
    cv::split(diff, d);
    cv::Mat kept = cv::max(cv::max(d[0], d[1]), d[2]);
    kept.setTo(0, hole);
    EXPECT_EQ(cv::countNonZero(kept), 0) << "pixels outside holes must equal the target";
  }
}

TEST(SynthAnomaly, DefectFractionAndReconstructionTargets) {
  int defects = 0;
  for (int i = 0; i < 100; ++i) {
    SynthRng rng = SynthRng::for_sample(8, static_cast<uint64_t>(i));
    const Sample s = synth::anomaly(48, 0.3, rng);
    EXPECT_TRUE(same_bytes(s.input, s.target));
    defects += s.label;
    SynthRng normal_rng = SynthRng::for_sample(8, static_cast<uint64_t>(i));
    EXPECT_EQ(synth::anomaly(48, 0.0, normal_rng).label, 0);
  }
  EXPECT_GT(defects, 15);
  EXPECT_LT(defects, 45);
}

}  // namespace
}  // namespace tessera
