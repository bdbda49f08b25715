// Segmentation losses on logits: BCE, soft Dice, BCE+Dice, focal (binary); cross-entropy,
// multi-class Dice, CE+Dice, focal (multi-class). Formulas: docs/metrics.md.
#include <limits>

#include "trainer/losses_internal.h"

namespace tessera::detail {

namespace {

// Per-pixel class weights w[label] (or ones), zeroed on ignored pixels. Shape N,H,W.
torch::Tensor pixel_weights(const torch::Tensor& logits, const MulticlassTarget& t,
                            const std::vector<float>& class_weights) {
  torch::Tensor w;
  if (class_weights.empty()) {
    w = torch::ones(t.labels.sizes(), logits.options());
  } else {
    const torch::Tensor table =
        torch::tensor(class_weights, torch::kFloat).to(logits.device(), logits.scalar_type());
    w = table.index_select(0, t.labels.reshape({-1})).reshape(t.labels.sizes());
  }
  if (t.valid.defined()) w = w * t.valid.to(w.scalar_type());
  return w;
}

// (1 - p)^gamma from log p, where p is the probability given to the true label. 1 - p comes from
// expm1 (exact for p near 1, where 1 - exp(log p) would round to 0) and is kept above the
// smallest normal float so gamma < 1 never meets 0^(gamma-1) in the backward pass.
torch::Tensor focal_modulation(const torch::Tensor& log_p, float gamma) {
  const torch::Tensor one_minus_p =
      (-torch::expm1(log_p)).clamp_min(std::numeric_limits<float>::min());
  return torch::pow(one_minus_p, gamma);
}

}  // namespace

// ---- binary ---------------------------------------------------------------------------------

torch::Tensor BceLoss::compute(const torch::Tensor& logits, const BinaryTarget& t,
                               const BatchReduce& reduce) {
  // max(x,0) - x*y + log(1 + exp(-|x|)): LibTorch's stable form.
  const torch::Tensor per_pixel = torch::binary_cross_entropy_with_logits(
      logits, t.y, /*weight=*/{}, /*pos_weight=*/{}, at::Reduction::None);
  if (!t.mask.defined()) return per_pixel.mean();
  return reduce.weighted_mean(per_pixel, t.mask);
}

torch::Tensor BceLoss::operator()(const torch::Tensor& raw_logits, const torch::Tensor& target) {
  const torch::Tensor logits = upcast(raw_logits);
  return compute(logits, prepare_binary_target(logits, target, ignore_index_), reduce_);
}

torch::Tensor DiceLoss::compute(const torch::Tensor& logits, const BinaryTarget& t, float smooth,
                                const BatchReduce& reduce) {
  torch::Tensor p = torch::sigmoid(logits);
  torch::Tensor y = t.y;
  if (t.mask.defined()) {
    p = p * t.mask;
    y = y * t.mask;
  }
  return 1.0 - reduce.dice(p, y, smooth);
}

torch::Tensor DiceLoss::operator()(const torch::Tensor& raw_logits, const torch::Tensor& target) {
  const torch::Tensor logits = upcast(raw_logits);
  return compute(logits, prepare_binary_target(logits, target, ignore_index_), smooth_, reduce_);
}

torch::Tensor BceDiceLoss::operator()(const torch::Tensor& raw_logits,
                                      const torch::Tensor& target) {
  const torch::Tensor logits = upcast(raw_logits);
  const BinaryTarget t = prepare_binary_target(logits, target, ignore_index_);
  return bce_weight_ * BceLoss::compute(logits, t, reduce_) +
         dice_weight_ * DiceLoss::compute(logits, t, smooth_, reduce_);
}

torch::Tensor BinaryFocalLoss::operator()(const torch::Tensor& raw_logits,
                                          const torch::Tensor& target) {
  const torch::Tensor logits = upcast(raw_logits);
  const BinaryTarget t = prepare_binary_target(logits, target, ignore_index_);
  const torch::Tensor ce = torch::binary_cross_entropy_with_logits(
      logits, t.y, /*weight=*/{}, /*pos_weight=*/{}, at::Reduction::None);
  const torch::Tensor alpha_t = alpha_ * t.y + (1.0f - alpha_) * (1.0f - t.y);
  const torch::Tensor per_pixel = alpha_t * focal_modulation(-ce, gamma_) * ce;
  if (!t.mask.defined()) return per_pixel.mean();
  return reduce_.weighted_mean(per_pixel, t.mask);
}

// ---- multi-class ----------------------------------------------------------------------------

torch::Tensor CrossEntropyLoss::compute(const torch::Tensor& logits,
                                        const MulticlassTarget& t) const {
  const torch::Tensor log_p = torch::log_softmax(logits, 1);
  const torch::Tensor nll = -log_p.gather(1, t.labels.unsqueeze(1)).squeeze(1);
  return reduce_.weighted_mean(nll, pixel_weights(logits, t, class_weights_));
}

torch::Tensor CrossEntropyLoss::operator()(const torch::Tensor& raw_logits,
                                           const torch::Tensor& target) {
  const torch::Tensor logits = upcast(raw_logits);
  return compute(logits, prepare_multiclass_target(logits, target, classes_, ignore_index_));
}

torch::Tensor MulticlassDiceLoss::compute(const torch::Tensor& logits,
                                          const MulticlassTarget& t) const {
  torch::Tensor p = torch::softmax(logits, 1);
  torch::Tensor y = torch::one_hot(t.labels, classes_).permute({0, 3, 1, 2}).to(p.scalar_type());
  if (t.valid.defined()) {
    const torch::Tensor m = t.valid.unsqueeze(1).to(p.scalar_type());
    p = p * m;
    y = y * m;
  }
  return 1.0 - reduce_.dice(p, y, smooth_);
}

torch::Tensor MulticlassDiceLoss::operator()(const torch::Tensor& raw_logits,
                                             const torch::Tensor& target) {
  const torch::Tensor logits = upcast(raw_logits);
  return compute(logits, prepare_multiclass_target(logits, target, classes_, ignore_index_));
}

torch::Tensor CeDiceLoss::operator()(const torch::Tensor& raw_logits, const torch::Tensor& target) {
  const torch::Tensor logits = upcast(raw_logits);
  const MulticlassTarget t = prepare_multiclass_target(logits, target, classes_, ignore_index_);
  return ce_weight_ * ce_.compute(logits, t) + dice_weight_ * dice_.compute(logits, t);
}

torch::Tensor MulticlassFocalLoss::operator()(const torch::Tensor& raw_logits,
                                              const torch::Tensor& target) {
  const torch::Tensor logits = upcast(raw_logits);
  const MulticlassTarget t = prepare_multiclass_target(logits, target, classes_, ignore_index_);
  const torch::Tensor log_p_true =
      torch::log_softmax(logits, 1).gather(1, t.labels.unsqueeze(1)).squeeze(1);
  const torch::Tensor per_pixel = -focal_modulation(log_p_true, gamma_) * log_p_true;
  return reduce_.weighted_mean(per_pixel, pixel_weights(logits, t, class_weights_));
}

}  // namespace tessera::detail
