// ValidationImages: the pictures TensorBoard shows at each validation (logging.tensorboard):
// the first kValidationImageSamples samples of the val split in evaluation order (the same
// samples at every validation and after a resume, so one sees them improve), each an
// input | target | prediction strip (image_grid.h, the strips `tessera predict` writes), one
// strip per row, PNG-encoded.
//
// The samples are read once, when the run starts, through a Loader of their own (rank 0 of 1,
// batch 1, no worker threads) and kept in memory. render() runs the model on them in eval mode
// without gradients and restores its mode; the model's batch-norm layers (plain or
// SyncBatchNorm) use running statistics in eval mode, so this is local to the calling rank
// (rank 0 only; no collective).
// Threads: the training thread only.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "common/config.h"
#include "models/model.h"
#include "trainer/tensorboard.h"

namespace tessera {

inline constexpr int kValidationImageSamples = 4;

class ValidationImages {
 public:
  // Reads the samples of cfg.data.val (fewer when the split is smaller).
  explicit ValidationImages(const Config& cfg);

  EncodedImage render(ImageModelImpl& model, const torch::Device& device) const;
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  const Config& cfg_;
  std::vector<torch::Tensor> inputs_, targets_;  // per sample, without the batch dimension
  std::vector<int64_t> indices_;                 // global sample indices in the val split
};

}  // namespace tessera
