// tessera export CONFIG --checkpoint ... --out model.pt: weights as a plain state dict that
// Python's torch.load reads (issue #6).
#include <memory>

#include "launcher/commands.h"
#include "common/log.h"
#include "trainer/jobs.h"

namespace tessera::cli {

namespace {
struct ExportArgs {
  ConfigArgs config;
  std::string checkpoint = "best";
  std::string out;
};
}  // namespace

void add_export_command(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "export", "Write a checkpoint's weights as a state dict readable by Python's torch.load");
  add_config_args(*cmd, args->config);
  cmd->add_option("--checkpoint", args->checkpoint,
                  "best, latest, a checkpoint directory, or `init` for the initial weights")
      ->capture_default_str();
  cmd->add_option("--out", args->out, "Output file (e.g. model.pt)")->required();
  cmd->callback([args] {
    const Config cfg = load(args->config);
    init_logging(LogSetup{0, 1, cfg.logging.level, false});
    run_export(cfg, args->checkpoint, args->out);
  });
}

}  // namespace tessera::cli
