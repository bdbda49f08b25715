// Convolutional autoencoders (no skip connections).
//
// ArticleAutoencoder: the article's `myTransformer` (Keras Sequential), layer for layer, with
// widths w = filters * {1, 2, 4, 4, 8, 8, 16, 32 | 16, 8, 8, 8, 4, 2, 1} (filters = 16 is the
// article: 16, 32, 64, ..., 512):
//   conv1  3x3 same  -> w=f      maxpool 2x2
//   conv2  3x3 stride 2 'valid' -> 2f
//   conv3  3x3 stride 2 'same'  -> 4f   (TensorFlow's asymmetric 'same' padding, F::pad)
//   maxpool 2x2
//   conv4 4f, conv5 8f, conv6 8f, conv7 16f, conv8 32f      (3x3 same)
//   upsample x2 (nearest), conv9 16f, conv10 8f, conv11 8f, conv12 8f
//   upsample x2, conv13 4f, upsample x2, conv14 2f, upsample x2, conv15 f, conv16 -> out
// ReLU after conv1..conv15; conv16's ReLU (the article's last activation) is the output
// activation, applied outside forward (model.activation = relu reproduces the article). Kernels
// glorot-uniform, biases zero (Keras defaults). No batch norm, no dropout (model.batch_norm and
// model.dropout do not apply; use autoencoder_generic for those). H and W must be multiples of
// 16 (>= 16); then the output has the input's size (256x256x3 -> 256x256x3 as in the article).
// With filters 16, 3 -> 3 channels: 3,624,707 parameters. Module names: conv1 .. conv16.
//
// GenericAutoencoder: configurable width/depth encoder-decoder:
//   encoder level i (0..depth-1): ConvBlock(filters * 2^i) -> 2x2 max-pool -> dropout
//   bottleneck ConvBlock(filters * 2^depth)
//   decoder step j (level l = depth-1-j): upsample x2 (nearest) -> ConvBlock(filters * 2^l)
//   head Conv2D(out, 1x1), logits.
// ConvBlock as the U-Net's (optional batch norm). H and W must be divisible by 2^depth.
// Module names: encoder.<i>.*, bottleneck.*, decoder.<j>.*, head.*.
//
// Thread-safety: one forward at a time per instance.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/layers.h"
#include "models/model.h"

namespace tessera {

struct ArticleAutoencoderOptions {
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  int64_t filters = 16;  // width unit; 16 = the article
  bool residual = false;
};

class ArticleAutoencoderImpl : public ImageModelImpl {
 public:
  static constexpr int kConvs = 16;

  explicit ArticleAutoencoderImpl(const ArticleAutoencoderOptions& options);

  void check_input(int64_t channels, int64_t h, int64_t w) const override;
  std::string arch() const override { return "autoencoder"; }
  torch::nn::Conv2d output_conv() const override { return convs_.back(); }
  const ArticleAutoencoderOptions& options() const { return options_; }

 protected:
  torch::Tensor forward_net(torch::Tensor x) override;

 private:
  ArticleAutoencoderOptions options_;
  std::vector<torch::nn::Conv2d> convs_;  // conv1 .. conv16
};
TORCH_MODULE(ArticleAutoencoder);

struct GenericAutoencoderOptions {
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  int64_t filters = 16;
  int64_t depth = 4;
  double dropout = 0.1;
  bool batch_norm = true;
  bool residual = false;
  Norm2dFactory norm;  // the norm layers (empty: BatchNorm2d); see ConvBlock
};

class GenericAutoencoderImpl : public ImageModelImpl {
 public:
  explicit GenericAutoencoderImpl(const GenericAutoencoderOptions& options);

  void check_input(int64_t channels, int64_t h, int64_t w) const override;
  std::string arch() const override { return "autoencoder_generic"; }
  torch::nn::Conv2d output_conv() const override { return head_; }
  const GenericAutoencoderOptions& options() const { return options_; }

 protected:
  torch::Tensor forward_net(torch::Tensor x) override;

 private:
  GenericAutoencoderOptions options_;
  std::vector<ConvBlock> encoder_;
  ConvBlock bottleneck_{nullptr};
  std::vector<ConvBlock> decoder_;
  torch::nn::Conv2d head_{nullptr};
};
TORCH_MODULE(GenericAutoencoder);

}  // namespace tessera
