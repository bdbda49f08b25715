// tessera inspect TARGET: a config -> the model's layer table, parameter count and output shape
// (issue #3); a dataset directory -> counts, shapes, class balance, checksums (issue #4).
#include <filesystem>
#include <memory>

#include "launcher/commands.h"
#include <cstdio>

#include "datasets/inspect_data.h"
#include "models/describe.h"

namespace tessera::cli {

void add_inspect_command(CLI::App& app) {
  auto args = std::make_shared<ConfigArgs>();
  CLI::App* cmd = app.add_subcommand(
      "inspect",
      "Describe a config's model (layers, parameters, output shape) or a dataset "
      "directory (counts, shapes, class balance, checksums)");
  cmd->add_option("TARGET", args->path, "An experiment config (YAML) or a dataset directory")
      ->required();
  cmd->add_option("--set", args->overrides, "Override a config key (repeatable)")
      ->allow_extra_args(false)
      ->type_name("KEY=VALUE");
  cmd->callback([args] {
    std::error_code ec;
    if (std::filesystem::is_directory(args->path, ec)) {
      if (!args->overrides.empty()) {
        throw std::invalid_argument(
            "inspect: --set applies to a config, not to a dataset "
            "directory (" +
            args->path + ")");
      }
      std::printf("%s", inspect_dataset(args->path, /*verify=*/true).c_str());
      return;
    }
    const Config cfg = load(*args);
    std::printf("%s", describe_model(cfg, cfg.data.image_size).c_str());
  });
}

}  // namespace tessera::cli
