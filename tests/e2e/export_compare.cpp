// Compares a TorchScript file written by `tessera export --format torchscript` with tessera's own
// C++ model (tests/e2e/export_formats.sh).
//
// Usage: tessera_export_compare CONFIG CHECKPOINT MODULE.pt SAVE.pt [--set key=value]...
// Builds the model of CONFIG (+ overrides) the way `tessera export` does (experiment.seed, then
// CHECKPOINT: best | latest | a checkpoint directory | init), runs it in eval mode after
// model.activation on random inputs (a 2 x C x S x S batch, S = data.image_size clamped to
// [16, 64] and rounded up to the size multiple m, and a 1 x C x (S + 2m) x (S + m) one), loads
// MODULE with torch::jit::load (its tessera.json extra file must be there) and compares:
// max |diff| <= 1e-5 * max(1, max |ref|). Also checks that the module refuses an input whose H is
// not a multiple of m. Writes the first input and tessera's output on it to SAVE.pt
// ({input, output}) for the Python side.
// Exit status: 0 match, 1 mismatch (printed), 2 error (bad arguments, load failure, a missing
// input check).
#include <torch/script.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "common/config.h"
#include "models/export.h"
#include "models/model.h"
#include "trainer/session.h"
#include "trainer/tiling.h"

namespace {

using tessera::Config;

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.sizes() != b.sizes()) return 1e30;
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

// Returns true when `module` matches `model` on x (prints the numbers either way).
bool compare(tessera::ImageModelImpl& model, const std::string& activation,
             torch::jit::script::Module& module, const torch::Tensor& x, torch::Tensor* ref_out) {
  torch::NoGradGuard no_grad;
  const torch::Tensor ref = tessera::apply_activation(activation, model.forward(x));
  const torch::Tensor got = module.forward({x}).toTensor();
  const double diff = max_diff(got, ref);
  const double bound = 1e-5 * std::max(1.0, ref.abs().max().item<double>());
  std::printf("input %s: max |diff| %.3g (bound %.3g), max |ref| %.3g\n",
              c10::str(x.sizes()).c_str(), diff, bound, ref.abs().max().item<double>());
  if (ref_out != nullptr) *ref_out = ref;
  return diff <= bound;
}

// The module must reject H = S + 1 (not a multiple of m > 1) with its own message.
bool refuses_bad_size(torch::jit::script::Module& module, int64_t channels, int64_t s) {
  try {
    module.forward({torch::rand({1, channels, s + 1, s})});
  } catch (const std::exception& e) {
    const bool own = std::string(e.what()).find("tessera model: H and W must be multiples") !=
                     std::string::npos;
    std::printf("bad size refused%s\n", own ? " by the input check" : " (not by the check!)");
    return own;
  }
  std::printf("a %ldx%ld input was accepted\n", static_cast<long>(s + 1), static_cast<long>(s));
  return false;
}

int run(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s CONFIG CHECKPOINT MODULE.pt SAVE.pt [--set k=v]...\n",
                 argv[0]);
    return 2;
  }
  std::vector<std::string> overrides;
  for (int i = 5; i + 1 < argc; i += 2) overrides.emplace_back(argv[i + 1]);
  const Config cfg = tessera::load_config(argv[1], overrides);
  torch::manual_seed(cfg.experiment.seed);
  auto model = tessera::make_model(cfg);  // with data.normalize, as `tessera export`
  if (std::string(argv[2]) != "init") tessera::load_weights(cfg, argv[2], *model);
  model->eval();

  torch::jit::ExtraFilesMap extra{{"tessera.json", ""}};
  torch::jit::script::Module module = torch::jit::load(argv[3], torch::kCPU, extra);
  module.eval();
  if (extra["tessera.json"].find("\"arch\"") == std::string::npos) {
    std::fprintf(stderr, "%s has no tessera.json extra file\n", argv[3]);
    return 2;
  }
  const int64_t m = tessera::size_multiple(cfg.model);
  const int64_t want = std::max<int64_t>(std::min<int64_t>(cfg.data.image_size, 64), 16);
  const int64_t s = (want + m - 1) / m * m;
  const int64_t c = cfg.task.in_channels;
  torch::manual_seed(7);
  const torch::Tensor x1 = torch::rand({2, c, s, s});
  const torch::Tensor x2 = torch::rand({1, c, s + 2 * m, s + m});
  torch::Tensor ref1;
  const bool ok1 = compare(*model, cfg.model.activation, module, x1, &ref1);
  const bool ok2 = compare(*model, cfg.model.activation, module, x2, nullptr);
  tessera::save_tensor_dict({{"input", x1}, {"output", ref1}}, argv[4]);
  if (m > 1 && !refuses_bad_size(module, c, s)) return 2;
  std::printf("%s\n", ok1 && ok2 ? "MATCH" : "MISMATCH");
  return ok1 && ok2 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera_export_compare: %s\n", e.what());
    return 2;
  }
}
