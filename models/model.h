// The model interface every tessera network implements, and the factory that builds one from
// the config.
//
// Contract of ImageModelImpl::forward(x):
//   x: float32 N x C x H x W with C == in_channels() and (H, W) accepted by check_input().
//   returns N x out_channels() x H x W, the PRE-activation output ("logits"). The task's output
//   activation (model.activation: sigmoid | softmax | relu | none) is NOT applied inside
//   forward: losses take logits (BCE/CE with logits are numerically stable), and prediction /
//   metrics call apply_activation() themselves. The article's Keras models end in an activation
//   (U-Net: sigmoid, autoencoder: relu); here that is `model.activation`.
//   With model.residual, forward returns x + net(x) (needs in_channels == out_channels); for
//   super-resolution the trainer feeds the bicubic up-scaling of the low-resolution image.
//   With data.normalize: dataset (enable_input_normalization), the network sees
//   (x - mean) / std per channel, net((x - mean) / std), while the residual adds the raw x and
//   the outputs stay in the data's units.
//   forward() calls check_input() first, so a bad size is a tessera::Error naming the sizes and
//   the rule instead of a LibTorch shape error deep inside the network.
//
// Ownership: models are held by std::shared_ptr (LibTorch's module convention). A model is not
// thread-safe: one thread calls forward at a time. The layer trace (set_trace) is for
// describe_model() only.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "models/layers.h"

namespace tessera {

// One row of a layer trace: the layer's name (its module path when it owns parameters, e.g.
// "encoder.0.conv1"), its Keras-style type, and the output shape of the traced forward.
struct TracedLayer {
  std::string name;
  std::string type;
  std::vector<int64_t> shape;
};

class ImageModelImpl : public torch::nn::Module {
 public:
  ImageModelImpl(int64_t in_channels, int64_t out_channels, bool residual);

  // Checks the input (see the contract above), runs the network, adds the residual.
  torch::Tensor forward(torch::Tensor x);

  // Throws tessera::Error naming the sizes and the rule when the network cannot take an input
  // of channels x h x w (e.g. "U-Net of depth 4 needs H and W divisible by 16; got 100x128").
  virtual void check_input(int64_t channels, int64_t h, int64_t w) const = 0;

  // "unet", "autoencoder" or "autoencoder_generic".
  virtual std::string arch() const = 0;

  // The last convolution (its output is the network's; make_model zeroes it for
  // model.head_init: zero).
  virtual torch::nn::Conv2d output_conv() const = 0;

  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }
  bool residual() const { return residual_; }

  // data.normalize: dataset. Registers the buffers `input_mean` and `input_std`, in_channels
  // values each (mean 0, std 1 until set_input_normalization or loaded weights fill them), so
  // that forward feeds the network (x - mean) / std. Being buffers, they are saved with the
  // weights: a checkpoint carries the statistics it was trained with, and eval, predict and
  // export apply those. Call once, before loading weights.
  void enable_input_normalization();
  // Fills the buffers (enable_input_normalization first): in_channels finite means and
  // positive finite standard deviations, else Error naming `where`.
  void set_input_normalization(const std::vector<double>& mean, const std::vector<double>& std,
                               const std::string& where);
  bool normalizes_input() const { return input_mean_.defined(); }
  torch::Tensor input_mean() const { return input_mean_; }
  torch::Tensor input_std() const { return input_std_; }

  // While set (non-null), forward appends one TracedLayer per layer. Not owned.
  void set_trace(std::vector<TracedLayer>* trace) { trace_ = trace; }

 protected:
  // The network itself: input already checked; no residual, no output activation.
  virtual torch::Tensor forward_net(torch::Tensor x) = 0;

  // The active trace (null when not tracing): pass to trace_layer() (models/layers.h).
  std::vector<TracedLayer>* trace() const { return trace_; }

 private:
  int64_t in_channels_;
  int64_t out_channels_;
  bool residual_;
  torch::Tensor input_mean_, input_std_;  // undefined unless enable_input_normalization()
  std::vector<TracedLayer>* trace_ = nullptr;
};

using ImageModel = std::shared_ptr<ImageModelImpl>;

// The number of output channels the task needs: segmentation with classes > 1 -> classes
// (task.out_channels must then be 1, its default, or equal classes); otherwise
// task.out_channels.
int64_t model_out_channels(const TaskConfig& task);

// Builds model.arch (unet | autoencoder | autoencoder_generic) with task.in_channels inputs and
// model_out_channels(task) outputs, in training mode, on the CPU, with the Keras initialisation
// (model.head_init: zero sets the last convolution's weights and bias to 0, so a residual
// network starts as x + 0). Unknown arch or invalid sizes (filters, depth, dropout, residual
// with in != out, head_init zero without residual) -> Error naming the key. `norm` makes the
// batch-norm layers (empty: torch::nn::BatchNorm2d; the trainer passes comm/'s
// sync_batchnorm_factory for dist.sync_batchnorm).
ImageModel make_model(const ModelConfig& model, const TaskConfig& task,
                      const Norm2dFactory& norm = {});
// The model the whole config asks for: make_model(cfg.model, cfg.task, norm), plus the input
// normalisation buffers for data.normalize: dataset (values still 0 / 1: the trainer sets the
// train split's statistics, eval / predict / export load them from the checkpoint).
ImageModel make_model(const Config& cfg, const Norm2dFactory& norm = {});

// The output activation: "sigmoid", "softmax" (over dim 1, the channels), "relu" or "none"
// (identity). Unknown name -> Error.
torch::Tensor apply_activation(const std::string& activation, torch::Tensor raw);

}  // namespace tessera
