// CheckpointStore: round trip, layout, pointers, retention, refusal of damaged checkpoints,
// --resume auto fallback, replacement of an existing step, cleanup of crashed writers' leftovers.
#include "checkpoints/checkpoint_store.h"
#include "checkpoints/sha256.h"
#include "common/error.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <tessera/version.h>

#include <cmath>
#include <filesystem>
#include <random>

namespace fs = std::filesystem;

namespace tessera::checkpoints {
namespace {

using testing::TempDir;

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

CheckpointData make_data(std::int64_t step, unsigned seed = 0) {
  CheckpointData d;
  d.step = step;
  d.epoch = step / 10;
  d.world_size = 2;
  d.files["model.pt"] = random_bytes(10000 + static_cast<std::size_t>(step % 1000), seed + static_cast<unsigned>(step));
  d.files["optim.pt"] = random_bytes(20000, seed + 1000 + static_cast<unsigned>(step));
  d.files["state.json"] = "{\"cursor\": " + std::to_string(step * 8) + "}";
  d.files["empty.bin"] = "";
  d.meta_extra = {{"cursor", step * 8}, {"note", "x"}};
  return d;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

std::vector<std::string> names(const std::vector<std::string>& dirs) {
  std::vector<std::string> out;
  for (const auto& d : dirs) out.push_back(fs::path(d).filename().string());
  return out;
}

std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Captures the default logger's output while alive.
class LogCapture {
 public:
  LogCapture()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256)),
        previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const {
    std::string all;
    for (const auto& line : sink_->last_formatted()) all += line;
    return all;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(CheckpointStore, SaveLoadRoundTrip) {
  TempDir tmp;
  CheckpointStore store(tmp.path(), 3, 1, "max");
  const CheckpointData d = make_data(200);
  const std::string dir = store.save(d, 0.75);
  EXPECT_EQ(dir, tmp / "checkpoints/step-0000200");
  EXPECT_EQ(testing::slurp(tmp / "checkpoints/latest"), "step-0000200\n");
  EXPECT_EQ(testing::slurp(tmp / "checkpoints/best"), "step-0000200\n");
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

class CheckpointCorruption : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<CheckpointStore>(tmp_.path(), 5, 1, "max");
    for (int s = 1; s <= 3; ++s) store_->save(make_data(s), 0.1 * s);
    dir_ = tmp_ / "checkpoints/step-0000003";
  }
  std::string load_error() {
    return error_of([&] { (void)store_->load("latest"); });
  }
  TempDir tmp_;
  std::unique_ptr<CheckpointStore> store_;
  std::string dir_;
};

TEST_F(CheckpointCorruption, FlippedByteIsRefusedNamingTheFile) {
  testing::flip_byte(dir_ + "/optim.pt", 12345);
  const std::string e = load_error();
  EXPECT_NE(e.find(dir_), std::string::npos) << e;
  EXPECT_NE(e.find("optim.pt"), std::string::npos) << e;
  EXPECT_NE(e.find("SHA-256"), std::string::npos) << e;
  EXPECT_NE(e.find(sha256_file_hex(dir_ + "/optim.pt")), std::string::npos) << e;
}

TEST_F(CheckpointCorruption, TruncatedFileIsRefused) {
  fs::resize_file(dir_ + "/model.pt", 5000);
  const std::string e = load_error();
  EXPECT_NE(e.find("model.pt"), std::string::npos) << e;
  EXPECT_NE(e.find("has 5000 bytes"), std::string::npos) << e;
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
}

TEST_F(CheckpointCorruption, MissingFileIsRefused) {
  fs::remove(dir_ + "/state.json");
  const std::string e = load_error();
  EXPECT_NE(e.find("state.json"), std::string::npos) << e;
  EXPECT_NE(e.find("missing"), std::string::npos) << e;
}

TEST_F(CheckpointCorruption, MissingMetaIsRefused) {
  fs::remove(dir_ + "/meta.json");
  const std::string e = load_error();
  EXPECT_NE(e.find(dir_), std::string::npos) << e;
  EXPECT_NE(e.find("meta.json is missing"), std::string::npos) << e;
}

TEST_F(CheckpointCorruption, UnparseableMetaIsRefused) {
  std::string meta = testing::slurp(dir_ + "/meta.json");
  testing::spit(dir_ + "/meta.json", meta.substr(0, meta.size() / 2));
  EXPECT_NE(load_error().find("meta.json is not valid JSON"), std::string::npos) << load_error();
}

TEST_F(CheckpointCorruption, MetaWithWrongSchemaIsRefused) {
  auto meta = nlohmann::json::parse(testing::slurp(dir_ + "/meta.json"));
  meta["step"] = 4;
  testing::spit(dir_ + "/meta.json", meta.dump());
  EXPECT_NE(load_error().find("the directory name says step 3"), std::string::npos)
      << load_error();
  meta["step"] = 3;
  meta["files"]["model.pt"]["size"] = "big";
  testing::spit(dir_ + "/meta.json", meta.dump());
  EXPECT_NE(load_error().find("files.model.pt"), std::string::npos) << load_error();
  meta.erase("files");
  testing::spit(dir_ + "/meta.json", meta.dump());
  EXPECT_NE(load_error().find("'files' is missing"), std::string::npos) << load_error();
}

TEST_F(CheckpointCorruption, CorruptPointerIsRefused) {
  testing::spit(tmp_ / "checkpoints/latest", "../../etc\n");
  EXPECT_NE(load_error().find("pointer"), std::string::npos) << load_error();
}

TEST_F(CheckpointCorruption, LoadAutoFallsBackPastInvalidNewest) {
  testing::flip_byte(dir_ + "/model.pt", 0);
  fs::remove(tmp_ / "checkpoints/step-0000002/meta.json");
  LogCapture log;
  const auto d = store_->load_auto();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->step, 1);
  const std::string text = log.text();
  EXPECT_NE(text.find("skipping invalid checkpoint"), std::string::npos) << text;
  EXPECT_NE(text.find("step-0000003"), std::string::npos) << text;
  EXPECT_NE(text.find("step-0000002"), std::string::npos) << text;
  EXPECT_NE(text.find("2 newer invalid"), std::string::npos) << text;
  // The explicit "latest" is still refused: only auto falls back.
  EXPECT_NE(load_error().find("model.pt"), std::string::npos);
}

TEST_F(CheckpointCorruption, LoadAutoRefusesWhenNothingVerifies) {
  for (int s = 1; s <= 3; ++s) {
    testing::flip_byte(tmp_ / ("checkpoints/step-000000" + std::to_string(s) + "/model.pt"), 9);
  }
  LogCapture log;
  const std::string e = error_of([&] { (void)store_->load_auto(); });
  EXPECT_NE(e.find("none of the 3 checkpoints"), std::string::npos) << e;
}

TEST(CheckpointStore, LoadAutoOnFreshRunIsEmpty) {
  TempDir tmp;
  EXPECT_FALSE(CheckpointStore(tmp / "run").load_auto().has_value());
  EXPECT_EQ(CheckpointStore(tmp.path()).load_auto().has_value(), false);
  CheckpointStore store(tmp.path());
  store.save(make_data(3));
  store.save(make_data(4));
  EXPECT_EQ(store.load_auto()->step, 4);
}

}  // namespace
}  // namespace tessera::checkpoints
