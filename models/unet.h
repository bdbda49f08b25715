// The article's U-Net (`GiveMeUnet`), reproduced exactly for the Keras defaults and
// generalised in depth and width.
//
//   encoder level i (i = 0..depth-1): ConvBlock(filters * 2^i) -> 2x2 max-pool -> dropout
//   bottleneck:                       ConvBlock(filters * 2^depth)
//   decoder step j (level l = depth-1-j): Conv2DTranspose(filters * 2^l, 3x3, stride 2, 'same')
//                                     -> concat [up, skip_l] -> dropout -> ConvBlock(filters*2^l)
//   head:                             Conv2D(out_channels, 1x1), no activation (logits)
//
// ConvBlock = [3x3 'same' conv (He-normal) -> BatchNorm (optional) -> ReLU] x 2; see
// models/layers.h for the Keras-exact initialisation, BatchNorm defaults and the transposed
// convolution's 'same' padding. With in=3, out=1, filters=16, depth=4 and batch norm it has
// 2,161,649 trainable parameters, as the Keras model.
//
// Module names (state dict keys, matched by tools/reference/models.py): encoder.<i>.conv1/bn1/
// conv2/bn2, bottleneck.*, up.<j>.weight/bias, decoder.<j>.*, head.weight/bias.
// Input: H and W divisible by 2^depth (check_input). Thread-safety: one forward at a time.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "models/layers.h"
#include "models/model.h"

namespace tessera {

struct UNetOptions {
  int64_t in_channels = 3;
  int64_t out_channels = 1;
  int64_t filters = 16;
  int64_t depth = 4;  // number of 2x2 poolings
  double dropout = 0.1;
  bool batch_norm = true;
  bool residual = false;
  Norm2dFactory norm;  // the norm layers (empty: BatchNorm2d); see ConvBlock
};

class UNetImpl : public ImageModelImpl {
 public:
  explicit UNetImpl(const UNetOptions& options);

  void check_input(int64_t channels, int64_t h, int64_t w) const override;
  std::string arch() const override { return "unet"; }
  torch::nn::Conv2d output_conv() const override { return head_; }
  const UNetOptions& options() const { return options_; }

 protected:
  torch::Tensor forward_net(torch::Tensor x) override;

 private:
  UNetOptions options_;
  std::vector<ConvBlock> encoder_;
  ConvBlock bottleneck_{nullptr};
  std::vector<KerasConvTranspose2d> up_;
  std::vector<ConvBlock> decoder_;
  torch::nn::Conv2d head_{nullptr};
};
TORCH_MODULE(UNet);

}  // namespace tessera
