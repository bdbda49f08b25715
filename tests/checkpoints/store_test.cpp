// CheckpointStore: round trip, layout, pointers, retention, refusal of damaged checkpoints,
// --resume auto fallback, replacement of an existing step, cleanup of crashed writers' leftovers.
#include "checkpoints/checkpoint_store.h"
#include "checkpoints/sha256.h"
#include "common/error.h"
#include "store_fixtures.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <tessera/version.h>

#include <cmath>
#include <filesystem>
#include <random>

namespace fs = std::filesystem;

namespace tessera::checkpoints {
namespace {

using testing::dir_entries;
using testing::error_of;
using testing::LogCapture;
using testing::make_data;
using testing::names;
using testing::TempDir;

TEST(CheckpointStore, SaveLoadRoundTrip) {
  TempDir tmp;
  CheckpointStore store(tmp.path(), 3, 1, "max");
  const CheckpointData d = make_data(200);
  const std::string dir = store.save(d, 0.75);
  EXPECT_EQ(dir, tmp / "checkpoints/step-0000200");
  const std::string pointer = "step-0000200\nsha256 " + sha256_hex("step-0000200") + "\n";
  EXPECT_EQ(testing::slurp(tmp / "checkpoints/latest"), pointer);
  EXPECT_EQ(testing::slurp(tmp / "checkpoints/best"), pointer);
  EXPECT_EQ(dir_entries(dir), (std::vector<std::string>{"empty.bin", "meta.json", "model.pt",
                                                        "optim.pt", "state.json"}));

  for (const std::string which : {"latest", "best"}) {
    const CheckpointData back = store.load(which);
    EXPECT_EQ(back.step, 200);
    EXPECT_EQ(back.epoch, 20);
    EXPECT_EQ(back.world_size, 2);
    EXPECT_EQ(back.files, d.files);
    EXPECT_EQ(back.meta_extra, d.meta_extra);
    EXPECT_EQ(back.dir, dir);
    ASSERT_TRUE(back.metric.has_value());
    EXPECT_DOUBLE_EQ(*back.metric, 0.75);
    EXPECT_EQ(back.tessera_version, TESSERA_VERSION);
    EXPECT_EQ(back.created.size(), 20u) << back.created;  // 2024-01-02T03:04:05Z
    EXPECT_EQ(back.file("state.json"), "{\"cursor\": 1600}");
  }
  EXPECT_NE(error_of([&] { (void)store.load("latest").file("rng.bin"); }).find("model.pt"),
            std::string::npos);

  // meta.json records each file's size and SHA-256 as computed independently from disk.
  const auto meta = nlohmann::json::parse(testing::slurp(dir + "/meta.json"));
  EXPECT_EQ(meta["format"], "tessera-checkpoint");
  EXPECT_EQ(meta["step"], 200);
  EXPECT_EQ(meta["tessera_version"], TESSERA_VERSION);
  for (const auto& [name, bytes] : d.files) {
    EXPECT_EQ(meta["files"][name]["size"], bytes.size()) << name;
    EXPECT_EQ(meta["files"][name]["sha256"], sha256_file_hex(dir + "/" + name)) << name;
  }
  EXPECT_EQ(names(store.list()), (std::vector<std::string>{"step-0000200"}));
}

TEST(CheckpointStore, LoadByPath) {
  TempDir tmp;
  CheckpointStore store(tmp.path());
  store.save(make_data(5));
  store.save(make_data(7));
  EXPECT_EQ(store.load(tmp / "checkpoints/step-0000005").step, 5);
  EXPECT_EQ(store.load(tmp.path()).step, 7);                // a run directory: its latest
  EXPECT_EQ(store.load(tmp / "checkpoints").step, 7);       // a checkpoints directory
  EXPECT_EQ(load_checkpoint_dir(tmp / "checkpoints/step-0000005").step, 5);
  EXPECT_NE(error_of([&] { (void)store.load(tmp / "nope"); }).find("does not exist"),
            std::string::npos);
  EXPECT_NE(error_of([&] { (void)store.load("best"); }).find("no 'best' checkpoint"),
            std::string::npos);
  CheckpointStore empty(tmp / "other");
  EXPECT_NE(error_of([&] { (void)empty.load("latest"); }).find("no 'latest' checkpoint"),
            std::string::npos);
  EXPECT_TRUE(empty.list().empty());
}

TEST(CheckpointStore, StepNames) {
  EXPECT_EQ(step_dir_name(0), "step-0000000");
  EXPECT_EQ(step_dir_name(200), "step-0000200");
  EXPECT_EQ(step_dir_name(123456789), "step-123456789");
  EXPECT_EQ(parse_step_dir_name("step-0000200"), 200);
  EXPECT_EQ(parse_step_dir_name("step-123456789"), 123456789);
  EXPECT_FALSE(parse_step_dir_name("step-"));
  EXPECT_FALSE(parse_step_dir_name("step-12a"));
  EXPECT_FALSE(parse_step_dir_name(".tmp-step-0000200-12"));
  EXPECT_THROW(step_dir_name(-1), Error);
  // list() orders numerically, also across digit widths.
  TempDir tmp;
  CheckpointStore store(tmp.path());
  for (std::int64_t s : {10000000, 9, 200}) store.save(make_data(s));
  EXPECT_EQ(names(store.list()),
            (std::vector<std::string>{"step-0000009", "step-0000200", "step-10000000"}));
}

TEST(CheckpointStore, InvalidArgumentsAreRefused) {
  TempDir tmp;
  EXPECT_NE(error_of([&] { CheckpointStore(tmp.path(), 1, 1, "avg"); }).find("checkpoint.mode"),
            std::string::npos);
  EXPECT_NE(error_of([&] { CheckpointStore(tmp.path(), -1, 1, "max"); })
                .find("checkpoint.keep_last"),
            std::string::npos);
  CheckpointStore store(tmp.path());
  for (const std::string bad : {"meta.json", "../evil", "a/b", ".hidden", ""}) {
    CheckpointData d = make_data(1);
    d.files[bad] = "x";
    EXPECT_NE(error_of([&] { store.save(d); }).find("invalid file name"), std::string::npos)
        << bad;
  }
  CheckpointData d = make_data(1);
  d.meta_extra = nlohmann::json::array({1, 2});
  EXPECT_NE(error_of([&] { store.save(d); }).find("meta_extra"), std::string::npos);
  EXPECT_TRUE(store.list().empty());
}

TEST(CheckpointStore, RetentionKeepLast) {
  TempDir tmp;
  CheckpointStore store(tmp.path(), 2, 1, "max");
  for (int s = 1; s <= 5; ++s) store.save(make_data(s));  // no metrics
  EXPECT_EQ(names(store.list()), (std::vector<std::string>{"step-0000004", "step-0000005"}));
  EXPECT_FALSE(store.pointer("best"));
  EXPECT_EQ(dir_entries(store.checkpoints_dir()),
            (std::vector<std::string>{"latest", "step-0000004", "step-0000005"}));
}

TEST(CheckpointStore, RetentionZeroKeepsEverything) {
  TempDir tmp;
  CheckpointStore store(tmp.path(), 0, 0, "max");
  for (int s = 1; s <= 4; ++s) store.save(make_data(s), s * 0.1);
  EXPECT_EQ(store.list().size(), 4u);
}

// metrics per step 1..5; returns (kept step dirs, best pointer target).
std::pair<std::vector<std::string>, std::string> run_retention(const std::string& dir,
                                                               int keep_last, int keep_best,
                                                               const std::string& mode,
                                                               const std::vector<double>& metrics) {
  CheckpointStore store(dir, keep_last, keep_best, mode);
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    store.save(make_data(static_cast<std::int64_t>(i + 1)), metrics[i]);
  }
  const auto best = store.pointer("best");
  return {names(store.list()), best ? fs::path(*best).filename().string() : "<none>"};
}

TEST(CheckpointStore, RetentionKeepsBestModeMax) {
  TempDir tmp;
  const auto [kept, best] = run_retention(tmp.path(), 2, 1, "max", {0.5, 0.9, 0.3, 0.4, 0.2});
  EXPECT_EQ(kept, (std::vector<std::string>{"step-0000002", "step-0000004", "step-0000005"}));
  EXPECT_EQ(best, "step-0000002");
  EXPECT_EQ(CheckpointStore(tmp.path()).load("best").step, 2);
  EXPECT_EQ(CheckpointStore(tmp.path()).load("latest").step, 5);
}

TEST(CheckpointStore, RetentionKeepsBestModeMin) {
  TempDir a, b;
  const std::vector<double> metrics = {0.5, 0.1, 0.3, 0.4, 0.6};
  auto [kept_min, best_min] = run_retention(a.path(), 2, 1, "min", metrics);
  EXPECT_EQ(kept_min, (std::vector<std::string>{"step-0000002", "step-0000004", "step-0000005"}));
  EXPECT_EQ(best_min, "step-0000002");
  auto [kept_max, best_max] = run_retention(b.path(), 2, 1, "max", metrics);
  EXPECT_EQ(kept_max, (std::vector<std::string>{"step-0000004", "step-0000005"}));
  EXPECT_EQ(best_max, "step-0000005");
}

TEST(CheckpointStore, RetentionKeepBestTwo) {
  TempDir tmp;
  const auto [kept, best] =
      run_retention(tmp.path(), 1, 2, "max", {0.8, 0.1, 0.9, 0.2, 0.3, 0.05});
  EXPECT_EQ(kept, (std::vector<std::string>{"step-0000001", "step-0000003", "step-0000006"}));
  EXPECT_EQ(best, "step-0000003");
}

TEST(CheckpointStore, BestTiesKeepOlderAndIgnoreNonFinite) {
  TempDir tmp;
  const double nan = std::nan("");
  const auto [kept, best] = run_retention(tmp.path(), 1, 1, "max", {0.5, 0.5, nan, INFINITY});
  EXPECT_EQ(best, "step-0000001");
  EXPECT_EQ(kept, (std::vector<std::string>{"step-0000001", "step-0000004"}));
  EXPECT_FALSE(CheckpointStore(tmp.path()).load("latest").metric.has_value());
}

// A metric for a step already saved (the final validation after a periodic save) renews
// meta.json only: the other files keep their inodes, the checkpoint verifies with the metric,
// `best` follows, and retention keeps it. Control: a second save() of the step rewrites them.
TEST(CheckpointStore, RecordMetricRewritesOnlyMetaJson) {
  TempDir tmp;
  CheckpointStore store(tmp.path(), 1, 1, "max");
  store.save(make_data(1), 0.5);
  store.save(make_data(2));
  const std::string dir = tmp / "checkpoints/step-0000002";
  const auto inode = [&] { return testing::inode_of(dir + "/model.pt"); };
  const auto before = inode();
  EXPECT_EQ(store.record_metric(2, 0.9), dir);
  EXPECT_EQ(inode(), before);
  const CheckpointData back = store.load("best");
  EXPECT_EQ(back.step, 2);
  ASSERT_TRUE(back.metric.has_value());
  EXPECT_DOUBLE_EQ(*back.metric, 0.9);
  EXPECT_EQ(back.files, make_data(2).files);
  EXPECT_EQ(names(store.list()), (std::vector<std::string>{"step-0000002"}));  // step 1 retired
  EXPECT_EQ(store.record_metric(2, std::nan("")), dir);  // non-finite: nothing recorded
  EXPECT_DOUBLE_EQ(*store.load("latest").metric, 0.9);
  EXPECT_NE(error_of([&] { store.record_metric(7, 0.1); }).find("step-0000007"),
            std::string::npos);
  store.save(make_data(2), 0.9);  // control
  EXPECT_NE(inode(), before);
}

TEST(CheckpointStore, PhasesInOrder) {
  TempDir tmp;
  CheckpointStore store(tmp.path(), 1, 1, "max");
  store.save(make_data(1), 0.1);
  std::vector<std::string> seen;
  store.set_phase_hook([&](const char* p) { seen.emplace_back(p); });
  store.save(make_data(2), 0.2);
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "begin", "tmp_created", "file_written", "file_written", "file_written",
                      "file_written", "meta_written", "tmp_synced", "published",
                      "pointer_tmp_written", "latest_updated", "pointer_tmp_written",
                      "best_updated", "retention_renamed", "done"}));
}

TEST(CheckpointStore, FailedSaveLeavesPreviousIntact) {
  TempDir tmp;
  CheckpointStore store(tmp.path(), 2, 1, "max");
  store.save(make_data(1), 0.5);
  for (const char* at : {"file_written", "meta_written", "tmp_synced"}) {
    store.set_phase_hook([at](const char* p) {
      if (std::string(p) == at) TESSERA_THROW("injected failure at {}", p);
    });
    EXPECT_THROW(store.save(make_data(2), 0.9), Error) << at;
    EXPECT_EQ(store.load("latest").step, 1) << at;
    EXPECT_EQ(store.load("best").step, 1) << at;
    EXPECT_EQ(dir_entries(store.checkpoints_dir()),
              (std::vector<std::string>{"best", "latest", "step-0000001"}))
        << at;
  }
}

TEST(CheckpointStore, ReplacesAnExistingStep) {
  for (const bool exchange : {true, false}) {
    TempDir tmp;
    CheckpointStore store(tmp.path(), 3, 1, "max");
    store.set_rename_exchange(exchange);
    store.save(make_data(1, 0), 0.1);
    store.save(make_data(2, 0), 0.9);
    std::vector<std::string> seen;
    store.set_phase_hook([&](const char* p) {
      seen.emplace_back(p);
      if (std::string(p) == "old_moved_aside") {
        // The window in which step-0000002 is absent: both pointers name step-0000001.
        EXPECT_EQ(store.load("latest").step, 1);
        EXPECT_EQ(store.load("best").step, 1);
      }
    });
    const CheckpointData again = make_data(2, 42);
    store.save(again, 0.2);
    EXPECT_EQ(std::count(seen.begin(), seen.end(), "old_moved_aside"), exchange ? 0 : 1);
    const CheckpointData back = store.load("latest");
    EXPECT_EQ(back.step, 2);
    EXPECT_EQ(back.files, again.files);
    EXPECT_EQ(store.load("best").step, 2);  // 0.2 > 0.1: the new step 2 is still the best
    EXPECT_EQ(dir_entries(store.checkpoints_dir()),
              (std::vector<std::string>{"best", "latest", "step-0000001", "step-0000002"}));
  }
}

// Fallback replacement of the only checkpoint, interrupted while the old one is moved aside:
// `latest` names a missing directory (the documented window), but --resume auto finds the old
// checkpoint and the next save puts it back.
TEST(CheckpointStore, InterruptedFallbackReplaceIsRecoverable) {
  TempDir tmp;
  CheckpointStore store(tmp.path(), 3, 1, "max");
  store.set_rename_exchange(false);
  const CheckpointData first = make_data(4, 0);
  store.save(first);
  store.set_phase_hook([](const char* p) {
    if (std::string(p) == "old_moved_aside") TESSERA_THROW("injected crash at {}", p);
  });
  EXPECT_THROW(store.save(make_data(4, 1)), Error);
  EXPECT_THROW((void)store.load("latest"), Error);
  LogCapture log;
  const auto d = store.load_auto();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->step, 4);
  EXPECT_EQ(d->files, first.files);
  store.set_phase_hook(nullptr);
  store.save(make_data(5));
  EXPECT_EQ(names(store.list()), (std::vector<std::string>{"step-0000004", "step-0000005"}));
  EXPECT_EQ(store.load(store.checkpoints_dir() + "/step-0000004").files, first.files);
  EXPECT_EQ(dir_entries(store.checkpoints_dir()),
            (std::vector<std::string>{"latest", "step-0000004", "step-0000005"}));
}

TEST(CheckpointStore, LeftoversOfCrashedWritersAreRemoved) {
  TempDir tmp;
  CheckpointStore store(tmp.path(), 5, 1, "max");
  store.save(make_data(1));
  const std::string ck = store.checkpoints_dir();
  fs::create_directories(ck + "/.tmp-step-0000003-99999/");
  testing::spit(ck + "/.tmp-step-0000003-99999/model.pt", "partial");
  fs::create_directories(ck + "/.trash-step-0000000-99999");
  testing::spit(ck + "/latest.tmp", "step-00");
  // A replaced checkpoint moved aside by a writer that died before publishing its successor.
  CheckpointStore other(tmp / "other");
  const CheckpointData seven = make_data(7);
  other.save(seven);
  fs::rename(other.checkpoints_dir() + "/step-0000007", ck + "/.old-step-0000007-99999");
  // .old- of a step that exists again is obsolete.
  fs::create_directories(ck + "/.old-step-0000001-99999");

  store.save(make_data(2));
  EXPECT_EQ(dir_entries(ck), (std::vector<std::string>{"latest", "step-0000001", "step-0000002",
                                                       "step-0000007"}));
  EXPECT_EQ(store.load(ck + "/step-0000007").files, seven.files);
}

}  // namespace
}  // namespace tessera::checkpoints
