// Keras Conv2DTranspose(padding='same') computed as ONE ordinary convolution plus a pixel
// shuffle (polyphase / sub-pixel decomposition), so that LibTorch's fast convolution kernels
// (oneDNN on CPU, cuDNN on GPU) do the work.
//
// Why: on CPU, LibTorch 1.13 runs conv_transpose2d through its generic im2col + GEMM path
// (`slow_conv_transpose2d`, no oneDNN) and its backward likewise; for the article's U-Net that
// is about half of a training step (docs/PERFORMANCE.md). The decomposition: output row
// p = s*m + r (phase r in [0, s)) of the cropped transposed convolution only receives kernel
// taps u = (r + top) mod s + s*t from input rows m + (r + top) div s - t. So all s*s output
// phases are ordinary correlations of the input with small sub-kernels taken from the same
// weight; they are stacked as s*s*out output channels of one D x D convolution over the input
// zero-padded by (pad_before, pad_after), and pixel_shuffle(s) interleaves them into the
// s*H x s*W output. The sub-kernel weight is gathered from the parameter with index_select on
// every call (differentiable; tiny next to the convolution), so parameters, state dicts and
// checkpoints are unchanged. Results equal the direct transposed convolution up to float
// summation order (tests/models/conv_transpose_test.cpp).
//
// Contract: x is N x in x H x W, weight in x out x k x k (torch's ConvTranspose layout), bias
// `out` (or undefined); returns N x out x s*H x s*W: the full transposed convolution (padding 0)
// cropped at (top, left) = TF 'same' offsets, exactly KerasConvTranspose2d's result. Pure
// function; thread-safe.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace tessera {

// The polyphase computation described above.
torch::Tensor keras_conv_transpose2d_polyphase(const torch::Tensor& x, const torch::Tensor& weight,
                                               const torch::Tensor& bias, int64_t kernel,
                                               int64_t stride);

// The direct computation: conv_transpose2d (padding 0) then the crop. Reference for tests.
torch::Tensor keras_conv_transpose2d_direct(const torch::Tensor& x, const torch::Tensor& weight,
                                            const torch::Tensor& bias, int64_t kernel,
                                            int64_t stride);

}  // namespace tessera
