// render_sweep_sbatch() and array_spec(): the job array of `tessera sweep --submit`. The script
// is also run by bash as task 1 of the array against a fake mpirun/scontrol (tests/cluster/
// slurm_sweep.sh runs it under a real Slurm).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "launcher/cluster_process.h"
#include "launcher/cluster_sbatch_array.h"
#include "launcher/cluster_shell.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(ArraySpec, RangesListsAndLimit) {
  EXPECT_EQ(array_spec({0, 1, 2, 3}, 0), "0-3");
  EXPECT_EQ(array_spec({0, 2, 3, 4, 7}, 0), "0,2-4,7");
  EXPECT_EQ(array_spec({5}, 2), "5%2");
  EXPECT_EQ(array_spec({1, 2}, 1), "1-2%1");
  EXPECT_THROW(array_spec({}, 0), Error);
  EXPECT_THROW(array_spec({2, 1}, 0), Error);
  EXPECT_THROW(array_spec({1, 1}, 0), Error);
}

Config point_config(const std::string& name) {
  Config cfg;
  cfg.experiment.name = name;
  cfg.cluster.nodes = 1;
  cfg.cluster.ranks_per_node = 2;
  cfg.train.threads_per_rank = 1;
  cfg.cluster.preempt_grace_s = 60;
  return cfg;
}

struct Sweep {
  std::vector<Config> configs;
  SweepSbatchRequest req;
  std::vector<SweepTask> tasks;
};

Sweep sweep(const fs::path& root) {
  Sweep s;
  s.configs = {point_config("g-lr_0.1"), point_config("g-lr_0.01"), point_config("g-lr_0.001")};
  s.req.job_name = "g-sweep";
  s.req.sweep_dir = (root / "g-sweep").string();
  s.req.workdir = root.string();
  s.req.config_path = "/work/g.yaml";
  s.req.header_comment = "tessera test";
  for (size_t i = 0; i < s.configs.size(); ++i) {
    SweepTask t;
    t.index = static_cast<int>(i);
    t.step.config_path = "/work/g.yaml";
    t.step.overrides = {"optim.lr=" + s.configs[i].experiment.name.substr(5),
                        "experiment.name=" + s.configs[i].experiment.name};
    t.step.tessera_exe = "/opt/tessera/bin/tessera";
    t.step.workdir = root.string();
    t.step.run_dir = (root / s.configs[i].experiment.name).string();
    t.step.run_as_root = true;
    s.tasks.push_back(t);
  }
  for (size_t i = 0; i < s.tasks.size(); ++i) s.tasks[i].config = &s.configs[i];
  return s;
}

TEST(RenderSweepSbatch, OneArrayTaskPerPoint) {
  Sweep s = sweep("/work/runs");
  s.tasks.erase(s.tasks.begin());  // point 0 has finished: tasks 1 and 2 remain
  s.req.max_parallel = 1;
  const std::string text = render_sweep_sbatch(s.req, s.tasks);
  for (const char* line :
       {"#SBATCH --job-name=g-sweep\n", "#SBATCH --array=1-2%1\n", "#SBATCH --nodes=1\n",
        "#SBATCH --ntasks-per-node=2\n", "#SBATCH --requeue\n", "#SBATCH --signal=B:USR1@60\n",
        "#SBATCH --output=/work/runs/g-sweep/slurm-%A_%a.out\n",
        "  1) run_dir=/work/runs/g-lr_0.01 ;;\n", "  2) run_dir=/work/runs/g-lr_0.001 ;;\n",
        "--set optim.lr=0.01 --set experiment.name=g-lr_0.01 --resume auto &\n",
        "outcome=/work/runs/g-lr_0.001/outcome.json\n", "scontrol requeue"}) {
    EXPECT_TRUE(contains(text, line)) << line << "\n" << text;
  }
  EXPECT_FALSE(contains(text, "g-lr_0.1 ")) << text;
  EXPECT_FALSE(contains(text, "run_dir=/work/runs/g-lr_0.1 ")) << text;
}

TEST(RenderSweepSbatch, PointsWithDifferentResourcesAreRefused) {
  Sweep s = sweep("/work/runs");
  EXPECT_NO_THROW(render_sweep_sbatch(s.req, s.tasks));  // the control: one request
  s.configs[2].cluster.ranks_per_node = 4;
  try {
    render_sweep_sbatch(s.req, s.tasks);
    FAIL() << "points asking for different resources were accepted";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "sweep point 2 (g-lr_0.001)")) << e.what();
    EXPECT_TRUE(contains(e.what(), "--ntasks-per-node=4")) << e.what();
  }
}

TEST(RenderSweepSbatch, ValuesSbatchCannotReadAreRefused) {
  Sweep s = sweep("/work/runs");
  s.req.sweep_dir = "/work/my runs/g-sweep";
  EXPECT_THROW(render_sweep_sbatch(s.req, s.tasks), Error);
  s = sweep("/work/runs");
  s.tasks[1].step.run_dir = "/work/runs/a'b";
  EXPECT_THROW(render_sweep_sbatch(s.req, s.tasks), Error);
}

// Task 1 of the array, run by bash with a fake mpirun (exits at once with the end-of-run record)
// and a fake scontrol: it starts point 1's step and writes into point 1's run directory. (The
// traps and the requeue are render_sbatch()'s, tested in test_cluster_sbatch.cpp; under a real
// Slurm, tests/cluster/slurm_sweep.sh preempts one task of an array.)
TEST(RenderSweepSbatch, ATaskRunsItsOwnPointIntoItsRunDir) {
  const fs::path dir = fs::temp_directory_path() /
                       ("tessera-sweep-sbatch-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "bin");
  Sweep s = sweep(dir);
  for (const SweepTask& t : s.tasks) fs::create_directories(t.step.run_dir);
  fs::create_directories(s.req.sweep_dir);
  auto write = [](const fs::path& p, const std::string& text) {
    std::ofstream(p) << text;
    fs::permissions(p, fs::perms::owner_all);
  };
  write(dir / "bin" / "mpirun",
        "#!/bin/bash\necho \"$@\" > \"$FAKE/argv\"\n"
        "echo '{\"outcome\": \"finished\", \"step\": 4}' > \"$FAKE/g-lr_0.01/outcome.json\"\n"
        "echo step output\n");
  write(dir / "bin" / "scontrol", "#!/bin/bash\necho \"$@\" >> \"$FAKE/scontrol\"\n");
  write(dir / "sweep.sbatch", render_sweep_sbatch(s.req, s.tasks));
  const std::string driver = "export FAKE=" + shell_quote(dir.string()) +
                             " PATH=" + shell_quote((dir / "bin").string()) +
                             ":$PATH SLURM_JOB_ID=57 SLURM_ARRAY_JOB_ID=50 SLURM_ARRAY_TASK_ID=1\n"
                             "bash \"$FAKE/sweep.sbatch\"\n";
  const CommandResult r = run_command({"bash", "-c", driver}, 60.0);
  auto read = [&](const fs::path& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(read(dir / "argv"), "--set experiment.name=g-lr_0.01 --resume auto"))
      << read(dir / "argv");
  const std::string out = read(dir / "g-lr_0.01" / "slurm-50_1.out");
  EXPECT_TRUE(contains(out, "job 57 = array task 50_1 (restart 0)")) << out;
  EXPECT_TRUE(contains(out, "step output")) << out;
  EXPECT_TRUE(contains(out, "step exited with status 0")) << out;
  EXPECT_FALSE(fs::exists(dir / "g-lr_0.1" / "slurm-50_1.out"));
  EXPECT_FALSE(fs::exists(dir / "scontrol"));  // no preemption: no requeue

  // A task id outside the sweep ends at once with a clear message (not a hang or a wrong run).
  const CommandResult bad = run_command(
      {"bash", "-c",
       "export FAKE=" + shell_quote(dir.string()) + " PATH=" + shell_quote((dir / "bin").string()) +
           ":$PATH SLURM_JOB_ID=58 SLURM_ARRAY_JOB_ID=50 SLURM_ARRAY_TASK_ID=9\n"
           "bash \"$FAKE/sweep.sbatch\""},
      60.0);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(contains(bad.err, "task 9 is not in this sweep")) << bad.out << bad.err;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tessera
