// tessera sweep CONFIG --grid KEY=V1,V2 [--grid ...] [--seeds N] [--np N] [--set k=v]
//                      [--dry-run] [-- TRAIN_ARGS...]
// The grid's configs as separate runs with readable names (launcher/runs_sweep.h), started one
// after the other, each as `tessera launch` would start it (mpirun -np N ... tessera train, or
// srun inside an allocation, launcher/cluster_launch.h). Every point's config is loaded and
// validated before the first run starts, so a bad value ends the sweep before any work. A run
// whose outcome.json already says finished is skipped (a sweep started again after an
// interruption goes on where it stopped; with `-- --resume auto` a half-done run resumes). A
// failed run does not stop the sweep; the exit status is 1 when any failed. The end is the
// `tessera runs` table of the sweep's runs. --dry-run prints each run's command instead.
// --submit [--max-parallel K] hands the whole grid to Slurm as one job array instead
// (launcher/sweep_submit.h).
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "launcher/cluster_launch.h"
#include "launcher/cluster_process.h"
#include "launcher/commands.h"
#include "launcher/runs_sweep.h"
#include "launcher/sweep_submit.h"
#include "trainer/run_outcome.h"

namespace tessera::cli {

namespace {

struct SweepArgs {
  ConfigArgs config;
  std::vector<std::string> grid;
  int seeds = 1;
  int np = 0;
  bool dry_run = false;
  bool submit = false;
  int max_parallel = 0;
  std::vector<std::string> train_args;
};

struct PlannedRun {
  SweepPoint point;
  std::string run_dir;
  LaunchPlan plan;
};

// Every point's config, loaded and validated (a bad value ends the sweep before any work).
std::vector<SweepPointConfig> load_points(const SweepArgs& args) {
  const Config base = load(args.config);
  std::vector<GridAxis> axes;
  for (const std::string& g : args.grid) axes.push_back(parse_grid_axis(g));
  const std::vector<SweepPoint> points =
      expand_sweep(base.experiment.name, axes, args.seeds, base.experiment.seed);
  std::vector<SweepPointConfig> out;
  for (size_t i = 0; i < points.size(); ++i) {
    ConfigArgs c = args.config;
    c.overrides.insert(c.overrides.end(), points[i].overrides.begin(), points[i].overrides.end());
    Config cfg = with_context(
        fmt::format("sweep point {} of {} ({})", i + 1, points.size(), points[i].name),
        [&] { return load(c); });
    out.push_back({points[i], c.overrides, std::move(cfg)});
  }
  return out;
}

std::vector<PlannedRun> plan_sweep(const SweepArgs& args) {
  const JobEnvironment where = detect_job_environment();
  TESSERA_CHECK(!where.in_mpi,
                "tessera sweep runs each point's job itself: start it outside mpirun/srun (it "
                "may run inside a Slurm allocation)");
  std::vector<PlannedRun> runs;
  for (const SweepPointConfig& p : load_points(args)) {
    LaunchRequest req;
    req.config_path = args.config.path;
    req.overrides = p.overrides;
    req.train_args = args.train_args;
    req.np = args.np;
    req.tessera_exe = current_executable();
    req.run_as_root = ::geteuid() == 0;
    runs.push_back({p.point, p.config.run_dir(), plan_launch(p.config, req, where)});
  }
  return runs;
}

// Runs one point as `tessera launch` does; "" when it finished, else why not.
std::string run_point(const PlannedRun& r) {
  clear_run_outcome(r.run_dir);
  std::fflush(stdout);
  std::fflush(stderr);
  const int rc = supervise_command(r.plan.argv, r.plan.env);
  if (rc != 0) return fmt::format("{} exited with status {}", r.plan.argv[0], rc);
  const auto outcome = read_run_outcome(r.run_dir);
  if (!outcome) return fmt::format("{} exited 0 without {}", r.plan.argv[0], kOutcomeFile);
  if (outcome->outcome == "stopped") return "stopped by a signal (resumable)";
  return "";
}

void run_sweep(const SweepArgs& args) {
  TESSERA_CHECK(!args.grid.empty(), "tessera sweep: give at least one --grid KEY=V1,V2");
  if (args.submit) {
    TESSERA_CHECK(args.np == 0 && args.train_args.empty(),
                  "tessera sweep --submit: the ranks come from cluster.nodes and "
                  "cluster.ranks_per_node, and every task runs `tessera train ... --resume auto`; "
                  "--np and TRAIN_ARGS apply to local sweeps only");
    submit_sweep(args.config.path, load(args.config).experiment.name, load_points(args),
                 args.max_parallel, args.dry_run);
    return;
  }
  TESSERA_CHECK(args.max_parallel == 0, "tessera sweep: --max-parallel needs --submit");
  const std::vector<PlannedRun> runs = plan_sweep(args);
  if (args.dry_run) {
    for (const PlannedRun& r : runs) std::printf("%s\n", r.plan.command_line().c_str());
    return;
  }
  std::vector<std::string> dirs, failed;
  for (size_t i = 0; i < runs.size(); ++i) {
    const PlannedRun& r = runs[i];
    dirs.push_back(r.run_dir);
    const auto done = read_run_outcome(r.run_dir);
    if (done && (done->outcome == "finished" || done->outcome == "early_stopped")) {
      std::fprintf(stderr, "tessera sweep: [%zu/%zu] %s: already %s, skipped\n", i + 1,
                   runs.size(), r.point.name.c_str(), describe(*done).c_str());
      continue;
    }
    std::fprintf(stderr, "tessera sweep: [%zu/%zu] %s: %s\n", i + 1, runs.size(),
                 r.point.name.c_str(), r.plan.command_line().c_str());
    const std::string why = run_point(r);
    if (!why.empty()) {
      failed.push_back(r.point.name);
      std::fprintf(stderr, "tessera sweep: [%zu/%zu] %s: FAILED: %s\n", i + 1, runs.size(),
                   r.point.name.c_str(), why.c_str());
    }
  }
  std::printf("%s", runs_table_of(dirs, "the sweep").c_str());
  if (!failed.empty()) {
    std::string list;
    for (const std::string& f : failed) list += (list.empty() ? "" : ", ") + f;
    std::fprintf(stderr, "tessera sweep: %zu of %zu run(s) did not finish: %s\n", failed.size(),
                 runs.size(), list.c_str());
    throw Exit{1};
  }
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  auto args = std::make_shared<SweepArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sweep", "Run a grid of configs (--grid KEY=V1,V2 ...) one after the other as named runs");
  add_config_args(*cmd, args->config);
  cmd->add_option("--grid", args->grid, "KEY=V1,V2,...: one axis of the grid (repeatable)")
      ->allow_extra_args(false)
      ->type_name("KEY=V1,V2");
  cmd->add_option("--seeds", args->seeds, "Runs per grid point, seeds experiment.seed + 0..N-1")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--np", args->np, "Ranks of each run (as tessera launch --np)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--dry-run", args->dry_run,
                "Print each run's command (with --submit: the job array's script) instead");
  cmd->add_flag("--submit", args->submit,
                "Submit the grid to Slurm as one job array (one task per run) and return");
  cmd->add_option("--max-parallel", args->max_parallel,
                  "With --submit: at most K tasks of the array run at once")
      ->check(CLI::PositiveNumber);
  cmd->add_option("TRAIN_ARGS", args->train_args,
                  "After `--`: passed to every `tessera train`, e.g. -- --resume auto");
  cmd->callback([args] { run_sweep(*args); });
}

}  // namespace tessera::cli
