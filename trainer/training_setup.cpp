// TrainingRun phases before the first step: set-up, resume, distribute (see training_run.h).
#include <spdlog/spdlog.h>

#include <csignal>
#include <string_view>
#include <filesystem>
#include <fstream>

#include "checkpoints/file_io.h"
#include "checkpoints/state_io.h"
#include "comm/fingerprint.h"
#include "comm/sync_batchnorm.h"
#include "datasets/manifest.h"
#include "trainer/input_normalization.h"
#include "models/cpu_backend.h"
#include "trainer/precision.h"
#include "trainer/run_outcome.h"
#include "trainer/class_weights.h"
#include "trainer/session.h"
#include "trainer/task_io.h"
#include "trainer/training_run.h"

namespace tessera {
namespace fs = std::filesystem;

namespace {

std::unique_ptr<Loader> make_train_loader(const Config& cfg, const Communicator& comm) {
  TESSERA_CHECK(!cfg.data.train.empty(), "data.train: no training data directory configured ({})",
                cfg.source_path);
  const LoaderOptions o = loader_options(cfg, comm.rank(), comm.size(), /*train=*/true);
  auto loader = with_context(cfg.where("data.train"),
                             [&] { return std::make_unique<Loader>(cfg.data, cfg.data.train, o); });
  TESSERA_CHECK(loader->info().in_channels == cfg.task.in_channels,
                "data.train {} has {} input channels but task.in_channels is {}: set "
                "task.in_channels: {} (the model's first convolution takes that many)",
                cfg.data.train, loader->info().in_channels, cfg.task.in_channels,
                loader->info().in_channels);
  TESSERA_CHECK(loader->batches_per_epoch() > 0,
                "data.train {}: {} samples are too few for {} ranks x batch {} (drop-last leaves "
                "no batch)",
                cfg.data.train, loader->size(), comm.size(), cfg.data.batch_size);
  return loader;
}

}  // namespace

TrainingRun::TrainingRun(const Config& cfg, Communicator& comm, const TrainOptions& opts)
    : cfg_(cfg),
      comm_(comm),
      opts_(opts),
      rank_(comm.rank()),
      world_(comm.size()),
      is_root_(comm.rank() == 0),
      run_dir_(cfg.run_dir()),
      hooks_(TestHooks::from_env().for_run(cfg.experiment.name)),
      device_(select_device(cfg, comm)),
      compute_dtype_(autocast_dtype(cfg.train.precision)),
      run_lock_(cfg.run_dir(), comm.rank() == 0),
      store_(cfg.run_dir(), cfg.checkpoint.keep_last, cfg.checkpoint.keep_best,
             cfg.checkpoint.mode) {
  TESSERA_CHECK(cfg.train.grad_accum >= 1, "train.grad_accum must be >= 1");
  hooks_.resolve_ranks(world_);
  prepare_cpu_backend(cfg.train.threads_per_rank);  // threads; oneDNN numerics check
  if (compute_dtype_ == torch::kBFloat16 && is_root_) {
    spdlog::info("train.precision bf16: the forward runs under bfloat16 autocast; weights, "
                 "optimizer state, batch-norm statistics, loss and metrics stay float32");
  }
  if (compute_dtype_ == torch::kBFloat16 && device_.is_cpu() && is_root_ &&
      !cpu_has_native_bf16()) {
    spdlog::warn("train.precision bf16: this CPU has no bfloat16 instructions (no avx512_bf16 "
                 "or amx_bf16 in /proc/cpuinfo); LibTorch emulates bf16 and the run is likely "
                 "slower than fp32");
  }

  torch::manual_seed(cfg.experiment.seed);  // model initialisation
  model_ = build_model(cfg, comm);
  set_dataset_normalization(cfg, *model_);  // data.normalize: dataset (resume loads the saved)
  model_->to(device_);
  if (cfg.train.channels_last) to_channels_last(*model_);
  const LossConfig loss = resolve_class_weights(cfg);  // loss.class_weighting
  loss_stats_ = make_loss_stats(loss, comm);
  loss_ = make_loss(loss, cfg.task, cfg.model, loss_stats_);
  eval_loss_ = make_loss(loss, cfg.task, cfg.model);
  std::vector<torch::Tensor> params = model_->parameters();
  optimizer_ = make_optimizer(cfg.optim, params);
  schedule_ = std::make_unique<LrSchedule>(cfg.schedule, cfg.optim.lr, cfg.train.max_steps);

  train_loader_ = make_train_loader(cfg, comm);
  if (!cfg.data.val.empty()) {
    const LoaderOptions vo = loader_options(cfg, comm.rank(), comm.size(), /*train=*/false);
    with_context(cfg.where("data.val"), [&] { val_loader_.emplace(cfg.data, cfg.data.val, vo); });
  }
  check_run_degradations(cfg, train_loader_->info(), val_loader_ ? &val_loader_->info() : nullptr);

  if (is_root_ && cfg.checkpoint.async) saver_.emplace(store_);
  TESSERA_CHECK(hooks_.hold_checkpoint_step < 0 || cfg.checkpoint.async,
                "TESSERA_TEST_HOLD_CHECKPOINT needs checkpoint.async: true (a synchronous "
                "checkpoint would wait for itself)");
  if (is_root_ && (!hooks_.kill_in_checkpoint.empty() || hooks_.hold_checkpoint_step >= 0)) {
    // Runs inside CheckpointStore::save: on the background writer with checkpoint.async, so the
    // step is the one being written, not the one training has reached.
    store_.set_phase_hook([this](const char* p) {
      const int64_t step = saver_ ? saver_->step_in_flight() : progress_.step;
      if (std::string_view(p) == "begin") hooks_.hold_checkpoint(step);
      if (hooks_.kill_in_checkpoint == p &&
          (hooks_.kill_in_checkpoint_step < 0 || step == hooks_.kill_in_checkpoint_step)) {
        std::raise(SIGKILL);
      }
    });
  }
}

void TrainingRun::resume() {
  if (!opts_.resume.empty()) {
    std::optional<checkpoints::CheckpointData> ckpt;
    if (opts_.resume == "auto") {
      ckpt = store_.load_auto();
      if (!ckpt) spdlog::info("--resume auto: no checkpoint in {}, starting fresh", run_dir_);
    } else {
      ckpt = store_.load(opts_.resume);
    }
    if (ckpt) {
      // The config check comes first, so a changed model is reported as a config diff rather
      // than as a shape mismatch while loading weights.
      Config stored =
          load_config_from_string(ckpt->file("config.yaml"), ckpt->dir + "/config.yaml");
      for (const auto& line : check_resume_config(stored, ckpt->world_size, cfg_, world_)) {
        spdlog::info("resume: {}", line);
      }
      restore_state(*ckpt, *model_, *optimizer_, progress_);
      resumed_ = true;
      spdlog::info("resumed from step {} (epoch {}, sampler position {})", progress_.step,
                   progress_.epoch, progress_.cursor.position);
    }
  } else if (is_root_ && !store_.list().empty()) {
    TESSERA_THROW(
        "run directory {} already has checkpoints; pass --resume auto to continue it, "
        "or choose another experiment.name / experiment.output_dir",
        run_dir_);
  }
  if (is_root_) {
    fs::create_directories(run_dir_);
    clear_run_outcome(run_dir_);  // written again by finish(), when this run reaches its end
    checkpoints::write_file_atomic(run_dir_ + "/config.resolved.yaml", to_yaml(cfg_));
  }
  log_.emplace(run_dir_, resumed_ ? progress_.step : -1, cfg_.logging.progress, is_root_,
               cfg_.logging.tensorboard);
  if (log_->tensorboard() && val_loader_) val_images_ = std::make_unique<ValidationImages>(cfg_);
  start_step_ = progress_.step;
}

void TrainingRun::distribute() {
  watchdog_ = std::make_unique<Watchdog>(comm_, cfg_.dist.timeout_s);
  if (loss_stats_) loss_stats_->set_watchdog(watchdog_.get());
  set_sync_batchnorm_watchdog(*model_, watchdog_.get());  // its allreduces: Phase::collective
  reducer_ = std::make_unique<GradReducer>(*model_, comm_, reducer_options(cfg_.dist));
  {
    auto ws = watchdog_->enter(Phase::collective, 0);
    FingerprintInput fp;
    fp.config = to_yaml(cfg_);
    fp.parameters = describe_module(*model_);
    fp.data = manifest_to_json(load_manifest(cfg_.data.train)).dump();
    verify_fingerprint(comm_, fp);
  }
  stop_signal_ = opts_.stop_signal;
  if (!stop_signal_) {
    own_stop_signal_ = std::make_unique<StopSignal>();
    stop_signal_ = own_stop_signal_.get();
  }
  consensus_ = std::make_unique<StepConsensus>(comm_, parse_nonfinite_policy(cfg_.dist.nonfinite),
                                               watchdog_.get());
  if (resumed_) train_loader_->restore(progress_.cursor);
  between_.emplace(watchdog_->enter(Phase::between));  // start_epoch below counts as training
  train_loader_->start_epoch(progress_.epoch);
  t_start_ = TrainClock::now();
}

}  // namespace tessera
