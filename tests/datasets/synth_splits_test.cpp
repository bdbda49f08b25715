// Train/val/test split planning and assignment, shard sizing, output-directory safety.
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "datasets/splits.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

TEST(Splits, PlanRoundsAndKeepsAtLeastOnePerRequestedSplit) {
  SplitCounts c = plan_split(100, 0.1, 0.2);
  EXPECT_EQ(c.val, 10);
  EXPECT_EQ(c.test, 20);
  EXPECT_EQ(c.train, 70);
  c = plan_split(5, 0.01, 0.01);  // rounds to 0, but requested splits get one item
  EXPECT_EQ(c.val, 1);
  EXPECT_EQ(c.test, 1);
  EXPECT_EQ(c.train, 3);
  c = plan_split(7, 0.0, 0.0);
  EXPECT_EQ(c.train, 7);
  EXPECT_EQ(c.val + c.test, 0);
}

TEST(Splits, PlanRejectsBadFractions) {
  EXPECT_THROW(plan_split(10, -0.1, 0.1), Error);
  EXPECT_THROW(plan_split(10, 0.1, 1.0), Error);
  EXPECT_THROW(plan_split(10, 0.5, 0.5), Error);
  EXPECT_THROW(plan_split(2, 0.1, 0.1), Error);  // nothing left for training
  EXPECT_THROW(plan_split(0, 0.1, 0.1), Error);
  try {
    plan_split(10, 0.6, 0.5);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("must be < 1"), std::string::npos) << e.what();
  }
}

TEST(Splits, AssignmentIsDisjointCompleteAndSeeded) {
  for (int64_t n : {1, 3, 10, 97, 1000}) {
    const double vf = n >= 3 ? 0.15 : 0.0, tf = n >= 3 ? 0.1 : 0.0;
    const auto a = assign_splits(n, vf, tf, 5);
    ASSERT_EQ(static_cast<int64_t>(a.size()), n);
    const SplitCounts plan = plan_split(n, vf, tf);
    SplitCounts got;
    for (Split s : a) (s == Split::train ? got.train : s == Split::val ? got.val : got.test)++;
    EXPECT_EQ(got.train, plan.train);
    EXPECT_EQ(got.val, plan.val);
    EXPECT_EQ(got.test, plan.test);
    EXPECT_EQ(got.total(), n);  // each index in exactly one split
    EXPECT_EQ(a, assign_splits(n, vf, tf, 5));
  }
  EXPECT_NE(assign_splits(200, 0.2, 0.2, 1), assign_splits(200, 0.2, 0.2, 2));
  // Not simply a prefix/suffix: val items are spread over the index range.
  const auto a = assign_splits(1000, 0.1, 0.1, 3);
  int val_in_first_half = 0;
  for (int i = 0; i < 500; ++i) val_in_first_half += a[static_cast<size_t>(i)] == Split::val;
  EXPECT_GT(val_in_first_half, 25);
  EXPECT_LT(val_in_first_half, 75);
}

TEST(Splits, ShardSizing) {
  EXPECT_EQ(samples_per_shard(10, 3), 4);
  EXPECT_EQ(shards_for(10, 3), 3);
  EXPECT_EQ(shards_for(2, 5), 2);  // fewer samples than shards: one sample per shard
  EXPECT_EQ(samples_per_shard(2, 5), 1);
  EXPECT_EQ(shards_for(9, 4), 3);  // ceil(9/4) = 3 per shard -> 3 shards, none empty
  EXPECT_EQ(shards_for(0, 4), 0);
  EXPECT_EQ(shards_for(1, 1), 1);
  EXPECT_THROW(shards_for(10, 0), Error);
}

TEST(Splits, OutputDirectoryIsNeverSilentlyOverwritten) {
  const fs::path dir = fs::temp_directory_path() / ("tessera_splits_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  prepare_output_dir(dir.string(), false);  // creates it
  EXPECT_TRUE(fs::is_directory(dir));
  fs::create_directories(dir / "val");
  prepare_output_dir(dir.string(), false);  // an empty split directory is fine
  std::ofstream(dir / "val" / "manifest.json") << "{}";
  EXPECT_THROW(prepare_output_dir(dir.string(), false), Error);
  prepare_output_dir(dir.string(), true);
  EXPECT_FALSE(fs::exists(dir / "val"));
  std::ofstream(dir / "notes.txt") << "kept";
  prepare_output_dir(dir.string(), true);
  EXPECT_TRUE(fs::exists(dir / "notes.txt")) << "only train/val/test are replaced";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tessera
