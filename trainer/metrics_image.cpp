// ImageMetrics: BasicSR-convention PSNR/SSIM (RGB and Y), MAE, MSE in float64.
#include "trainer/metrics_image.h"

#include <algorithm>

#include <cmath>
#include <limits>

#include "comm/communicator.h"
#include "common/error.h"
#include "trainer/losses.h"
#include "trainer/losses_internal.h"

namespace tessera {

namespace {

bool has_y(int channels) {
  return channels == 1 || channels == 3;
}

// [0,1] image batch -> float64 [0,255], clamped and optionally rounded to integer levels.
torch::Tensor to_255(const torch::Tensor& x, bool quantize) {
  torch::Tensor v = x.to(torch::kDouble).clamp(0.0, 1.0) * 255.0;
  return quantize ? v.round() : v;
}

}  // namespace

double psnr_255(const torch::Tensor& a, const torch::Tensor& b) {
  const double mse = (a - b).pow(2).mean().item<double>();
  if (mse == 0.0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(255.0 * 255.0 / mse);
}

double ssim_255(const torch::Tensor& a, const torch::Tensor& b) {
  // The map has equal size per channel, so its overall mean is the mean of channel means.
  return ssim_map(a.unsqueeze(0), b.unsqueeze(0), 255.0).mean().item<double>();
}

torch::Tensor rgb_to_y_255(const torch::Tensor& rgb) {
  TESSERA_CHECK(rgb.dim() == 3 && rgb.size(0) == 3, "rgb_to_y_255: expected a 3,H,W image");
  return ((65.481 * rgb[0] + 128.553 * rgb[1] + 24.966 * rgb[2]) / 255.0 + 16.0).unsqueeze(0);
}

ImageMetrics::ImageMetrics(const ImageOptions& options) : options_(options) {
  TESSERA_CHECK(options.channels >= 1, "task.out_channels = {}: expected >= 1", options.channels);
  TESSERA_CHECK(options.border_crop >= 0, "eval.border_crop = {}: expected >= 0",
                options.border_crop);
  output_activation(torch::zeros({1, 1, 1, 1}), options.activation);  // validates the name
}

std::vector<std::string> ImageMetrics::score_names() const {
  if (has_y(options_.channels)) return {"psnr", "ssim", "psnr_y", "ssim_y", "mae", "mse"};
  return {"psnr", "ssim", "mae", "mse"};
}

std::vector<std::vector<double>> ImageMetrics::update_batch(const torch::Tensor& output,
                                                            const torch::Tensor& target,
                                                            const torch::Tensor& labels) {
  TESSERA_CHECK(!labels.defined(), "image metrics take no image labels");
  detail::check_logits(output, "image metrics");
  TESSERA_CHECK(target.defined() && target.sizes() == output.sizes() && target.is_floating_point(),
                "image metrics: target must be a float N,C,H,W image of the output's shape {} "
                "(got {})",
                detail::shape_str(output), target.defined() ? detail::shape_str(target) : "none");
  TESSERA_CHECK(output.size(1) == options_.channels,
                "image metrics: output has {} channels; expected task.out_channels = {}",
                output.size(1), options_.channels);
  const int64_t b = options_.border_crop, h = output.size(2), w = output.size(3);
  TESSERA_CHECK(h - 2 * b >= 11 && w - 2 * b >= 11,
                "image metrics: {}x{} images minus eval.border_crop = {} on each side leave "
                "{}x{}; SSIM needs at least 11x11",
                h, w, b, h - 2 * b, w - 2 * b);
  using torch::indexing::Slice;
  const bool with_y = has_y(options_.channels);
  std::vector<std::vector<double>> rows;
  // One image at a time, so an image's scores do not depend on how the split was batched or
  // divided among ranks (vectorised kernels may round a batch's tail differently).
  for (int64_t i = 0; i < output.size(0); ++i) {
    const auto crop = [&](const torch::Tensor& t) {
      return t.index({Slice(), Slice(b, h - b), Slice(b, w - b)}).contiguous();
    };
    const torch::Tensor o = output.index({Slice(i, i + 1)}).contiguous();
    const torch::Tensor a =
        crop(to_255(output_activation(o, options_.activation), options_.quantize)[0]);
    const torch::Tensor t =
        crop(to_255(target.index({i}).to(output.device()).contiguous(), options_.quantize));
    std::vector<double> row = {psnr_255(a, t), ssim_255(a, t)};
    if (with_y) {
      const torch::Tensor ay = options_.channels == 3 ? rgb_to_y_255(a) : a;
      const torch::Tensor ty = options_.channels == 3 ? rgb_to_y_255(t) : t;
      row.push_back(psnr_255(ay, ty));
      row.push_back(ssim_255(ay, ty));
    }
    const torch::Tensor d = (a - t) / 255.0;
    row.push_back(d.abs().mean().item<double>());
    row.push_back(d.pow(2).mean().item<double>());
    for (size_t j = 0; j < row.size(); ++j) sums_[j] += row[j];
    rows.push_back(std::move(row));
  }
  image_count_ += output.size(0);
  return rows;
}

void ImageMetrics::check_compatible(const Metrics& other) const {
  const auto& o = dynamic_cast<const ImageMetrics&>(other).options_;
  TESSERA_CHECK(o.channels == options_.channels && o.activation == options_.activation &&
                    o.border_crop == options_.border_crop && o.quantize == options_.quantize,
                "cannot merge image metrics with different options");
}

void ImageMetrics::merge_sums(const Metrics& other) {
  const auto& o = dynamic_cast<const ImageMetrics&>(other);
  image_count_ += o.image_count_;
  for (size_t j = 0; j < sums_.size(); ++j) sums_[j] += o.sums_[j];
}

void ImageMetrics::reduce_sums(Communicator& comm) {
  comm.allreduce(&image_count_, 1, ReduceOp::sum);
  comm.allreduce(sums_.data(), sums_.size(), ReduceOp::sum);
}

void ImageMetrics::sums_from_rows(const std::vector<ImageScore>& rows) {
  std::fill(sums_.begin(), sums_.end(), 0.0);
  for (const ImageScore& r : rows) {
    for (size_t j = 0; j < sums_.size() && j < r.values.size(); ++j) sums_[j] += r.values[j];
  }
}

std::map<std::string, double> ImageMetrics::compute() const {
  TESSERA_CHECK(image_count_ > 0, "image metrics: no images were evaluated (empty split?)");
  std::map<std::string, double> out;
  const std::vector<std::string> names = score_names();
  for (size_t j = 0; j < names.size(); ++j) {
    out[names[j]] = sums_[j] / static_cast<double>(image_count_);
  }
  out["images"] = static_cast<double>(image_count_);
  return out;
}

}  // namespace tessera
