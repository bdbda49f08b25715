// The `tessera` subcommands. Each launcher/cmd_<name>.cpp registers one subcommand on the
// top-level CLI11 app with add_<name>_command(); its callback runs inside app.parse() on the main
// thread. Commands report failure by throwing: tessera::Error (main prints it, exit 1) or
// cli::Exit (the command has already printed what it had to say; main exits with its code).
// Option storage lives in shared_ptrs captured by the callbacks, so it outlives parsing.
#pragma once

#include <CLI/CLI.hpp>

#include <exception>
#include <string>
#include <vector>

#include "common/config.h"

namespace tessera::cli {

// Ends the process with `code` after the command printed its own message.
struct Exit {
  int code;
};

// The CONFIG positional plus repeated `--set key.path=value`, shared by every command that
// reads an experiment config.
struct ConfigArgs {
  std::string path;
  std::vector<std::string> overrides;
  bool partial = false;
};
void add_config_args(CLI::App& cmd, ConfigArgs& args);
Config load(const ConfigArgs& args);

// "tessera: error: ..." on stderr; config errors without the source location of the throw.
void print_error(const std::exception& e);

std::string version_text();

void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_launch_command(CLI::App& app);
void add_submit_command(CLI::App& app);
void add_status_command(CLI::App& app);
void add_runs_command(CLI::App& app);
void add_sweep_command(CLI::App& app);
void add_report_command(CLI::App& app);

// The `tessera runs` table of these run directories (those that exist); `title` names them in
// "no runs in TITLE".
std::string runs_table_of(const std::vector<std::string>& run_dirs, const std::string& title);
void add_synth_command(CLI::App& app);
void add_pack_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_config_command(CLI::App& app);

}  // namespace tessera::cli
