// tessera launch CONFIG [--np N] [--hostfile F] [--dry-run]: builds the mpirun command for the
// config's cluster section and runs `tessera train` under it (issue #7).
#include <memory>

#include "launcher/commands.h"

namespace tessera::cli {

namespace {
struct LaunchArgs {
  ConfigArgs config;
  int np = 0;
  std::string hostfile;
  bool dry_run = false;
};
}  // namespace

void add_launch_command(CLI::App& app) {
  auto args = std::make_shared<LaunchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "launch", "Start `tessera train` under mpirun as the config's cluster section says");
  add_config_args(*cmd, args->config);
  cmd->add_option("--np", args->np, "Total ranks (default: cluster.nodes x cluster.ranks_per_node)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--hostfile", args->hostfile, "mpirun hostfile (overrides cluster.hostfile)");
  cmd->add_flag("--dry-run", args->dry_run, "Print the exact command instead of running it");
  cmd->callback([args] {
    load(args->config);
    not_implemented("launch", "7");
  });
}

}  // namespace tessera::cli
