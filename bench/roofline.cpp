// bench_roofline: how close a training step comes to what this CPU can do (issue 16, "the
// hardware limit"). In one process, on one thread (as each tessera rank runs):
//   1. the peak: a 3x3 convolution, forward + input gradient + weight gradient, at the channel
//      counts and sizes the models use (C -> C for C in 16..256; batch B), GFLOP/s each; the
//      best is "the measured convolution peak";
//   2. each model config at each size: the training FLOPs of one step (3 x the forward FLOPs of
//      its Conv2D and Conv2DTranspose layers, counted from the layer shapes models/describe.h
//      traces; pooling, activations, batch norm, the loss and Adam are not counted) and the
//      measured step (zero_grad, forward, MSE loss, backward, the config's optimizer step);
//      achieved GFLOP/s and the fraction of the peak;
//   3. the same step's convolutions alone: every Conv2D / Conv2DTranspose layer of the model
//      timed by itself at its own shape (forward + both gradients, batch B). Their sum is the
//      time the step would take if nothing but its convolutions ran, at the rates oneDNN reaches
//      for those shapes (small channel counts at full resolution run far below the peak); the
//      rest of the step (pooling, batch norm, activations, concatenation, dropout, the loss,
//      Adam, the autograd bookkeeping) is what a faster step would have to shrink.
//
//   build/bin/bench_roofline [--configs configs/roads.yaml,configs/monet_style.yaml]
//                            [--sizes 64,128,256] [--batch 8] [--steps 4] [--warmup 2]
//
// Medians over --steps after --warmup. The heap policy of tessera train (common/heap_tuning.h)
// is on, as in training. Output: Markdown tables.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/error.h"
#include "common/heap_tuning.h"
#include "models/conv_transpose.h"
#include "models/describe.h"
#include "models/model.h"
#include "trainer/optim.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::vector<std::string> configs{"configs/roads.yaml", "configs/monet_style.yaml"};
  std::vector<int> sizes{64, 128, 256};
  int batch = 8, steps = 4, warmup = 2;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    TESSERA_CHECK(i + 1 < argc, "bench_roofline: option {} needs a value", k);
    const std::string v = argv[++i];
    if (k == "--configs") a.configs = split(v);
    else if (k == "--sizes") {
      a.sizes.clear();
      for (const std::string& s : split(v)) a.sizes.push_back(std::stoi(s));
    } else if (k == "--batch") a.batch = std::stoi(v);
    else if (k == "--steps") a.steps = std::stoi(v);
    else if (k == "--warmup") a.warmup = std::stoi(v);
    else TESSERA_THROW("bench_roofline: unknown option '{}' (see the file's header)", k);
  }
  TESSERA_CHECK(a.batch >= 1 && a.steps >= 1 && a.warmup >= 0, "bench_roofline: bad counts");
  return a;
}

template <class F>
double median_seconds(int warmup, int steps, F&& f) {
  for (int i = 0; i < warmup; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < steps; ++i) {
    const auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Forward FLOPs of one image: 2 x multiply-adds of every Conv2D / Conv2DTranspose row.
double forward_flops(const tessera::ModelSummary& s) {
  double flops = 0;
  for (const auto& r : s.layers) {
    if (r.output_shape.size() != 3) continue;
    const double out_c = static_cast<double>(r.output_shape[0]);
    const double hw = static_cast<double>(r.output_shape[1] * r.output_shape[2]);
    const double weights = static_cast<double>(r.params) - out_c;  // minus the bias
    if (r.type == "Conv2D") flops += 2 * weights * hw;
    // Stride 2: every input pixel (a quarter of the output's) meets every weight once.
    if (r.type == "Conv2DTranspose") flops += 2 * weights * hw / 4;
  }
  return flops;
}

double conv_peak(const Args& a) {
  std::printf("| 3x3 conv C->C | size | GFLOP/s (fwd + both grads) |\n|---|---:|---:|\n");
  double best = 0;
  for (const auto& [c, size] : std::vector<std::pair<int, int>>{
           {16, 128}, {32, 64}, {64, 32}, {128, 16}, {256, 8}, {64, 64}, {128, 32}}) {
    auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(c, c, 3).padding(1));
    auto x = torch::rand({a.batch, c, size, size}).requires_grad_(true);
    const double t = median_seconds(a.warmup, a.steps + 2, [&] {
      x.mutable_grad() = torch::Tensor();
      conv->zero_grad();
      conv->forward(x).sum().backward();
    });
    const double flops = 3.0 * 2 * c * c * 9.0 * size * size * a.batch;
    best = std::max(best, flops / t / 1e9);
    std::printf("| %d->%d | %d | %.1f |\n", c, c, size, flops / t / 1e9);
  }
  std::printf("\nmeasured convolution peak: %.1f GFLOP/s\n\n", best);
  return best;
}

// Seconds of forward + both gradients of every convolution layer of the summary, each timed
// alone at its shape (stride 1 at the output's size: a stride-2 layer does the same arithmetic).
double conv_layers_seconds(const Args& a, const tessera::ModelSummary& s) {
  double total = 0;
  for (const auto& r : s.layers) {
    const bool transpose = r.type == "Conv2DTranspose";
    if ((r.type != "Conv2D" && !transpose) || r.output_shape.size() != 3) continue;
    const int64_t out_c = r.output_shape[0], h = r.output_shape[1], w = r.output_shape[2];
    // 3x3 everywhere but the 1x1 output heads: params = Cin * Cout * k * k + Cout.
    const int64_t weights = r.params - out_c;
    const int64_t k = weights % (out_c * 9) == 0 ? 3 : 1;
    const int64_t in_c = weights / (out_c * k * k);
    torch::Tensor x;
    std::function<torch::Tensor()> fwd;
    if (transpose) {
      // As the models compute it (models/conv_transpose.h: four stride-1 convolutions, one per
      // output phase; LibTorch's own conv_transpose2d is several times slower on CPU).
      auto weight = (torch::rand({in_c, out_c, 3, 3}) * 0.1).requires_grad_(true);
      auto bias = torch::zeros({out_c}).requires_grad_(true);
      x = torch::rand({a.batch, in_c, h / 2, w / 2}).requires_grad_(true);
      fwd = [weight, bias, &x]() {
        return tessera::keras_conv_transpose2d_polyphase(x, weight, bias, 3, 2);
      };
    } else {
      auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(in_c, out_c, k).padding(k / 2));
      x = torch::rand({a.batch, in_c, h, w}).requires_grad_(true);
      fwd = [conv, &x]() mutable { return conv->forward(x); };
    }
    total += median_seconds(a.warmup, a.steps, [&] {
      x.mutable_grad() = torch::Tensor();
      fwd().sum().backward();
    });
  }
  return total;
}

void model_rows(const Args& a, double peak) {
  std::printf("| config | model | size | train GFLOP/step | ms/step | GFLOP/s | of peak | "
              "its convolutions alone, ms | convolutions' share of the step |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const std::string& path : a.configs) {
    for (int size : a.sizes) {
      tessera::Config cfg = tessera::load_config(path);
      torch::manual_seed(1);
      auto model = tessera::make_model(cfg.model, cfg.task);
      const tessera::ModelSummary s = tessera::summarize_model(*model, size, size);
      model->train();
      auto opt = tessera::make_optimizer(cfg.optim, model->parameters());
      const auto x = torch::rand({a.batch, cfg.task.in_channels, size, size});
      const auto y = torch::rand({a.batch, s.output_shape[0], size, size});
      const double t = median_seconds(a.warmup, a.steps, [&] {
        opt->zero_grad();
        torch::mse_loss(model->forward(x), y).backward();
        opt->step();
      });
      const double flops = 3 * forward_flops(s) * a.batch;
      const double convs = conv_layers_seconds(a, s);
      std::printf("| %s | %s | %d | %.2f | %.0f | %.1f | %.0f%% | %.0f | %.0f%% |\n",
                  path.c_str(), cfg.model.arch.c_str(), size, flops / 1e9, t * 1e3,
                  flops / t / 1e9, 100 * flops / t / 1e9 / peak, convs * 1e3, 100 * convs / t);
      std::fflush(stdout);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse(argc, argv);
    torch::set_num_threads(1);
    std::printf("heap: %s; 1 thread; batch %d; medians of %d steps after %d warm-up\n\n",
                tessera::tune_heap_for_training().c_str(), a.batch, a.steps, a.warmup);
    const double peak = conv_peak(a);
    model_rows(a, peak);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_roofline: %s\n", e.what());
    return 1;
  }
}
