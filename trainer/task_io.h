// Task-specific glue between batches, the model and the outputs users see.
//
// model_input(): what the network is fed for a batch: the inputs as they are, except for
//   super-resolution, where the low-resolution input is first up-scaled bicubically to the
//   target size (the network refines that up-scaling, as in the article).
// training_noise(): denoising with task.noise_std > 0: a fresh noisy copy of clean targets for
//   one training step (drawn from torch's global generator, which the trainer seeds per step).
// to_prediction(): the model's pre-activation output turned into the task's prediction
//   (probabilities / class scores / images in [0, 1]) with the configured output activation.
// All functions are pure; they never touch communicators or files.
#pragma once

#include <torch/torch.h>

#include "common/config.h"

namespace tessera {

torch::Tensor model_input(const Config& cfg, const torch::Tensor& inputs,
                          const torch::IntArrayRef target_hw);

// Bicubic up-scaling of N,C,h,w images in [0,1] to (H,W), clamped to [0,1].
torch::Tensor bicubic_upscale(const torch::Tensor& images, int64_t height, int64_t width);

// clean + N(0, std^2) per pixel, clipped to [0, 1] and rounded to the 256 levels of an 8-bit
// image: what a noisy photograph saved as PNG (and `tessera pack --noise`) holds.
torch::Tensor training_noise(const torch::Tensor& clean, double std);

torch::Tensor to_prediction(const Config& cfg, const torch::Tensor& raw);

// True for tasks whose targets are images (not label maps).
bool image_target_task(TaskKind kind);

}  // namespace tessera
