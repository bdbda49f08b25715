// outcome.json (trainer/run_outcome.h): the trainer's end-of-run record that `tessera launch` and
// the batch script require after a launcher exits 0. Round trip, clearing, and a clear error for
// a file that is not a record (named, with what was expected) instead of a silent "finished".
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/error.h"
#include "trainer/run_outcome.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

class RunOutcomeFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() /
            ("tessera-outcome-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& text) { std::ofstream(outcome_path(dir_)) << text; }
  std::string error_of_read() {
    try {
      read_run_outcome(dir_);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  std::string dir_;
};

TEST_F(RunOutcomeFile, RoundTripAndClear) {
  EXPECT_FALSE(read_run_outcome(dir_).has_value());
  RunOutcome o;
  o.outcome = "stopped";
  o.step = 17;
  o.epoch = 2;
  o.ranks = 4;
  o.checkpoint = "step-0000017";
  write_run_outcome(dir_, o);
  const auto back = read_run_outcome(dir_);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->outcome, "stopped");
  EXPECT_EQ(back->step, 17);
  EXPECT_EQ(back->epoch, 2);
  EXPECT_EQ(back->ranks, 4);
  EXPECT_EQ(back->checkpoint, "step-0000017");
  EXPECT_NE(describe(*back).find("stopped by a signal at step 17"), std::string::npos);
  clear_run_outcome(dir_);
  EXPECT_FALSE(read_run_outcome(dir_).has_value());
  clear_run_outcome(dir_);                  // nothing to remove: fine
  clear_run_outcome(dir_ + "/no/such/dir");  // a run directory not made yet: fine
}

TEST_F(RunOutcomeFile, NotARecordIsAnErrorNamingTheFile) {
  for (const char* text : {"", "{", "[]", "{\"step\": 3}", "{\"outcome\": \"finished\"}",
                           "{\"outcome\": \"done\", \"step\": 3}",
                           "{\"outcome\": 1, \"step\": 3}"}) {
    write(text);
    const std::string e = error_of_read();
    EXPECT_NE(e.find(outcome_path(dir_)), std::string::npos) << text << ": " << e;
  }
  write("{\"outcome\": \"finished\", \"step\": 3}");  // the control: the smallest valid record
  EXPECT_EQ(error_of_read(), "");
  write(std::string(100000, ' '));
  EXPECT_NE(error_of_read().find("bytes"), std::string::npos);
}

}  // namespace
}  // namespace tessera
