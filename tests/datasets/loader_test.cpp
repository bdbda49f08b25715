// Loader: determinism across thread counts, exact resume from the cursor, rank partitions,
// eval batches (full images, stored values), tensor shapes/dtypes per target kind.
#include <gtest/gtest.h>

#include <set>

#include "data_test_util.h"
#include "datasets/loader.h"

namespace tessera {
namespace {

using namespace testutil;

DataConfig cfg_with(int threads, int prefetch, const std::string& shuffle = "global") {
  DataConfig c;
  c.batch_size = 3;
  c.image_size = 8;
  c.loader_threads = threads;
  c.prefetch_batches = prefetch;
  c.shuffle = shuffle;
  c.shuffle_buffer = 7;
  c.augment.scale_jitter = 0.2f;
  c.augment.color_jitter = 0.1f;
  return c;
}

std::vector<Batch> epoch_batches(Loader& l, int64_t epoch, int limit = 1 << 30) {
  l.start_epoch(epoch);
  std::vector<Batch> out;
  while (static_cast<int>(out.size()) < limit) {
    auto b = l.next();
    if (!b) break;
    out.push_back(std::move(*b));
  }
  return out;
}

void expect_same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].indices, b[k].indices) << "batch " << k;
    EXPECT_TRUE(torch::equal(a[k].inputs, b[k].inputs)) << "batch " << k;
    EXPECT_TRUE(torch::equal(a[k].targets, b[k].targets)) << "batch " << k;
  }
}

class LoaderData : public ::testing::Test {
 protected:
  void SetUp() override {
    info_ = seg_info(12, 12, 3, 1);
    write_dataset(tmp_.sub("seg"), info_, 40, 9, 1);
  }
  TempDir tmp_;
  DatasetInfo info_;
};

TEST_F(LoaderData, DeterministicAcrossThreadCountsAndPrefetch) {
  for (const std::string shuffle : {"global", "shards"}) {
    LoaderOptions o;
    o.seed = 11;
    Loader ref(cfg_with(0, 1, shuffle), tmp_.sub("seg"), o);
    auto e0 = epoch_batches(ref, 0);
    auto e1 = epoch_batches(ref, 1);
    EXPECT_EQ(static_cast<int64_t>(e0.size()), ref.batches_per_epoch());
    EXPECT_EQ(e0.size(), 13u);
    for (auto [threads, prefetch] : {std::pair{1, 1}, {2, 2}, {3, 5}}) {
      Loader l(cfg_with(threads, prefetch, shuffle), tmp_.sub("seg"), o);
      expect_same(epoch_batches(l, 0), e0);
      expect_same(epoch_batches(l, 1), e1);
    }
    // Different epochs differ in order and augmentation.
    EXPECT_NE(e0[0].indices, e1[0].indices);
  }
}

TEST_F(LoaderData, TrainBatchesHaveCropShapeAndValidValues) {
  Loader l(cfg_with(2, 2), tmp_.sub("seg"), {});
  EXPECT_EQ(l.size(), 40);
  EXPECT_EQ(l.info(), info_);
  auto batches = epoch_batches(l, 0);
  for (const auto& b : batches) {
    EXPECT_EQ(b.inputs.sizes(), (std::vector<int64_t>{3, 3, 8, 8}));
    EXPECT_EQ(b.inputs.scalar_type(), torch::kFloat32);
    EXPECT_EQ(b.targets.sizes(), (std::vector<int64_t>{3, 8, 8}));
    EXPECT_EQ(b.targets.scalar_type(), torch::kInt64);
    EXPECT_FALSE(b.labels.defined());
    EXPECT_GE(b.inputs.min().item<float>(), 0.0f);
    EXPECT_LE(b.inputs.max().item<float>(), 1.0f);
    EXPECT_GE(b.targets.min().item<int64_t>(), 0);
    EXPECT_LE(b.targets.max().item<int64_t>(), 1);
  }
  EXPECT_GE(l.wait_seconds(), 0.0);
}

TEST_F(LoaderData, EvalGivesFullStoredImagesInOrder) {
  DataConfig c = cfg_with(2, 3);
  LoaderOptions o;
  o.train = false;
  o.rank = 1;
  o.size = 3;  // rank 1 of 3: samples [13, 26)
  Loader l(c, tmp_.sub("seg"), o);
  auto batches = epoch_batches(l, 0);
  std::vector<int64_t> seen;
  for (const auto& b : batches) {
    seen.insert(seen.end(), b.indices.begin(), b.indices.end());
    ASSERT_EQ(b.inputs.size(2), 12);
    for (size_t k = 0; k < b.indices.size(); ++k) {
      Sample want = make_sample(info_, b.indices[k]);
      auto in = b.inputs[static_cast<int64_t>(k)];
      auto t = b.targets[static_cast<int64_t>(k)];
      for (int y = 0; y < 12; y += 5) {
        for (int x = 0; x < 12; x += 3) {
          for (int c2 = 0; c2 < 3; ++c2) {
            EXPECT_FLOAT_EQ(in[c2][y][x].item<float>(),
                            want.input.at<cv::Vec3b>(y, x)[c2] / 255.0f);
          }
          EXPECT_EQ(t[y][x].item<int64_t>(), want.target.at<uint8_t>(y, x));
        }
      }
    }
  }
  std::vector<int64_t> want;
  for (int64_t i = 13; i < 26; ++i) want.push_back(i);
  EXPECT_EQ(seen, want);
  EXPECT_EQ(batches.back().inputs.size(0), 1);  // 13 = 3+3+3+3+1
  EXPECT_EQ(l.batches_per_epoch(), 5);
}

TEST_F(LoaderData, CursorCountsReturnedNotPrefetchedBatchesAndResumesExactly) {
  for (const std::string shuffle : {"global", "shards"}) {
    LoaderOptions o;
    o.seed = 5;
    o.rank = 1;
    o.size = 2;
    Loader full(cfg_with(2, 4, shuffle), tmp_.sub("seg"), o);
    auto all = epoch_batches(full, 3);
    ASSERT_EQ(all.size(), 6u);  // 40 / (2*3)

    Loader a(cfg_with(3, 4, shuffle), tmp_.sub("seg"), o);
    a.start_epoch(3);
    EXPECT_EQ(a.cursor().position, 0);
    ASSERT_TRUE(a.next().has_value());
    ASSERT_TRUE(a.next().has_value());
    SamplerCursor c = a.cursor();  // workers have prefetched further; the cursor must not
    EXPECT_EQ(c.epoch, 3);
    EXPECT_EQ(c.position, 2 * 2 * 3);

    Loader b(cfg_with(1, 2, shuffle), tmp_.sub("seg"), o);
    b.restore(cursor_from_json(cursor_to_json(c)));
    auto rest = epoch_batches(b, 3);
    expect_same(rest, std::vector<Batch>(all.begin() + 2, all.end()));
    EXPECT_EQ(b.cursor().position, 6 * 2 * 3);
    // The next epoch after a resumed one is a normal fresh epoch.
    auto next_b = epoch_batches(b, 4);
    auto next_full = epoch_batches(full, 4);
    expect_same(next_b, next_full);
  }
}

TEST_F(LoaderData, RanksGetDisjointSamplesAndEqualBatchCounts) {
  std::set<int64_t> seen;
  for (int r = 0; r < 4; ++r) {
    LoaderOptions o;
    o.rank = r;
    o.size = 4;
    Loader l(cfg_with(2, 2), tmp_.sub("seg"), o);
    auto batches = epoch_batches(l, 0);
    EXPECT_EQ(batches.size(), 3u);  // 40 / 12
    for (const auto& b : batches) {
      for (auto i : b.indices) EXPECT_TRUE(seen.insert(i).second);
    }
  }
  EXPECT_EQ(seen.size(), 36u);
}

TEST_F(LoaderData, AugmentationIsAppliedInTrainingOnly) {
  DataConfig c = cfg_with(0, 1);
  c.image_size = 12;  // full-size crops: geometry only from flips/rotations
  c.augment.scale_jitter = 0.0f;
  c.augment.color_jitter = 0.0f;
  Loader train(c, tmp_.sub("seg"), {});
  auto batches = epoch_batches(train, 0);
  int changed = 0;
  for (const auto& b : batches) {
    for (size_t k = 0; k < b.indices.size(); ++k) {
      Sample s = make_sample(info_, b.indices[k]);
      cv::Mat t(12, 12, CV_64F);
      auto got = b.targets[static_cast<int64_t>(k)];
      bool same = true;
      for (int y = 0; y < 12 && same; ++y) {
        for (int x = 0; x < 12 && same; ++x) {
          same = got[y][x].item<int64_t>() == s.target.at<uint8_t>(y, x);
        }
      }
      changed += !same;
      // Geometry only: the multiset of label values is preserved.
      EXPECT_EQ(got.sum().item<int64_t>(), cv::sum(s.target)[0]);
    }
  }
  EXPECT_GT(changed, 10);
}

TEST(Loader, SuperResolutionAndImageTargets) {
  TempDir tmp;
  DatasetInfo info = image_info("super_resolution", 16, 16, 3, 2);
  write_dataset(tmp.sub("sr"), info, 10, 4);
  LoaderOptions o;
  o.scale = 2;
  Loader l(cfg_with(2, 2), tmp.sub("sr"), o);
  auto train = epoch_batches(l, 0);
  ASSERT_EQ(train.size(), 3u);
  EXPECT_EQ(train[0].inputs.sizes(), (std::vector<int64_t>{3, 3, 4, 4}));
  EXPECT_EQ(train[0].targets.sizes(), (std::vector<int64_t>{3, 3, 8, 8}));
  EXPECT_EQ(train[0].targets.scalar_type(), torch::kFloat32);
  o.train = false;
  Loader ev(cfg_with(0, 1), tmp.sub("sr"), o);
  auto eval = epoch_batches(ev, 0);
  ASSERT_EQ(eval.size(), 4u);
  EXPECT_EQ(eval[0].inputs.sizes(), (std::vector<int64_t>{3, 3, 8, 8}));
  EXPECT_EQ(eval[0].targets.sizes(), (std::vector<int64_t>{3, 3, 16, 16}));
  Sample s = make_sample(info, 4);  // batch 1, item 1
  EXPECT_FLOAT_EQ(eval[1].targets[1][2][5][7].item<float>(),
                  s.target.at<cv::Vec3b>(5, 7)[2] / 255.0f);
  EXPECT_FLOAT_EQ(eval[1].inputs[1][1][3][6].item<float>(),
                  s.input.at<cv::Vec3b>(3, 6)[1] / 255.0f);
}

TEST(Loader, ImageLevelLabelsAndFloatData) {
  TempDir tmp;
  DatasetInfo info = image_info("anomaly", 8, 8, 1, 1, "float32");
  info.has_labels = true;
  write_dataset(tmp.sub("an"), info, 9, 4);
  LoaderOptions o;
  o.train = false;
  Loader l(cfg_with(1, 1), tmp.sub("an"), o);
  for (const auto& b : epoch_batches(l, 0)) {
    ASSERT_TRUE(b.labels.defined());
    EXPECT_EQ(b.labels.scalar_type(), torch::kInt64);
    for (size_t k = 0; k < b.indices.size(); ++k) {
      EXPECT_EQ(b.labels[static_cast<int64_t>(k)].item<int64_t>(), b.indices[k] % 3 == 0 ? 1 : 0);
      Sample s = make_sample(info, b.indices[k]);
      EXPECT_FLOAT_EQ(b.inputs[static_cast<int64_t>(k)][0][2][3].item<float>(),
                      s.input.at<float>(2, 3));
    }
  }
}

TEST(Loader, UsageErrors) {
  TempDir tmp;
  write_dataset(tmp.sub("d"), seg_info(8, 8), 6, 6);
  Loader l(cfg_with(1, 1), tmp.sub("d"), {});
  expect_error([&] { l.next(); }, {"start_epoch"});
  LoaderOptions o;
  o.train = false;
  Loader ev(cfg_with(1, 1), tmp.sub("d"), o);
  expect_error([&] { ev.restore(SamplerCursor{}); }, {"only training loaders"});
  DataConfig c = cfg_with(1, 0);
  expect_error([&] { Loader x(c, tmp.sub("d"), {}); }, {"data.prefetch_batches"});
}

}  // namespace
}  // namespace tessera
