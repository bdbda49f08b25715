// tessera: the command line. Parses arguments (CLI11), runs the chosen subcommand and is the
// only place that catches: tessera::Error and other exceptions are printed on stderr and give
// exit code 1; a command's cli::Exit gives its own code; CLI11's parse errors and --help are
// handled by CLI11 (usage errors exit non-zero, help exits 0).
#include <cstdio>

#include "common/heap_tuning.h"
#include "launcher/commands.h"

int main(int argc, char** argv) {
  tessera::tune_heap_for_training();  // first, before any thread: common/heap_tuning.h
  namespace cli = tessera::cli;
  CLI::App app{
      "tessera: distributed training of image-to-image networks (U-Net, convolutional "
      "autoencoder) with LibTorch and MPI. One YAML config describes an experiment; see "
      "docs/config.md.",
      "tessera"};
  app.set_version_flag("--version", cli::version_text(), "Print the version and build options");
  app.require_subcommand(1);
  cli::add_train_command(app);
  cli::add_eval_command(app);
  cli::add_predict_command(app);
  cli::add_export_command(app);
  cli::add_launch_command(app);
  cli::add_submit_command(app);
  cli::add_status_command(app);
  cli::add_runs_command(app);
  cli::add_sweep_command(app);
  cli::add_report_command(app);
  cli::add_synth_command(app);
  cli::add_pack_command(app);
  cli::add_inspect_command(app);
  cli::add_config_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const cli::Exit& e) {
    return e.code;
  } catch (const std::exception& e) {
    cli::print_error(e);
    return 1;
  }
  return 0;
}
