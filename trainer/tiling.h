// Inference on images of any size.
//
// infer_image() runs the model on one C x H x W image (float32, [0,1]) and returns the activated
// prediction (out_channels x H x W). Small images are padded (reflect) up to the size the network
// accepts (`multiple`, e.g. 16 for a depth-4 U-Net) and cropped back. Images larger than the
// tile size are processed by a sliding window: tiles of `tile` x `tile` pixels, neighbours
// overlapping by `overlap` (fraction of the tile), each tile's prediction weighted by a smooth
// window (highest in the centre, never zero) and blended, so tile seams do not show. Tiles run
// in mini-batches of `batch` to bound memory. The model must be in eval mode.
#pragma once

#include <torch/torch.h>

#include "models/model.h"

namespace tessera {

struct TilingOptions {
  int64_t tile = 0;        // 0: whole image in one pass
  double overlap = 0.25;   // in [0, 0.9]
  int64_t multiple = 16;   // sizes the network accepts are multiples of this
  int64_t batch = 4;
  std::string activation = "sigmoid";
};

torch::Tensor infer_image(ImageModelImpl& model, const torch::Tensor& image,
                          const TilingOptions& opt);

// Size divisor the configured model needs (2^depth for the U-Net, 16 for the article's
// autoencoder, 2^depth for the generic one).
int64_t size_multiple(const ModelConfig& model);

}  // namespace tessera
