// tessera launch CONFIG [--np N] [--hostfile F] [--host h1:2,h2:2] [--dry-run] [--set k=v]
//                       [-- TRAIN_ARGS...]
// Builds the mpirun (or srun) command for the config's cluster section and replaces this process
// with it (execvp: signals sent to us reach mpirun directly), which runs `tessera train CONFIG
// --set ... TRAIN_ARGS` on every rank. Inside an MPI job it runs train directly; inside a Slurm
// allocation mpirun takes the allocation's nodes (launcher/cluster_launch.h). --dry-run prints
// the exact command, shell-quoted, on stdout and exits 0. What was decided goes to stderr.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "launcher/cluster_launch.h"
#include "launcher/cluster_process.h"
#include "launcher/commands.h"

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
  exec_command(plan.argv, plan.env);
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
