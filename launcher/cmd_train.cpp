// tessera train CONFIG [--set k=v ...] [--resume auto|PATH]: the training job (issue #6).
#include <memory>

#include "launcher/commands.h"
#include "comm/stop_signal.h"
#include "launcher/distributed.h"
#include "trainer/trainer.h"

namespace tessera::cli {

namespace {
struct TrainArgs {
  ConfigArgs config;
  std::string resume;
};
}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand(
      "train", "Train the config's model (one process, or every rank under mpirun/srun)");
  add_config_args(*cmd, args->config);
  cmd->add_option("--resume", args->resume,
                  "Resume from a checkpoint: `auto` (newest valid one in the run dir) or a "
                  "checkpoint directory");
  cmd->callback([args] {
    // Stop signals become a stop request from here until the process ends (trainer.h).
    StopSignal stop_signal;
    const Config cfg = load(args->config);  // validate before MPI starts
    run_distributed(cfg, [&](Communicator& comm) {
      TrainOptions opts;
      opts.resume = args->resume;
      opts.stop_signal = &stop_signal;
      train(cfg, comm, opts);
    });
  });
}

}  // namespace tessera::cli
