// tessera launch CONFIG [--np N] [--hostfile F] [--host h1:2,h2:2] [--dry-run] [--set k=v]
//                       [-- TRAIN_ARGS...]
// Builds the mpirun (or srun) command for the config's cluster section and runs it as a child,
// which runs `tessera train CONFIG --set ... TRAIN_ARGS` on every rank. Launch stays as its
// supervisor: signals sent to our PID are forwarded (SIGUSR1: checkpoint and stop), and when the
// launcher exits 0 the run directory must hold the trainer's end-of-run record
// (trainer/run_outcome.h), else the job failed: OpenMPI 5's prterun exits 0 after it loses a
// node. The exit status is the launcher's, or 3 for that case. Inside an MPI job it execs train
// directly; inside a Slurm allocation mpirun takes the allocation's nodes
// (launcher/cluster_launch.h). --dry-run prints the exact command, shell-quoted, on stdout and
// exits 0. What was decided goes to stderr.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "launcher/cluster_launch.h"
#include "launcher/cluster_process.h"
#include "launcher/commands.h"
#include "trainer/run_outcome.h"

namespace tessera::cli {

namespace {

struct LaunchArgs {
  ConfigArgs config;
  int np = 0;
  std::string hostfile;
  std::string hosts;
  bool dry_run = false;
  std::vector<std::string> train_args;
};

void run_launch(const LaunchArgs& args) {
  const Config cfg = load(args.config);
  LaunchRequest req;
  req.config_path = args.config.path;
  req.overrides = args.config.overrides;
  req.train_args = args.train_args;
  req.np = args.np;
  req.hostfile = args.hostfile;
  req.hosts = args.hosts;
  req.tessera_exe = current_executable();
  req.run_as_root = ::geteuid() == 0;
  const JobEnvironment where = detect_job_environment();
  const LaunchPlan plan = plan_launch(cfg, req, where);
  if (!where.in_mpi || where.mpi_rank == 0) {
    for (const auto& note : plan.notes) std::fprintf(stderr, "tessera launch: %s\n", note.c_str());
  }
  if (args.dry_run) {
    std::printf("%s\n", plan.command_line().c_str());
    return;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  if (plan.mode == LaunchMode::direct) exec_command(plan.argv, plan.env);

  // The run directory as `tessera train` will see it: the train arguments may --set more.
  ConfigArgs as_trained = args.config;
  for (size_t i = 0; i < args.train_args.size(); ++i) {
    const std::string& a = args.train_args[i];
    if (a == "--set" && i + 1 < args.train_args.size()) {
      as_trained.overrides.push_back(args.train_args[++i]);
    } else if (a.rfind("--set=", 0) == 0) {
      as_trained.overrides.push_back(a.substr(6));
    }
  }
  const std::string run_dir = load(as_trained).run_dir();
  clear_run_outcome(run_dir);
  const int rc = supervise_command(plan.argv, plan.env);
  const char* launcher = plan.argv[0].c_str();
  if (rc != 0) {
    std::fprintf(stderr, "tessera launch: %s exited with status %d\n", launcher, rc);
    throw Exit{rc};
  }
  const auto outcome = read_run_outcome(run_dir);
  if (!outcome) {
    std::fprintf(stderr,
                 "tessera launch: error: %s exited 0 but the training did not reach its end: no "
                 "%s was written. The job lost ranks without an error status (OpenMPI 5's "
                 "prterun exits 0 after it loses a node's daemon): see the messages above for "
                 "the host; continue with `-- --resume auto`\n",
                 launcher, outcome_path(run_dir).c_str());
    throw Exit{3};
  }
  std::fprintf(stderr, "tessera launch: training %s\n", describe(*outcome).c_str());
}

}  // namespace

void add_launch_command(CLI::App& app) {
  auto args = std::make_shared<LaunchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "launch", "Start `tessera train` under mpirun (or srun) as the config's cluster section says");
  add_config_args(*cmd, args->config);
  cmd->add_option("--np", args->np,
                  "Total ranks (default: nodes x cluster.ranks_per_node, where nodes is the "
                  "number of hosts given, else cluster.nodes)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--hostfile", args->hostfile,
                  "OpenMPI hostfile (overrides cluster.hostfile / cluster.hosts)");
  cmd->add_option("--host", args->hosts,
                  "Hosts with optional slot counts, e.g. node1:2,node2:2 (overrides the config)");
  cmd->add_flag("--dry-run", args->dry_run, "Print the exact command instead of running it");
  cmd->add_option("TRAIN_ARGS", args->train_args,
                  "After `--`: passed to `tessera train`, e.g. -- --resume auto");
  cmd->callback([args] { run_launch(*args); });
}

}  // namespace tessera::cli
