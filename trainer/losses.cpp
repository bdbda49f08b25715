// make_loss(): config validation and construction; output_activation(); the loss name lists.
#include "trainer/losses.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "trainer/losses_internal.h"

namespace tessera {

namespace {

const std::vector<std::string> kBinaryLosses = {"bce", "dice", "bce_dice", "focal"};
const std::vector<std::string> kMulticlassLosses = {"ce", "multiclass_dice", "ce_dice", "focal"};
const std::vector<std::string> kImageLosses = {"mse", "l1", "ssim", "ssim_l1"};

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string joined(const std::vector<std::string>& v) {
  return fmt::format("{}", fmt::join(v, ", "));
}

void check_activation_name(const std::string& activation) {
  TESSERA_CHECK(activation == "sigmoid" || activation == "softmax" || activation == "relu" ||
                    activation == "none",
                "model.activation: unknown activation '{}'; expected one of sigmoid, softmax, "
                "relu, none",
                activation);
}

void check_options(const LossConfig& loss, const TaskConfig& task, bool segmentation) {
  const auto finite_nonneg = [](float v) { return std::isfinite(v) && v >= 0.0f; };
  TESSERA_CHECK(finite_nonneg(loss.bce_weight), "loss.bce_weight must be >= 0 (got {})",
                loss.bce_weight);
  TESSERA_CHECK(finite_nonneg(loss.dice_weight), "loss.dice_weight must be >= 0 (got {})",
                loss.dice_weight);
  if (loss.name == "bce_dice" || loss.name == "ce_dice") {
    TESSERA_CHECK(loss.bce_weight + loss.dice_weight > 0.0f,
                  "loss.bce_weight and loss.dice_weight are both 0: loss '{}' would be constant",
                  loss.name);
  }
  TESSERA_CHECK(std::isfinite(loss.smooth) && loss.smooth > 0.0f,
                "loss.smooth must be > 0 (Dice smoothing; got {})", loss.smooth);
  TESSERA_CHECK(finite_nonneg(loss.focal_gamma), "loss.focal_gamma must be >= 0 (got {})",
                loss.focal_gamma);
  TESSERA_CHECK(finite_nonneg(loss.focal_alpha) && loss.focal_alpha <= 1.0f,
                "loss.focal_alpha must be in [0, 1] (got {})", loss.focal_alpha);
  TESSERA_CHECK(finite_nonneg(loss.ssim_weight) && loss.ssim_weight <= 1.0f,
                "loss.ssim_weight must be in [0, 1] (got {})", loss.ssim_weight);
  if (!segmentation) return;
  const int label_values = task.classes == 1 ? 2 : task.classes;
  TESSERA_CHECK(loss.ignore_index == -1 || loss.ignore_index >= label_values,
                "loss.ignore_index = {} is a valid class label (task.classes = {}): expected -1 "
                "(none) or a label >= {} that marks pixels to ignore",
                loss.ignore_index, task.classes, label_values);
  if (!loss.class_weights.empty()) {
    const bool uses =
        task.classes > 1 && (loss.name == "ce" || loss.name == "ce_dice" || loss.name == "focal");
    TESSERA_CHECK(uses,
                  "loss.class_weights is set but loss '{}' with task.classes = {} does not use "
                  "it (only ce, ce_dice and focal with task.classes > 1 do)",
                  loss.name, task.classes);
    TESSERA_CHECK(static_cast<int>(loss.class_weights.size()) == task.classes,
                  "loss.class_weights has {} entries; expected one per class (task.classes = {})",
                  loss.class_weights.size(), task.classes);
    float total = 0.0f;
    for (size_t i = 0; i < loss.class_weights.size(); ++i) {
      TESSERA_CHECK(finite_nonneg(loss.class_weights[i]),
                    "loss.class_weights[{}] = {}: expected a finite weight >= 0", i,
                    loss.class_weights[i]);
      total += loss.class_weights[i];
    }
    TESSERA_CHECK(total > 0.0f, "loss.class_weights are all 0: expected at least one > 0");
  }
}

}  // namespace

const std::vector<std::string>& loss_names() {
  static const std::vector<std::string> names = {
      "bce",   "dice", "bce_dice", "ce",   "multiclass_dice", "ce_dice",
      "focal", "mse",  "l1",       "ssim", "ssim_l1"};
  return names;
}

std::vector<std::string> loss_names_for(const TaskConfig& task) {
  if (task.kind != TaskKind::segmentation) return kImageLosses;
  return task.classes == 1 ? kBinaryLosses : kMulticlassLosses;
}

torch::Tensor output_activation(const torch::Tensor& logits, const std::string& activation) {
  if (activation == "sigmoid") return torch::sigmoid(logits);
  if (activation == "softmax") {
    TESSERA_CHECK(logits.dim() >= 2,
                  "output_activation: softmax needs a channel dimension (got "
                  "a {}-D tensor)",
                  logits.dim());
    return torch::softmax(logits, 1);
  }
  if (activation == "relu") return torch::relu(logits);
  if (activation == "none") return logits;
  check_activation_name(activation);
  return logits;  // unreachable: check_activation_name threw
}

std::unique_ptr<Loss> make_loss(const LossConfig& loss, const TaskConfig& task,
                                const ModelConfig& model, std::shared_ptr<LossStats> stats) {
  TESSERA_CHECK(contains(loss_names(), loss.name),
                "loss.name: unknown loss '{}'; expected one of {}", loss.name,
                joined(loss_names()));
  check_activation_name(model.activation);
  const bool segmentation = task.kind == TaskKind::segmentation;
  if (segmentation) {
    TESSERA_CHECK(task.classes >= 1, "task.classes = {}: expected >= 1 (1 = binary)", task.classes);
    const bool binary = task.classes == 1;
    const auto& fits = binary ? kBinaryLosses : kMulticlassLosses;
    if (!contains(fits, loss.name)) {
      if (contains(kImageLosses, loss.name)) {
        TESSERA_THROW(
            "loss.name: '{}' is an image loss but task.kind = segmentation; expected "
            "one of {} (task.classes = {})",
            loss.name, joined(fits), task.classes);
      }
      TESSERA_THROW(
          "loss.name: '{}' needs task.classes {} but task.classes = {}; expected one of "
          "{}",
          loss.name, binary ? "> 1 (multi-class, softmax)" : "== 1 (binary, sigmoid)", task.classes,
          joined(fits));
    }
    const std::string want = binary ? "sigmoid" : "softmax";
    TESSERA_CHECK(model.activation == want,
                  "model.activation = '{}' does not match loss '{}' for task.classes = {}: "
                  "expected '{}' (the loss applies it to the model's logits, and prediction "
                  "uses the same activation)",
                  model.activation, loss.name, task.classes, want);
  } else {
    TESSERA_CHECK(contains(kImageLosses, loss.name),
                  "loss.name: '{}' is a segmentation loss but task.kind = {}; expected one of {}",
                  loss.name, to_string(task.kind), joined(kImageLosses));
  }
  check_options(loss, task, segmentation);

  using namespace detail;
  const int ig = loss.ignore_index;
  const std::string& n = loss.name;
  const BatchReduce r{parse_loss_reduction(loss.reduction), std::move(stats)};
  if (n == "bce") return std::make_unique<BceLoss>(ig, r);
  if (n == "dice") return std::make_unique<DiceLoss>(loss.smooth, ig, r);
  if (n == "bce_dice")
    return std::make_unique<BceDiceLoss>(loss.bce_weight, loss.dice_weight, loss.smooth, ig, r);
  if (n == "focal" && task.classes == 1)
    return std::make_unique<BinaryFocalLoss>(loss.focal_alpha, loss.focal_gamma, ig, r);
  if (n == "focal")
    return std::make_unique<MulticlassFocalLoss>(task.classes, loss.class_weights, loss.focal_gamma,
                                                 ig, r);
  if (n == "ce") return std::make_unique<CrossEntropyLoss>(task.classes, loss.class_weights, ig, r);
  if (n == "multiclass_dice")
    return std::make_unique<MulticlassDiceLoss>(task.classes, loss.smooth, ig, r);
  if (n == "ce_dice")
    return std::make_unique<CeDiceLoss>(task.classes, loss.class_weights, ig, loss.bce_weight,
                                        loss.dice_weight, loss.smooth, r);
  if (n == "mse") return std::make_unique<ImageLoss>(ImageLossKind::mse, model.activation, 0.0f);
  if (n == "l1") return std::make_unique<ImageLoss>(ImageLossKind::l1, model.activation, 0.0f);
  if (n == "ssim") return std::make_unique<ImageLoss>(ImageLossKind::ssim, model.activation, 1.0f);
  return std::make_unique<ImageLoss>(ImageLossKind::ssim_l1, model.activation, loss.ssim_weight);
}

}  // namespace tessera
