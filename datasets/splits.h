// Train/val/test splits: how `synth` and `pack` divide N items into three disjoint datasets and
// write them as OUT/train, OUT/val, OUT/test (each a dataset directory of shards + manifest).
//
// plan_split(): val = round(n * val_fraction), test = round(n * test_fraction); a split whose
// fraction is > 0 gets at least one item; train gets the rest and must keep at least one. Throws
// tessera::Error for fractions outside [0, 1), a sum >= 1, or n too small.
//
// assign_splits(): a seeded permutation (Fisher-Yates with SynthRng) of the n items; the first
// `val` items of the permutation go to val, the next `test` to test, the rest to train. The same
// (n, fractions, seed) always gives the same assignment.
//
// SplitWriter: one DatasetWriter per non-empty split, each with K = min(shards, count) shards of
// ceil(count / K) samples (so every non-empty split has between 1 and `shards` shards). Splits
// with zero items get no directory. finish() finishes every writer. The writer for a split is
// created lazily on its first sample, so nothing is written before the first add().
//
// Thread safety: one thread per SplitWriter.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "datasets/dataset_writer.h"
#include "datasets/sample.h"
#include "datasets/shard_format.h"

namespace tessera {

enum class Split : int { train = 0, val = 1, test = 2 };
inline constexpr std::array<Split, 3> kAllSplits = {Split::train, Split::val, Split::test};
const char* to_string(Split split);
// "train" | "val" | "test" -> Split; throws naming the accepted names otherwise.
Split split_from_string(const std::string& name);

struct SplitCounts {
  int64_t train = 0, val = 0, test = 0;
  int64_t of(Split s) const { return s == Split::train ? train : s == Split::val ? val : test; }
  int64_t total() const { return train + val + test; }
};

SplitCounts plan_split(int64_t n, double val_fraction, double test_fraction);

// Split of each of the n items (index -> split).
std::vector<Split> assign_splits(int64_t n, double val_fraction, double test_fraction,
                                 uint64_t seed);

// Shards for a split of `count` samples when `shards` are requested, and samples per shard.
int shards_for(int64_t count, int shards);
int64_t samples_per_shard(int64_t count, int shards);

class SplitWriter {
 public:
  // counts: how many samples each split will receive (fixes the shard size up front).
  SplitWriter(const std::string& out_dir, const DatasetInfo& info, const SplitCounts& counts,
              int shards, int gzip_level);
  ~SplitWriter();
  SplitWriter(const SplitWriter&) = delete;
  SplitWriter& operator=(const SplitWriter&) = delete;

  void add(Split split, const Sample& sample);
  // Finishes every split; throws if a split received a different number of samples than planned.
  void finish();
  int64_t count(Split split) const;
  std::string dir(Split split) const;  // OUT/train, OUT/val, OUT/test

 private:
  std::string out_dir_;
  DatasetInfo info_;
  SplitCounts counts_;
  int shards_;
  int gzip_;
  std::array<std::unique_ptr<DatasetWriter>, 3> writers_;
  std::array<int64_t, 3> added_{};
};

// Refuses an output directory whose split subdirectories (those of `splits`: by default
// train/val/test) already hold data (so a run never mixes with an older one); with `overwrite`,
// removes those subdirectories instead. Other subdirectories are left alone.
void prepare_output_dir(const std::string& out_dir, bool overwrite,
                        const std::vector<Split>& splits = {kAllSplits.begin(), kAllSplits.end()});

}  // namespace tessera
