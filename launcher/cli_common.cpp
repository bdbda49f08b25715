// Helpers shared by the subcommands: config arguments, error printing, version text.
#include <torch/version.h>

#include <cstdio>

#include "launcher/commands.h"
#include "tessera/version.h"

namespace tessera::cli {

void not_implemented(const std::string& command, const std::string& issue) {
  std::fprintf(stderr, "tessera %s: not implemented yet (lands with issue #%s)\n", command.c_str(),
               issue.c_str());
  throw Exit{kNotImplementedExit};
}

void add_config_args(CLI::App& cmd, ConfigArgs& args) {
  cmd.add_option("CONFIG", args.path, "Experiment config (YAML)")->required();
  cmd.add_option("--set", args.overrides,
                 "Override a config key, e.g. --set optim.lr=3e-4 (repeatable; lists as "
                 "--set optim.betas=[0.9,0.99])")
      ->allow_extra_args(false)
      ->type_name("KEY=VALUE");
}

Config load(const ConfigArgs& args) {
  LoadOptions options;
  options.partial = args.partial;
  return load_config(args.path, args.overrides, options);
}

void print_error(const std::exception& e) {
  if (const auto* c = dynamic_cast<const ConfigError*>(&e)) {
    std::fprintf(stderr, "tessera: error: %s\n", c->message().c_str());
  } else {
    std::fprintf(stderr, "tessera: error: %s\n", e.what());
  }
}

std::string version_text() {
  return std::string("tessera ") + TESSERA_VERSION + " (LibTorch " + TORCH_VERSION +
         ", NCCL backend " + (TESSERA_HAVE_NCCL_BUILD ? "on" : "off") + ", LibTorch CUDA " +
         (TESSERA_TORCH_CUDA_BUILD ? "on" : "off") + ")";
}

}  // namespace tessera::cli
