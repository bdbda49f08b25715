// Training losses for every task: built from the `loss`, `task` and `model` config sections.
//
// The one rule about activations: a model's forward() returns PRE-activation values ("logits").
// The loss receives those logits and the target and applies the activation itself:
//   - Segmentation losses fuse the activation into the loss in numerically stable form
//     (log-sigmoid for classes == 1, log-softmax over channels for classes > 1). They therefore
//     require model.activation to be the matching one (sigmoid for classes == 1, softmax for
//     classes > 1): that is the activation predict/eval apply to produce masks, so training and
//     inference agree. A mismatch is a config error naming model.activation.
//   - Image losses (mse, l1, ssim, ssim_l1; every task except segmentation) first apply
//     output_activation(logits, model.activation) (sigmoid | softmax over channels | relu | none)
//     and compare the result with the target image.
// output_activation() is the same function evaluation and prediction use, so "what the loss
// compares" and "what the user gets" are one and the same tensor.
//
// Shapes and dtypes:
//   - logits: float N,K,H,W. Segmentation: K == task.classes (one channel when classes == 1).
//   - segmentation targets: integer labels N,H,W (N,1,H,W accepted); binary: 0/1; multi-class:
//     0..classes-1; loss.ignore_index (>= 0) marks pixels excluded from the loss (-1 = none).
//     Binary losses also accept float targets N,H,W / N,1,H,W in [0,1] (soft labels).
//   - image targets: float N,C,H,W in [0,1], same shape as the logits.
// Every loss returns a 0-dim float tensor (mean reduction; formulas in docs/metrics.md).
// Bad shapes, labels out of range, unknown names and loss/task mismatches throw tessera::Error
// naming the config key (loss.name, loss.class_weights, ...) and what was expected.
//
// Batch-level statistics and data parallelism (loss.reduction): soft Dice and the weighted means
// (ignored pixels, class weights) are ratios of sums over a batch, so the value a rank computes
// over its own batch is not the value of the global batch. The reduction is explicit:
//   global_batch (default) the sums are taken over the global batch: every rank's statistics are
//                summed inside autograd (LossStats, one small allreduce per loss call), so N
//                ranks x batch B train exactly like one process with batch N*B (up to summation
//                order). Gradient accumulation cannot match this for Dice: the micro-batches are
//                sequential, so each micro-batch's Dice is over that micro-batch (all ranks).
//   per_image    Dice and weighted means per image, then the mean over images: a plain mean over
//                samples, so N ranks, one big batch and gradient accumulation all agree.
//   per_rank     each rank's own batch (tessera before 2026-12): the result depends on the rank
//                count.
// Losses that are plain means over equally sized batches (mse, l1, ssim, bce without ignored
// pixels) are the same under all three. Evaluation uses the loss without LossStats (batch-local).
//
// Threads: a Loss holds only configuration (and a cached SSIM window); one instance may be used
// from several threads only if they do not call it concurrently.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "comm/watchdog.h"
#include "common/config.h"

namespace tessera {

enum class LossReduction { global_batch, per_image, per_rank };
LossReduction parse_loss_reduction(const std::string& s);  // throws naming loss.reduction

// Sums a loss statistic over the global batch (all data-parallel ranks), inside autograd.
class LossStats {
 public:
  virtual ~LossStats() = default;
  // The sum of `local` over every rank (same shape). The gradient that flows back to `local` is
  // the incoming one times the world size, so after the gradient reducer averages over ranks the
  // parameters get d(loss)/d(parameters) of the global-batch loss.
  virtual torch::Tensor global_sum(const torch::Tensor& local) = 0;

  // The rank's watchdog (may be null): the allreduce then runs in its waiting phase
  // `collective`, so a rank waiting here for a stalled one does not blame itself (the loss is
  // computed inside the trainer's `forward` phase, which is not a waiting phase).
  void set_watchdog(Watchdog* watchdog) { watchdog_ = watchdog; }

 protected:
  Watchdog* watchdog_ = nullptr;
};

// A LossStats over `comm` for training with loss.reduction global_batch and more than one rank;
// nullptr otherwise (then every statistic is local). Collective when it returns one (it
// duplicates `comm`, so its allreduces never interleave with the gradient reducer's).
std::shared_ptr<LossStats> make_loss_stats(const LossConfig& loss, const Communicator& comm);

class Loss {
 public:
  virtual ~Loss() = default;
  // logits: model output before its activation; target: see the file comment. Returns a 0-dim
  // tensor that requires grad when logits do.
  virtual torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) = 0;
  // The config name this loss was built from ("bce_dice", ...).
  virtual std::string name() const = 0;
};

// Builds the loss named by loss.name for the task. Throws tessera::Error for an unknown name,
// a loss that does not fit the task (e.g. ce with task.classes == 1, mse for segmentation), a
// model.activation that does not match a segmentation loss, or out-of-range options.
// `stats`: see LossStats (nullptr: batch-local statistics, as for evaluation).
std::unique_ptr<Loss> make_loss(const LossConfig& loss, const TaskConfig& task,
                                const ModelConfig& model,
                                std::shared_ptr<LossStats> stats = nullptr);

// Every loss name make_loss accepts, in documentation order.
const std::vector<std::string>& loss_names();

// The losses that fit a task: binary segmentation, multi-class segmentation, image tasks.
std::vector<std::string> loss_names_for(const TaskConfig& task);

// Applies a model's output activation: "sigmoid", "softmax" (over dim 1), "relu" or "none".
// Throws tessera::Error naming model.activation for anything else.
torch::Tensor output_activation(const torch::Tensor& logits, const std::string& activation);

// Differentiable mean SSIM of two N,C,H,W float images in [0,1] (data range 1): 11x11 Gaussian
// window with sigma 1.5, K1 = 0.01, K2 = 0.03, 'valid' filtering (no padding), averaged over
// every channel and position of every image. H and W must be at least 11.
torch::Tensor ssim_index(const torch::Tensor& x, const torch::Tensor& y);

// The SSIM map behind ssim_index for images with values in [0, data_range]: shape
// N,C,H-10,W-10, in the dtype of x (float32 for training, float64 for the metrics).
// C1 = (0.01 * data_range)^2, C2 = (0.03 * data_range)^2.
torch::Tensor ssim_map(const torch::Tensor& x, const torch::Tensor& y, double data_range);

// The normalized 1-D Gaussian used by every SSIM in tessera: exp(-(i-5)^2 / (2 * 1.5^2)), i =
// 0..10, divided by its sum (the same numbers as OpenCV's getGaussianKernel(11, 1.5)).
torch::Tensor gaussian_window_1d(torch::ScalarType dtype);

}  // namespace tessera
