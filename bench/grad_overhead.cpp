// bench_grad_overhead: what gradient averaging costs per training step, for the article's U-Net
// (filters 16, depth 4, batch norm, dropout 0.1: 2,161,649 parameters = 8.6 MB of float32
// gradients), at N ranks:
//   none                 each rank trains alone (no communication): the baseline step time
//   overlap, B MiB       GradReducer (default), bucket allreduces start during backward;
//                        once with --bucket-mb (default 25, the config default) and once with
//                        --small-bucket-mb (default 2: more buckets, so more of them overlap)
//   after backward       GradReducer with overlap=false: all buckets reduced after backward
// Step = zero_grad, forward, BCE-with-logits loss, backward, finish(), Adam step.
//
//   mpirun -np 2 build/bin/bench_grad_overhead [--size 64] [--batch 4] [--steps 10]
//          [--warmup 2] [--threads 1] [--bucket-mb 25] [--small-bucket-mb 2]
//
// Modes are interleaved step by step (step s of every mode, then step s+1) so drift of a shared
// machine hits all alike. A mode's step time is the median over its counted steps of the
// slowest rank's step (ranks start each step together after a barrier). Output: a Markdown
// table on rank 0.
//
// The model is models/unet.h's UNet when this tree has it; otherwise (comm branch before the
// models merge) a local replica with the same layers, shapes and parameter count.
#include <mpi.h>

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "comm/grad_reducer.h"
#include "comm/mpi_communicator.h"
#include "comm/mpi_environment.h"
#include "common/check_mpi.h"
#include "common/error.h"

#if __has_include("models/unet.h")
#include "models/unet.h"
#define TESSERA_BENCH_ARTICLE_UNET 1
#else
#define TESSERA_BENCH_ARTICLE_UNET 0
#endif

namespace {

#if !TESSERA_BENCH_ARTICLE_UNET
// TODO(after the models merge): unused once models/unet.h is in the tree (then the article U-Net
// above is measured). Same layers and parameter count as the article's GiveMeUnet (filters 16,
// depth 4, BN, dropout 0.1); plain symmetric ConvTranspose2d padding instead of Keras' 'same'.
struct BlockImpl : torch::nn::Module {
  BlockImpl(int64_t in, int64_t out) {
    namespace nn = torch::nn;
    c1 = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1)));
    b1 = register_module("bn1", nn::BatchNorm2d(nn::BatchNorm2dOptions(out).momentum(0.01).eps(1e-3)));
    c2 = register_module("conv2", nn::Conv2d(nn::Conv2dOptions(out, out, 3).padding(1)));
    b2 = register_module("bn2", nn::BatchNorm2d(nn::BatchNorm2dOptions(out).momentum(0.01).eps(1e-3)));
  }
  torch::Tensor forward(torch::Tensor x) {
    return torch::relu(b2(c2(torch::relu(b1(c1(x))))));
  }
  torch::nn::Conv2d c1{nullptr}, c2{nullptr};
  torch::nn::BatchNorm2d b1{nullptr}, b2{nullptr};
};
TORCH_MODULE(Block);

struct UNetReplicaImpl : torch::nn::Module {
  UNetReplicaImpl() {
    namespace nn = torch::nn;
    int64_t in = 3;
    for (int i = 0; i < 4; ++i) {
      enc.push_back(register_module("encoder" + std::to_string(i), Block(in, 16 << i)));
      in = 16 << i;
    }
    mid = register_module("bottleneck", Block(128, 256));
    for (int j = 0; j < 4; ++j) {
      const int64_t w = 16 << (3 - j);
      up.push_back(register_module(
          "up" + std::to_string(j),
          nn::ConvTranspose2d(nn::ConvTranspose2dOptions(2 * w, w, 3).stride(2).padding(1).output_padding(1))));
      dec.push_back(register_module("decoder" + std::to_string(j), Block(2 * w, w)));
    }
    head = register_module("head", nn::Conv2d(nn::Conv2dOptions(16, 1, 1)));
  }
  torch::Tensor forward(torch::Tensor x) {
    namespace F = torch::nn::functional;
    const auto drop = F::DropoutFuncOptions().p(0.1).training(is_training());
    std::vector<torch::Tensor> skips;
    for (auto& b : enc) {
      x = b(x);
      skips.push_back(x);
      x = F::dropout(F::max_pool2d(x, F::MaxPool2dFuncOptions(2)), drop);
    }
    x = mid(x);
    for (size_t j = 0; j < up.size(); ++j) {
      x = F::dropout(torch::cat({up[j](x), skips[skips.size() - 1 - j]}, 1), drop);
      x = dec[j](x);
    }
    return head(x);
  }
  std::vector<Block> enc, dec;
  std::vector<torch::nn::ConvTranspose2d> up;
  Block mid{nullptr};
  torch::nn::Conv2d head{nullptr};
};
#endif

using Clock = std::chrono::steady_clock;

struct Args {
  int size = 64;
  int batch = 4;
  int steps = 10;
  int warmup = 2;
  int threads = 1;
  double bucket_mb = 25;
  double small_bucket_mb = 2;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    TESSERA_CHECK(i + 1 < argc, "bench_grad_overhead: option {} needs a value", k);
    const double v = std::atof(argv[++i]);
    if (k == "--size") a.size = static_cast<int>(v);
    else if (k == "--batch") a.batch = static_cast<int>(v);
    else if (k == "--steps") a.steps = static_cast<int>(v);
    else if (k == "--warmup") a.warmup = static_cast<int>(v);
    else if (k == "--small-bucket-mb") a.small_bucket_mb = v;
    else if (k == "--threads") a.threads = static_cast<int>(v);
    else if (k == "--bucket-mb") a.bucket_mb = v;
    else TESSERA_THROW("bench_grad_overhead: unknown option '{}' (see bench/grad_overhead.cpp)", k);
  }
  TESSERA_CHECK(a.size % 16 == 0 && a.batch > 0 && a.steps > 0 && a.warmup >= 0,
                "bench_grad_overhead: --size must be a multiple of 16, --steps > 0");
  return a;
}

std::shared_ptr<torch::nn::Module> make_unet(std::function<torch::Tensor(torch::Tensor)>& fwd) {
  torch::manual_seed(0);
#if TESSERA_BENCH_ARTICLE_UNET
  auto net = std::make_shared<tessera::UNetImpl>(tessera::UNetOptions{});
#else
  auto net = std::make_shared<UNetReplicaImpl>();
#endif
  fwd = [net](torch::Tensor x) { return net->forward(std::move(x)); };
  return net;
}

struct Mode {
  std::string name;
  std::shared_ptr<torch::nn::Module> model;
  std::function<torch::Tensor(torch::Tensor)> forward;
  std::unique_ptr<torch::optim::Adam> adam;
  std::unique_ptr<tessera::GradReducer> reducer;
  std::vector<double> step_s;
  std::vector<double> wait_s;
  std::vector<double> in_backward;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One training step of `mode`; returns the slowest rank's step time.
double step(Mode& mode, const torch::Tensor& x, const torch::Tensor& y, MPI_Comm raw) {
  TESSERA_CHECK_MPI(MPI_Barrier(raw));
  const auto t0 = Clock::now();
  if (mode.reducer) {
    mode.reducer->zero_grad();
  } else {
    mode.adam->zero_grad();
  }
  const auto loss = torch::binary_cross_entropy_with_logits(mode.forward(x), y);
  loss.backward();
  if (mode.reducer) mode.reducer->finish();
  mode.adam->step();
  double t = std::chrono::duration<double>(Clock::now() - t0).count();
  TESSERA_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, raw));
  return t;
}

int run(tessera::MpiEnvironment& env, int argc, char** argv) {
  const Args args = parse(argc, argv);
  torch::set_num_threads(args.threads);
  tessera::MpiCommunicator comm(env);
  const MPI_Comm raw = comm.mpi_comm();

  struct Spec {
    std::string name;
    bool reduce;
    bool overlap;
    double bucket_mb;
  };
  const std::vector<Spec> specs = {
      {"none", false, false, 0},
      {fmt::format("overlap, {:g} MiB buckets", args.bucket_mb), true, true, args.bucket_mb},
      {fmt::format("overlap, {:g} MiB buckets", args.small_bucket_mb), true, true,
       args.small_bucket_mb},
      {fmt::format("after backward, {:g} MiB buckets", args.bucket_mb), true, false,
       args.bucket_mb}};
  std::vector<Mode> modes(specs.size());
  size_t params = 0;
  for (size_t m = 0; m < modes.size(); ++m) {
    Mode& mode = modes[m];
    mode.name = specs[m].name;
    mode.model = make_unet(mode.forward);
    mode.model->train();
    mode.adam = std::make_unique<torch::optim::Adam>(mode.model->parameters(),
                                                     torch::optim::AdamOptions(1e-3));
    if (specs[m].reduce) {
      tessera::ReducerOptions o;
      o.bucket_mb = specs[m].bucket_mb;
      o.overlap = specs[m].overlap;
      mode.reducer = std::make_unique<tessera::GradReducer>(*mode.model, comm, o);
    }
    params = 0;
    for (const auto& p : mode.model->parameters()) params += static_cast<size_t>(p.numel());
  }
  torch::manual_seed(1 + comm.rank());
  const auto x = torch::rand({args.batch, 3, args.size, args.size});
  const auto y = (torch::rand({args.batch, 1, args.size, args.size}) > 0.5).to(torch::kFloat32);

  // Step-level interleaving: step s of every mode, then step s+1, ...
  for (int s = 0; s < args.warmup + args.steps; ++s) {
    for (Mode& mode : modes) {
      const double t = step(mode, x, y, raw);
      if (s < args.warmup) continue;
      mode.step_s.push_back(t);
      if (mode.reducer) {
        mode.wait_s.push_back(mode.reducer->stats().last_wait_s);
        mode.in_backward.push_back(static_cast<double>(mode.reducer->stats().buckets_in_backward));
      }
    }
  }
  if (comm.rank() == 0) {
    const double base = median(modes[0].step_s);
    std::printf("model: %s, %zu parameters (%.1f MB float32 gradients)\n",
                TESSERA_BENCH_ARTICLE_UNET
                    ? "article U-Net (models/unet.h)"
                    : "U-Net replica (bench/grad_overhead.cpp; models/unet.h not in this tree)",
                params, params * 4 / 1e6);
    std::printf("ranks %d, batch %d per rank, %dx%d, threads per rank %d, %d warm-up + %d "
                "counted steps per mode (interleaved)\n\n",
                comm.size(), args.batch, args.size, args.size, args.threads, args.warmup,
                args.steps);
    std::printf("| mode | step ms (median) | overhead vs none | finish() wait ms (median) | "
                "buckets | started during backward |\n|---|---:|---:|---:|---:|---:|\n");
    for (const Mode& mode : modes) {
      const double t = median(mode.step_s);
      const bool r = mode.reducer != nullptr;
      std::printf("| %s | %.1f | %+.1f%% | %s | %s | %s |\n", mode.name.c_str(), t * 1e3,
                  (t / base - 1) * 100, r ? fmt::format("{:.2f}", median(mode.wait_s) * 1e3).c_str() : "-",
                  r ? std::to_string(mode.reducer->num_buckets()).c_str() : "-",
                  r ? fmt::format("{:.0f}", median(mode.in_backward)).c_str() : "-");
    }
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  tessera::MpiEnvironment env(&argc, &argv);
  try {
    return run(env, argc, argv);
  } catch (const std::exception& e) {
    env.abort(1, std::string("bench_grad_overhead: ") + e.what());  // ends every rank
  }
}
