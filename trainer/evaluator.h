// Evaluation of a model on a split, exact across ranks: every sample of the split is seen by
// exactly one rank (no padding with duplicates); metric accumulators are reduced with one
// allreduce per kind (integer counts, float64 sums) plus one allgather for per-image scores.
//
// Used by the trainer (periodic validation) and `tessera eval` (summary.json + table).
#pragma once

#include <torch/torch.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "comm/communicator.h"
#include "comm/watchdog.h"
#include "common/progress.h"
#include "common/config.h"
#include "datasets/loader.h"
#include "models/model.h"
#include "trainer/losses.h"

namespace tessera {

struct EvalResult {
  std::map<std::string, double> metrics;    // "dice", "iou", "psnr", ...
  // The same metrics for the model's input as the prediction, where that is the natural
  // baseline: super-resolution "bicubic" (the bicubic up-scaling), denoising "noisy_input",
  // inpainting "masked_input". Empty (and baseline_name "") for other tasks.
  std::map<std::string, double> baseline;
  std::string baseline_name;
  nlohmann::json per_image;                 // [{"index": i, "dice": ...}, ...] (rank 0 only)
  int64_t samples = 0;
  double seconds = 0.0;
};

// Runs `model` (switched to eval mode, restored afterwards) over the loader's whole split.
// With `loss`, metrics["loss"] is the loss over the split: the per-batch loss weighted by the
// batch's sample count, summed over ranks, divided by the sample count (exactly the mean per
// sample for losses that average per sample or pixel; for batch-level terms such as soft Dice
// it is the size-weighted mean of the batch values). With `watchdog`, the final reductions run in
// Phase::collective (a waiting phase), so a rank that finished its slice and waits for a stalled
// one does not blame itself. With `progress` (rank 0 of `tessera eval`), each batch reports the
// images scored so far on all ranks (rank 0's count times the world size, at most the split).
EvalResult evaluate(const Config& cfg, ImageModelImpl& model, Loader& loader, Communicator& comm,
                    const torch::Device& device, bool per_image, Loss* loss = nullptr,
                    Watchdog* watchdog = nullptr, Progress* progress = nullptr);

// The metric the config selects for "best" (checkpoint.metric "val/dice" -> "dice").
std::string selected_metric_name(const Config& cfg);

// Table for the terminal: metric | value (| baseline).
std::string format_eval_table(const EvalResult& r);

}  // namespace tessera
