// render_sbatch(): the #SBATCH header, the step, and the batch shell's signal handling, run for
// real by bash against a fake `mpirun` and `scontrol` (no Slurm needed; tests/cluster runs the
// script under a real Slurm).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "launcher/cluster_launch.h"
#include "launcher/cluster_process.h"
#include "launcher/cluster_sbatch.h"
#include "launcher/cluster_shell.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

SbatchRequest request() {
  SbatchRequest r;
  r.config_path = "/work/configs/roads.yaml";
  r.overrides = {"train.max_steps=50"};
  r.tessera_exe = "/opt/tessera/bin/tessera";
  r.workdir = "/work";
  r.run_dir = "/work/runs/roads";
  r.run_as_root = true;
  r.header_comment = "tessera test";
  return r;
}

Config config() {
  Config cfg;
  cfg.experiment.name = "roads";
  cfg.cluster.nodes = 2;
  cfg.cluster.ranks_per_node = 4;
  cfg.train.threads_per_rank = 3;
  cfg.cluster.time = "02:30:00";
  cfg.cluster.preempt_grace_s = 90;
  return cfg;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(RenderSbatch, Header) {
  Config cfg = config();
  std::string s = render_sbatch(cfg, request());
  EXPECT_EQ(s.rfind("#!/bin/bash\n", 0), 0u);
  for (const char* line :
       {"#SBATCH --job-name=roads\n", "#SBATCH --nodes=2\n", "#SBATCH --ntasks-per-node=4\n",
        "#SBATCH --cpus-per-task=3\n", "#SBATCH --time=02:30:00\n", "#SBATCH --chdir=/work\n",
        "#SBATCH --output=/work/runs/roads/slurm-%j.out\n",
        "#SBATCH --error=/work/runs/roads/slurm-%j.err\n", "#SBATCH --open-mode=append\n",
        "#SBATCH --requeue\n", "#SBATCH --signal=B:USR1@90\n"}) {
    EXPECT_TRUE(contains(s, line)) << line << "\n" << s;
  }
  EXPECT_FALSE(contains(s, "--gpus-per-node"));
  EXPECT_FALSE(contains(s, "--partition"));
  EXPECT_FALSE(contains(s, "--account"));

  cfg.cluster.gpus_per_node = 8;
  cfg.cluster.partition = "gpu";
  cfg.cluster.account = "proj1";
  cfg.cluster.cpus_per_task = 6;
  cfg.cluster.preempt_grace_s = 0;
  s = render_sbatch(cfg, request());
  EXPECT_TRUE(contains(s, "#SBATCH --gpus-per-node=8\n"));
  EXPECT_TRUE(contains(s, "#SBATCH --partition=gpu\n"));
  EXPECT_TRUE(contains(s, "#SBATCH --account=proj1\n"));
  EXPECT_TRUE(contains(s, "#SBATCH --cpus-per-task=6\n"));
  EXPECT_FALSE(contains(s, "#SBATCH --signal"));
}

TEST(RenderSbatch, StepIsTheInsideAllocationPlanWithResumeAuto) {
  const Config cfg = config();
  const std::string s = render_sbatch(cfg, request());
  LaunchRequest launch;
  launch.config_path = "/work/configs/roads.yaml";
  launch.overrides = {"train.max_steps=50"};
  launch.train_args = {"--resume", "auto"};
  launch.tessera_exe = "/opt/tessera/bin/tessera";
  launch.run_as_root = true;
  JobEnvironment inside;
  inside.in_slurm = true;
  const LaunchPlan plan = plan_launch(cfg, launch, inside);
  EXPECT_TRUE(contains(s, "\n" + shell_join(plan.argv) + " &\nstep_pid=$!\n")) << s;
  EXPECT_TRUE(contains(s, "train /work/configs/roads.yaml --set train.max_steps=50 --resume auto"));
  EXPECT_FALSE(contains(s, "-np "));  // the allocation decides
}

TEST(RenderSbatch, RefusesValuesSbatchWouldSplit) {
  Config cfg = config();
  auto req = request();
  req.run_dir = "/work/my runs/roads";
  EXPECT_THROW(render_sbatch(cfg, req), Error);
  cfg.experiment.name = "a'b";
  EXPECT_THROW(render_sbatch(cfg, request()), Error);
}

// Runs the rendered script with bash, fake mpirun/scontrol first in PATH.
class SbatchShell : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tessera-sbatch-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "bin");
    write(dir_ / "bin" / "mpirun", R"SH(#!/bin/bash
# Fake mpirun: records argv, exits 0 on USR1 (as the ranks do after checkpointing: with the
# trainer's end-of-run record), otherwise exits with the status written into $FAKE/finish.
echo "$@" > "$FAKE/argv"
stopped() { echo '{"outcome": "stopped", "step": 1}' > "$FAKE/run/outcome.json"; exit 0; }
trap 'echo USR1 >> "$FAKE/signals"; stopped' USR1
trap 'echo TERM >> "$FAKE/signals"; stopped' TERM
touch "$FAKE/started"
for i in $(seq 1 300); do
  if [ -f "$FAKE/finish" ]; then exit "$(cat "$FAKE/finish")"; fi
  sleep 0.1
done
exit 99
)SH");
    write(dir_ / "bin" / "scontrol", "#!/bin/bash\necho \"$@\" >> \"$FAKE/scontrol\"\n");
    fs::create_directories(dir_ / "run");
    write(dir_ / "run" / "outcome.json", "{}");  // a previous run's record: removed first
    SbatchRequest req = request();
    req.run_dir = (dir_ / "run").string();
    write(dir_ / "job.sbatch", render_sbatch(config(), req));
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void write(const fs::path& p, const std::string& text) {
    std::ofstream(p) << text;
    fs::permissions(p, fs::perms::owner_all);
  }
  // A fake step that, on USR1, writes the end-of-run record {"outcome": OUTCOME} and exits 0;
  // with `signal_shell` it first sends USR1 to the batch shell as well (as `scancel --full`
  // signals both), so that it exits while the shell's trap runs. Its pid goes to $FAKE/step_pid.
  void write_usr1_step(const std::string& outcome, bool signal_shell) const {
    const std::string trap = R"(echo USR1 >> "$FAKE/signals"; echo "{\"outcome\": \")" + outcome +
                             R"(\"}" > "$FAKE/run/outcome.json"; )" +
                             (signal_shell ? "kill -USR1 $PPID; " : "") + "exit 0";
    write(dir_ / "bin" / "mpirun", "#!/bin/bash\ntrap '" + trap + R"(' USR1
echo $$ > "$FAKE/step_pid"
touch "$FAKE/started"
for i in $(seq 1 300); do sleep 0.1; done
exit 99
)");
  }
  std::string read(const std::string& name) const {
    std::ifstream in(dir_ / name);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return s;
  }

  // Starts the script, waits (bounded) for the fake step, then runs `action` (shell code with
  // $job = the batch shell's pid) and returns the script's exit status.
  CommandResult run_script(const std::string& action) const {
    const std::string driver =
        "export FAKE=" + shell_quote(dir_.string()) + " PATH=" + shell_quote((dir_ / "bin").string()) +
        ":$PATH SLURM_JOB_ID=99\n"
        "bash \"$FAKE/job.sbatch\" > \"$FAKE/out.log\" 2>&1 &\n"
        "job=$!\n"
        "for i in $(seq 1 200); do [ -f \"$FAKE/started\" ] && break; sleep 0.05; done\n"
        "[ -f \"$FAKE/started\" ] || { echo 'fake mpirun never started'; exit 200; }\n" +
        action +
        "\nwait $job\n";
    return run_command({"bash", "-c", driver}, 60.0);
  }

  fs::path dir_;
};

TEST_F(SbatchShell, NormalEndPassesTheStepStatusThrough) {
  const auto r = run_script("echo 3 > \"$FAKE/finish\"");
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err << read("out.log");
  EXPECT_TRUE(contains(read("argv"), "train /work/configs/roads.yaml --set train.max_steps=50 "
                                     "--resume auto"));
  EXPECT_TRUE(read("scontrol").empty());
}

TEST_F(SbatchShell, ExitZeroWithoutTheEndOfRunRecordFails) {
  // OpenMPI 5's prterun exits 0 after losing a node: the job must not look completed.
  const auto r = run_script("echo 0 > \"$FAKE/finish\"");
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err << read("out.log");
  EXPECT_TRUE(contains(read("out.log"), "did not reach its end")) << read("out.log");
  EXPECT_TRUE(read("scontrol").empty());
}

TEST_F(SbatchShell, ExitZeroWithTheEndOfRunRecordSucceeds) {  // the control
  const auto r = run_script(
      "echo '{}' > \"$FAKE/run/outcome.json\"; echo 0 > \"$FAKE/finish\"");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << read("out.log");
}

TEST_F(SbatchShell, Usr1IsForwardedAndTheJobRequeuesItself) {
  const auto r = run_script("kill -USR1 $job");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << read("out.log");
  EXPECT_EQ(read("signals"), "USR1\n");
  EXPECT_EQ(read("scontrol"), "requeue 99\n");
  EXPECT_TRUE(contains(read("out.log"), "requeueing job 99"));
}

TEST_F(SbatchShell, Usr1ToStepAndShellAtOnceStillRequeues) {
  // scancel --signal=USR1 --full: the step and the batch shell both get USR1, and a step that
  // checkpoints fast exits while the shell's trap runs. The shell's interrupted `wait` returns
  // 138; the job must still see the step's own status 0 and requeue (CI failure of stop 28:
  // the array task exited 138 and was never requeued).
  write_usr1_step("stopped", /*signal_shell=*/true);
  const auto r = run_script("kill -USR1 \"$(cat \"$FAKE/step_pid\")\"");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << read("out.log");
  EXPECT_TRUE(contains(read("out.log"), "step exited with status 0")) << read("out.log");
  EXPECT_EQ(read("scontrol"), "requeue 99\n") << read("out.log");
}

TEST_F(SbatchShell, Usr1AfterTheRunFinishedDoesNotRequeue) {
  // The preemption warning came after the last step: the ranks end with outcome "finished", and
  // a requeue would only start a job with nothing to do.
  write_usr1_step("finished", /*signal_shell=*/false);
  const auto r = run_script("kill -USR1 $job");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << read("out.log");
  EXPECT_TRUE(read("scontrol").empty()) << read("out.log");
  EXPECT_TRUE(contains(read("out.log"), "already reached its end; no requeue")) << read("out.log");
}

TEST_F(SbatchShell, TermStopsCleanlyWithoutRequeue) {
  // TERM to the batch shell alone (scancel --batch --signal=TERM): the ranks get USR1 (a clean
  // stop with a checkpoint); the job then ends instead of requeueing.
  const auto r = run_script("kill -TERM $job");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << read("out.log");
  EXPECT_EQ(read("signals"), "USR1\n");
  EXPECT_TRUE(read("scontrol").empty());
  EXPECT_TRUE(contains(read("out.log"), "SIGTERM: asking the ranks to checkpoint"));
}

TEST_F(SbatchShell, TermAfterUsr1CancelsTheRequeue) {
  // Preempted, then cancelled while checkpointing: the user's cancel wins.
  write(dir_ / "bin" / "mpirun", "#!/bin/bash\ntrap 'echo USR1 >> \"$FAKE/signals\"' USR1\n"
                                 "touch \"$FAKE/started\"\n"
                                 "for i in $(seq 1 300); do [ -f \"$FAKE/finish\" ] && "
                                 "{ echo '{}' > \"$FAKE/run/outcome.json\"; exit 0; }; "
                                 "sleep 0.1; done\n");
  const auto r = run_script(
      "kill -USR1 $job\n"
      "for i in $(seq 1 200); do grep -q SIGUSR1 \"$FAKE/out.log\" && break; sleep 0.05; done\n"
      "kill -TERM $job\n"
      "for i in $(seq 1 200); do grep -q SIGTERM \"$FAKE/out.log\" && break; sleep 0.05; done\n"
      "touch \"$FAKE/finish\"");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << read("out.log");
  EXPECT_TRUE(read("scontrol").empty());
}

TEST_F(SbatchShell, FailedStepAfterUsr1IsNotRequeued) {
  // The ranks could not checkpoint (non-zero exit): requeueing would loop on the failure.
  write(dir_ / "bin" / "mpirun", "#!/bin/bash\ntrap 'exit 1' USR1\ntouch \"$FAKE/started\"\n"
                                 "for i in $(seq 1 300); do sleep 0.1; done\n");
  const auto r = run_script("kill -USR1 $job");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err << read("out.log");
  EXPECT_TRUE(read("scontrol").empty());
}

}  // namespace
}  // namespace tessera
