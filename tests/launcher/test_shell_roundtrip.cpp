// Shell round trip (issue 13, finding 1): job.sbatch and `launch --dry-run`'s command line,
// rendered with a config path, overrides, executable path, environment values and a header
// comment holding spaces, quotes, $(...), ;, a backtick, a newline, globs and `#SBATCH`, are run
// by bash against fake mpirun/srun/tessera programs that record their argv (NUL-separated) and
// the environment value. The argv comes back exactly, and nothing else runs: the canary files
// that every injected command would create never appear. Control: the same argv joined without
// quoting does run the injected commands (the detector can fail).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "launcher/cluster_launch.h"
#include "launcher/cluster_process.h"
#include "launcher/cluster_sbatch.h"
#include "launcher/cluster_shell.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using Argv = std::vector<std::string>;

// Records "$@" NUL-separated into $FAKE/argv.NAME and $NASTY into $FAKE/env.NAME.
constexpr const char* kFake = R"SH(#!/bin/bash
name=$(basename "$0")
printf '%s\0' "$@" > "$FAKE/argv.$name"
printf '%s' "${NASTY-<unset>}" > "$FAKE/env.$name"
echo '{}' > "$FAKE/outcome.json"  # the trainer's end-of-run record (the run dir is $FAKE)
exit 0
)SH";

class ShellRoundTrip : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tessera-shell-rt-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "bin");
    for (const char* tool : {"mpirun", "srun", "scontrol"}) write_exe(dir_ / "bin" / tool, kFake);
    const std::string d = dir_.string();
    nasty_ = "sp ace 'sq' \"dq\" $(touch " + d + "/canary1) ; touch " + d + "/canary2 ; `touch " +
             d + "/canary3` \\ * ~ ! # $HOME && touch " + d + "/canary4\ntouch " + d +
             "/canary5\n#SBATCH --output=/tmp/x\n\r|| touch " + d + "/canary6 |";
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void write_exe(const fs::path& p, const std::string& text) {
    std::ofstream(p) << text;
    fs::permissions(p, fs::perms::owner_all);
  }
  std::string read(const std::string& name) const {
    std::ifstream in(dir_ / name);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  Argv recorded_argv(const std::string& tool) const {
    const std::string s = read("argv." + tool);
    Argv out;
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\0') {
        out.push_back(s.substr(start, i - start));
        start = i + 1;
      }
    }
    return out;
  }
  std::vector<std::string> canaries() const {
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(dir_)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("canary", 0) == 0) found.push_back(n);
    }
    return found;
  }
  // Runs `script` (the text of a bash script) with the fakes first in PATH.
  CommandResult run_bash(const std::string& script) const {
    std::ofstream(dir_ / "script.sh") << script;
    const std::string driver = "export FAKE=" + shell_quote(dir_.string()) +
                               " PATH=" + shell_quote((dir_ / "bin").string()) +
                               ":$PATH SLURM_JOB_ID=7\ncd " + shell_quote(dir_.string()) +
                               " && exec bash ./script.sh\n";
    return run_command({"bash", "-c", driver}, 30.0);
  }

  Config config(const std::string& launcher) const {
    Config cfg;
    cfg.experiment.name = "rt";
    cfg.cluster.launcher = launcher;
    cfg.cluster.nodes = 1;
    cfg.cluster.ranks_per_node = 2;
    cfg.cluster.time = "00:10:00";
    cfg.cluster.env = {"NASTY=" + nasty_};
    return cfg;
  }
  LaunchRequest launch_request(const std::string& exe) const {
    LaunchRequest r;
    r.config_path = (dir_ / ("conf " + nasty_ + ".yaml")).string();
    r.overrides = {"experiment.name=" + nasty_, "data.train=" + nasty_, "a=b"};
    r.train_args = {"--resume", nasty_};
    r.tessera_exe = exe;
    return r;
  }
  SbatchRequest sbatch_request() const {
    SbatchRequest r;
    const LaunchRequest l = launch_request((dir_ / ("bin " + nasty_ + "/tessera")).string());
    r.config_path = l.config_path;
    r.overrides = l.overrides;
    r.tessera_exe = l.tessera_exe;
    r.workdir = dir_.string();
    r.run_dir = dir_.string();
    r.header_comment = "v0\ntouch " + dir_.string() + "/canary7";
    return r;
  }
  // The argv the batch script must start (as in render_sbatch: inside the allocation).
  static Argv expected_sbatch_argv(const Config& cfg, const SbatchRequest& req) {
    LaunchRequest launch;
    launch.config_path = req.config_path;
    launch.overrides = req.overrides;
    launch.train_args = {"--resume", "auto"};
    launch.tessera_exe = req.tessera_exe;
    JobEnvironment inside;
    inside.in_slurm = true;
    const LaunchPlan plan = plan_launch(cfg, launch, inside);
    return Argv(plan.argv.begin() + 1, plan.argv.end());
  }

  fs::path dir_;
  std::string nasty_;
};

TEST_F(ShellRoundTrip, SbatchMpirunArgvComesBackExactly) {
  const Config cfg = config("mpirun");
  const SbatchRequest req = sbatch_request();
  const auto r = run_bash(render_sbatch(cfg, req));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(recorded_argv("mpirun"), expected_sbatch_argv(cfg, req)) << read("script.sh");
  EXPECT_EQ(canaries(), std::vector<std::string>{}) << read("script.sh");
}

TEST_F(ShellRoundTrip, SbatchSrunArgvAndEnvironmentComeBackExactly) {
  const Config cfg = config("srun");
  const SbatchRequest req = sbatch_request();
  const auto r = run_bash(render_sbatch(cfg, req));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(recorded_argv("srun"), expected_sbatch_argv(cfg, req)) << read("script.sh");
  EXPECT_EQ(read("env.srun"), nasty_);
  EXPECT_EQ(canaries(), std::vector<std::string>{}) << read("script.sh");
}

TEST_F(ShellRoundTrip, SbatchCommentsStayOneLine) {
  const std::string s = render_sbatch(config("mpirun"), sbatch_request());
  // Every line before the first command is a comment or #SBATCH line.
  size_t pos = 0;
  int sbatch_lines = 0;
  while (pos < s.size()) {
    const size_t end = s.find('\n', pos);
    const std::string line = s.substr(pos, end - pos);
    if (line.empty()) break;
    EXPECT_EQ(line[0], '#') << "line: " << line << "\n" << s;
    if (line.rfind("#SBATCH", 0) == 0) ++sbatch_lines;
    pos = end + 1;
  }
  EXPECT_GE(sbatch_lines, 8) << s;
  EXPECT_NE(s.find("#SBATCH --requeue\n"), std::string::npos);
}

TEST_F(ShellRoundTrip, DryRunMpirunSrunAndDirectComeBackExactly) {
  JobEnvironment outside;
  for (const char* launcher : {"mpirun", "srun"}) {
    const Config cfg = config(launcher);
    const LaunchPlan plan = plan_launch(cfg, launch_request("/opt/tessera"), outside);
    const auto r = run_bash(plan.command_line() + "\n");
    EXPECT_EQ(r.exit_code, 0) << launcher << ": " << r.out << r.err;
    EXPECT_EQ(recorded_argv(launcher), Argv(plan.argv.begin() + 1, plan.argv.end()))
        << plan.command_line();
    if (std::string(launcher) == "srun") {
      EXPECT_EQ(read("env.srun"), nasty_);
    }
  }
  // Inside an MPI job the command is tessera itself, here at a hostile path holding '=' (which
  // `env` would take for one more assignment).
  const fs::path exe_dir = dir_ / ("bin a=b " + nasty_);
  fs::create_directories(exe_dir);
  write_exe(exe_dir / "tessera", kFake);
  JobEnvironment mpi;
  mpi.in_mpi = true;
  mpi.mpi_size = 2;
  const LaunchPlan plan =
      plan_launch(config("mpirun"), launch_request((exe_dir / "tessera").string()), mpi);
  const auto r = run_bash(plan.command_line() + "\n");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(recorded_argv("tessera"), Argv(plan.argv.begin() + 1, plan.argv.end()))
      << plan.command_line();
  EXPECT_EQ(read("env.tessera"), nasty_);
  // The same with an exe path whose '=' comes first, without other special characters.
  const fs::path plain = dir_ / "x=y";
  fs::create_directories(plain);
  write_exe(plain / "tessera", kFake);
  fs::remove(dir_ / "argv.tessera");
  const LaunchPlan p2 = plan_launch(config("mpirun"), launch_request("x=y/tessera"), mpi);
  const auto r2 = run_bash(p2.command_line() + "\n");
  EXPECT_EQ(r2.exit_code, 0) << p2.command_line() << r2.out << r2.err;
  EXPECT_EQ(recorded_argv("tessera"), Argv(p2.argv.begin() + 1, p2.argv.end()))
      << p2.command_line();
  EXPECT_EQ(canaries(), std::vector<std::string>{});
}

TEST_F(ShellRoundTrip, InvalidEnvironmentNamesAreRefused) {
  Config cfg = config("srun");
  cfg.cluster.env = {"A;touch " + dir_.string() + "/canary8;B=1"};
  EXPECT_THROW(render_sbatch(cfg, sbatch_request()), Error);
  const LaunchPlan plan = plan_launch(cfg, launch_request("/opt/tessera"), JobEnvironment{});
  EXPECT_THROW(plan.command_line(), Error);
  EXPECT_EQ(canaries(), std::vector<std::string>{});
}

TEST_F(ShellRoundTrip, ControlUnquotedRenderingRunsTheInjectedCommands) {
  const LaunchPlan plan =
      plan_launch(config("mpirun"), launch_request("/opt/tessera"), JobEnvironment{});
  std::string naive;
  for (const auto& w : plan.argv) naive += w + " ";
  run_bash(naive + "\n");
  EXPECT_FALSE(canaries().empty());
  EXPECT_NE(recorded_argv("mpirun"), Argv(plan.argv.begin() + 1, plan.argv.end()));
}

}  // namespace
}  // namespace tessera
