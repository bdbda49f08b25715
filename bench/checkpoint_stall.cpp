// bench_checkpoint_stall: how much a checkpoint slows training, with synchronous writes and with
// checkpoint.async (checkpoints/async_saver.h), for one model size.
//
//   build/bin/bench_checkpoint_stall [--filters 16] [--depth 4] [--batch 4] [--size 64]
//                                    [--reps 3] [--every 100] [--dir DIR]
//
// The model is the article's U-Net (filters 16: 2.16 M parameters; filters 64: 34.6 M) trained
// with Adam on random 3->1 images, 1 intra-op thread, as one rank of `tessera train` does. Per
// repetition (the first is a warm-up), measured on the training thread:
//   step          median of 3 training steps (forward, backward, Adam) with no write running
//   sync stall    capture_state() + CheckpointStore::save(): the step waits for the whole write
//   async stall   capture_state() + AsyncSaver::save(): the step waits for the serialisation only
//   steps during the background write: 3 training steps right after the async hand-over, then
//                 the wait for the write; their extra time over `step` is what the writer thread
//                 took from training (on 2 cores: the other core is the writer's)
// The slow-down at one checkpoint every --every steps is (stall + extra) / (every x step).
// The heap is tuned as in the tessera executable (common/heap_tuning.h; TESSERA_MALLOC=system
// for glibc's defaults). Output: a Markdown table of medians.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "checkpoints/async_saver.h"
#include "checkpoints/checkpoint_store.h"
#include "common/config.h"
#include "common/heap_tuning.h"
#include "common/error.h"
#include "models/model.h"
#include "trainer/optim.h"
#include "trainer/train_state.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string dir;
  int filters = 16, depth = 4, batch = 4, size = 64, reps = 3, every = 100;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    TESSERA_CHECK(i + 1 < argc, "bench_checkpoint_stall: option {} needs a value", k);
    const std::string v = argv[++i];
    if (k == "--dir") a.dir = v;
    else if (k == "--filters") a.filters = std::stoi(v);
    else if (k == "--depth") a.depth = std::stoi(v);
    else if (k == "--batch") a.batch = std::stoi(v);
    else if (k == "--size") a.size = std::stoi(v);
    else if (k == "--reps") a.reps = std::stoi(v);
    else if (k == "--every") a.every = std::stoi(v);
    else TESSERA_THROW("bench_checkpoint_stall: unknown option '{}' (see the file's header)", k);
  }
  TESSERA_CHECK(a.reps >= 1 && a.every >= 1, "bench_checkpoint_stall: --reps, --every >= 1");
  return a;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double secs(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int run(int argc, char** argv) {
  const Args args = parse(argc, argv);
  torch::set_num_threads(1);
  const std::string root =
      args.dir.empty() ? (fs::temp_directory_path() / "tessera-bench-stall").string() : args.dir;
  fs::remove_all(root);
  tessera::Config cfg;
  cfg.model.filters = args.filters;
  cfg.model.depth = args.depth;
  torch::manual_seed(1);
  auto model = tessera::make_model(cfg.model, cfg.task);
  auto optimizer = tessera::make_optimizer(cfg.optim, model->parameters());
  int64_t params = 0;
  for (const auto& p : model->parameters()) params += p.numel();
  const auto x = torch::rand({args.batch, cfg.task.in_channels, args.size, args.size});
  const auto y = torch::rand({args.batch, cfg.task.out_channels, args.size, args.size});
  auto train_steps = [&](int n) {
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      optimizer->zero_grad();
      torch::mse_loss(model->forward(x), y).backward();
      optimizer->step();
    }
    return secs(t0) / n;
  };
  tessera::checkpoints::CheckpointStore store(root + "/run", /*keep_last=*/2);
  tessera::checkpoints::AsyncSaver saver(store);
  tessera::TrainProgress progress;
  std::vector<double> t_step, t_sync, t_async, t_bg_step, t_wait;
  uint64_t bytes = 0;
  for (int rep = 0; rep <= args.reps; ++rep) {  // rep 0 is a warm-up
    const bool keep = rep > 0;
    const double step = train_steps(3);
    progress.step = 2 * rep + 1;
    auto t0 = Clock::now();
    auto data = tessera::capture_state(cfg, *model, *optimizer, progress, 1);
    store.save(data);
    const double sync = secs(t0);
    bytes = 0;
    for (const auto& [name, b] : data.files) bytes += b.size();
    progress.step = 2 * rep + 2;
    t0 = Clock::now();
    saver.save(tessera::capture_state(cfg, *model, *optimizer, progress, 1), std::nullopt);
    const double async = secs(t0);
    const double bg_step = train_steps(3);
    t0 = Clock::now();
    saver.wait();
    const double wait = secs(t0);
    if (!keep) continue;
    t_step.push_back(step);
    t_sync.push_back(sync);
    t_async.push_back(async);
    t_bg_step.push_back(bg_step);
    t_wait.push_back(wait);
  }
  const double step = median(t_step);
  // What the writer thread took from training: the slower steps while it ran (a write longer than
  // 3 steps would take more; the wait row shows whether it was still running).
  const double extra = std::max(0.0, 3 * (median(t_bg_step) - step));
  auto pct = [&](double stall) { return 100.0 * stall / (args.every * step); };
  std::printf("model: U-Net filters %d depth %d, %.2f M parameters, checkpoint %.1f MB; Adam, "
              "batch %d of %dx%d, 1 thread; median of %d reps\n\n",
              args.filters, args.depth, params / 1e6, bytes / 1e6, args.batch, args.size,
              args.size, args.reps);
  std::printf("| quantity | ms | slow-down at checkpoint_every %d |\n|---|---:|---:|\n",
              args.every);
  std::printf("| training step | %.1f | - |\n", step * 1e3);
  std::printf("| sync: stall per checkpoint (serialise + hash + write + fsync + publish) | %.1f "
              "| %.3f%% |\n", median(t_sync) * 1e3, pct(median(t_sync)));
  std::printf("| async: stall per checkpoint (serialise + hand-over) | %.1f | %.3f%% |\n",
              median(t_async) * 1e3, pct(median(t_async)));
  std::printf("| async: training step while the write runs | %.1f | - |\n",
              median(t_bg_step) * 1e3);
  std::printf("| async: write still running after those 3 steps (waited for) | %.1f | - |\n",
              median(t_wait) * 1e3);
  std::printf("| async: stall + time the writer took from the next steps | %.1f | %.3f%% |\n",
              (median(t_async) + extra) * 1e3, pct(median(t_async) + extra));
  fs::remove_all(root);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  tessera::tune_heap_for_training();  // as the tessera executable does (TESSERA_MALLOC=system: not)
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_checkpoint_stall: %s\n", e.what());
    return 1;
  }
}
