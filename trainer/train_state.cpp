#include "trainer/train_state.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "checkpoints/state_io.h"
#include "common/error.h"

namespace tessera {

namespace {

nlohmann::json nan_safe(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }
double from_nan_safe(const nlohmann::json& j) {
  return j.is_null() ? std::numeric_limits<double>::quiet_NaN() : j.get<double>();
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

}  // namespace

checkpoints::CheckpointData capture_state(const Config& cfg, torch::nn::Module& model,
                             torch::optim::Optimizer& optimizer, const TrainProgress& progress,
                             int world_size) {
  checkpoints::CheckpointData d;
  d.step = progress.step;
  d.epoch = progress.epoch;
  d.world_size = world_size;
  d.files["model.pt"] = checkpoints::module_to_bytes(model);
  d.files["optim.pt"] = checkpoints::optimizer_to_bytes(optimizer);
  d.files["config.yaml"] = to_yaml(cfg);
  nlohmann::json state = {
      {"step", progress.step},
      {"epoch", progress.epoch},
      {"sampler", cursor_to_json(progress.cursor)},
      {"best_metric", nan_safe(progress.best_metric)},
      {"best_step", progress.best_step},
      {"smoothed_metric", nan_safe(progress.smoothed)},
      {"bad_evals", progress.bad_evals},
      {"train_loss_sum", progress.train_loss_sum},
      {"train_loss_count", progress.train_loss_count},
      {"world_size", world_size},
      // Every random stream is a pure function of these: model init (seed), dropout (seed, step,
      // rank: the torch generator is reseeded each step), shuffle (seed, epoch), augmentation
      // (seed, epoch, sample). Nothing else needs restoring for an exact resume.
      {"rng", {{"seed", cfg.experiment.seed}, {"rule", "torch reseeded per step from (seed, step, rank)"}}},
      {"loss_scaler", nullptr},  // fp32/CPU training has no loss scaler
  };
  d.files["state.json"] = state.dump(2);
  d.meta_extra = {{"best_metric", nan_safe(progress.best_metric)},
                  {"metric_name", cfg.checkpoint.metric}};
  return d;
}

std::string restore_state(const checkpoints::CheckpointData& data, torch::nn::Module& model,
                          torch::optim::Optimizer& optimizer, TrainProgress& progress) {
  auto need = [&](const char* name) -> const std::string& { return data.file(name); };
  checkpoints::module_from_bytes(model, need("model.pt"), data.dir + "/model.pt");
  checkpoints::optimizer_from_bytes(optimizer, need("optim.pt"), data.dir + "/optim.pt");
  nlohmann::json s;
  try {
    s = nlohmann::json::parse(need("state.json"));
    progress.step = s.at("step").get<int64_t>();
    progress.epoch = s.at("epoch").get<int64_t>();
    progress.cursor = cursor_from_json(s.at("sampler"));
    progress.best_metric = from_nan_safe(s.at("best_metric"));
    progress.best_step = s.at("best_step").get<int64_t>();
    progress.smoothed = from_nan_safe(s.at("smoothed_metric"));
    progress.bad_evals = s.at("bad_evals").get<int>();
    progress.train_loss_sum = s.value("train_loss_sum", 0.0);
    progress.train_loss_count = s.value("train_loss_count", int64_t{0});
  } catch (const nlohmann::json::exception& e) {
    TESSERA_THROW("checkpoint {}: state.json is malformed: {}", data.dir, e.what());
  }
  return need("config.yaml");
}

std::vector<std::string> check_resume_config(const Config& stored, int stored_world,
                                             const Config& now, int world) {
  const auto a = flatten(stored);
  const auto b = flatten(now);
  // Keys that may change on resume without changing what is being trained.
  auto allowed = [](const std::string& k) {
    static const char* prefixes[] = {"train.max_steps", "train.max_epochs", "train.log_every",
                                     "train.eval_every", "train.checkpoint_every",
                                     "train.early_stop_patience", "train.threads_per_rank", "train.grad_accum",
                                     "train.device", "logging.", "eval.", "checkpoint.keep_",
                                     "checkpoint.async",
                                     "cluster.", "dist.timeout_s", "dist.bucket_mb",
                                     "dist.overlap", "dist.backend", "data.val", "data.test",
                                     "data.loader_threads", "data.prefetch_batches",
                                     "data.batch_size", "optim.", "schedule.", "experiment.output_dir",
                                     "dist.nonfinite"};
    for (const char* p : prefixes) {
      if (starts_with(k, p)) return true;
    }
    return false;
  };
  std::vector<std::string> refused, reported;
  for (const auto& [k, v] : b) {
    auto it = a.find(k);
    const std::string old = it == a.end() ? "<absent>" : it->second;
    if (old == v) continue;
    std::string line = fmt::format("{}: {} -> {}", k, old, v);
    (allowed(k) ? reported : refused).push_back(line);
  }
  const int64_t g_old = static_cast<int64_t>(stored.data.batch_size) * stored_world *
                        stored.train.grad_accum;
  const int64_t g_new = static_cast<int64_t>(now.data.batch_size) * world * now.train.grad_accum;
  if (g_old != g_new) {
    refused.push_back(fmt::format(
        "global batch (data.batch_size x ranks x train.grad_accum): {} x {} x {} = {} -> {} x {} "
        "x {} = {}",
        stored.data.batch_size, stored_world, stored.train.grad_accum, g_old, now.data.batch_size,
        world, now.train.grad_accum, g_new));
    const int64_t per = static_cast<int64_t>(world) * now.train.grad_accum;
    if (g_old % per == 0) {
      refused.back() += fmt::format(" (to resume on {} rank(s) with train.grad_accum {}, set "
                                    "data.batch_size={}: the same global batch)",
                                    world, now.train.grad_accum, g_old / per);
    }
  }
  if (!refused.empty()) {
    std::string msg;
    for (const auto& r : refused) msg += "\n  " + r;
    TESSERA_THROW("cannot resume: the config changed in ways that change what is trained "
                  "(model, task, loss, data or global batch):{}\nStart a new run (another "
                  "experiment.name) instead.",
                  msg);
  }
  if (stored_world != world) {
    reported.push_back(fmt::format("world size {} -> {}: data order continues from the global "
                                   "sampler cursor, re-partitioned over {} ranks",
                                   stored_world, world, world));
  }
  return reported;
}

}  // namespace tessera
