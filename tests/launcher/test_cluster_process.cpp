// run_command(): output capture, exit status, time bound, missing programs; shell quoting
// checked against a real shell.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "launcher/cluster_process.h"
#include "launcher/cluster_shell.h"

namespace tessera {
namespace {

TEST(RunCommand, CapturesStdoutStderrAndStatus) {
  const auto r = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"}, 30.0);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(RunCommand, LargeOutputDoesNotDeadlock) {
  const auto r = run_command({"sh", "-c", "head -c 300000 /dev/zero; head -c 200000 /dev/zero >&2"},
                             30.0);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.out.size(), 300000u);
  EXPECT_EQ(r.err.size(), 200000u);
}

TEST(RunCommand, StdinIsDevNull) {
  const auto r = run_command({"cat"}, 30.0);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.out, "");
}

TEST(RunCommand, TimeBoundKillsTheChild) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run_command({"sleep", "30"}, 0.5);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_EQ(r.signal, 9);
  EXPECT_LT(took, 10.0);
}

TEST(RunCommand, MissingProgramNamesIt) {
  try {
    run_command({"tessera-no-such-program-xyz", "--version"}, 5.0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("tessera-no-such-program-xyz"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("PATH"), std::string::npos) << e.message();
  }
}

TEST(SuperviseCommand, PassesTheExitStatusAndTheEnvironment) {
  EXPECT_EQ(supervise_command({"sh", "-c", "exit 7"}, {}), 7);
  EXPECT_EQ(supervise_command({"sh", "-c", "[ \"$TESSERA_SUPERVISE_T\" = x ]"},
                              {{"TESSERA_SUPERVISE_T", "x"}}),
            0);
  EXPECT_EQ(supervise_command({"sh", "-c", "kill -KILL $$"}, {}), 128 + SIGKILL);
}

TEST(SuperviseCommand, MissingProgramNamesIt) {
  EXPECT_THROW(supervise_command({"tessera-no-such-program-xyz"}, {}), Error);
}

// A signal sent to the supervisor's PID reaches the child (mpirun, in `tessera launch`). The
// sender is another thread of this process, created with the signals blocked as they are in the
// supervising thread (the contract: no thread may take them first). Control: without the
// forwarding the child would run out its 30 s and exit 3.
TEST(SuperviseCommand, ForwardsSignalsSentToItsPid) {
  namespace fs = std::filesystem;
  const fs::path started = fs::temp_directory_path() /
                           ("tessera-supervise-" + std::to_string(::getpid()));
  fs::remove(started);
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGCHLD);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
  std::thread sender([&] {
    for (int i = 0; i < 600 && !fs::exists(started); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(::getpid(), SIGUSR1);
  });
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = supervise_command(
      {"sh", "-c", "trap 'exit 42' USR1; touch \"$0\"; i=0; while [ $i -lt 300 ]; do "
                   "sleep 0.1; i=$((i+1)); done; exit 3",
       started.string()},
      {});
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  sender.join();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  fs::remove(started);
  EXPECT_EQ(rc, 42);
  EXPECT_LT(took, 20.0);
}

TEST(ShellQuote, ShReadsBackEveryWord) {
  const std::vector<std::string> words = {"plain",  "two words", "it's", "$HOME", "a\"b",
                                          "back\\slash", "",       "*",     "new\nline", "-x"};
  const auto r = run_command({"sh", "-c", "for w in " + shell_join(words) +
                                              "; do printf '[%s]' \"$w\"; done"},
                             30.0);
  ASSERT_TRUE(r.ok()) << r.err;
  std::string expected;
  for (const auto& w : words) expected += "[" + w + "]";
  EXPECT_EQ(r.out, expected);
}

TEST(CurrentExecutable, IsAnAbsolutePath) {
  const std::string exe = current_executable();
  ASSERT_FALSE(exe.empty());
  EXPECT_EQ(exe.front(), '/');
}

}  // namespace
}  // namespace tessera
