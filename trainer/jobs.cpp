#include "trainer/jobs.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <optional>

#include "checkpoints/file_io.h"
#include "datasets/degradation.h"
#include "datasets/loader.h"
#include "models/cpu_backend.h"
#include "models/export.h"
#include "trainer/session.h"
#include "trainer/tiling.h"

namespace tessera {
namespace fs = std::filesystem;

namespace {

std::string split_dir(const Config& cfg, const std::string& split) {
  if (split == "train") return cfg.data.train;
  if (split == "val") return cfg.data.val;
  if (split == "test") return cfg.data.test;
  TESSERA_CHECK(fs::is_directory(split),
                "--split '{}': expected train, val, test or a dataset directory", split);
  return split;
}

}  // namespace

EvalResult run_eval(const Config& cfg, Communicator& comm, const EvalOptions& opts) {
  const std::string dir = split_dir(cfg, opts.split);
  TESSERA_CHECK(!dir.empty(), "--split {}: data.{} is not set in {}", opts.split, opts.split,
                cfg.source_path);
  prepare_cpu_backend(cfg.train.threads_per_rank);  // threads; oneDNN numerics check
  const torch::Device device = select_device(cfg, comm);
  torch::manual_seed(cfg.experiment.seed);
  auto model = make_model(cfg);  // eval mode: plain batch norm
  const std::string ckpt = load_weights(cfg, opts.checkpoint, *model);
  model->to(device);

  const LoaderOptions lo = loader_options(cfg, comm.rank(), comm.size(), /*train=*/false);
  const bool key = opts.split == "train" || opts.split == "val" || opts.split == "test";
  Loader loader = with_context(key ? cfg.where("data." + opts.split) : "--split " + opts.split,
                               [&] { return Loader(cfg.data, dir, lo); });
  TESSERA_CHECK(loader.info().in_channels == cfg.task.in_channels,
                "{} has {} input channels but task.in_channels is {}: the model takes {}", dir,
                loader.info().in_channels, cfg.task.in_channels, cfg.task.in_channels);
  std::optional<Progress> progress;
  if (comm.rank() == 0) progress.emplace("eval " + opts.split, loader.size());
  EvalResult r = evaluate(cfg, *model, loader, comm, device, /*per_image=*/true, nullptr, nullptr,
                          progress ? &*progress : nullptr);

  if (comm.rank() == 0) {
    nlohmann::json summary = {{"checkpoint", ckpt},   {"split", opts.split},
                              {"data", dir},          {"samples", r.samples},
                              {"ranks", comm.size()}, {"seconds", r.seconds},
                              {"metrics", r.metrics}};
    nlohmann::json per_class = nlohmann::json::object();
    for (const auto& [k, v] : r.metrics) {
      auto slash = k.find('/');
      if (slash != std::string::npos) per_class[k.substr(slash + 1)][k.substr(0, slash)] = v;
    }
    summary["per_class"] = per_class;
    // "bicubic" / "noisy_input" / "masked_input": the same metrics for the model's input.
    if (!r.baseline.empty()) summary[r.baseline_name] = r.baseline;
    if (cfg.task.kind == TaskKind::super_resolution) {
      // How the inputs were made: PSNR is comparable only between equal degradations.
      summary[kDegradationKey] = effective_degradation(loader.info());
      if (cfg.eval.border_crop != cfg.task.scale) {
        spdlog::warn(
            "eval.border_crop is {} but task.scale is {}: BasicSR's super-resolution "
            "PSNR/SSIM crop `scale` pixels at each border, so these numbers are not "
            "comparable with published ones (docs/metrics.md)",
            cfg.eval.border_crop, cfg.task.scale);
      }
    }
    summary["per_image"] = r.per_image;
    const std::string out_dir = cfg.run_dir() + "/eval";
    fs::create_directories(out_dir);
    checkpoints::write_file_atomic(out_dir + "/summary.json", summary.dump(2));
    std::printf("%s", format_eval_table(r).c_str());
    std::fflush(stdout);
    spdlog::info("eval: {} samples of {} with {}; summary in {}/summary.json", r.samples, dir, ckpt,
                 out_dir);
  }
  return r;
}

void run_export(const Config& cfg, const std::string& checkpoint, const std::string& out) {
  torch::manual_seed(cfg.experiment.seed);
  auto model = make_model(cfg);
  const std::string ckpt = checkpoint == "init" ? "the initial weights (experiment.seed)"
                                                : load_weights(cfg, checkpoint, *model);
  export_state_dict(*model, out);
  spdlog::info(
      "export: weights of {} written to {} (torch.load gives a state dict for "
      "tools/reference/models.py)",
      ckpt, out);
}

ExportProbe write_export_probe(const Config& cfg, const std::string& checkpoint,
                               const std::string& dir) {
  torch::manual_seed(cfg.experiment.seed);
  auto model = make_model(cfg);
  ExportProbe p;
  p.checkpoint = checkpoint == "init" ? "the initial weights (experiment.seed)"
                                      : load_weights(cfg, checkpoint, *model);
  model->eval();
  p.out_channels = model->out_channels();
  p.multiple = size_multiple(cfg.model);
  // A size the network takes (the article's autoencoder also needs >= 16), capped for speed.
  const int64_t want = std::max<int64_t>(std::min<int64_t>(cfg.data.image_size, 64), 16);
  p.size = (want + p.multiple - 1) / p.multiple * p.multiple;
  torch::Tensor x = torch::rand({2, cfg.task.in_channels, p.size, p.size},
                                torch::TensorOptions().dtype(torch::kFloat32));
  torch::Tensor y;
  {
    torch::NoGradGuard no_grad;
    y = apply_activation(cfg.model.activation, model->forward(x));
  }
  p.weights_path = dir + "/weights.pt";
  p.probe_path = dir + "/probe.pt";
  export_state_dict(*model, p.weights_path);
  save_tensor_dict({{"input", x}, {"output", y}}, p.probe_path);
  return p;
}

}  // namespace tessera
