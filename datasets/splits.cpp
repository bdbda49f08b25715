#include "datasets/splits.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "common/error.h"
#include "datasets/synth_rng.h"

namespace tessera {

namespace fs = std::filesystem;

const char* to_string(Split split) {
  switch (split) {
    case Split::train:
      return "train";
    case Split::val:
      return "val";
    case Split::test:
      return "test";
  }
  return "?";
}

Split split_from_string(const std::string& name) {
  for (Split s : kAllSplits) {
    if (name == to_string(s)) return s;
  }
  TESSERA_THROW("unknown split '{}': expected train, val or test", name);
}

SplitCounts plan_split(int64_t n, double val_fraction, double test_fraction) {
  TESSERA_CHECK(val_fraction >= 0.0 && val_fraction < 1.0, "val fraction must be in [0, 1), got {}",
                val_fraction);
  TESSERA_CHECK(test_fraction >= 0.0 && test_fraction < 1.0,
                "test fraction must be in [0, 1), got {}", test_fraction);
  TESSERA_CHECK(
      val_fraction + test_fraction < 1.0,
      "val fraction + test fraction must be < 1 (the rest is training data), got {} + {} = {}",
      val_fraction, test_fraction, val_fraction + test_fraction);
  TESSERA_CHECK(n >= 1, "need at least one sample to split, got {}", n);
  auto part = [n](double f) -> int64_t {
    if (f <= 0.0) return 0;
    return std::max<int64_t>(1, static_cast<int64_t>(std::llround(static_cast<double>(n) * f)));
  };
  SplitCounts c;
  c.val = part(val_fraction);
  c.test = part(test_fraction);
  c.train = n - c.val - c.test;
  TESSERA_CHECK(c.train >= 1,
                "{} items are too few for val fraction {} and test fraction {}: val gets {}, "
                "test gets {}, nothing is left for training",
                n, val_fraction, test_fraction, c.val, c.test);
  return c;
}

std::vector<Split> assign_splits(int64_t n, double val_fraction, double test_fraction,
                                 uint64_t seed) {
  const SplitCounts c = plan_split(n, val_fraction, test_fraction);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  SynthRng rng = SynthRng::for_sample(seed, 0, /*stream=*/0x5911);
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = rng.integer(0, i);
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  std::vector<Split> out(static_cast<size_t>(n), Split::train);
  for (int64_t k = 0; k < c.val; ++k)
    out[static_cast<size_t>(order[static_cast<size_t>(k)])] = Split::val;
  for (int64_t k = c.val; k < c.val + c.test; ++k) {
    out[static_cast<size_t>(order[static_cast<size_t>(k)])] = Split::test;
  }
  return out;
}

int shards_for(int64_t count, int shards) {
  TESSERA_CHECK(shards >= 1, "shards per split must be >= 1, got {}", shards);
  if (count <= 0) return 0;
  // K shards of ceil(count / K) samples; recompute K so that no shard is empty.
  const int64_t per = samples_per_shard(count, shards);
  return static_cast<int>((count + per - 1) / per);
}

int64_t samples_per_shard(int64_t count, int shards) {
  TESSERA_CHECK(shards >= 1, "shards per split must be >= 1, got {}", shards);
  const int64_t k = std::max<int64_t>(1, std::min<int64_t>(shards, count));
  return std::max<int64_t>(1, (count + k - 1) / k);
}

SplitWriter::SplitWriter(const std::string& out_dir, const DatasetInfo& info,
                         const SplitCounts& counts, int shards, int gzip_level)
    : out_dir_(out_dir), info_(info), counts_(counts), shards_(shards), gzip_(gzip_level) {
  TESSERA_CHECK(shards >= 1, "shards per split must be >= 1, got {}", shards);
  TESSERA_CHECK(gzip_level >= 0 && gzip_level <= 9, "gzip level must be in 0..9, got {}",
                gzip_level);
}

SplitWriter::~SplitWriter() = default;

std::string SplitWriter::dir(Split split) const {
  return (fs::path(out_dir_) / to_string(split)).string();
}

void SplitWriter::add(Split split, const Sample& sample) {
  const int i = static_cast<int>(split);
  TESSERA_CHECK(added_[static_cast<size_t>(i)] < counts_.of(split),
                "split '{}' of {} was planned with {} samples; got more", to_string(split),
                out_dir_, counts_.of(split));
  auto& w = writers_[static_cast<size_t>(i)];
  if (!w) {
    w = std::make_unique<DatasetWriter>(dir(split), info_,
                                        samples_per_shard(counts_.of(split), shards_), gzip_);
  }
  w->add(sample);
  ++added_[static_cast<size_t>(i)];
}

void SplitWriter::finish() {
  for (Split s : kAllSplits) {
    const size_t i = static_cast<size_t>(s);
    TESSERA_CHECK(added_[i] == counts_.of(s), "split '{}' of {}: planned {} samples, got {}",
                  to_string(s), out_dir_, counts_.of(s), added_[i]);
    if (writers_[i]) writers_[i]->finish();
  }
}

int64_t SplitWriter::count(Split split) const {
  return added_[static_cast<size_t>(split)];
}

void prepare_output_dir(const std::string& out_dir, bool overwrite,
                        const std::vector<Split>& splits) {
  TESSERA_CHECK(!out_dir.empty(), "output directory is empty (pass --out DIR)");
  const fs::path root(out_dir);
  std::error_code ec;
  if (fs::exists(root, ec)) {
    TESSERA_CHECK(fs::is_directory(root, ec), "output path {} exists and is not a directory",
                  out_dir);
  }
  for (Split s : splits) {
    const fs::path sub = root / to_string(s);
    if (!fs::exists(sub, ec)) continue;
    const bool empty = fs::is_directory(sub, ec) && fs::is_empty(sub, ec);
    if (empty) continue;
    TESSERA_CHECK(overwrite,
                  "output directory {} already holds a dataset ({} is not empty); choose another "
                  "--out or pass --overwrite to replace {}",
                  out_dir, sub.string(), splits.size() == 3 ? "train/val/test" : to_string(s));
    fs::remove_all(sub, ec);
    TESSERA_CHECK(!ec, "cannot remove {}: {}", sub.string(), ec.message());
  }
  fs::create_directories(root, ec);
  TESSERA_CHECK(!ec, "cannot create output directory {}: {}", out_dir, ec.message());
}

}  // namespace tessera
