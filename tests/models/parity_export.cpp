// Writes, for each case, what tests/models/parity.py needs to check that
// tools/reference/models.py computes the same function as the C++ models:
//   <case>.weights.pt  the state dict the output was computed with (export_state_dict)
//   <case>.io.pt       {"input": x, "output": model(x)}
//   <case>.after.pt    (train-mode cases) the state dict after the forward: BN running stats
//   cases.json         the cases: name, config, input size, mode
// BatchNorm layers get random gamma/beta and running statistics (two training-mode passes on
// random data) so that eval-mode parity covers them. Usage: models_parity_export OUT_DIR
#include <torch/torch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "models/export.h"
#include "models/model.h"

namespace {

struct Case {
  std::string name;
  tessera::ModelConfig model;
  tessera::TaskConfig task;
  int64_t batch, height, width;
  bool train;  // compare in training mode (dropout must be 0)
};

tessera::ModelConfig model_config(const std::string& arch, int filters, int depth, bool bn,
                                  float dropout, bool residual = false) {
  tessera::ModelConfig m;
  m.arch = arch;
  m.filters = filters;
  m.depth = depth;
  m.batch_norm = bn;
  m.dropout = dropout;
  m.residual = residual;
  return m;
}

tessera::TaskConfig task_config(tessera::TaskKind kind, int in, int out) {
  tessera::TaskConfig t;
  t.kind = kind;
  t.in_channels = in;
  t.out_channels = out;
  return t;
}

void run_case(const Case& c, const std::string& dir, nlohmann::json& manifest, uint64_t seed) {
  torch::manual_seed(seed);
  tessera::ImageModel model = tessera::make_model(c.model, c.task);
  {
    torch::NoGradGuard no_grad;
    for (auto& item : model->named_parameters()) {
      if (item.key().find(".bn") == std::string::npos) continue;
      if (item.key().size() >= 7 && item.key().substr(item.key().size() - 7) == ".weight") {
        item.value().uniform_(0.5, 1.5);
      } else {
        item.value().uniform_(-0.3, 0.3);
      }
    }
    model->train();
    for (int i = 0; i < 2; ++i) {
      model->forward(torch::randn({2, c.task.in_channels, c.height, c.width}) * 2 + 0.5);
    }
  }
  const std::string base = dir + "/" + c.name;
  tessera::export_state_dict(*model, base + ".weights.pt");

  torch::Tensor x = torch::randn({c.batch, c.task.in_channels, c.height, c.width});
  model->train(c.train);
  torch::Tensor y;
  {
    torch::NoGradGuard no_grad;
    y = model->forward(x);
  }
  tessera::save_tensor_dict({{"input", x}, {"output", y}}, base + ".io.pt");
  if (c.train) tessera::export_state_dict(*model, base + ".after.pt");

  manifest.push_back({{"name", c.name},
                      {"arch", c.model.arch},
                      {"in_channels", model->in_channels()},
                      {"out_channels", model->out_channels()},
                      {"filters", c.model.filters},
                      {"depth", c.model.depth},
                      {"dropout", c.model.dropout},
                      {"batch_norm", c.model.batch_norm},
                      {"residual", c.model.residual},
                      {"train", c.train},
                      {"input_shape", x.sizes().vec()}});
  std::printf("%-28s %s -> %s\n", c.name.c_str(),
              fmt::format("{}", fmt::join(x.sizes(), "x")).c_str(),
              fmt::format("{}", fmt::join(y.sizes(), "x")).c_str());
}

// --load-check: C++ reads a state dict saved by Python (torch.save(dict(model.state_dict())))
// holding the unet_3to1_bn weights with every floating-point entry doubled.
int load_check(const std::string& dir) {
  const Case c{"unet_3to1_bn",
               model_config("unet", 16, 4, true, 0.1f),
               task_config(tessera::TaskKind::segmentation, 3, 1),
               2,
               64,
               64,
               false};
  tessera::ImageModel from_cpp = tessera::make_model(c.model, c.task);
  tessera::ImageModel from_python = tessera::make_model(c.model, c.task);
  tessera::load_state_dict_file(*from_cpp, dir + "/" + c.name + ".weights.pt");
  tessera::load_state_dict_file(*from_python, dir + "/" + c.name + ".python.pt");
  const auto a = tessera::collect_state_dict(*from_cpp);
  const auto b = tessera::collect_state_dict(*from_python);
  int bad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const torch::Tensor expect = a[i].second.is_floating_point() ? a[i].second * 2 : a[i].second;
    if (!torch::equal(expect, b[i].second)) {
      std::fprintf(stderr, "load-check: %s differs\n", a[i].first.c_str());
      ++bad;
    }
  }
  std::printf("load-check: %zu entries read from the Python file, %d mismatches\n", a.size(), bad);
  return bad == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const bool check = argc == 3 && std::string(argv[1]) == "--load-check";
  if (argc != 2 && !check) {
    std::fprintf(stderr, "usage: %s OUT_DIR | --load-check OUT_DIR\n", argv[0]);
    return 2;
  }
  try {
    if (check) return load_check(argv[2]);
    const std::string dir = argv[1];
    std::filesystem::create_directories(dir);
    using tessera::TaskKind;
    const std::vector<Case> cases = {
        // The article's U-Net (3 -> 1, 16 filters, depth 4, BN) at 64x64.
        {"unet_3to1_bn", model_config("unet", 16, 4, true, 0.1f),
         task_config(TaskKind::segmentation, 3, 1), 2, 64, 64, false},
        // Super-resolution U-Net: 3 -> 3, residual, non-square.
        {"unet_3to3_residual", model_config("unet", 8, 3, true, 0.1f, true),
         task_config(TaskKind::super_resolution, 3, 3), 2, 32, 48, false},
        {"unet_nobn_depth2", model_config("unet", 8, 2, false, 0.1f),
         task_config(TaskKind::translation, 1, 2), 2, 16, 24, false},
        // Training mode (batch statistics, running-stat updates); dropout 0 so it is deterministic.
        {"unet_train_bn", model_config("unet", 8, 3, true, 0.0f),
         task_config(TaskKind::segmentation, 3, 1), 3, 32, 32, true},
        {"autoencoder_64", model_config("autoencoder", 16, 4, true, 0.1f),
         task_config(TaskKind::translation, 3, 3), 2, 64, 64, false},
        {"autoencoder_48x80", model_config("autoencoder", 16, 4, true, 0.1f),
         task_config(TaskKind::denoising, 3, 3), 1, 48, 80, false},
        // The article's size, once.
        {"autoencoder_256", model_config("autoencoder", 16, 4, true, 0.1f),
         task_config(TaskKind::translation, 3, 3), 1, 256, 256, false},
        {"generic_ae_bn", model_config("autoencoder_generic", 8, 3, true, 0.1f),
         task_config(TaskKind::denoising, 3, 3), 2, 32, 40, false},
        {"generic_ae_train", model_config("autoencoder_generic", 4, 2, true, 0.0f, true),
         task_config(TaskKind::denoising, 3, 3), 2, 16, 16, true},
    };
    nlohmann::json manifest = nlohmann::json::array();
    uint64_t seed = 100;
    for (const Case& c : cases) run_case(c, dir, manifest, seed++);
    std::ofstream(dir + "/cases.json") << manifest.dump(1) << "\n";
  } catch (const std::exception& e) {
    std::fprintf(stderr, "models_parity_export: %s\n", e.what());
    return 1;
  }
  return 0;
}
