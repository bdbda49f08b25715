// run_synth end to end: split directories with manifests and shards, samples stored exactly as
// generated, option validation.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cstring>
#include <filesystem>

#include "common/error.h"
#include "datasets/manifest.h"
#include "datasets/shard_file.h"
#include "datasets/synth.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

class SynthTool : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tessera_synth_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// Reads every sample of a split back: (inputs bytes, targets bytes, labels).
struct Stored {
  std::vector<std::vector<uint8_t>> inputs, targets;
  std::vector<int32_t> labels;
};
Stored read_split(const fs::path& dir) {
  const Manifest m = load_manifest(dir.string());
  Stored out;
  for (const auto& shard : m.shards) {
    ShardFile f((dir / shard.file).string());
    for (int64_t i = 0; i < f.layout().samples; ++i) {
      std::vector<uint8_t> in(static_cast<size_t>(input_bytes(m.info))),
          tg(static_cast<size_t>(target_bytes(m.info)));
      f.read_input(i, in, "test");
      f.read_target(i, tg, "test");
      out.inputs.push_back(std::move(in));
      out.targets.push_back(std::move(tg));
      if (f.layout().has_labels) out.labels.push_back(f.labels()[static_cast<size_t>(i)]);
    }
  }
  return out;
}

std::vector<uint8_t> bytes_of(const cv::Mat& m) {
  const cv::Mat c = m.isContinuous() ? m : m.clone();
  return std::vector<uint8_t>(c.data, c.data + c.total() * c.elemSize());
}

TEST_F(SynthTool, WritesSplitsWhoseSamplesAreTheGeneratedOnes) {
  SynthOptions o;
  o.task = "roads";
  o.out = dir_.string();
  o.samples = 40;
  o.size = 32;
  o.shards = 3;
  o.seed = 123;
  o.val_fraction = 0.2;
  o.test_fraction = 0.1;
  const SynthSummary s = run_synth(o);
  EXPECT_EQ(s.counts.train, 28);
  EXPECT_EQ(s.counts.val, 8);
  EXPECT_EQ(s.counts.test, 4);

  const auto assignment = assign_splits(40, 0.2, 0.1, 123);
  SynthParams p;
  p.size = 32;
  for (Split split : kAllSplits) {
    SCOPED_TRACE(to_string(split));
    const fs::path sub = dir_ / to_string(split);
    const Manifest m = load_manifest(sub.string());
    EXPECT_FALSE(m.derived);
    EXPECT_EQ(m.total_samples(), s.counts.of(split));
    EXPECT_EQ(static_cast<int>(m.shards.size()), shards_for(s.counts.of(split), 3));
    EXPECT_EQ(m.info, synth_dataset_info(SynthTask::roads, p));
    EXPECT_EQ(m.info.task, "segmentation");
    // Stored samples, in order, are exactly the generated samples of this split's indices.
    const Stored stored = read_split(sub);
    size_t k = 0;
    for (int64_t i = 0; i < 40; ++i) {
      if (assignment[static_cast<size_t>(i)] != split) continue;
      ASSERT_LT(k, stored.inputs.size());
      const Sample g = synth_sample(SynthTask::roads, p, 123, i);
      EXPECT_EQ(stored.inputs[k], bytes_of(g.input)) << "sample index " << i;
      EXPECT_EQ(stored.targets[k], bytes_of(g.target)) << "sample index " << i;
      ++k;
    }
    EXPECT_EQ(k, stored.inputs.size());
  }
  // Existing output is refused unless overwrite; a rerun (here gzip-compressed) stores the same
  // samples.
  const Stored before = read_split(dir_ / "val");
  EXPECT_THROW(run_synth(o), Error);
  o.overwrite = true;
  o.gzip = 4;
  EXPECT_NO_THROW(run_synth(o));
  const Stored after = read_split(dir_ / "val");
  EXPECT_EQ(before.inputs, after.inputs);
  EXPECT_EQ(before.targets, after.targets);
}

TEST_F(SynthTool, AnomalyTrainSplitHoldsOnlyNormalSamples) {
  SynthOptions o;
  o.task = "anomaly";
  o.out = dir_.string();
  o.samples = 60;
  o.size = 32;
  o.val_fraction = 0.25;
  o.test_fraction = 0.25;
  const SynthSummary s = run_synth(o);
  const Stored train = read_split(dir_ / "train");
  ASSERT_EQ(static_cast<int64_t>(train.labels.size()), s.counts.train);
  for (int32_t l : train.labels) EXPECT_EQ(l, 0);
  const Stored val = read_split(dir_ / "val"), test = read_split(dir_ / "test");
  int defects = 0;
  for (int32_t l : val.labels) defects += l;
  for (int32_t l : test.labels) defects += l;
  EXPECT_EQ(defects, s.defects_val + s.defects_test);
  EXPECT_GT(defects, 0);
  EXPECT_LT(defects, static_cast<int>(s.counts.val + s.counts.test));
  EXPECT_EQ(val.inputs, val.targets);  // reconstruction targets
}

TEST_F(SynthTool, EveryTaskWritesAValidDataset) {
  for (const auto& task : synth_task_names()) {
    SCOPED_TRACE(task);
    SynthOptions o;
    o.task = task;
    o.out = (dir_ / task).string();
    o.samples = 6;
    o.size = 32;
    o.val_fraction = 0.2;
    o.test_fraction = 0.2;
    run_synth(o);
    for (Split split : kAllSplits) {
      const Manifest m = load_manifest((dir_ / task / to_string(split)).string());
      EXPECT_GE(m.total_samples(), 1);
      if (task == "superres") {
        EXPECT_EQ(m.info.input_height, 16);
      }
      EXPECT_EQ(m.info.degradation, task == "superres" ? "bicubic_aa" : "");
      if (task == "multiclass") {
        EXPECT_EQ(m.info.classes, 5);
      }
    }
  }
}

void expect_error(const SynthOptions& o, const std::string& fragment) {
  try {
    validate_synth_options(o);
    ADD_FAILURE() << "no error; expected one mentioning '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(SynthOptionsValidation, ClearErrors) {
  SynthOptions o;
  o.task = "roads";
  o.out = "/tmp/unused";
  validate_synth_options(o);
  SynthOptions bad = o;
  bad.task = "street";
  expect_error(bad,
               "accepted: roads, cells, multiclass, style, superres, denoise, inpaint, anomaly");
  bad = o;
  bad.size = 16;
  expect_error(bad, "--size");
  bad = o;
  bad.val_fraction = 0.6;
  bad.test_fraction = 0.4;
  expect_error(bad, "must be < 1");
  bad = o;
  bad.test_fraction = -0.1;
  expect_error(bad, "--test-fraction");
  bad = o;
  bad.task = "superres";
  bad.size = 64;
  bad.scale = 3;
  expect_error(bad, "not divisible by --scale");
  bad = o;
  bad.degradation = "bicubic_aa";
  expect_error(bad, "--degradation is for --task superres");
  bad.task = "superres";
  bad.degradation = "bilinear";
  expect_error(bad, "accepted: bicubic_aa, opencv_cubic, area");
  bad = o;
  bad.task = "denoise";
  bad.noise = 0;
  expect_error(bad, "--noise");
  bad = o;
  bad.samples = 2;
  expect_error(bad, "nothing is left for training");
  bad = o;
  bad.out.clear();
  expect_error(bad, "--out");
  bad = o;
  bad.shards = 0;
  expect_error(bad, "--shards");
}

}  // namespace
}  // namespace tessera
