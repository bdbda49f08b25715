// TrainingRun: validation with checkpoint selection and early stopping, checkpoints, the stop
// (see training_run.h).
#include <spdlog/spdlog.h>

#include <cmath>
#include <limits>

#include "checkpoints/state_io.h"
#include "trainer/evaluator.h"
#include "trainer/training_run.h"

namespace tessera {

namespace {

// Whether a (smoothed) selection value beats the best so far (NaN: none yet).
bool improves(const Config& cfg, double best, double value) {
  return std::isnan(best) || (cfg.checkpoint.mode == "max" ? value > best : value < best);
}

}  // namespace

void TrainingRun::after_step() {
  hooks_.hit(FaultPhase::logging, rank_, progress_.step);  // watchdog phase: between phases
  hooks_.step_done(progress_.step);
  hooks_.await_stop(rank_, progress_.step, [this] { return stop_signal_->requested(); });
  if (saver_) saver_->check();  // a failed background write ends training at once
  if (progress_.step % cfg_.train.log_every == 0 || progress_.step == cfg_.train.max_steps) {
    log_interval();
  }
  bool early = false;
  if (cfg_.train.eval_every > 0 && progress_.step % cfg_.train.eval_every == 0) early = validate();
  if (stop_) {
    spdlog::info("stop requested: checkpointing at step {} on every rank", progress_.step);
    summary_.stopped_by_signal = true;
  }
  if (early) {
    spdlog::info("early stopping at step {}: no improvement in {} evaluations", progress_.step,
                 progress_.bad_evals);
    summary_.stopped_early = true;
    stop_ = true;
  }
  const bool periodic =
      cfg_.train.checkpoint_every > 0 && progress_.step % cfg_.train.checkpoint_every == 0;
  if (periodic || stop_) checkpoint(std::nullopt);
}

bool TrainingRun::validate() {
  if (!val_loader_) return false;
  evaluated_step_ = progress_.step;
  auto ws = watchdog_->enter(Phase::eval, progress_.step);
  hooks_.hit(FaultPhase::validation, rank_, progress_.step);  // inside eval: a stall shows there
  // Batch-norm running statistics are per rank (each rank's own batches; gradients are
  // averaged, buffers are not). Validate every rank with rank 0's, the ones a checkpoint
  // stores, so in-training validation equals `tessera eval` of that checkpoint and a resumed
  // run (whose ranks all load rank 0's) validates exactly like an uninterrupted one.
  if (world_ > 1) {
    auto wc = watchdog_->enter(Phase::collective, progress_.step);
    reducer_->broadcast_buffers(0);
  }
  EvalResult r = evaluate(cfg_, *model_, *val_loader_, comm_, device_, /*per_image=*/false,
                          eval_loss_.get(), watchdog_.get());
  summary_.last_val = r.metrics;
  if (val_images_) log_->image(progress_.step, "val/images", val_images_->render(*model_, device_));
  nlohmann::json rec = {{"step", progress_.step}, {"epoch", progress_.epoch}, {"split", "val"},
                        {"seconds", r.seconds}};
  for (const auto& [k, v] : r.metrics) rec["val/" + k] = v;
  const double raw = selection_value(r.metrics, rec);
  progress_.train_loss_sum = 0.0;
  progress_.train_loss_count = 0;
  if (!std::isfinite(raw)) {
    // No usable value: keep the selection state as it is rather than end the run.
    log_->write(rec);
    spdlog::warn("step {} val: {} has no finite value ({}); best-checkpoint selection and "
                 "early stopping skip this validation",
                 progress_.step, cfg_.checkpoint.metric, raw);
    return false;
  }
  const double ema = cfg_.checkpoint.ema;
  progress_.smoothed = (std::isnan(progress_.smoothed) || ema <= 0)
                           ? raw
                           : ema * progress_.smoothed + (1.0 - ema) * raw;
  rec["selected/" + selected_metric_name(cfg_)] = progress_.smoothed;
  log_->write(rec);
  if (is_root_) {
    // The best after this validation (select() below makes it so), with its step.
    const bool better = improves(cfg_, progress_.best_metric, progress_.smoothed);
    spdlog::info("step {} val: {} {:.4f} (best {:.4f} at step {})", progress_.step,
                 selected_metric_name(cfg_), raw,
                 better ? progress_.smoothed : progress_.best_metric,
                 better ? progress_.step : progress_.best_step);
  }
  select(progress_.smoothed);
  return cfg_.train.early_stop_patience > 0 &&
         progress_.bad_evals >= cfg_.train.early_stop_patience;
}

// The raw value checkpoint.metric selects on: a validation metric, or train/loss (the mean
// training loss since the previous validation, restored on resume; NaN when every step since
// was skipped as non-finite).
double TrainingRun::selection_value(const std::map<std::string, double>& metrics,
                                    nlohmann::json& rec) {
  if (cfg_.checkpoint.metric == "train/loss") {
    if (progress_.train_loss_count == 0) return std::numeric_limits<double>::quiet_NaN();
    const double v = progress_.train_loss_sum / static_cast<double>(progress_.train_loss_count);
    rec["train/loss"] = v;
    return v;
  }
  const std::string name = selected_metric_name(cfg_);
  auto it = metrics.find(name);
  TESSERA_CHECK(it != metrics.end(),
                "checkpoint.metric '{}': the {} task's validation does not compute '{}'",
                cfg_.checkpoint.metric, to_string(cfg_.task.kind), name);
  return it->second;
}

// Best-checkpoint bookkeeping for a (smoothed) selection value.
void TrainingRun::select(double value) {
  if (!improves(cfg_, progress_.best_metric, value)) {
    ++progress_.bad_evals;
    return;
  }
  progress_.best_metric = value;
  progress_.best_step = progress_.step;
  progress_.bad_evals = 0;
  if (cfg_.checkpoint.keep_best > 0) checkpoint(value);
}

// Collective: every rank's generator state goes to rank 0, which writes; then a barrier, so no
// rank races ahead of (or exits before) a published checkpoint. `metric` marks a best candidate.
// With checkpoint.async rank 0 only serialises the state here (the step's stall) and a background
// thread publishes it; settle_checkpoints() is the barrier that waits for publication.
void TrainingRun::checkpoint(std::optional<double> metric) {
  const bool already_saved = saved_step_ == progress_.step;
  if (already_saved && !metric) return;
  saved_step_ = progress_.step;
  progress_.cursor = train_loader_->cursor();
  std::string own_rng;
  {
    // This rank's own part of the checkpoint (rank 0's write below is the rest).
    auto ws = watchdog_->enter(Phase::checkpoint, progress_.step);
    hooks_.hit(FaultPhase::checkpoint, rank_, progress_.step);
    own_rng = checkpoints::torch_rng_to_bytes();  // provenance only: training reseeds per step
  }
  std::vector<std::string> rng;
  {
    auto ws = watchdog_->enter(Phase::collective, progress_.step);
    rng = comm_.allgather_bytes(own_rng);
  }
  if (is_root_) {
    // Waiting for the previous background write (if any) counts as checkpoint time.
    auto ws = watchdog_->enter(Phase::checkpoint, progress_.step);
    const auto t0 = TrainClock::now();
    if (already_saved) {  // only the metric is new: no second copy of the step
      if (saver_) {
        saver_->record_metric(progress_.step, *metric);
      } else {
        summary_.last_checkpoint = store_.record_metric(progress_.step, *metric);
      }
    } else {
      auto data = capture_state(cfg_, *model_, *optimizer_, progress_, world_);
      for (size_t r = 0; r < rng.size(); ++r) {
        data.files[fmt::format("rng-rank{}.bin", r)] = rng[r];
      }
      if (saver_) {
        saver_->save(std::move(data), metric);
      } else {
        summary_.last_checkpoint = store_.save(data, metric);
      }
    }
    spdlog::debug("checkpoint of step {}: {} (training stalled {:.3f} s)", progress_.step,
                  saver_ ? "serialised, written in the background" : "written and published",
                  std::chrono::duration<double>(TrainClock::now() - t0).count());
  }
  if (cfg_.checkpoint.async) return;  // nothing is published yet: settle_checkpoints() waits
  auto ws = watchdog_->enter(Phase::collective, progress_.step);
  comm_.barrier();
}

void TrainingRun::settle_checkpoints() {
  if (!cfg_.checkpoint.async) return;  // every checkpoint() already waited
  if (saver_) {
    auto ws = watchdog_->enter(Phase::checkpoint, progress_.step);
    const std::string dir = saver_->wait();
    if (!dir.empty()) summary_.last_checkpoint = dir;
  }
  auto ws = watchdog_->enter(Phase::collective, progress_.step);
  comm_.barrier();
}

}  // namespace tessera
