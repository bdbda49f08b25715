// The run table of `tessera runs` (launcher/runs_table.h): states, best metric, lock probe,
// formatting. The command itself is tested on real runs in tests/e2e/fault_tolerance.sh.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "launcher/runs_table.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

TEST(RunsTable, StatesFromTheRunDirectoryFacts) {
  RunFacts f;
  EXPECT_EQ(run_state(f), "not started");
  f.slurm_job_id = "17";
  EXPECT_EQ(run_state(f), "submitted (Slurm job 17)");
  f.started = true;
  EXPECT_EQ(run_state(f), "failed");
  f.latest = "step-0000030";
  EXPECT_EQ(run_state(f), "failed, resumable from step 30");
  f.latest = "step-0000000";
  EXPECT_EQ(run_state(f), "failed, resumable from step 0");
  f.outcome = "stopped";
  f.outcome_step = 30;
  EXPECT_EQ(run_state(f), "stopped at step 30, resumable");
  f.outcome = "early_stopped";
  EXPECT_EQ(run_state(f), "finished (early stop)");
  f.outcome = "finished";
  EXPECT_EQ(run_state(f), "finished");
  f.outcome = "exploded";
  EXPECT_EQ(run_state(f), "unknown outcome 'exploded'");
  f.lock_holder = "host h pid 12";  // a holder wins over a stale outcome (a resumed run)
  EXPECT_EQ(run_state(f), "running (host h pid 12)");
}

TEST(RunsTable, BestMetricByModeSkipsTrainingAndBrokenLines) {
  const std::string text =
      "{\"step\":1,\"loss\":0.9,\"val/dice\":0.99}\n"  // a training line: not a validation
      "{\"step\":2,\"split\":\"val\",\"val/dice\":0.4,\"val/loss\":0.7}\n"
      "{\"step\":4,\"split\":\"val\",\"val/dice\":0.6,\"val/loss\":0.5}\n"
      "{\"step\":5,\"split\":\"val\",\"val/d\n"  // cut by a kill mid-write
      "{\"step\":6,\"split\":\"val\",\"val/dice\":0.5,\"val/loss\":0.3}\n";
  auto best = best_metric(text, "val/dice", "max");
  ASSERT_TRUE(best);
  EXPECT_DOUBLE_EQ(best->value, 0.6);
  EXPECT_EQ(best->step, 4);
  best = best_metric(text, "val/loss", "min");
  ASSERT_TRUE(best);
  EXPECT_DOUBLE_EQ(best->value, 0.3);
  EXPECT_EQ(best->step, 6);
  EXPECT_FALSE(best_metric(text, "val/psnr", "max"));
  EXPECT_FALSE(best_metric("", "val/dice", "max"));
}

TEST(RunsTable, LockHolderSeesAnotherProcessAndNotAFreedLock) {
  const fs::path dir = fs::temp_directory_path() / ("tessera-runs-" + std::to_string(getpid()));
  fs::create_directories(dir);
  EXPECT_EQ(lock_holder(dir.string()), "");  // no lock file
  const std::string path = (dir / ".tessera-lock").string();
  std::ofstream(path) << "host h1 pid 77 since 2026-12-04T00:00:00Z\n";
  EXPECT_EQ(lock_holder(dir.string()), "");  // a file nobody locks (its holder died)
  int ready[2], release[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(release), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int fd = open(path.c_str(), O_RDWR);
    const bool ok = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0;
    char c = ok ? 'y' : 'n';
    (void)!write(ready[1], &c, 1);
    (void)!read(release[0], &c, 1);  // holds the lock until the parent says so (or dies)
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  EXPECT_EQ(lock_holder(dir.string()), "host h1 pid 77");
  EXPECT_EQ(lock_holder(dir.string()), "host h1 pid 77");  // the probe itself took nothing
  (void)!write(release[1], "x", 1);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_EQ(lock_holder(dir.string()), "");  // the kernel dropped it with the holder
  for (int fd : {ready[0], ready[1], release[0], release[1]}) close(fd);
  fs::remove_all(dir);
}

TEST(RunsTable, AgesAndTheAlignedTable) {
  EXPECT_EQ(format_age(-1), "-");
  EXPECT_EQ(format_age(45), "45s");
  EXPECT_EQ(format_age(600), "10m");
  EXPECT_EQ(format_age(3 * 3600), "3h");
  EXPECT_EQ(format_age(5 * 86400), "5d");
  EXPECT_EQ(format_runs_table({}, "runs"), "no runs in runs\n");
  RunRow a;
  a.name = "unet-roads";
  a.task = "segmentation";
  a.arch = "unet";
  a.step = 120;
  a.max_steps = 300;
  a.metric = "val/dice";
  a.best = BestMetric{0.81234, 100};
  a.state = "running (host h pid 3)";
  a.age_s = 30;
  RunRow b;
  b.name = "ae";
  b.state = "failed";
  const std::string t = format_runs_table({a, b}, "runs");
  const char* want[] = {
      "NAME        TASK          ARCH  STEPS    BEST             AT STEP  STATE                   AGE",
      "unet-roads  segmentation  unet  120/300  val/dice 0.8123  100      running (host h pid 3)  30s",
      "ae          ?             ?     0/?      -                -        failed                  -"};
  EXPECT_EQ(t, std::string(want[0]) + "\n" + want[1] + "\n" + want[2] + "\n");
}

}  // namespace
}  // namespace tessera
