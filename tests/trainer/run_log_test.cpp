// RunLog's metrics.jsonl under faults (issue 13, finding 7): the resume rewrite never truncates
// the file in place (a full disk or a kill during it leaves the old history whole), and every
// failed write is a tessera::Error naming the file. The disk fills through RLIMIT_FSIZE (writes
// past N bytes fail with EFBIG; SIGXFSZ ignored) set on this process for the duration of a call.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "checkpoints/file_io.h"
#include "common/error.h"
#include "trainer/run_log.h"
#include "tests/trainer/test_util.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testing::with_file_size_limit;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class RunLogFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = (fs::temp_directory_path() /
            ("tessera-runlog-" + std::to_string(::getpid()) + "-" + test))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = dir_ + "/metrics.jsonl";
    std::ofstream out(path_);
    for (int step = 1; step <= 40; ++step) {
      out << nlohmann::json{{"step", step}, {"train/loss", 1.0 / step}, {"note", "history"}}.dump()
          << "\n";
    }
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_, path_;
};

TEST_F(RunLogFaults, ResumeKeepsRecordsUpToTheStepAndDropsLaterOnes) {
  { RunLog log(dir_, 30, "off", true); log.write({{"step", 31}}); }
  const std::string text = slurp(path_);
  EXPECT_NE(text.find("{\"note\":\"history\",\"step\":30"), std::string::npos) << text;
  EXPECT_EQ(text.find("\"step\":32"), std::string::npos) << text;
  EXPECT_EQ(text.substr(text.size() - 12), "{\"step\":31}\n");
  EXPECT_FALSE(fs::exists(path_ + ".tmp"));
}

TEST_F(RunLogFaults, DiskFullDuringTheResumeRewriteKeepsTheHistory) {
  const std::string before = slurp(path_);
  ASSERT_GT(before.size(), 1500u);
  // The kept records (steps 1..35) need more than 1000 bytes: the rewrite cannot complete.
  const std::string error = with_file_size_limit(1000, [&] { RunLog log(dir_, 35, "off", true); });
  EXPECT_NE(error.find("metrics.jsonl"), std::string::npos) << error;
  EXPECT_NE(error.find("File too large"), std::string::npos) << error;
  EXPECT_EQ(slurp(path_), before) << "the history was truncated in place";
}

TEST_F(RunLogFaults, AFailedAppendIsAnErrorNamingTheFile) {
  RunLog log(dir_, 40, "off", true);
  const std::string error = with_file_size_limit(fs::file_size(path_) + 10, [&] {
    log.write({{"step", 41}, {"pad", std::string(100, 'x')}});
  });
  EXPECT_NE(error.find(path_), std::string::npos) << error;
  EXPECT_NE(error.find("File too large"), std::string::npos) << error;
}

TEST_F(RunLogFaults, ControlTheLimitDoesNotStopSmallWrites) {
  const std::string error = with_file_size_limit(1 << 20, [&] {
    RunLog log(dir_, 35, "off", true);
    log.write({{"step", 36}});
  });
  EXPECT_EQ(error, "");
}

TEST_F(RunLogFaults, WriteFileAtomicNamesTheFileAndKeepsTheOldContents) {
  // What the trainer uses for config.resolved.yaml.
  const std::string cfg = dir_ + "/config.resolved.yaml";
  checkpoints::write_file_atomic(cfg, "old: 1\n");
  const std::string error = with_file_size_limit(100, [&] {
    checkpoints::write_file_atomic(cfg, std::string(1000, '#'));
  });
  EXPECT_NE(error.find(cfg), std::string::npos) << error;
  EXPECT_NE(error.find("File too large"), std::string::npos) << error;
  EXPECT_EQ(slurp(cfg), "old: 1\n");
}

}  // namespace
}  // namespace tessera
