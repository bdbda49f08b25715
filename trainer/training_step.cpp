// TrainingRun: one optimizer step and its log record (see training_run.h).
#include <spdlog/spdlog.h>

#include <cmath>
#include <limits>

#include "trainer/evaluator.h"
#include "trainer/precision.h"
#include "trainer/session.h"
#include "trainer/task_io.h"
#include "trainer/training_run.h"

namespace tessera {

namespace {

double seconds_since(TrainClock::time_point t) {
  return std::chrono::duration<double>(TrainClock::now() - t).count();
}

}  // namespace

bool TrainingRun::should_continue() const {
  return !stop_ && progress_.step < cfg_.train.max_steps &&
         (cfg_.train.max_epochs <= 0 || progress_.epoch < cfg_.train.max_epochs);
}

bool TrainingRun::step() {
  begin_step();
  double loss = 0.0;
  for (int micro = 0; micro < cfg_.train.grad_accum; ++micro) {
    std::optional<Batch> batch = next_batch();
    if (!batch) {
      // Every rank has the same number of batches per epoch, so all ranks get here together;
      // a partial accumulation window is discarded identically everywhere.
      reducer_->set_sync(true);
      reducer_->zero_grad();
      restore_buffers();
      ++progress_.epoch;
      train_loader_->start_epoch(progress_.epoch);
      return false;
    }
    hooks_.log_samples(rank_, progress_.epoch, progress_.step, batch->indices);
    loss += forward_backward(*batch, micro);
  }
  apply(reduce_and_agree(loss));
  return true;
}

void TrainingRun::begin_step() {
  // Dropout and any other torch randomness depend only on (seed, step, rank).
  torch::manual_seed(cfg_.experiment.seed ^ (0x9E3779B97F4A7C15ULL * (progress_.step + 1)) ^
                     (static_cast<uint64_t>(rank_) << 48));
  lr_ = schedule_->lr_at(progress_.step);
  set_learning_rate(*optimizer_, lr_);
  model_->train();
  watchdog_->set_step(progress_.step);
  reducer_->zero_grad();
  save_buffers();
}

std::optional<Batch> TrainingRun::next_batch() {
  const auto t0 = TrainClock::now();
  auto ws = watchdog_->enter(Phase::data, progress_.step);
  hooks_.hit(FaultPhase::data, rank_, progress_.step);
  std::optional<Batch> batch = train_loader_->next();
  // Denoising with task.noise_std: a fresh draw of noise on the clean targets every step
  // (seeded by begin_step: exact on resume); the stored noisy inputs serve validation only.
  if (batch && cfg_.task.noise_std > 0) {
    batch->inputs = training_noise(batch->targets, cfg_.task.noise_std);
  }
  if (batch && hooks_.poison_batch(rank_, progress_.step)) {
    batch->inputs.fill_(std::numeric_limits<float>::quiet_NaN());
  }
  phases_.data += seconds_since(t0);
  return batch;
}

// Forward and backward of one micro-batch; returns its loss (already divided by grad_accum).
double TrainingRun::forward_backward(const Batch& batch, int micro) {
  const auto t1 = TrainClock::now();
  reducer_->set_sync(micro == cfg_.train.grad_accum - 1);
  const torch::Tensor x = batch.inputs.to(device_);
  const torch::Tensor y = batch.targets.to(device_);
  torch::Tensor loss;
  {
    auto ws = watchdog_->enter(Phase::forward, progress_.step);
    hooks_.hit(FaultPhase::forward, rank_, progress_.step);
    const auto in = model_input(cfg_, x, {y.size(-2), y.size(-1)});
    torch::Tensor out;
    {
      // train.precision bf16: the forward under autocast; the loss outside it, in float32.
      AutocastScope autocast(device_, compute_dtype_);
      out = model_->forward(to_memory_format(in, cfg_.train.channels_last));
    }
    loss = (*loss_)(out.to(torch::kFloat32), y) / cfg_.train.grad_accum;
  }
  phases_.forward += seconds_since(t1);
  const auto t2 = TrainClock::now();
  {
    auto ws = watchdog_->enter(Phase::backward, progress_.step);
    hooks_.hit(FaultPhase::backward, rank_, progress_.step);
    loss.backward();
  }
  phases_.backward += seconds_since(t2);
  phases_.images += batch.inputs.size(0);
  return loss.item<double>();
}

// Completes gradient averaging and agrees on the step's fate with every rank.
StepDecision TrainingRun::reduce_and_agree(double local_loss) {
  const auto t3 = TrainClock::now();
  {
    auto ws = watchdog_->enter(Phase::allreduce, progress_.step);
    hooks_.hit(FaultPhase::allreduce, rank_, progress_.step);
    reducer_->finish();
  }
  StepReport report;
  report.loss_sum = local_loss;
  report.count = 1.0;
  report.nonfinite = !std::isfinite(local_loss) || !reducer_->grads_finite();
  report.stop = stop_signal_->requested() || hooks_.stop_requested(rank_, world_, progress_.step + 1);
  report.stop_signal = stop_signal_->signal_number();
  hooks_.hit(FaultPhase::consensus, rank_, progress_.step);
  // Throws on every rank alike (naming ranks and step) when dist.nonfinite is 'abort'.
  StepDecision verdict = consensus_->agree(progress_.step, report);
  phases_.reduce += seconds_since(t3);
  return verdict;
}

// The update, or a skip that changes no state on any rank; then the step counts.
void TrainingRun::apply(const StepDecision& verdict) {
  if (verdict.skip) {
    spdlog::warn("step {}: non-finite loss or gradient on rank(s) {}; skipping the step on "
                 "every rank",
                 progress_.step, fmt::join(verdict.nonfinite_ranks, ","));
    reducer_->zero_grad();
    restore_buffers();
  } else {
    const auto t4 = TrainClock::now();
    auto ws = watchdog_->enter(Phase::optimizer, progress_.step);
    if (cfg_.optim.grad_clip > 0) reducer_->clip_grad_norm(cfg_.optim.grad_clip);
    optimizer_->step();
    phases_.optimizer += seconds_since(t4);
    loss_accum_ += verdict.loss_mean;
    ++loss_count_;
    progress_.train_loss_sum += verdict.loss_mean;
    ++progress_.train_loss_count;
  }
  ++progress_.step;
  stop_ = verdict.stop;
}

void TrainingRun::save_buffers() {
  saved_buffers_.clear();
  for (const auto& b : model_->buffers()) saved_buffers_.push_back(b.detach().clone());
}

void TrainingRun::restore_buffers() {
  torch::NoGradGuard no_grad;
  auto buffers = model_->buffers();
  for (size_t i = 0; i < buffers.size() && i < saved_buffers_.size(); ++i) {
    buffers[i].copy_(saved_buffers_[i]);
  }
}

void TrainingRun::log_interval() {
  const double elapsed = seconds_since(phases_.since);
  const double ips = elapsed > 0 ? phases_.images * world_ / elapsed : 0.0;
  // NaN (null in metrics.jsonl) when every step of the interval was skipped as non-finite.
  const double mean_loss = loss_count_ > 0 ? loss_accum_ / static_cast<double>(loss_count_)
                                           : std::numeric_limits<double>::quiet_NaN();
  const double done_rate =
      (progress_.step - start_step_) / std::max(seconds_since(t_start_), 1e-9);
  const double eta = (cfg_.train.max_steps - progress_.step) / std::max(done_rate, 1e-9);
  const nlohmann::json times = {{"data", phases_.data},       {"forward", phases_.forward},
                                {"backward", phases_.backward}, {"reduce", phases_.reduce},
                                {"optimizer", phases_.optimizer}};
  log_->write({{"step", progress_.step},
              {"epoch", progress_.epoch},
              {"loss", mean_loss},
              {"lr", lr_},
              {"images_per_s", ips},
              {"data_wait_fraction", elapsed > 0 ? phases_.data / elapsed : 0.0},
              {"time", times}});
  log_->progress(progress_.step, cfg_.train.max_steps, progress_.epoch, mean_loss,
                summary_.last_val.empty() ? "" : selected_metric_name(cfg_),
                summary_.last_val.empty() ? 0.0 : progress_.smoothed, ips, eta);
  loss_accum_ = 0;
  loss_count_ = 0;
  phases_.reset();
}

}  // namespace tessera
