// tessera eval CONFIG --checkpoint best|latest|PATH [--split test]: exact distributed metrics
// (issue #6).
#include <memory>

#include "launcher/commands.h"
#include "launcher/distributed.h"
#include "trainer/jobs.h"

namespace tessera::cli {

namespace {
struct EvalArgs {
  ConfigArgs config;
  std::string checkpoint = "best";
  std::string split = "test";
};
}  // namespace

void add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Evaluate a checkpoint on a data split; writes <run dir>/eval/summary.json");
  add_config_args(*cmd, args->config);
  cmd->add_option("--checkpoint", args->checkpoint, "best, latest, or a checkpoint directory")
      ->capture_default_str();
  cmd->add_option("--split", args->split, "Data split to evaluate")
      ->type_name("train|val|test|DIR")
      ->capture_default_str();
  cmd->callback([args] {
    const Config cfg = load(args->config);
    run_distributed(cfg, [&](Communicator& comm) {
      EvalOptions opts;
      opts.checkpoint = args->checkpoint;
      opts.split = args->split;
      run_eval(cfg, comm, opts);
    });
  });
}

}  // namespace tessera::cli
