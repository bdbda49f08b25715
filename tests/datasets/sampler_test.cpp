// Sampler: partitions (disjoint, covering, equal batch counts) for 1..8 fake ranks in both
// shuffle modes, evaluation split, determinism, and exact cursor resume (same and different
// rank counts).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "data_test_util.h"
#include "datasets/sampler.h"

namespace tessera {
namespace {

using Batches = std::vector<std::vector<int64_t>>;

SamplerOptions opts(std::vector<int64_t> shards, int rank, int size, int batch, ShuffleMode mode,
                    bool train = true, int64_t buffer = 16) {
  SamplerOptions o;
  o.shard_sizes = std::move(shards);
  o.rank = rank;
  o.size = size;
  o.batch_size = batch;
  o.seed = 1234;
  o.train = train;
  o.mode = mode;
  o.shuffle_buffer = buffer;
  return o;
}

Batches drain(Sampler& s) {
  Batches out;
  std::vector<int64_t> b;
  while (s.next_batch(b)) out.push_back(b);
  return out;
}

// All ranks' batches of one epoch, per rank.
std::vector<Batches> run_epoch(const std::vector<int64_t>& shards, int size, int batch,
                               ShuffleMode mode, int64_t epoch, bool train = true) {
  std::vector<Batches> out;
  for (int r = 0; r < size; ++r) {
    Sampler s(opts(shards, r, size, batch, mode, train));
    s.start_epoch(epoch);
    out.push_back(drain(s));
  }
  return out;
}

const std::vector<int64_t> kShards = {37, 50, 50, 13, 41, 29, 50, 7};  // 277 samples, uneven

class SamplerModes : public ::testing::TestWithParam<ShuffleMode> {};

TEST_P(SamplerModes, TrainPartitionsAreDisjointEqualAndCoverAllButDropLast) {
  const ShuffleMode mode = GetParam();
  const int64_t n = std::accumulate(kShards.begin(), kShards.end(), int64_t{0});
  for (int size = 1; size <= 8; ++size) {
    for (int batch : {1, 4, 7}) {
      auto ranks = run_epoch(kShards, size, batch, mode, 3);
      std::set<int64_t> seen;
      int64_t total = 0;
      const int64_t expect_batches = n / (int64_t{size} * batch);
      for (int r = 0; r < size; ++r) {
        EXPECT_EQ(static_cast<int64_t>(ranks[r].size()), expect_batches)
            << "rank " << r << "/" << size << " batch " << batch;
        for (const auto& b : ranks[r]) {
          EXPECT_EQ(static_cast<int>(b.size()), batch);
          for (int64_t i : b) {
            EXPECT_GE(i, 0);
            EXPECT_LT(i, n);
            EXPECT_TRUE(seen.insert(i).second) << "sample " << i << " seen twice, size " << size;
            ++total;
          }
        }
      }
      // Drop-last loses fewer than one global batch (global) / per-rank remainders (shards).
      EXPECT_EQ(total, expect_batches * size * batch);
      EXPECT_GT(total, n - int64_t{size} * batch - size) << "size " << size;
    }
  }
}

TEST_P(SamplerModes, SameSeedSameOrderOtherEpochOrSeedDiffers) {
  const ShuffleMode mode = GetParam();
  auto a = run_epoch(kShards, 3, 4, mode, 5);
  auto b = run_epoch(kShards, 3, 4, mode, 5);
  auto c = run_epoch(kShards, 3, 4, mode, 6);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  auto o = opts(kShards, 0, 3, 4, mode);
  o.seed = 99;
  Sampler s(o);
  s.start_epoch(5);
  EXPECT_NE(drain(s), a[0]);
}

TEST_P(SamplerModes, ShuffleIsNotTheIdentity) {
  auto ranks = run_epoch(kShards, 1, 277, GetParam(), 0);
  ASSERT_EQ(ranks[0].size(), 1u);
  auto order = ranks[0][0];
  std::vector<int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_NE(order, sorted);
  std::vector<int64_t> iota(277);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
}

TEST_P(SamplerModes, CursorResumesExactlyWithTheSameRankCount) {
  const ShuffleMode mode = GetParam();
  for (int size : {1, 2, 3, 5, 8}) {
    auto full = run_epoch(kShards, size, 3, mode, 2);
    for (int stop : {0, 1, 4, static_cast<int>(full[0].size())}) {
      // Run every rank `stop` steps, take the cursor (identical on all ranks), resume fresh.
      std::vector<SamplerCursor> cursors;
      for (int r = 0; r < size; ++r) {
        Sampler s(opts(kShards, r, size, 3, mode));
        s.start_epoch(2);
        std::vector<int64_t> b;
        for (int k = 0; k < stop; ++k) ASSERT_TRUE(s.next_batch(b));
        cursors.push_back(s.cursor());
      }
      for (int r = 1; r < size; ++r) EXPECT_EQ(cursors[r], cursors[0]);
      EXPECT_EQ(cursors[0].position, int64_t{stop} * size * 3);
      // Through JSON, as a checkpoint stores it.
      SamplerCursor c = cursor_from_json(nlohmann::json::parse(cursor_to_json(cursors[0]).dump()));
      EXPECT_EQ(c, cursors[0]);
      for (int r = 0; r < size; ++r) {
        Sampler s(opts(kShards, r, size, 3, mode));
        s.start_epoch(7);  // unrelated state first
        s.restore(c);
        Batches rest = drain(s);
        Batches want(full[r].begin() + stop, full[r].end());
        EXPECT_EQ(rest, want) << "size " << size << " stop " << stop << " rank " << r;
      }
    }
  }
}

// Resuming with a different rank count: the remaining samples are re-partitioned, nothing seen
// before is repeated, and everything not yet consumed is dealt out (except drop-last).
TEST_P(SamplerModes, CursorResumesWithADifferentRankCount) {
  const ShuffleMode mode = GetParam();
  const int64_t n = 277;
  for (int before : {1, 2, 4, 8}) {
    for (int after : {1, 3, 4, 7}) {
      const int batch = 2;
      std::set<int64_t> seen;
      SamplerCursor c;
      for (int r = 0; r < before; ++r) {
        Sampler s(opts(kShards, r, before, batch, mode));
        s.start_epoch(1);
        std::vector<int64_t> b;
        for (int k = 0; k < 10; ++k) {
          ASSERT_TRUE(s.next_batch(b));
          for (int64_t i : b) EXPECT_TRUE(seen.insert(i).second);
        }
        c = s.cursor();
      }
      EXPECT_EQ(c.position, int64_t{10} * before * batch);
      std::vector<int64_t> batches_per_rank;
      SamplerCursor c2;
      for (int r = 0; r < after; ++r) {
        Sampler s(opts(kShards, r, after, batch, mode));
        s.restore(c);
        Batches rest = drain(s);
        batches_per_rank.push_back(static_cast<int64_t>(rest.size()));
        for (const auto& b : rest) {
          for (int64_t i : b) {
            EXPECT_TRUE(seen.insert(i).second)
                << "sample " << i << " repeated after " << before << "->" << after;
          }
        }
        c2 = s.cursor();
      }
      for (auto k : batches_per_rank) EXPECT_EQ(k, batches_per_rank[0]);
      const int64_t remaining = n - c.position;
      EXPECT_EQ(batches_per_rank[0], (remaining / after) / batch);
      EXPECT_GT(static_cast<int64_t>(seen.size()), n - int64_t{after} * batch - after);
      EXPECT_EQ(c2.position, c.position + batches_per_rank[0] * after * batch);
    }
  }
}

// A second change of rank count within the same epoch replays the whole history exactly.
TEST_P(SamplerModes, CursorSurvivesTwoRankCountChanges) {
  const ShuffleMode mode = GetParam();
  auto step_all = [&](int size, const SamplerCursor* from, int steps, std::set<int64_t>& seen,
                      std::vector<Batches>* record) {
    SamplerCursor c;
    for (int r = 0; r < size; ++r) {
      Sampler s(opts(kShards, r, size, 3, mode));
      if (from) {
        s.restore(*from);
      } else {
        s.start_epoch(4);
      }
      Batches got;
      std::vector<int64_t> b;
      for (int k = 0; k < steps && s.next_batch(b); ++k) {
        got.push_back(b);
        for (int64_t i : b) EXPECT_TRUE(seen.insert(i).second) << i;
      }
      if (record) record->push_back(got);
      c = s.cursor();
    }
    return c;
  };
  std::set<int64_t> seen1, seen2;
  SamplerCursor a = step_all(4, nullptr, 5, seen1, nullptr);
  SamplerCursor b = step_all(2, &a, 6, seen1, nullptr);
  EXPECT_EQ(b.segments.size(), 2u);
  std::vector<Batches> tail1, tail2;
  step_all(3, &b, 1000, seen1, &tail1);
  // Same history again, from the JSON of the cursors: identical continuation.
  SamplerCursor b2 = cursor_from_json(cursor_to_json(b));
  step_all(3, &b2, 1000, seen2, &tail2);
  EXPECT_EQ(tail1, tail2);
}

INSTANTIATE_TEST_SUITE_P(Sampler, SamplerModes,
                         ::testing::Values(ShuffleMode::global, ShuffleMode::shards),
                         [](const auto& info) { return to_string(info.param); });

TEST(Sampler, ShardsModeDealsContiguousShardRunsToRanks) {
  // 8 shards of 25, 4 ranks: each rank reads from only ~2 shards per epoch.
  std::vector<int64_t> shards(8, 25);
  for (int r = 0; r < 4; ++r) {
    Sampler s(opts(shards, r, 4, 5, ShuffleMode::shards, true, 10));
    s.start_epoch(0);
    std::set<int64_t> touched;
    for (const auto& b : drain(s)) {
      for (int64_t i : b) touched.insert(i / 25);
    }
    EXPECT_LE(touched.size(), 2u) << "rank " << r;
  }
}

TEST(Sampler, ShardsModeBufferBoundsDisplacement) {
  // With a buffer of B samples an emitted sample was read at most B-1 positions earlier, so
  // within one shard the first emitted samples come from the start of the stream.
  std::vector<int64_t> shards = {1000};
  Sampler s(opts(shards, 0, 1, 1, ShuffleMode::shards, true, 8));
  s.start_epoch(0);
  std::vector<int64_t> b;
  for (int k = 0; k < 100; ++k) {
    ASSERT_TRUE(s.next_batch(b));
    EXPECT_LT(b[0], k + 8);
  }
}

TEST(Sampler, EvalSplitIsExactWithoutDuplicates) {
  for (int64_t n : {1, 7, 100, 277}) {
    for (int size = 1; size <= 8; ++size) {
      if (n < size) continue;
      std::vector<int64_t> got;
      for (int r = 0; r < size; ++r) {
        Sampler s(opts({n}, r, size, 4, ShuffleMode::global, false));
        s.start_epoch(0);
        int64_t batches = 0;
        std::vector<int64_t> b;
        while (s.next_batch(b)) {
          ++batches;
          EXPECT_LE(b.size(), 4u);
          EXPECT_FALSE(b.empty());
          got.insert(got.end(), b.begin(), b.end());
        }
        EXPECT_EQ(batches, s.batches_per_epoch());
      }
      std::vector<int64_t> want(static_cast<size_t>(n));
      std::iota(want.begin(), want.end(), 0);
      EXPECT_EQ(got, want) << "n " << n << " size " << size;  // in order, each exactly once
    }
  }
}

TEST(Sampler, RejectsBadOptionsAndCursors) {
  using testutil::expect_error;
  expect_error([] { Sampler s(opts({10}, 0, 4, 3, ShuffleMode::global)); },
               {"fewer than one global batch", "10"});
  expect_error([] { Sampler s(opts({10}, 4, 4, 1, ShuffleMode::global)); }, {"rank 4 of 4"});
  expect_error([] { parse_shuffle_mode("random"); }, {"data.shuffle", "random"});
  Sampler s(opts(kShards, 0, 2, 4, ShuffleMode::shards));
  SamplerCursor c;
  c.epoch = 1;
  c.position = 16;
  c.mode = "global";
  expect_error([&] { s.restore(c); }, {"data.shuffle=global", "data.shuffle=shards"});
  c.mode = "shards";
  c.dataset_size = 100;
  expect_error([&] { s.restore(c); }, {"100 samples", "277"});
  c.dataset_size = 277;
  expect_error([&] { s.restore(c); }, {"no segment history"});
  c.segments = {CursorSegment{0, 2, 4, 16}};
  c.position = 17;
  expect_error([&] { s.restore(c); }, {"not a whole number of steps"});
  expect_error([] { cursor_from_json(nlohmann::json{{"epoch", 1}}); }, {"position"});
  Sampler ev(opts(kShards, 0, 2, 4, ShuffleMode::global, false));
  expect_error([&] { ev.restore(SamplerCursor{}); }, {"not resumable"});
}

}  // namespace
}  // namespace tessera
