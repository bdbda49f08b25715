// tessera submit CONFIG [--dry-run]: writes <run dir>/job.sbatch and submits it with sbatch
// (issue #7).
#include <memory>

#include "launcher/commands.h"

namespace tessera::cli {

namespace {
struct SubmitArgs {
  ConfigArgs config;
  bool dry_run = false;
};
}  // namespace

void add_submit_command(CLI::App& app) {
  auto args = std::make_shared<SubmitArgs>();
  CLI::App* cmd = app.add_subcommand(
      "submit", "Write a Slurm batch script for the config and submit it (sbatch)");
  add_config_args(*cmd, args->config);
  cmd->add_flag("--dry-run", args->dry_run, "Write and print the script without submitting");
  cmd->callback([args] {
    load(args->config);
    not_implemented("submit", "7");
  });
}

}  // namespace tessera::cli
