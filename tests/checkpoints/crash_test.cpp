// Crash safety of the write-then-publish protocol: a child process (ckpt_crash_writer) saves
// checkpoints of a few MB and is SIGKILLed
//   * exactly at every protocol step of save() (the child reports the step on a pipe and
//     blocks there until killed), for a plain save, a same-step replacement with
//     renameat2(RENAME_EXCHANGE) and the fallback replacement;
//   * at random moments: the child reports each completed save; after one save's duration is
//     measured, the parent kills after a random fraction of it (the randomness is the fault
//     injection; progress itself is synchronised through the pipe, never by sleeping).
// After every kill: `latest` loads and verifies, names at least the last save the child
// reported complete, its contents are exactly one save's (not a mixture), every published step
// directory verifies, and the next save cleans up the leftovers.
// SIGKILL does not lose the page cache, so this tests the ordering of renames and pointer
// updates; the fsyncs that make it hold across power loss are checked by code review only.
#include "checkpoints/checkpoint_store.h"
#include "common/error.h"
#include "crash_content.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <optional>
#include <poll.h>
#include <random>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace tessera::checkpoints {
namespace {

using testing::TempDir;
constexpr double kMegabytes = 3.0;
constexpr int kReadTimeoutMs = 60000;

// A running ckpt_crash_writer and the read end of its progress pipe.
class Writer {
 public:
  Writer(const std::string& run_dir, std::int64_t first, long count,
         const std::vector<std::string>& options, const std::string& log_path) {
    std::vector<std::string> args = {TESSERA_CKPT_CRASH_WRITER, run_dir, "3",
                                     std::to_string(first), std::to_string(count)};
    args.insert(args.end(), options.begin(), options.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) throw std::runtime_error("cannot open " + log_path);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {  // child: only async-signal-safe calls until exec
      ::dup2(log, 1);
      ::dup2(log, 2);
      if (p[1] == 3) {
        ::fcntl(3, F_SETFD, 0);
      } else {
        ::dup2(p[1], 3);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(log);
    ::close(p[1]);
    fd_ = p[0];
  }
  ~Writer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // The next progress line; nullopt at EOF (the child is gone) or when timeout_ms passes
  // (*timed_out is then set).
  std::optional<std::string> next_line(int timeout_ms, bool* timed_out = nullptr) {
    if (timed_out) *timed_out = false;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      const auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) {
        if (timed_out) *timed_out = true;
        return std::nullopt;
      }
      pollfd pfd{fd_, POLLIN, 0};
      const int rc = ::poll(&pfd, 1, static_cast<int>(left));
      if (rc < 0 && errno == EINTR) continue;
      if (rc == 0) continue;
      char chunk[256];
      const ssize_t n = ::read(fd_, chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // SIGKILLs the child and reaps it; returns true when it died of that signal.
  bool kill_and_reap() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  }

  pid_t pid() const { return pid_; }

  // Waits for a normal exit; returns the exit status (or -1 if killed by a signal).
  int wait_exit() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buffer_;
};

std::int64_t parse_saved(const std::string& line) { return std::stoll(line.substr(2)); }

// The checks after a kill. Returns the step `latest` names.
std::int64_t verify_after_crash(const std::string& run_dir, std::int64_t last_completed) {
  CheckpointStore store(run_dir, testing::kKeepLast, testing::kKeepBest, "max");
  CheckpointData latest;
  try {
    latest = store.load("latest");
  } catch (const Error& e) {
    ADD_FAILURE() << "latest does not load after the crash: " << e.what();
    return -1;
  }
  EXPECT_GE(latest.step, last_completed) << "a save reported complete was lost";
  const int generation = latest.meta_extra.at("generation").get<int>();
  const CheckpointData expected = testing::crash_content(latest.step, generation, kMegabytes);
  EXPECT_TRUE(latest.files == expected.files) << "latest holds a mixture of saves";
  for (const std::string& dir : store.list()) {
    EXPECT_NO_THROW((void)load_checkpoint_dir(dir)) << dir << " is published but invalid";
  }
  if (store.pointer("best")) {
    EXPECT_NO_THROW((void)store.load("best"));
  }
  return latest.step;
}

// After a successful save nothing but pointers and retained step directories remain.
void expect_clean(const std::string& run_dir) {
  int step_dirs = 0;
  for (const auto& e : fs::directory_iterator(run_dir + "/checkpoints")) {
    const std::string n = e.path().filename().string();
    if (n == "latest" || n == "best") continue;
    EXPECT_TRUE(parse_step_dir_name(n).has_value()) << "leftover " << n;
    ++step_dirs;
  }
  EXPECT_LE(step_dirs, testing::kKeepLast + testing::kKeepBest);
}

// Runs a writer to completion (the recovery after a crash) and checks it cleaned up.
void recover_and_check(const std::string& run_dir, std::int64_t from, const std::string& log) {
  Writer w(run_dir, from, 2, {"--mb", std::to_string(kMegabytes)}, log);
  std::optional<std::string> line;
  std::int64_t last = -1;
  while ((line = w.next_line(kReadTimeoutMs))) {
    if (line->rfind("S ", 0) == 0) last = parse_saved(*line);
  }
  ASSERT_EQ(w.wait_exit(), 0) << "recovery writer failed; see " << log;
  EXPECT_EQ(last, from + 1);
  EXPECT_EQ(verify_after_crash(run_dir, last), last);
  expect_clean(run_dir);
}

struct PhaseKill {
  std::string phase;
  int occurrence;
  std::int64_t expected_latest;  // what `latest` must name after the kill
};

// Saves steps 5, 6, 7 (metrics 5, 2, 9): the third save moves `best` and retention removes
// step 5, so it passes through every phase.
TEST(CheckpointCrashSafety, KillAtEveryProtocolStep) {
  const std::vector<PhaseKill> kills = {
      {"begin", 1, 6},          {"tmp_created", 1, 6},         {"file_written", 1, 6},
      {"file_written", 2, 6},   {"file_written", 3, 6},        {"meta_written", 1, 6},
      {"tmp_synced", 1, 6},     {"published", 1, 6},           {"pointer_tmp_written", 1, 6},
      {"latest_updated", 1, 7}, {"pointer_tmp_written", 2, 7}, {"best_updated", 1, 7},
      {"retention_renamed", 1, 7}, {"done", 1, 7},
  };
  for (const PhaseKill& k : kills) {
    SCOPED_TRACE(k.phase + " #" + std::to_string(k.occurrence));
    TempDir tmp;
    const std::string log = tmp / "writer.log";
    {
      Writer w(tmp.path(), 5, 3,
               {"--stop", "3:" + k.phase + ":" + std::to_string(k.occurrence), "--mb",
                std::to_string(kMegabytes)},
               log);
      std::int64_t last = -1;
      std::optional<std::string> line;
      while ((line = w.next_line(kReadTimeoutMs)) && *line != "K") {
        if (line->rfind("S ", 0) == 0) last = parse_saved(*line);
      }
      ASSERT_TRUE(line.has_value()) << "the writer never reached the phase; log:\n"
                                    << testing::slurp(log);
      ASSERT_TRUE(w.kill_and_reap());
      EXPECT_EQ(last, 6);
      EXPECT_EQ(verify_after_crash(tmp.path(), last), k.expected_latest);
    }
    recover_and_check(tmp.path(), k.expected_latest + 1, log);
  }
}

// Saves 5, 6, then 6 again (generation 1), killed inside the replacement.
TEST(CheckpointCrashSafety, KillWhileReplacingAStep) {
  const std::vector<std::pair<std::vector<std::string>, PhaseKill>> kills = {
      {{}, {"tmp_synced", 1, 6}},
      {{}, {"published", 1, 6}},
      {{}, {"pointer_tmp_written", 1, 6}},
      {{"--no-exchange"}, {"tmp_synced", 1, 6}},
      {{"--no-exchange"}, {"pointer_tmp_written", 1, 6}},  // latest -> step 5 being written
      {{"--no-exchange"}, {"old_moved_aside", 1, 5}},      // the window: step-6 absent
      {{"--no-exchange"}, {"published", 1, 5}},
      {{"--no-exchange"}, {"pointer_tmp_written", 2, 5}},
      {{"--no-exchange"}, {"latest_updated", 1, 6}},
  };
  for (const auto& [extra, k] : kills) {
    SCOPED_TRACE(k.phase + " #" + std::to_string(k.occurrence) +
                 (extra.empty() ? " (exchange)" : " (fallback)"));
    TempDir tmp;
    const std::string log = tmp / "writer.log";
    {
      std::vector<std::string> options = {"--replace", "--stop",
                                          "3:" + k.phase + ":" + std::to_string(k.occurrence),
                                          "--mb", std::to_string(kMegabytes)};
      options.insert(options.end(), extra.begin(), extra.end());
      Writer w(tmp.path(), 5, 3, options, log);
      std::optional<std::string> line;
      while ((line = w.next_line(kReadTimeoutMs)) && *line != "K") {
      }
      ASSERT_TRUE(line.has_value()) << "the writer never reached the phase; log:\n"
                                    << testing::slurp(log);
      ASSERT_TRUE(w.kill_and_reap());
      EXPECT_EQ(verify_after_crash(tmp.path(), 6 - 1), k.expected_latest);
    }
    // The next save restores or removes what the crashed replacement left aside.
    recover_and_check(tmp.path(), 7, log);
    CheckpointStore store(tmp.path());
    EXPECT_EQ(store.load("latest").step, 8);
  }
}

TEST(CheckpointCrashSafety, KillAtRandomMoments) {
  TempDir tmp;
  const std::string log = tmp / "writer.log";
  std::mt19937 rng(20240611);
  std::int64_t next = 1;
  constexpr int kKills = 30;
  for (int iteration = 0; iteration < kKills; ++iteration) {
    std::int64_t last = next - 1;  // the previous iteration's latest is already durable
    double fraction = 0;
    {
      Writer w(tmp.path(), next, 1000000, {"--mb", std::to_string(kMegabytes)}, log);
      // Measure one save's duration between two completion reports, then kill after a random
      // fraction (0..1.5) of it, still consuming reports so `last` stays exact.
      std::optional<std::string> line;
      for (int i = 0; i < 2; ++i) {
        line = w.next_line(kReadTimeoutMs);
        ASSERT_TRUE(line && line->rfind("S ", 0) == 0) << "writer failed; log:\n"
                                                       << testing::slurp(log);
        last = parse_saved(*line);
      }
      const auto t0 = std::chrono::steady_clock::now();
      line = w.next_line(kReadTimeoutMs);
      ASSERT_TRUE(line && line->rfind("S ", 0) == 0);
      last = parse_saved(*line);
      const auto period = std::chrono::steady_clock::now() - t0;
      fraction = std::uniform_real_distribution<double>(0.0, 1.5)(rng);
      const auto deadline =
          std::chrono::steady_clock::now() +
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(period * fraction);
      for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now())
                              .count();
        bool timed_out = false;
        line = w.next_line(static_cast<int>(std::max<long long>(left, 0)), &timed_out);
        if (timed_out) break;
        ASSERT_TRUE(line.has_value()) << "writer died; log:\n" << testing::slurp(log);
        if (line->rfind("S ", 0) == 0) last = parse_saved(*line);
      }
      ASSERT_TRUE(w.kill_and_reap());
      // Reports written before the kill are still in the pipe.
      while ((line = w.next_line(1000))) {
        if (line->rfind("S ", 0) == 0) last = parse_saved(*line);
      }
    }
    SCOPED_TRACE("kill " + std::to_string(iteration) + " at " + std::to_string(fraction) +
                 " of a save after step " + std::to_string(last));
    const std::int64_t latest = verify_after_crash(tmp.path(), last);
    ASSERT_GE(latest, 0);
    next = latest + 1;
  }
  recover_and_check(tmp.path(), next, log);
}

// Two writers on one run directory (a job started twice, issue 13 finding 8): while the first is
// in the middle of a save, the second's save is refused with an error naming the first's host
// and pid, and the first's in-flight `.tmp-*` checkpoint is untouched (before the lock, the
// second save removed it as a "leftover"). Once the first is gone (kill -9) the lock is free.
TEST(CheckpointCrashSafety, SecondWriterOnOneRunDirectoryIsRefused) {
  TempDir tmp;
  const std::string log = tmp / "writer.log";
  Writer w(tmp.path(), 5, 1, {"--stop", "1:file_written:1", "--mb", "1"}, log);
  const auto line = w.next_line(kReadTimeoutMs);
  ASSERT_TRUE(line && *line == "K") << testing::slurp(log);
  std::vector<std::string> in_flight;
  for (const auto& e : fs::directory_iterator(tmp / "checkpoints")) {
    if (e.path().filename().string().rfind(".tmp-", 0) == 0) in_flight.push_back(e.path());
  }
  ASSERT_EQ(in_flight.size(), 1u);

  CheckpointStore second(tmp.path());
  std::string error = "<no error>";
  try {
    second.save(testing::crash_content(9, 0, 1.0));
  } catch (const Error& e) {
    error = e.what();
  }
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  EXPECT_NE(error.find("in use by another tessera process"), std::string::npos) << error;
  EXPECT_NE(error.find("pid " + std::to_string(w.pid())), std::string::npos) << error;
  EXPECT_NE(error.find(std::string("host ") + host), std::string::npos) << error;
  EXPECT_TRUE(fs::exists(in_flight[0])) << "the second writer deleted the first's checkpoint";
  EXPECT_FALSE(fs::exists(tmp / "checkpoints/step-0000009"));

  ASSERT_TRUE(w.kill_and_reap());
  EXPECT_NO_THROW(second.save(testing::crash_content(9, 0, 1.0)));
  EXPECT_EQ(second.load("latest").step, 9);
}

// Runs ckpt_crash_writer (one save of `step`, 1 MB) through bash with `ulimit -f LIMIT` (KiB) and
// SIGXFSZ ignored, so a write past the limit fails with EFBIG as on a full disk. Returns the
// wait status.
int run_writer_with_file_limit(const std::string& run_dir, std::int64_t step,
                               const std::string& limit, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string s = std::to_string(step);
    ::execl("/bin/bash", "bash", "-c",
            "trap '' XFSZ; ulimit -f \"$3\" && exec \"$0\" \"$1\" 1 \"$2\" 1 --mb 1 >>\"$4\" 2>&1",
            TESSERA_CKPT_CRASH_WRITER, run_dir.c_str(), s.c_str(), limit.c_str(), log.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

// Disk full during a checkpoint save: the writer ends with exit status 1 and an error naming the
// file and the cause, the previous `latest` still verifies, and no temporary directory is left.
TEST(CheckpointCrashSafety, DiskFullDuringASave) {
  TempDir tmp;
  const std::string log = tmp / "writer.log";
  int status = run_writer_with_file_limit(tmp.path(), 5, "unlimited", log);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << testing::slurp(log);
  // optim.pt is 667 kB: past a 500 KiB limit.
  status = run_writer_with_file_limit(tmp.path(), 6, "500", log);
  const std::string text = testing::slurp(log);
  ASSERT_TRUE(WIFEXITED(status)) << "the writer died of a signal: " << text;
  EXPECT_EQ(WEXITSTATUS(status), 1) << text;
  EXPECT_NE(text.find(".tmp-step-0000006-"), std::string::npos) << text;
  EXPECT_NE(text.find("optim.pt"), std::string::npos) << text;
  EXPECT_NE(text.find("File too large"), std::string::npos) << text;
  CheckpointStore store(tmp.path());
  EXPECT_EQ(store.load("latest").step, 5);
  for (const auto& e : fs::directory_iterator(tmp / "checkpoints")) {
    const std::string n = e.path().filename().string();
    EXPECT_TRUE(n == "latest" || n == "best" || n == "step-0000005") << "left behind: " << n;
  }
}

}  // namespace
}  // namespace tessera::checkpoints
