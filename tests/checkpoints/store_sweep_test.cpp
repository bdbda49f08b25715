// Corruption sweep of every file of a checkpoint (issue 13): each file of step-0000003 (model.pt,
// optim.pt, state.json, the empty file, meta.json) and the `latest` pointer, truncated at every
// 4 KiB boundary and one byte short, and with one bit flipped in every byte; each damaged copy is
// loaded through `latest`. It must be refused with a tessera::Error naming the damaged file, or
// load with every value and every file's bytes unchanged (a flip in meta.json that parses to
// the same number; the pointer's trailing newline cut).
#include "checkpoints/checkpoint_store.h"
#include "checkpoints/store_internal.h"
#include "common/error.h"
#include "store_fixtures.h"
#include "test_util.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

namespace fs = std::filesystem;

namespace tessera::checkpoints {
namespace {

using testing::make_data;
using testing::TempDir;
using detail::pointer_file_text;

bool same_values(const CheckpointData& a, const CheckpointData& b) {
  return a.step == b.step && a.epoch == b.epoch && a.world_size == b.world_size &&
         a.metric == b.metric && a.tessera_version == b.tessera_version &&
         a.created == b.created && a.files == b.files && a.meta_extra == b.meta_extra;
}

struct SweepCount {
  int tried = 0, refused = 0, harmless = 0;
};

// Loads `latest` with `path` replaced by `bytes`; counts the outcome, fails on anything else.
void try_damaged(CheckpointStore& store, const CheckpointData& good, const std::string& path,
                 const std::string& bytes, const std::string& what, SweepCount& n) {
  testing::spit(path, bytes);
  ++n.tried;
  const std::string name = fs::path(path).filename().string();
  try {
    const CheckpointData d = store.load("latest");
    // Same values, file bytes included: e.g. a digit flip in meta.json that parses to the same
    // double, or the pointer's trailing newline cut.
    if (same_values(d, good)) {
      ++n.harmless;
    } else {
      ADD_FAILURE() << what << " of " << name << " loaded changed values without an error";
    }
  } catch (const Error& e) {
    ++n.refused;
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos)
        << what << " of " << name << ": the error does not name the file: " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << " of " << name << ": not a tessera::Error: " << e.what();
  }
}

TEST(CheckpointSweep, EveryFileTruncatedAndEveryByteFlipped) {
  TempDir tmp;
  CheckpointStore store(tmp.path(), 5, 1, "max");
  for (int s = 1; s <= 3; ++s) store.save(make_data(s), 0.1 * s);
  const CheckpointData good = store.load("latest");
  const std::string dir = tmp / "checkpoints/step-0000003";
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  files.push_back(tmp / "checkpoints/latest");
  ASSERT_GE(files.size(), 6u);
  SweepCount total;
  for (const auto& path : files) {
    const std::string original = testing::slurp(path);
    SweepCount n;
    for (size_t len = 0; len < original.size(); len += 4096) {
      try_damaged(store, good, path, original.substr(0, len), fmt::format("truncation to {}", len),
                  n);
    }
    if (!original.empty()) {
      try_damaged(store, good, path, original.substr(0, original.size() - 1), "last byte cut", n);
    }
    try_damaged(store, good, path, original + "x", "one byte appended", n);
    for (size_t i = 0; i < original.size(); ++i) {
      std::string damaged = original;
      damaged[i] = static_cast<char>(damaged[i] ^ (1 << (i % 8)));
      try_damaged(store, good, path, damaged, fmt::format("bit {} of byte {}", i % 8, i), n);
    }
    testing::spit(path, original);
    std::printf("[sweep] %s (%zu bytes): %d damaged copies, %d refused, %d harmless\n",
                fs::path(path).filename().c_str(), original.size(), n.tried, n.refused,
                n.harmless);
    total.tried += n.tried;
    total.refused += n.refused;
    total.harmless += n.harmless;
  }
  std::printf("[sweep] checkpoint: %d damaged copies, %d refused, %d harmless\n", total.tried,
              total.refused, total.harmless);
  // Control: the restored files load as before.
  EXPECT_TRUE(same_values(store.load("latest"), good));
  RecordProperty("damaged", total.tried);
  RecordProperty("refused", total.refused);
}

// Control of the sweep's judge: a "damage" that is a valid, different checkpoint (the `latest`
// pointer, checksum line and all, naming step 2) loads without an error but with other values,
// and try_damaged() must report that as a failure. Without it, a judge that passed every load
// would make the sweep above prove nothing.
TEST(CheckpointSweep, ControlAValidOtherCheckpointIsReportedAsChangedValues) {
  TempDir tmp;
  CheckpointStore store(tmp.path(), 5, 1, "max");
  for (int s = 1; s <= 3; ++s) store.save(make_data(s), 0.1 * s);
  const CheckpointData good = store.load("latest");
  const std::string latest = tmp / "checkpoints/latest";
  SweepCount n;
  EXPECT_NONFATAL_FAILURE(try_damaged(store, good, latest, pointer_file_text("step-0000002"),
                                      "the pointer renamed to step 2", n),
                          "loaded changed values without an error");
  EXPECT_EQ(n.refused + n.harmless, 0);
  // And an undamaged pointer is harmless to the judge.
  try_damaged(store, good, latest, pointer_file_text("step-0000003"), "the same pointer", n);
  EXPECT_EQ(n.harmless, 1);
}

}  // namespace
}  // namespace tessera::checkpoints
