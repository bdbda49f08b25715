#include "trainer/evaluator.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <fmt/format.h>

#include "trainer/metrics.h"
#include "trainer/task_io.h"

namespace tessera {

std::string selected_metric_name(const Config& cfg) {
  const std::string& m = cfg.checkpoint.metric;
  auto slash = m.find('/');
  return slash == std::string::npos ? m : m.substr(slash + 1);
}

namespace {

nlohmann::json per_image_json(const Metrics& m) {
  nlohmann::json out = nlohmann::json::array();
  const auto names = m.score_names();
  for (const auto& s : m.per_image()) {
    nlohmann::json row = {{"index", s.id}};
    for (size_t i = 0; i < names.size() && i < s.values.size(); ++i) row[names[i]] = s.values[i];
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace

EvalResult evaluate(const Config& cfg, ImageModelImpl& model, Loader& loader, Communicator& comm,
                    const torch::Device& device, bool per_image, Loss* loss,
                    Watchdog* watchdog, Progress* progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  auto metrics = make_metrics(cfg.task, cfg.model, cfg.eval, cfg.loss.ignore_index);
  // Score the model's input on the same images, side by side, where it is the baseline to beat:
  // plain bicubic up-scaling (super-resolution), the noisy image (denoising), the masked image
  // (inpainting).
  std::unique_ptr<Metrics> bicubic;
  std::string baseline_name;
  if (cfg.task.kind == TaskKind::super_resolution) baseline_name = "bicubic";
  if (cfg.task.kind == TaskKind::denoising) baseline_name = "noisy_input";
  if (cfg.task.kind == TaskKind::inpainting) baseline_name = "masked_input";
  if (!baseline_name.empty() && cfg.task.in_channels == model_out_channels(cfg.task)) {
    ModelConfig identity = cfg.model;
    identity.activation = "none";
    bicubic = make_metrics(cfg.task, identity, cfg.eval, cfg.loss.ignore_index);
  }
  loader.start_epoch(0);
  int64_t samples = 0;
  double loss_sum = 0.0;
  while (auto batch = loader.next()) {
    torch::Tensor x = batch->inputs.to(device);
    torch::Tensor y = batch->targets.to(device);
    torch::Tensor in = model_input(cfg, x, {y.size(-2), y.size(-1)});
    torch::Tensor out = model.forward(in);
    torch::Tensor labels = batch->labels.defined() && batch->labels.numel() > 0
                               ? batch->labels.to(device)
                               : torch::Tensor();
    metrics->update(out, y, labels, batch->indices);
    if (bicubic) bicubic->update(in, y, labels, batch->indices);
    if (loss != nullptr) loss_sum += (*loss)(out, y).item<double>() * static_cast<double>(x.size(0));
    samples += x.size(0);
    if (progress) progress->update(std::min(samples * comm.size(), loader.size()));
  }
  if (progress) progress->finish();
  std::optional<Watchdog::Scope> waiting;
  if (watchdog != nullptr) waiting.emplace(watchdog->enter(Phase::collective));
  metrics->all_reduce(comm);
  if (bicubic) bicubic->all_reduce(comm);
  int64_t total = samples;
  comm.allreduce(&total, 1, ReduceOp::sum);
  if (loss != nullptr) comm.allreduce(&loss_sum, 1, ReduceOp::sum);
  waiting.reset();

  EvalResult r;
  r.metrics = metrics->compute();
  if (loss != nullptr && total > 0) r.metrics["loss"] = loss_sum / static_cast<double>(total);
  if (bicubic) {
    r.baseline = bicubic->compute();
    r.baseline_name = baseline_name;
  }
  if (per_image) r.per_image = per_image_json(*metrics);
  r.samples = total;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (was_training) model.train();
  return r;
}

std::string format_eval_table(const EvalResult& r) {
  const bool base = !r.baseline.empty();
  std::string out = base ? fmt::format("{:<16} {:>12} {:>12}\n", "metric", "model", r.baseline_name)
                         : fmt::format("{:<16} {:>12}\n", "metric", "value");
  for (const auto& [k, v] : r.metrics) {
    if (base) {
      auto it = r.baseline.find(k);
      out += it == r.baseline.end()
                 ? fmt::format("{:<16} {:>12.4f} {:>12}\n", k, v, "")
                 : fmt::format("{:<16} {:>12.4f} {:>12.4f}\n", k, v, it->second);
    } else {
      out += fmt::format("{:<16} {:>12.4f}\n", k, v);
    }
  }
  out += fmt::format("({} samples, {:.1f} s)\n", r.samples, r.seconds);
  return out;
}

}  // namespace tessera
