// train(): the training loop as its phases; each phase is a TrainingRun member (training_run.h).
#include "trainer/trainer.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "trainer/run_outcome.h"
#include "trainer/training_run.h"

namespace tessera {

TrainSummary train(const Config& cfg, Communicator& comm, const TrainOptions& opts) {
  TrainingRun run(cfg, comm, opts);  // set-up: model, loss, optimizer, loaders, store
  run.resume();                      // checkpoint (opts.resume), run log
  run.distribute();                  // watchdog, gradient reducer, fingerprint, consensus
  while (run.should_continue()) {
    if (run.step()) run.after_step();  // false: the epoch ended, the next one starts
  }
  return run.finish();  // final validation and checkpoint
}

TrainSummary TrainingRun::finish() {
  log_->end_progress();
  // Final validation and checkpoint (each skipped when this step already had one).
  if (!summary_.stopped_by_signal && !summary_.stopped_early) {
    if (evaluated_step_ != progress_.step && progress_.step > start_step_) validate();
    checkpoint(std::nullopt);
  }
  settle_checkpoints();  // checkpoint.async: the last checkpoint is published before anyone ends
  between_.reset();  // idle again: nothing of training is left to time out
  summary_.step = progress_.step;
  summary_.epoch = progress_.epoch;
  if (is_root_) {  // last of all: the record that this run reached its end (run_outcome.h)
    RunOutcome outcome;
    outcome.outcome = summary_.stopped_by_signal ? "stopped"
                      : summary_.stopped_early   ? "early_stopped"
                                                 : "finished";
    outcome.step = progress_.step;
    outcome.epoch = progress_.epoch;
    outcome.ranks = world_;
    outcome.checkpoint = std::filesystem::path(summary_.last_checkpoint).filename().string();
    write_run_outcome(run_dir_, outcome);
  }
  const double seconds = std::chrono::duration<double>(TrainClock::now() - t_start_).count();
  spdlog::info("training done at step {} ({:.1f} s){}", progress_.step, seconds,
               summary_.stopped_by_signal ? ", stopped by signal" : "");
  return summary_;
}

}  // namespace tessera
