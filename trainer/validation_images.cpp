#include "trainer/validation_images.h"

#include <opencv2/imgcodecs.hpp>

#include "common/error.h"
#include "datasets/loader.h"
#include "trainer/image_grid.h"
#include "trainer/session.h"
#include "trainer/task_io.h"

namespace tessera {

ValidationImages::ValidationImages(const Config& cfg) : cfg_(cfg) {
  TESSERA_CHECK(!cfg.data.val.empty(), "TensorBoard images need data.val");
  DataConfig one = cfg.data;
  one.batch_size = 1;
  one.loader_threads = 0;  // synchronous: no threads for a few samples
  Loader loader(one, cfg.data.val, loader_options(cfg, 0, 1, /*train=*/false));
  loader.start_epoch(0);
  while (static_cast<int>(inputs_.size()) < kValidationImageSamples) {
    std::optional<Batch> b = loader.next();
    if (!b) break;
    inputs_.push_back(b->inputs[0].clone());
    targets_.push_back(b->targets[0].clone());
    indices_.push_back(b->indices.at(0));
  }
}

EncodedImage ValidationImages::render(ImageModelImpl& model, const torch::Device& device) const {
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  std::vector<cv::Mat> rows;
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const torch::Tensor x = inputs_[i].unsqueeze(0).to(device);
    const torch::Tensor& y = targets_[i];
    const torch::Tensor in = model_input(cfg_, x, {y.size(-2), y.size(-1)});
    const torch::Tensor pred = to_prediction(cfg_, model.forward(in)).to(torch::kCPU);
    rows.push_back(comparison_grid(cfg_, in[0].to(torch::kCPU), y, pred[0]));
  }
  if (was_training) model.train();
  EncodedImage out;
  if (rows.empty()) return out;
  const cv::Mat grid = vstack(rows);
  std::vector<uchar> png;
  TESSERA_CHECK(cv::imencode(".png", grid, png), "cannot PNG-encode the validation images ({}x{})",
                grid.cols, grid.rows);
  out.png.assign(png.begin(), png.end());
  out.height = grid.rows;
  out.width = grid.cols;
  out.colorspace = 3;
  return out;
}

}  // namespace tessera
