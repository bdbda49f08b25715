// TrainingRun: the state of one `tessera train` on one rank, and its phases.
//
// train() (trainer.cpp) reads top to bottom as the phases below; each is a short member function
// and every piece of state a phase shares with another lives here, in one place:
//
//   set-up      (constructor, training_setup.cpp)  model, loss, optimizer, schedule, loaders,
//               checkpoint store, test hooks
//   resume      (resume(), training_setup.cpp)     restore a checkpoint when asked; the run log
//   distribute  (distribute(), training_setup.cpp) watchdog, gradient reducer (broadcasts rank
//               0's weights), the fingerprint check, step consensus, the sampler position
//   one step    (step(), training_step.cpp)        micro-batches: data, forward, backward;
//               gradient averaging; the step verdict (consensus); the update or a clean skip
//   log         (log_interval(), training_step.cpp)
//   validation  (validate(), training_validation.cpp) distributed evaluation, selection, early
//               stopping
//   checkpoint  (checkpoint(), training_validation.cpp) every rank's RNG state, rank 0 writes
//               (checkpoint.async: serialises to memory, a background thread writes and
//               publishes; settle_checkpoints() waits for it)
//   stop        (finish(), trainer.cpp)            final validation and checkpoint
//
// Ownership: a TrainingRun borrows cfg and comm (they outlive it) and owns everything else. The
// model is destroyed before the communicator (SyncBatchNorm layers own a duplicate of it).
// Threads: one training thread drives every method; the watchdog and the reducer have their own.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checkpoints/async_saver.h"
#include "checkpoints/checkpoint_store.h"
#include "checkpoints/run_dir_lock.h"
#include "comm/communicator.h"
#include "comm/grad_reducer.h"
#include "comm/step_consensus.h"
#include "comm/stop_signal.h"
#include "comm/watchdog.h"
#include "common/config.h"
#include "datasets/loader.h"
#include "models/model.h"
#include "trainer/losses.h"
#include "trainer/optim.h"
#include "trainer/run_log.h"
#include "trainer/test_hooks.h"
#include "trainer/train_state.h"
#include "trainer/trainer.h"
#include "trainer/validation_images.h"

namespace tessera {

using TrainClock = std::chrono::steady_clock;

// Per-phase wall time accumulated between two log records.
struct PhaseTimes {
  double data = 0, forward = 0, backward = 0, reduce = 0, optimizer = 0;
  int64_t images = 0;
  TrainClock::time_point since = TrainClock::now();
  void reset() { *this = PhaseTimes{}; }
};

class TrainingRun {
 public:
  TrainingRun(const Config& cfg, Communicator& comm, const TrainOptions& opts);
  TrainingRun(const TrainingRun&) = delete;
  TrainingRun& operator=(const TrainingRun&) = delete;

  void resume();      // restores a checkpoint (opts.resume) and opens the run log
  void distribute();  // wraps the model for data parallelism; checks all ranks agree

  bool should_continue() const;  // steps and epochs left, no stop agreed
  // One optimizer step. Returns false when the epoch ended first (nothing was applied; the
  // sampler moved on to the next epoch).
  bool step();
  // After a completed step: log record, validation, stop, early stopping, checkpoint.
  void after_step();
  TrainSummary finish();  // final validation and checkpoint

 private:
  // ---- one step (training_step.cpp) ----
  void begin_step();
  std::optional<Batch> next_batch();
  double forward_backward(const Batch& batch, int micro);
  StepDecision reduce_and_agree(double local_loss);
  void apply(const StepDecision& verdict);
  void log_interval();
  // Batch-norm running statistics before the step's forward passes, restored when the step is
  // skipped (a skipped step changes no state).
  void save_buffers();
  void restore_buffers();

  // ---- validation and checkpoints (training_validation.cpp) ----
  bool validate();  // true when early stopping triggers
  double selection_value(const std::map<std::string, double>& metrics, nlohmann::json& rec);
  void select(double value);
  void checkpoint(std::optional<double> metric);
  // checkpoint.async: rank 0 waits until the background write is published (or rethrows its
  // error), then every rank meets at a barrier. Before a stop and at the end of training.
  void settle_checkpoints();

  const Config& cfg_;
  Communicator& comm_;
  const TrainOptions opts_;
  const int rank_, world_;
  const bool is_root_;
  const std::string run_dir_;
  TestHooks hooks_;
  torch::Device device_;
  torch::ScalarType compute_dtype_;  // autocast dtype of the forward (train.precision)
  checkpoints::RunDirLock run_lock_;  // rank 0: one writer per run directory

  // set-up
  std::shared_ptr<ImageModelImpl> model_;
  std::shared_ptr<LossStats> loss_stats_;  // global-batch statistics of loss_ (null: local)
  std::unique_ptr<Loss> loss_;             // training loss (batch statistics per loss.reduction)
  std::unique_ptr<Loss> eval_loss_;        // the same loss, local (validation's val/loss)
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<LrSchedule> schedule_;
  std::unique_ptr<Loader> train_loader_;
  std::optional<Loader> val_loader_;
  checkpoints::CheckpointStore store_;
  // Rank 0 with checkpoint.async: writes store_'s checkpoints in the background (declared after
  // store_, so it finishes its write before the store goes).
  std::optional<checkpoints::AsyncSaver> saver_;

  // resume
  TrainProgress progress_;
  bool resumed_ = false;
  std::optional<RunLog> log_;  // opened by resume()
  std::unique_ptr<ValidationImages> val_images_;  // rank 0 with TensorBoard: its pictures

  // distribute
  std::unique_ptr<Watchdog> watchdog_;
  std::unique_ptr<GradReducer> reducer_;
  std::unique_ptr<StopSignal> own_stop_signal_;  // when opts.stop_signal is null
  StopSignal* stop_signal_ = nullptr;
  std::unique_ptr<StepConsensus> consensus_;
  // Phase::between from distribute() to the end of finish(): training code outside the marked
  // phases times out too (declared after watchdog_, so it ends first).
  std::optional<Watchdog::Scope> between_;

  // loop state
  TrainSummary summary_;
  PhaseTimes phases_;
  std::vector<torch::Tensor> saved_buffers_;
  double lr_ = 0.0;
  double loss_accum_ = 0.0;  // mean step losses since the last log record
  int64_t loss_count_ = 0;
  TrainClock::time_point t_start_ = TrainClock::now();
  int64_t start_step_ = 0;
  int64_t saved_step_ = -1;
  int64_t evaluated_step_ = -1;
  bool stop_ = false;
};

}  // namespace tessera
