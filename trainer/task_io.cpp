#include "trainer/task_io.h"

#include "models/model.h"

namespace tessera {

torch::Tensor bicubic_upscale(const torch::Tensor& images, int64_t height, int64_t width) {
  namespace F = torch::nn::functional;
  auto up = F::interpolate(images, F::InterpolateFuncOptions()
                                       .size(std::vector<int64_t>{height, width})
                                       .mode(torch::kBicubic)
                                       .align_corners(false));
  return up.clamp(0.0, 1.0);
}

torch::Tensor model_input(const Config& cfg, const torch::Tensor& inputs,
                          const torch::IntArrayRef target_hw) {
  if (cfg.task.kind == TaskKind::super_resolution) {
    return bicubic_upscale(inputs, target_hw[0], target_hw[1]);
  }
  return inputs;
}

torch::Tensor training_noise(const torch::Tensor& clean, double std) {
  auto noisy = (clean + torch::randn_like(clean) * std).clamp(0.0, 1.0);
  return noisy.mul(255.0).round().div(255.0);
}

torch::Tensor to_prediction(const Config& cfg, const torch::Tensor& raw) {
  return apply_activation(cfg.model.activation, raw);
}

bool image_target_task(TaskKind kind) { return kind != TaskKind::segmentation; }

}  // namespace tessera
