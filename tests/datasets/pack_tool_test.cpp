// run_pack end to end on real image folders: segmentation with stem-matched masks, unmatched and
// out-of-range errors raised before anything is written, super-resolution pairs from
// scikit-image's sample photos, seeded denoising, inpainting, anomaly splits, tiling counts.
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <unistd.h>
#include <filesystem>

#include "common/error.h"
#include "datasets/manifest.h"
#include "datasets/pack.h"
#include "datasets/resize.h"
#include "datasets/shard_file.h"
#include "datasets/synth_generators.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

const char* const kSkimageData = "/usr/lib/python3/dist-packages/skimage/data";

class PackTool : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tessera_pack_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "images");
    fs::create_directories(dir_ / "masks");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // n aerial tiles (w x h) with road masks saved as 0/255 PNGs named <stem>_mask.png.
  void write_roads(int n, int w, int h) {
    for (int i = 0; i < n; ++i) {
      SynthRng rng = SynthRng::for_sample(1, static_cast<uint64_t>(i));
      Sample s = synth::roads(std::max(w, h), rng);
      cv::Mat bgr;
      cv::cvtColor(s.input(cv::Rect(0, 0, w, h)), bgr, cv::COLOR_RGB2BGR);
      const std::string stem = "tile_" + std::to_string(i);
      cv::imwrite((dir_ / "images" / (stem + ".png")).string(), bgr);
      cv::imwrite((dir_ / "masks" / (stem + "_mask.png")).string(),
                  s.target(cv::Rect(0, 0, w, h)) * 255);
    }
  }
  PackOptions segmentation() const {
    PackOptions o;
    o.task = "segmentation";
    o.inputs = (dir_ / "images").string();
    o.targets = (dir_ / "masks").string();
    o.target_suffix = "_mask";
    o.out = (dir_ / "out").string();
    o.size = 32;
    o.val_fraction = 0.2;
    o.test_fraction = 0.2;
    return o;
  }
  fs::path dir_;
};

struct Stored {
  DatasetInfo info;
  std::vector<cv::Mat> inputs, targets;
  std::vector<int32_t> labels;
};
Stored read_split(const fs::path& dir) {
  Stored out;
  const Manifest m = load_manifest(dir.string());
  out.info = m.info;
  const std::vector<int64_t> ishape = input_sample_shape(m.info),
                             tshape = target_sample_shape(m.info);
  for (const auto& shard : m.shards) {
    ShardFile f((dir / shard.file).string());
    for (int64_t i = 0; i < f.layout().samples; ++i) {
      std::vector<uint8_t> in(static_cast<size_t>(input_bytes(m.info))),
          tg(static_cast<size_t>(target_bytes(m.info)));
      f.read_input(i, in, "test");
      f.read_target(i, tg, "test");
      const int tc = tshape.size() == 3 ? static_cast<int>(tshape[2]) : 1;
      out.inputs.push_back(cv::Mat(static_cast<int>(ishape[0]), static_cast<int>(ishape[1]),
                                   CV_8UC(static_cast<int>(ishape[2])), in.data())
                               .clone());
      out.targets.push_back(
          cv::Mat(static_cast<int>(tshape[0]), static_cast<int>(tshape[1]), CV_8UC(tc), tg.data())
              .clone());
      if (f.layout().has_labels) out.labels.push_back(f.labels()[static_cast<size_t>(i)]);
    }
  }
  return out;
}

std::string error_of(const PackOptions& o) {
  try {
    run_pack(o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST_F(PackTool, SegmentationMatchesMasksByStem) {
  write_roads(10, 48, 48);
  const PackSummary s = run_pack(segmentation());
  EXPECT_EQ(s.images.total(), 10);
  EXPECT_EQ(s.samples.train, 6);
  EXPECT_EQ(s.samples.val, 2);
  EXPECT_EQ(s.samples.test, 2);
  const Stored train = read_split(dir_ / "out" / "train");
  EXPECT_EQ(train.info.task, "segmentation");
  ASSERT_EQ(train.inputs.size(), 6u);
  int64_t road = 0;
  for (size_t i = 0; i < train.inputs.size(); ++i) {
    EXPECT_EQ(train.inputs[i].size(), cv::Size(32, 32));
    double hi = 0;
    cv::minMaxLoc(train.targets[i], nullptr, &hi);
    EXPECT_LE(hi, 1.0) << "0/255 masks are stored as 0/1";
    road += cv::countNonZero(train.targets[i]);
  }
  EXPECT_GT(road, 0);
}

TEST_F(PackTool, TilingCountsAndKeepsTilesOfAnImageInOneSplit) {
  write_roads(5, 100, 70);
  PackOptions o = segmentation();
  o.fit = "tile";
  o.shards = 2;
  const PackSummary s = run_pack(o);
  EXPECT_EQ(s.samples.total(), 5 * 6);  // 3 x 2 tiles of 32 per 100x70 image
  EXPECT_EQ(s.samples.train, 6 * s.images.train);
  EXPECT_EQ(s.samples.val, 6 * s.images.val);
  const Manifest m = load_manifest((dir_ / "out" / "train").string());
  EXPECT_EQ(m.total_samples(), s.samples.train);
  EXPECT_EQ(static_cast<int>(m.shards.size()), 2);
}

TEST_F(PackTool, UnmatchedFilesAreListedAndNothingIsWritten) {
  write_roads(4, 40, 40);
  cv::imwrite((dir_ / "images" / "lonely.png").string(),
              cv::Mat(40, 40, CV_8UC3, cv::Scalar(9, 9, 9)));
  cv::imwrite((dir_ / "masks" / "stray_mask.png").string(), cv::Mat::zeros(40, 40, CV_8UC1));
  const std::string e = error_of(segmentation());
  EXPECT_NE(e.find("lonely.png"), std::string::npos) << e;
  EXPECT_NE(e.find("stray_mask.png"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(PackTool, LabelOutOfRangeNamesTheFileBeforeWriting) {
  write_roads(6, 40, 40);
  for (int i = 0; i < 6; ++i) {  // label maps with values 0..2, except one pixel of tile_4
    const std::string mask =
        (dir_ / "masks" / ("tile_" + std::to_string(i) + "_mask.png")).string();
    cv::Mat m = cv::imread(mask, cv::IMREAD_GRAYSCALE) / 255 * 2;
    if (i == 4) m.at<uchar>(5, 6) = 3;
    cv::imwrite(mask, m);
  }
  PackOptions o = segmentation();
  o.classes = 3;
  const std::string e = error_of(o);
  EXPECT_NE(e.find("tile_4_mask.png has value 3 at (x=6, y=5)"), std::string::npos) << e;
  EXPECT_NE(e.find("0..2"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dir_ / "out" / "train" / "manifest.json"));
}

TEST_F(PackTool, OptionErrors) {
  PackOptions o = segmentation();
  o.task = "segment";
  EXPECT_NE(error_of(o).find("accepted (config task.kind)"), std::string::npos);
  o = segmentation();
  o.targets.clear();
  EXPECT_NE(error_of(o).find("needs --targets"), std::string::npos);
  o = segmentation();
  o.task = "inpainting";
  EXPECT_NE(error_of(o).find("--targets is not used"), std::string::npos);
  o = segmentation();
  o.fit = "squash";
  EXPECT_NE(error_of(o).find("resize, tile, center-crop"), std::string::npos);
  o = segmentation();
  o.task = "super_resolution";
  o.targets.clear();
  o.scale = 3;
  EXPECT_NE(error_of(o).find("not divisible by --scale"), std::string::npos);
  o.scale = 2;
  o.degradation = "lanczos";
  EXPECT_NE(error_of(o).find("accepted: bicubic_aa, opencv_cubic, area"), std::string::npos);
  o = segmentation();
  o.degradation = "bicubic_aa";
  EXPECT_NE(error_of(o).find("--degradation is for --task super_resolution"), std::string::npos);
}

// Copies scikit-image sample photos into DIR/images, or returns false when they are absent.
bool copy_skimage(const fs::path& images) {
  for (const char* name : {"astronaut.png", "coffee.png", "chelsea.png"}) {
    const fs::path src = fs::path(kSkimageData) / name;
    if (!fs::exists(src)) return false;
    fs::copy_file(src, images / name, fs::copy_options::overwrite_existing);
  }
  return true;
}

TEST_F(PackTool, SuperResolutionPairsFromRealPhotos) {
  if (!copy_skimage(dir_ / "images"))
    GTEST_SKIP() << "scikit-image sample images not found under " << kSkimageData
                 << " (install python3-skimage)";
  PackOptions o;
  o.task = "super_resolution";
  o.inputs = (dir_ / "images").string();
  o.out = (dir_ / "out").string();
  o.size = 128;
  o.scale = 4;
  o.fit = "tile";
  o.val_fraction = 0.3;
  o.test_fraction = 0.3;
  const PackSummary s = run_pack(o);
  // astronaut 512x512 -> 16 tiles, coffee 600x400 -> 4x3 = 12, chelsea 451x300 -> 3x2 = 6.
  EXPECT_EQ(s.samples.total(), 16 + 12 + 6);
  EXPECT_EQ(s.images.train, 1);
  for (Split split : kAllSplits) {
    const Stored st = read_split(dir_ / "out" / to_string(split));
    EXPECT_EQ(st.info.input_height, 32);
    EXPECT_EQ(st.info.height, 128);
    EXPECT_EQ(st.info.degradation, "bicubic_aa");  // the default
    for (size_t i = 0; i < st.inputs.size(); ++i) {
      const cv::Mat expect = resize_bicubic_aa(st.targets[i], cv::Size(32, 32));
      EXPECT_EQ(cv::countNonZero(expect.reshape(1) != st.inputs[i].reshape(1)), 0);
    }
  }
  // --degradation opencv_cubic: OpenCV's INTER_CUBIC, recorded as such.
  o.degradation = "opencv_cubic";
  o.overwrite = true;
  run_pack(o);
  const Stored st = read_split(dir_ / "out" / "train");
  EXPECT_EQ(st.info.degradation, "opencv_cubic");
  for (size_t i = 0; i < st.inputs.size(); ++i) {
    cv::Mat expect;
    cv::resize(st.targets[i], expect, cv::Size(32, 32), 0, 0, cv::INTER_CUBIC);
    EXPECT_EQ(cv::countNonZero(expect.reshape(1) != st.inputs[i].reshape(1)), 0);
  }
}

// Paired LR/HR folders record degradation `unknown` unless --degradation declares it, and a
// held-out split packed with another degradation is refused by --split's agreement check.
TEST_F(PackTool, SuperResolutionPairedDegradationIsDeclaredOrUnknown) {
  for (int i = 0; i < 3; ++i) {
    SynthRng rng = SynthRng::for_sample(4, static_cast<uint64_t>(i));
    const cv::Mat hr = synth::rich_texture(32, rng);
    const std::string stem = "img_" + std::to_string(i) + ".png";
    cv::imwrite((dir_ / "masks" / stem).string(), hr);
    cv::imwrite((dir_ / "images" / stem).string(),
                synth::downscale(hr, 2, Degradation::bicubic_aa));
  }
  PackOptions o;
  o.task = "super_resolution";
  o.inputs = (dir_ / "images").string();
  o.targets = (dir_ / "masks").string();
  o.out = (dir_ / "out").string();
  o.size = 32;
  o.split = "train";
  run_pack(o);
  EXPECT_EQ(load_manifest((dir_ / "out" / "train").string()).info.degradation, "unknown");
  PackOptions test = o;
  test.split = "test";
  test.targets.clear();
  test.inputs = (dir_ / "masks").string();  // HR images: LR made here, bicubic_aa
  const std::string err = error_of(test);
  EXPECT_NE(err.find("degradation differs"), std::string::npos) << err;
  EXPECT_NE(err.find("unknown"), std::string::npos) << err;
  o.degradation = "bicubic_aa";  // declared: how img_*.png were made
  o.overwrite = true;
  run_pack(o);
  EXPECT_EQ(load_manifest((dir_ / "out" / "train").string()).info.degradation, "bicubic_aa");
  run_pack(test);
  EXPECT_EQ(load_manifest((dir_ / "out" / "test").string()).info.degradation, "bicubic_aa");
}

TEST_F(PackTool, DenoisingIsSeededAndInpaintingHolesAreZero) {
  if (!copy_skimage(dir_ / "images"))
    GTEST_SKIP() << "scikit-image sample images not found under " << kSkimageData;
  PackOptions o;
  o.task = "denoising";
  o.inputs = (dir_ / "images").string();
  o.out = (dir_ / "a").string();
  o.size = 64;
  o.fit = "center-crop";
  o.val_fraction = 0.3;
  o.test_fraction = 0.3;
  run_pack(o);
  o.out = (dir_ / "b").string();
  run_pack(o);
  const Stored a = read_split(dir_ / "a" / "train"), b = read_split(dir_ / "b" / "train");
  ASSERT_EQ(a.inputs.size(), 1u);
  EXPECT_EQ(cv::countNonZero(a.inputs[0].reshape(1) != b.inputs[0].reshape(1)), 0);
  cv::Mat diff;
  cv::absdiff(a.inputs[0], a.targets[0], diff);
  EXPECT_GT(cv::mean(diff)[0], 8.0);  // sigma 0.1 -> mean |noise| ~ 20 before clipping

  o.task = "inpainting";
  o.out = (dir_ / "c").string();
  run_pack(o);
  const Stored c = read_split(dir_ / "c" / "val");
  cv::Mat hole;
  cv::inRange(c.inputs[0], cv::Scalar(0, 0, 0), cv::Scalar(0, 0, 0), hole);
  EXPECT_GT(cv::countNonZero(hole), 64 * 64 / 20);
  cv::Mat target_zero;
  cv::inRange(c.targets[0], cv::Scalar(0, 0, 0), cv::Scalar(0, 0, 0), target_zero);
  EXPECT_EQ(cv::countNonZero(target_zero), 0);
}

TEST_F(PackTool, AnomalyDefectsOnlyInValAndTest) {
  for (int i = 0; i < 8; ++i) {
    SynthRng rng = SynthRng::for_sample(2, static_cast<uint64_t>(i));
    cv::imwrite((dir_ / "images" / ("good_" + std::to_string(i) + ".png")).string(),
                synth::anomaly(32, 0.0, rng).input);
    SynthRng rng2 = SynthRng::for_sample(3, static_cast<uint64_t>(i));
    if (i < 4)
      cv::imwrite((dir_ / "masks" / ("bad_" + std::to_string(i) + ".png")).string(),
                  synth::anomaly(32, 1.0, rng2).input);
  }
  PackOptions o;
  o.task = "anomaly";
  o.inputs = (dir_ / "images").string();
  o.anomalies = (dir_ / "masks").string();
  o.out = (dir_ / "out").string();
  o.size = 32;
  o.val_fraction = 0.25;
  o.test_fraction = 0.25;
  const PackSummary s = run_pack(o);
  EXPECT_EQ(s.samples.train, 4);
  EXPECT_EQ(s.samples.val + s.samples.test, 8);
  const Stored train = read_split(dir_ / "out" / "train");
  for (int32_t l : train.labels) EXPECT_EQ(l, 0);
  int defects = 0;
  for (Split split : {Split::val, Split::test}) {
    for (int32_t l : read_split(dir_ / "out" / to_string(split)).labels) defects += l;
  }
  EXPECT_EQ(defects, 4);
}

// --split NAME: a held-out folder packed straight into one split beside a root packed before;
// the other splits are left alone, and a split of other data is refused (control: same data).
TEST_F(PackTool, SplitPacksOneSplitBesideAnExistingRoot) {
  write_roads(10, 48, 48);
  run_pack(segmentation());
  const fs::path out = dir_ / "out";
  const auto train_before = fs::last_write_time(out / "train" / kManifestName);
  PackOptions o = segmentation();
  o.split = "test";
  EXPECT_NE(error_of(o).find("already holds a dataset"), std::string::npos) << "needs --overwrite";
  o.overwrite = true;
  const PackSummary s = run_pack(o);
  EXPECT_EQ(s.samples.test, 10);
  EXPECT_EQ(s.samples.train + s.samples.val, 0);
  EXPECT_EQ(read_split(out / "test").inputs.size(), 10u);
  EXPECT_EQ(read_split(out / "train").inputs.size(), 6u) << "train/ must be untouched";
  EXPECT_EQ(fs::last_write_time(out / "train" / kManifestName), train_before);
  o.fractions_set = true;
  EXPECT_NE(error_of(o).find("not used with it"), std::string::npos);
  o.fractions_set = false;
  o.size = 16;  // other data than the train/ and val/ already there
  const std::string e = error_of(o);
  EXPECT_NE(e.find("input size differs"), std::string::npos) << e;
  EXPECT_EQ(read_split(out / "test").inputs.size(), 10u) << "a refused pack wrote nothing";
  o.split = "holdout";
  EXPECT_NE(error_of(o).find("train, val or test"), std::string::npos);
}

// --inputs ROOT with train/ val/ test/ folders (and --targets ROOT likewise): those are the
// splits, no random draw; a fraction set with them is refused.
TEST_F(PackTool, OwnSplitFoldersDecideTheSplits) {
  write_roads(9, 32, 32);
  const char* split_of[] = {"train", "train", "train", "train", "train", "val", "val", "test",
                            "test"};
  for (int i = 0; i < 9; ++i) {
    for (const char* kind : {"images", "masks"}) {
      const fs::path dir = dir_ / (std::string(kind) + "-root") / split_of[i];
      fs::create_directories(dir);
      const std::string name = "tile_" + std::to_string(i) +
                               (std::string(kind) == "masks" ? "_mask.png" : ".png");
      fs::rename(dir_ / kind / name, dir / name);
    }
  }
  PackOptions o = segmentation();
  o.inputs = (dir_ / "images-root").string();
  o.targets = (dir_ / "masks-root").string();
  const PackSummary s = run_pack(o);
  EXPECT_EQ(s.samples.train, 5);
  EXPECT_EQ(s.samples.val, 2);
  EXPECT_EQ(s.samples.test, 2);
  o.overwrite = true;
  o.fractions_set = true;
  EXPECT_NE(error_of(o).find("its own split folders"), std::string::npos);
}

}  // namespace
}  // namespace tessera
