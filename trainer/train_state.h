// What a checkpoint holds for the trainer, and the rules for resuming.
//
// capture_state() serialises (rank 0): model parameters and buffers (model.pt), optimizer state
// (optim.pt), the resolved config (config.yaml), and state.json: step, epoch, sampler cursor,
// best-metric / early-stopping state, the RNG rule and world size. restore_state() is the inverse
// on every rank (each rank reads the same published checkpoint directory).
//
// check_resume_config(): the stored config vs the new one. Refused (with a diff of the keys):
// model.*, task.*, loss.*, experiment.seed, the data set and crop (data.train, data.image_size,
// data.shuffle, data.augment.*) and the global batch (batch_size x ranks x grad_accum). Allowed
// and reported: everything else (max steps, logging, eval/checkpoint intervals, lr, ...).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <limits>
#include <string>

#include "checkpoints/checkpoint_store.h"
#include "common/config.h"
#include "datasets/sampler.h"

namespace tessera {

struct TrainProgress {
  int64_t step = 0;   // optimizer steps done
  int64_t epoch = 0;  // current epoch
  SamplerCursor cursor;
  double best_metric = std::numeric_limits<double>::quiet_NaN();  // smoothed
  int64_t best_step = -1;
  double smoothed = std::numeric_limits<double>::quiet_NaN();
  int bad_evals = 0;  // evaluations since the last improvement (early stopping)
  // Sum and count of the per-step training losses (means over ranks) since the last validation:
  // the value of checkpoint.metric train/loss at the next one.
  double train_loss_sum = 0.0;
  int64_t train_loss_count = 0;
};

checkpoints::CheckpointData capture_state(const Config& cfg, torch::nn::Module& model,
                             torch::optim::Optimizer& optimizer, const TrainProgress& progress,
                             int world_size);

// Loads model + optimizer + progress; returns the stored config text.
std::string restore_state(const checkpoints::CheckpointData& data, torch::nn::Module& model,
                          torch::optim::Optimizer& optimizer, TrainProgress& progress);

// Throws tessera::Error listing refused differences; returns lines describing allowed ones.
std::vector<std::string> check_resume_config(const Config& stored, int stored_world,
                                             const Config& now, int world);

}  // namespace tessera
