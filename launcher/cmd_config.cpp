// tessera config show|check|keys: the resolved config, validation, the key reference.
#include <cstdio>
#include <iostream>
#include <memory>

#include "common/config_schema.h"
#include "launcher/commands.h"

namespace tessera::cli {

namespace {
struct CheckArgs {
  std::vector<std::string> paths;
  std::vector<std::string> overrides;
  bool partial = false;
};
}  // namespace

void add_config_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("config", "Show, check or document experiment configs");
  cmd->require_subcommand(1);

  auto show = std::make_shared<ConfigArgs>();
  CLI::App* show_cmd = cmd->add_subcommand(
      "show",
      "Print the resolved config (bases merged, overrides applied, defaults filled) as "
      "YAML on stdout");
  add_config_args(*show_cmd, *show);
  show_cmd->add_flag("--partial", show->partial,
                     "The file is a base: required keys may be missing");
  show_cmd->callback([show] { std::cout << to_yaml(load(*show)) << std::flush; });

  auto check = std::make_shared<CheckArgs>();
  CLI::App* check_cmd = cmd->add_subcommand(
      "check",
      "Validate configs; prints `<file>: OK` per valid file, an error per invalid one "
      "(exit 1 if any is invalid)");
  check_cmd->add_option("CONFIG", check->paths, "Experiment configs (YAML)")->required();
  check_cmd->add_option("--set", check->overrides, "Override a config key (repeatable)")
      ->allow_extra_args(false)
      ->type_name("KEY=VALUE");
  check_cmd->add_flag("--partial", check->partial,
                      "The files are bases: required keys may be missing");
  check_cmd->callback([check] {
    int failed = 0;
    for (const auto& path : check->paths) {
      try {
        load(ConfigArgs{path, check->overrides, check->partial});
        std::printf("%s: OK\n", path.c_str());
      } catch (const ConfigError& e) {
        print_error(e);
        ++failed;
      }
    }
    std::fflush(stdout);
    if (failed > 0) throw Exit{1};
  });

  CLI::App* keys_cmd = cmd->add_subcommand(
      "keys",
      "Print every config key with its type, default, allowed values and meaning "
      "(Markdown; the reference tables of docs/config.md)");
  keys_cmd->callback([] { std::cout << config_keys_markdown() << std::flush; });
}

}  // namespace tessera::cli
