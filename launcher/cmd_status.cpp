// tessera status RUN: Slurm state and last logged step of a run directory (issue #7).
#include <memory>

#include "launcher/commands.h"

namespace tessera::cli {

void add_status_command(CLI::App& app) {
  auto run = std::make_shared<std::string>();
  CLI::App* cmd =
      app.add_subcommand("status", "Show a run's Slurm job state and its last logged step");
  cmd->add_option("RUN", *run, "Run directory (<output_dir>/<name>)")->required();
  cmd->callback([run] {  // capturing `run` keeps the option storage alive
    not_implemented("status", "7");
  });
}

}  // namespace tessera::cli
