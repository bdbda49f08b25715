// Image-quality metrics for image-to-image tasks (translation, super-resolution, denoising,
// inpainting): PSNR and SSIM on RGB and on the luma (Y) channel, MAE, MSE. BasicSR's
// conventions, all in float64 (see trainer/metrics.h for the accumulator contract and
// docs/metrics.md for the formulas):
//   - output -> output_activation(output, activation); output and target are clamped to [0, 1],
//     scaled to [0, 255] and (quantize, the default) rounded to integers, as BasicSR's
//     tensor2img does before its metrics;
//   - border_crop pixels are removed from every side first (BasicSR's crop_border);
//   - PSNR per image = 10 log10(255^2 / MSE) over all channels (+inf for identical images);
//     SSIM per image = mean over channels of the mean 'valid' SSIM map (11x11 Gaussian, sigma
//     1.5, K1 0.01, K2 0.03, data range 255); both averaged over images;
//   - Y (3-channel RGB only; for 1 channel Y is the image itself): Y = 16 + (65.481 R + 128.553 G
//     + 24.966 B) / 255 on [0, 255] values (ITU-R BT.601, not re-rounded);
//   - MAE and MSE per image on the [0, 1] scale, averaged over images.
// all_reduce: one int64 allreduce (image count), one float64 allreduce (per-metric sums).
// per_image() columns: psnr, ssim, psnr_y, ssim_y, mae, mse (no Y ones for other than 1 or 3
// channels, where Y is undefined).
#pragma once

#include <array>
#include <string>

#include "trainer/metrics.h"

namespace tessera {

struct ImageOptions {
  int channels = 3;                    // task.out_channels: every update must match
  std::string activation = "sigmoid";  // model.activation
  int border_crop = 0;                 // eval.border_crop
  bool quantize = true;                // round to 8-bit levels like a saved image
};

class ImageMetrics : public Metrics {
 public:
  explicit ImageMetrics(const ImageOptions& options);

  std::map<std::string, double> compute() const override;
  // psnr, ssim, psnr_y, ssim_y, mae, mse (no *_y columns unless channels is 1 or 3).
  std::vector<std::string> score_names() const override;
  std::string kind() const override { return "image"; }
  const ImageOptions& options() const { return options_; }

 protected:
  std::vector<std::vector<double>> update_batch(const torch::Tensor& output,
                                                const torch::Tensor& target,
                                                const torch::Tensor& labels) override;
  void merge_sums(const Metrics& other) override;
  void check_compatible(const Metrics& other) const override;
  void reduce_sums(Communicator& comm) override;
  void sums_from_rows(const std::vector<ImageScore>& rows) override;

 private:
  ImageOptions options_;
  int64_t image_count_ = 0;
  std::array<double, 6> sums_{};  // in score_names() order (first 4 used without Y)
};

// float64 helpers on single images C,H,W with values in [0, 255] (already cropped).
double psnr_255(const torch::Tensor& a, const torch::Tensor& b);
double ssim_255(const torch::Tensor& a, const torch::Tensor& b);
// 1,H,W luma of a 3,H,W RGB image in [0, 255] (BT.601, BasicSR's rgb2ycbcr y_only).
torch::Tensor rgb_to_y_255(const torch::Tensor& rgb);

}  // namespace tessera
