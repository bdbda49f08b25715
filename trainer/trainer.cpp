#include "trainer/trainer.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <csignal>
#include <cstdlib>

#include "checkpoints/checkpoint_store.h"
#include "comm/grad_reducer.h"
#include "comm/step_consensus.h"
#include "comm/stop_signal.h"
#include "comm/fingerprint.h"
#include "comm/watchdog.h"
#include "checkpoints/state_io.h"
#include "datasets/manifest.h"
#include "datasets/loader.h"
#include "trainer/evaluator.h"
#include "trainer/losses.h"
#include "trainer/optim.h"
#include "trainer/run_log.h"
#include "trainer/session.h"
#include "trainer/task_io.h"
#include "trainer/train_state.h"

namespace tessera {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Per-phase wall time accumulated between two log records.
struct PhaseTimes {
  double data = 0, forward = 0, backward = 0, reduce = 0, optimizer = 0;
  int64_t images = 0;
  Clock::time_point since = Clock::now();
  void reset() { *this = PhaseTimes{}; }
  nlohmann::json json() const {
    return {{"data", data}, {"forward", forward}, {"backward", backward},
            {"reduce", reduce}, {"optimizer", optimizer}};
  }
};

// Fault injection for the end-to-end tests (docs/run-dir.md, "Test hooks"):
//   TESSERA_TEST_STOP_AT_STEP=S      the last rank requests a stop as if signalled at step S
//   TESSERA_TEST_KILL_IN_CHECKPOINT=PHASE:S  rank 0 SIGKILLs itself at the given phase of the
//                                    checkpoint write at step S (see kSavePhases)
int64_t env_int(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoll(v, nullptr, 10) : fallback;
}

bool improved(const Config& cfg, double value, double best) {
  if (std::isnan(best)) return true;
  return cfg.checkpoint.mode == "max" ? value > best : value < best;
}

}  // namespace

TrainSummary train(const Config& cfg, Communicator& comm, const TrainOptions& opts) {
  const int rank = comm.rank();
  const int world = comm.size();
  const bool is_root = rank == 0;
  const std::string run_dir = cfg.run_dir();
  TESSERA_CHECK(!cfg.data.train.empty(), "data.train: no training data directory configured ({})",
                cfg.source_path);
  TESSERA_CHECK(cfg.train.grad_accum >= 1, "train.grad_accum must be >= 1");

  torch::set_num_threads(cfg.train.threads_per_rank);
  const torch::Device device = select_device(cfg, comm);

  // ---- components ----------------------------------------------------------------------
  torch::manual_seed(cfg.experiment.seed);
  auto model = build_model(cfg, comm);
  model->to(device);
  if (cfg.train.channels_last) to_channels_last(*model);
  auto loss_fn = make_loss(cfg.loss, cfg.task, cfg.model);
  std::vector<torch::Tensor> params = model->parameters();
  auto optimizer = make_optimizer(cfg.optim, params);
  LrSchedule schedule(cfg.schedule, cfg.optim.lr, cfg.train.max_steps);

  LoaderOptions train_opt;
  train_opt.rank = rank;
  train_opt.size = world;
  train_opt.seed = cfg.experiment.seed;
  train_opt.train = true;
  train_opt.scale = cfg.task.kind == TaskKind::super_resolution ? cfg.task.scale : 1;
  Loader train_loader(cfg.data, cfg.data.train, train_opt);
  std::optional<Loader> val_loader;
  if (!cfg.data.val.empty()) {
    LoaderOptions vo = train_opt;
    vo.train = false;
    val_loader.emplace(cfg.data, cfg.data.val, vo);
  }
  TESSERA_CHECK(train_loader.batches_per_epoch() > 0,
                "data.train {}: {} samples are too few for {} ranks x batch {} (drop-last leaves "
                "no batch)",
                cfg.data.train, train_loader.size(), world, cfg.data.batch_size);

  // ---- resume ----------------------------------------------------------------------------
  checkpoints::RunDirLock run_lock(run_dir, is_root);  // one writer per run directory
  checkpoints::CheckpointStore store(run_dir, cfg.checkpoint.keep_last, cfg.checkpoint.keep_best,
                        cfg.checkpoint.mode);
  TrainProgress progress;
  bool resumed = false;
  if (const char* k = std::getenv("TESSERA_TEST_KILL_IN_CHECKPOINT"); k && *k && is_root) {
    const std::string spec = k;
    const auto colon = spec.find(':');
    const std::string phase = spec.substr(0, colon);
    const int64_t at = colon == std::string::npos ? -1 : std::stoll(spec.substr(colon + 1));
    store.set_phase_hook([phase, at, &progress](const char* p) {
      if (phase == p && (at < 0 || progress.step == at)) std::raise(SIGKILL);
    });
  }
  if (!opts.resume.empty()) {
    std::optional<checkpoints::CheckpointData> ckpt;
    if (opts.resume == "auto") {
      ckpt = store.load_auto();
      if (!ckpt) spdlog::info("--resume auto: no checkpoint in {}, starting fresh", run_dir);
    } else {
      ckpt = store.load(opts.resume);
    }
    if (ckpt) {
      // The config check comes first, so a changed model is reported as a config diff rather
      // than as a shape mismatch while loading weights.
      Config stored = load_config_from_string(ckpt->file("config.yaml"),
                                              ckpt->dir + "/config.yaml");
      for (const auto& line : check_resume_config(stored, ckpt->world_size, cfg, world)) {
        spdlog::info("resume: {}", line);
      }
      restore_state(*ckpt, *model, *optimizer, progress);
      resumed = true;
      spdlog::info("resumed from step {} (epoch {}, sampler position {})", progress.step,
                   progress.epoch, progress.cursor.position);
    }
  } else if (is_root && !store.list().empty()) {
    TESSERA_THROW("run directory {} already has checkpoints; pass --resume auto to continue it, "
                  "or choose another experiment.name / experiment.output_dir",
                  run_dir);
  }

  if (is_root) {
    fs::create_directories(run_dir);
    std::ofstream(run_dir + "/config.resolved.yaml") << to_yaml(cfg);
  }
  RunLog log(run_dir, resumed ? progress.step : -1, cfg.logging.progress, is_root);

  // ---- distributed wrapping ----------------------------------------------------------------
  Watchdog watchdog(comm, cfg.dist.timeout_s);
  GradReducer reducer(*model, comm, reducer_options(cfg.dist));
  {
    auto ws = watchdog.enter(Phase::collective, 0);
    FingerprintInput fp;
    fp.config = to_yaml(cfg);
    fp.parameters = describe_module(*model);
    fp.data = manifest_to_json(load_manifest(cfg.data.train)).dump();
    verify_fingerprint(comm, fp);
  }
  StopSignal stop_signal;
  StepConsensus consensus(comm, parse_nonfinite_policy(cfg.dist.nonfinite), &watchdog);

  if (resumed) train_loader.restore(progress.cursor);
  train_loader.start_epoch(progress.epoch);

  // ---- loop --------------------------------------------------------------------------------
  TrainSummary summary;
  PhaseTimes phases;
  double loss_accum = 0.0;
  int64_t loss_count = 0;
  const auto t_start = Clock::now();
  const int64_t start_step = progress.step;
  std::string last_ckpt;
  int64_t saved_step = -1;
  int64_t evaluated_step = -1;
  bool stop = false;

  auto save_checkpoint = [&](std::optional<double> metric) {
    auto ws = watchdog.enter(Phase::checkpoint, progress.step);
    if (saved_step == progress.step && !metric) return;
    saved_step = progress.step;
    progress.cursor = train_loader.cursor();
    // Every rank's generator state (provenance; training reseeds per step, see trainer.h).
    const auto rng = comm.allgather_bytes(checkpoints::torch_rng_to_bytes());
    if (is_root) {
      auto data = capture_state(cfg, *model, *optimizer, progress, world);
      for (size_t r = 0; r < rng.size(); ++r) data.files[fmt::format("rng-rank{}.bin", r)] = rng[r];
      last_ckpt = store.save(data, metric);
    }
    comm.barrier();  // nobody races ahead of (or exits before) a published checkpoint
  };

  auto run_validation = [&]() -> bool {  // returns true when early stopping triggers
    if (!val_loader) return false;
    evaluated_step = progress.step;
    auto ws = watchdog.enter(Phase::eval, progress.step);
    // Batch-norm running statistics are per rank (each rank's own batches; gradients are
    // averaged, buffers are not). Validate every rank with rank 0's, the ones a checkpoint
    // stores, so in-training validation equals `tessera eval` of that checkpoint and a resumed
    // run (whose ranks all load rank 0's) validates exactly like an uninterrupted one.
    if (world > 1) reducer.broadcast_buffers(0);
    EvalResult r =
        evaluate(cfg, *model, *val_loader, comm, device, /*per_image=*/false, loss_fn.get());
    summary.last_val = r.metrics;
    nlohmann::json rec = {{"step", progress.step}, {"epoch", progress.epoch}, {"split", "val"},
                          {"seconds", r.seconds}};
    for (const auto& [k, v] : r.metrics) rec["val/" + k] = v;
    const std::string name = selected_metric_name(cfg);
    double raw = std::numeric_limits<double>::quiet_NaN();
    if (cfg.checkpoint.metric == "train/loss") {
      // The mean training loss since the previous validation (restored on resume); none when
      // every step since was skipped (non-finite).
      if (progress.train_loss_count > 0) {
        raw = progress.train_loss_sum / static_cast<double>(progress.train_loss_count);
        rec["train/loss"] = raw;
      }
    } else {
      auto it = r.metrics.find(name);
      TESSERA_CHECK(it != r.metrics.end(),
                    "checkpoint.metric '{}': the {} task's validation does not compute '{}'",
                    cfg.checkpoint.metric, to_string(cfg.task.kind), name);
      raw = it->second;
    }
    progress.train_loss_sum = 0.0;
    progress.train_loss_count = 0;
    if (!std::isfinite(raw)) {
      // No usable value: keep the selection state as it is rather than end the run.
      log.write(rec);
      spdlog::warn("step {} val: {} has no finite value ({}); best-checkpoint selection and "
                   "early stopping skip this validation",
                   progress.step, cfg.checkpoint.metric, raw);
      return false;
    }
    progress.smoothed = (std::isnan(progress.smoothed) || cfg.checkpoint.ema <= 0)
                            ? raw
                            : cfg.checkpoint.ema * progress.smoothed +
                                  (1.0 - cfg.checkpoint.ema) * raw;
    rec["selected/" + name] = progress.smoothed;
    log.write(rec);
    if (is_root) {
      spdlog::info("step {} val: {} {:.4f} (best {:.4f})", progress.step, name, raw,
                   std::isnan(progress.best_metric) ? raw : progress.best_metric);
    }
    if (improved(cfg, progress.smoothed, progress.best_metric)) {
      progress.best_metric = progress.smoothed;
      progress.best_step = progress.step;
      progress.bad_evals = 0;
      if (cfg.checkpoint.keep_best > 0) save_checkpoint(progress.smoothed);
    } else {
      ++progress.bad_evals;
    }
    return cfg.train.early_stop_patience > 0 &&
           progress.bad_evals >= cfg.train.early_stop_patience;
  };

  while (!stop && progress.step < cfg.train.max_steps &&
         (cfg.train.max_epochs <= 0 || progress.epoch < cfg.train.max_epochs)) {
    // Dropout and any other torch randomness depend only on (seed, step, rank).
    torch::manual_seed(cfg.experiment.seed ^ (0x9E3779B97F4A7C15ULL * (progress.step + 1)) ^
                       (static_cast<uint64_t>(rank) << 48));
    const double lr = schedule.lr_at(progress.step);
    set_learning_rate(*optimizer, lr);
    model->train();
    watchdog.set_step(progress.step);
    reducer.zero_grad();

    double step_loss = 0.0;
    bool epoch_ended = false;
    for (int micro = 0; micro < cfg.train.grad_accum; ++micro) {
      auto t0 = Clock::now();
      std::optional<Batch> batch;
      {
        auto ws = watchdog.enter(Phase::data, progress.step);
        batch = train_loader.next();
      }
      if (!batch) {
        epoch_ended = true;
        break;
      }
      phases.data += seconds_since(t0);
      auto t1 = Clock::now();
      reducer.set_sync(micro == cfg.train.grad_accum - 1);
      torch::Tensor x = batch->inputs.to(device);
      torch::Tensor y = batch->targets.to(device);
      torch::Tensor out;
      {
        auto ws = watchdog.enter(Phase::forward, progress.step);
        const auto in = model_input(cfg, x, {y.size(-2), y.size(-1)});
        out = model->forward(to_memory_format(in, cfg.train.channels_last));
      }
      torch::Tensor loss = (*loss_fn)(out, y) / cfg.train.grad_accum;
      phases.forward += seconds_since(t1);
      auto t2 = Clock::now();
      {
        auto ws = watchdog.enter(Phase::backward, progress.step);
        loss.backward();
      }
      phases.backward += seconds_since(t2);
      step_loss += loss.item<double>();
      phases.images += batch->inputs.size(0);
    }
    if (epoch_ended) {
      // Every rank has the same number of batches per epoch, so all ranks get here together;
      // a partial accumulation window is discarded identically everywhere.
      reducer.set_sync(true);
      reducer.zero_grad();
      ++progress.epoch;
      train_loader.start_epoch(progress.epoch);
      continue;
    }

    auto t3 = Clock::now();
    {
      auto ws = watchdog.enter(Phase::allreduce, progress.step);
      reducer.finish();
    }
    StepReport report;
    report.loss_sum = step_loss;
    report.count = 1.0;
    report.nonfinite = !std::isfinite(step_loss) || !reducer.grads_finite();
    report.stop = stop_signal.requested() ||
                  (rank == world - 1 && progress.step + 1 == env_int("TESSERA_TEST_STOP_AT_STEP", -1));
    report.stop_signal = stop_signal.signal_number();
    // Throws on every rank alike (naming ranks and step) when dist.nonfinite is 'abort'.
    StepDecision verdict = consensus.agree(progress.step, report);
    phases.reduce += seconds_since(t3);
    if (verdict.skip) {
      spdlog::warn("step {}: non-finite loss or gradient on rank(s) {}; skipping the step on "
                   "every rank",
                   progress.step, fmt::join(verdict.nonfinite_ranks, ","));
      reducer.zero_grad();
    } else {
      auto t4 = Clock::now();
      auto ws = watchdog.enter(Phase::optimizer, progress.step);
      if (cfg.optim.grad_clip > 0) reducer.clip_grad_norm(cfg.optim.grad_clip);
      optimizer->step();
      phases.optimizer += seconds_since(t4);
    }
    ++progress.step;
    if (!verdict.skip) {
      loss_accum += verdict.loss_mean;
      ++loss_count;
      progress.train_loss_sum += verdict.loss_mean;
      ++progress.train_loss_count;
    }
    stop = verdict.stop;

    if (progress.step % cfg.train.log_every == 0 || progress.step == cfg.train.max_steps) {
      const double elapsed = seconds_since(phases.since);
      const double ips = elapsed > 0 ? phases.images * world / elapsed : 0.0;
      const double mean_loss = loss_accum / std::max<int64_t>(loss_count, 1);
      const double done_rate = (progress.step - start_step) / std::max(seconds_since(t_start), 1e-9);
      const double eta = (cfg.train.max_steps - progress.step) / std::max(done_rate, 1e-9);
      nlohmann::json rec = {{"step", progress.step},
                            {"epoch", progress.epoch},
                            {"loss", mean_loss},
                            {"lr", lr},
                            {"images_per_s", ips},
                            {"data_wait_fraction", elapsed > 0 ? phases.data / elapsed : 0.0},
                            {"time", phases.json()}};
      log.write(rec);
      log.progress(progress.step, cfg.train.max_steps, progress.epoch, mean_loss,
                   summary.last_val.empty() ? "" : selected_metric_name(cfg),
                   summary.last_val.empty() ? 0.0 : progress.smoothed, ips, eta);
      loss_accum = 0;
      loss_count = 0;
      phases.reset();
    }
    bool early = false;
    if (cfg.train.eval_every > 0 && progress.step % cfg.train.eval_every == 0) {
      early = run_validation();
    }
    const bool periodic = cfg.train.checkpoint_every > 0 &&
                          progress.step % cfg.train.checkpoint_every == 0;
    if (stop) {
      spdlog::info("stop requested: checkpointing at step {} on every rank", progress.step);
      summary.stopped_by_signal = true;
    }
    if (early) {
      spdlog::info("early stopping at step {}: no improvement in {} evaluations", progress.step,
                   progress.bad_evals);
      summary.stopped_early = true;
      stop = true;
    }
    if (periodic || stop) save_checkpoint(std::nullopt);
  }
  log.end_progress();

  // Final validation and checkpoint (each skipped when this step already had one).
  if (!summary.stopped_by_signal && !summary.stopped_early) {
    if (evaluated_step != progress.step && progress.step > start_step) run_validation();
    save_checkpoint(std::nullopt);
  }
  summary.step = progress.step;
  summary.epoch = progress.epoch;
  summary.last_checkpoint = last_ckpt;
  spdlog::info("training done at step {} ({:.1f} s){}", progress.step, seconds_since(t_start),
               summary.stopped_by_signal ? ", stopped by signal" : "");
  return summary;
}

}  // namespace tessera
