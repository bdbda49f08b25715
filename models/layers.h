// Building blocks shared by the models, reproducing Keras (TensorFlow 2) behaviour exactly:
//
// - Initialisers (in place, under no-grad, using LibTorch's global generator, so
//   torch::manual_seed makes them reproducible):
//   he_normal_:      Keras 'he_normal': truncated normal (cut at 2 std) with
//                    std = sqrt(2 / fan_in) / 0.87962566103423978, so the variance after
//                    truncation is 2 / fan_in. fan_in = in_channels * kh * kw.
//   glorot_uniform_: Keras' default kernel initialiser: U(-l, l), l = sqrt(6 / (fan_in + fan_out)).
//   Biases are zero (Keras 'zeros').
// - batch_norm_options: Keras BatchNormalization defaults (momentum 0.99 -> torch 0.01,
//   epsilon 1e-3, gamma 1, beta 0, moving mean 0, moving variance 1).
// - tf_same_padding / tf_same_pad: TensorFlow's 'same' padding, asymmetric when the total is odd
//   (pad_total = max((ceil(in/s) - 1) * s + k - in, 0), before = total / 2, after = the rest).
// - KerasConvTranspose2d: Keras Conv2DTranspose(k, strides=s, padding='same'): output = in * s.
//   TF computes it as the input-gradient of a 'same' conv, whose padding is (before, after) =
//   (total/2, total - total/2); for k=3, s=2 that is (0, 1), so the result is the full
//   transposed convolution (padding 0) cropped to its first in*s rows/columns. (torch's
//   ConvTranspose2d(padding=1, output_padding=1) has the same shape but is shifted by a pixel.)
// - ConvBlock: the article's Conv2dBlock: [conv 3x3 same -> (BN) -> ReLU] x 2, He-normal.
//   The norm layers come from a Norm2dFactory (default: torch::nn::BatchNorm2d with the Keras
//   options), so a caller can put another layer in the same place, e.g. comm/'s
//   SyncBatchNorm2d (dist.sync_batchnorm) — models/ does not depend on comm/.
//
// Thread-safety: as LibTorch modules (one forward at a time per instance).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace tessera {

struct TracedLayer;

// Builds a 2-D norm layer from BatchNorm2d options; the module's forward takes and returns one
// tensor. An empty factory means torch::nn::BatchNorm2d(options).
using Norm2dFactory = std::function<torch::nn::AnyModule(const torch::nn::BatchNorm2dOptions&)>;

// norm(options), or a BatchNorm2d when norm is empty.
torch::nn::AnyModule make_norm2d(const Norm2dFactory& norm,
                                 const torch::nn::BatchNorm2dOptions& options);

namespace keras {

void he_normal_(torch::Tensor weight, int64_t fan_in);
void glorot_uniform_(torch::Tensor weight, int64_t fan_in, int64_t fan_out);

torch::nn::BatchNorm2dOptions batch_norm_options(int64_t channels);

// (before, after) padding of TF 'same' along one dimension of length `in`.
std::pair<int64_t, int64_t> tf_same_padding(int64_t in, int64_t kernel, int64_t stride);
// Pads an N x C x H x W tensor with zeros the way TF 'same' does for (kernel, stride).
torch::Tensor tf_same_pad(const torch::Tensor& x, int64_t kernel, int64_t stride);

// Conv2d with Keras' initialisation: he_normal (he = true) or glorot_uniform, zero bias.
torch::nn::Conv2d conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                         bool he);

}  // namespace keras

// Keras Conv2DTranspose(out, kernel, strides=stride, padding='same'), glorot-uniform kernel,
// zero bias. Parameters: weight (in x out x k x k, torch's layout) and bias.
class KerasConvTranspose2dImpl : public torch::nn::Module {
 public:
  KerasConvTranspose2dImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;
  torch::Tensor bias;

 private:
  int64_t kernel_;
  int64_t stride_;
};
TORCH_MODULE(KerasConvTranspose2d);

// The article's Conv2dBlock. Submodules: conv1, bn1 (if batch_norm), conv2, bn2 (if
// batch_norm); the norm layers are made by `norm` (BatchNorm2d when empty) from
// keras::batch_norm_options(out). When `trace` is non-null, appends rows named `prefix`.conv1,
// .bn1, .relu1, ...
class ConvBlockImpl : public torch::nn::Module {
 public:
  ConvBlockImpl(int64_t in, int64_t out, bool batch_norm, const Norm2dFactory& norm = {});
  torch::Tensor forward(torch::Tensor x, std::vector<TracedLayer>* trace = nullptr,
                        const std::string& prefix = "");

  torch::nn::Conv2d conv1{nullptr};
  torch::nn::AnyModule bn1;  // empty without batch norm
  torch::nn::Conv2d conv2{nullptr};
  torch::nn::AnyModule bn2;
};
TORCH_MODULE(ConvBlock);

// Appends (name, type, shape of t) to trace when non-null; returns t.
torch::Tensor trace_layer(std::vector<TracedLayer>* trace, const std::string& name,
                          const char* type, torch::Tensor t);

}  // namespace tessera
