// Internal to trainer/losses*.cpp (and the metrics that share target checks): the concrete loss
// classes and the target checks. Not part of the public API; include trainer/losses.h instead.
//
// Target checks throw tessera::Error naming what was expected (shape, label range, the config
// keys task.classes and loss.ignore_index). Nothing here keeps state beyond configuration.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "trainer/losses.h"

namespace tessera::detail {

// A binary segmentation target prepared for the loss: y is float N,1,H,W in [0,1]; mask is float
// N,1,H,W with 1 on pixels that count and 0 on ignored ones, or undefined when every pixel counts.
struct BinaryTarget {
  torch::Tensor y;
  torch::Tensor mask;
};
// logits N,1,H,W; target integer (0/1 or ignore_index) or float in [0,1], N,H,W or N,1,H,W.
BinaryTarget prepare_binary_target(const torch::Tensor& logits, const torch::Tensor& target,
                                   int ignore_index);

// A multi-class target: labels int64 N,H,W in 0..K-1 (ignored pixels set to 0); valid is bool
// N,H,W (true where the pixel counts) or undefined when every pixel counts.
struct MulticlassTarget {
  torch::Tensor labels;
  torch::Tensor valid;
};
// logits N,K,H,W with K == classes; target integer N,H,W (or N,1,H,W).
MulticlassTarget prepare_multiclass_target(const torch::Tensor& logits, const torch::Tensor& target,
                                           int classes, int ignore_index);

// "[2,3,16,16]" for messages.
std::string shape_str(const torch::Tensor& t);

// Logits in the precision losses are computed in: float16/bfloat16 (mixed precision) -> float32,
// float32/float64 unchanged.
torch::Tensor upcast(const torch::Tensor& logits);

// Checks logits are a 4-D floating tensor; `what` names the caller in the message.
void check_logits(const torch::Tensor& logits, const char* what);

// Integer label map N,H,W (N,1,H,W squeezed) on the logits' device, spatial size checked against
// the logits; values checked to be in [0, num_values) or == ignore_index. `classes_for_message`
// is task.classes as configured (1 for binary).
torch::Tensor checked_labels(const torch::Tensor& logits, const torch::Tensor& target,
                             int64_t num_values, int ignore_index, int classes_for_message);

// How a loss takes its batch-level statistics (loss.reduction; see losses.h).
struct BatchReduce {
  LossReduction mode = LossReduction::global_batch;
  std::shared_ptr<LossStats> stats;  // nullptr: this process's batch is the whole batch

  // sum(values * weights) / sum(weights) over the batch (global_batch, per_rank) or per image and
  // then averaged (per_image); 0 (with a gradient path) where the weights sum to 0.
  torch::Tensor weighted_mean(const torch::Tensor& values, const torch::Tensor& weights) const;
  // Mean soft Dice (2 sum(p y) + s) / (sum(p) + sum(y) + s) of probabilities p and targets y
  // (N,K,H,W): per class over the batch, or per image and class (per_image); then averaged.
  torch::Tensor dice(const torch::Tensor& p, const torch::Tensor& y, float smooth) const;

 private:
  // Sums of a statistic (reduced over `dims`) from this batch, over all ranks in global_batch.
  std::vector<torch::Tensor> sums(const std::vector<torch::Tensor>& parts) const;
};

// ---- binary segmentation --------------------------------------------------------------------
class BceLoss : public Loss {
 public:
  BceLoss(int ignore_index, BatchReduce reduce)
      : ignore_index_(ignore_index), reduce_(std::move(reduce)) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) override;
  std::string name() const override { return "bce"; }
  static torch::Tensor compute(const torch::Tensor& logits, const BinaryTarget& t,
                               const BatchReduce& reduce);

 private:
  int ignore_index_;
  BatchReduce reduce_;
};

class DiceLoss : public Loss {
 public:
  DiceLoss(float smooth, int ignore_index, BatchReduce reduce)
      : smooth_(smooth), ignore_index_(ignore_index), reduce_(std::move(reduce)) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) override;
  std::string name() const override { return "dice"; }
  static torch::Tensor compute(const torch::Tensor& logits, const BinaryTarget& t, float smooth,
                               const BatchReduce& reduce);

 private:
  float smooth_;
  int ignore_index_;
  BatchReduce reduce_;
};

class BceDiceLoss : public Loss {
 public:
  BceDiceLoss(float bce_weight, float dice_weight, float smooth, int ignore_index,
              BatchReduce reduce)
      : bce_weight_(bce_weight),
        dice_weight_(dice_weight),
        smooth_(smooth),
        ignore_index_(ignore_index),
        reduce_(std::move(reduce)) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) override;
  std::string name() const override { return "bce_dice"; }

 private:
  float bce_weight_, dice_weight_, smooth_;
  int ignore_index_;
  BatchReduce reduce_;
};

class BinaryFocalLoss : public Loss {
 public:
  BinaryFocalLoss(float alpha, float gamma, int ignore_index, BatchReduce reduce)
      : alpha_(alpha), gamma_(gamma), ignore_index_(ignore_index), reduce_(std::move(reduce)) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) override;
  std::string name() const override { return "focal"; }

 private:
  float alpha_, gamma_;
  int ignore_index_;
  BatchReduce reduce_;
};

// ---- multi-class segmentation ---------------------------------------------------------------
class CrossEntropyLoss : public Loss {
 public:
  CrossEntropyLoss(int classes, std::vector<float> class_weights, int ignore_index,
                   BatchReduce reduce)
      : classes_(classes),
        class_weights_(std::move(class_weights)),
        ignore_index_(ignore_index),
        reduce_(std::move(reduce)) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) override;
  std::string name() const override { return "ce"; }
  torch::Tensor compute(const torch::Tensor& logits, const MulticlassTarget& t) const;

 private:
  int classes_;
  std::vector<float> class_weights_;
  int ignore_index_;
  BatchReduce reduce_;
};

class MulticlassDiceLoss : public Loss {
 public:
  MulticlassDiceLoss(int classes, float smooth, int ignore_index, BatchReduce reduce)
      : classes_(classes), smooth_(smooth), ignore_index_(ignore_index), reduce_(std::move(reduce)) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) override;
  std::string name() const override { return "multiclass_dice"; }
  torch::Tensor compute(const torch::Tensor& logits, const MulticlassTarget& t) const;

 private:
  int classes_;
  float smooth_;
  int ignore_index_;
  BatchReduce reduce_;
};

class CeDiceLoss : public Loss {
 public:
  CeDiceLoss(int classes, std::vector<float> class_weights, int ignore_index, float ce_weight,
             float dice_weight, float smooth, const BatchReduce& reduce)
      : ce_(classes, std::move(class_weights), ignore_index, reduce),
        dice_(classes, smooth, ignore_index, reduce),
        classes_(classes),
        ignore_index_(ignore_index),
        ce_weight_(ce_weight),
        dice_weight_(dice_weight) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) override;
  std::string name() const override { return "ce_dice"; }

 private:
  CrossEntropyLoss ce_;
  MulticlassDiceLoss dice_;
  int classes_, ignore_index_;
  float ce_weight_, dice_weight_;
};

class MulticlassFocalLoss : public Loss {
 public:
  MulticlassFocalLoss(int classes, std::vector<float> class_weights, float gamma, int ignore_index,
                      BatchReduce reduce)
      : classes_(classes),
        class_weights_(std::move(class_weights)),
        gamma_(gamma),
        ignore_index_(ignore_index),
        reduce_(std::move(reduce)) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) override;
  std::string name() const override { return "focal"; }

 private:
  int classes_;
  std::vector<float> class_weights_;
  float gamma_;
  int ignore_index_;
  BatchReduce reduce_;
};

// ---- image losses ---------------------------------------------------------------------------
enum class ImageLossKind { mse, l1, ssim, ssim_l1 };

class ImageLoss : public Loss {
 public:
  ImageLoss(ImageLossKind kind, std::string activation, float ssim_weight)
      : kind_(kind), activation_(std::move(activation)), ssim_weight_(ssim_weight) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) override;
  std::string name() const override;

 private:
  ImageLossKind kind_;
  std::string activation_;
  float ssim_weight_;
};

}  // namespace tessera::detail
