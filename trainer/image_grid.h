// Pictures of a model's output that a person looks at: an input | target | prediction strip per
// sample, used by `tessera predict` (<stem>_grid.png, predictor.h) and by the trainer's
// TensorBoard images of fixed validation samples (validation_images.h), so both show the same
// thing. Segmentation: predicted and true label maps in a fixed palette (class 0 black);
// image tasks: the images themselves, clamped to [0, 1].
// All functions are pure (OpenCV BGR uint8 images out); any thread may call them.
#pragma once

#include <torch/torch.h>

#include <opencv2/core.hpp>
#include <vector>

#include "common/config.h"

namespace tessera {

// The channels of a C x H x W image shown as a picture: `bands` are 1-based channel numbers,
// one (grey) or three (shown as R, G, B), e.g. {4, 3, 2} for a near-infrared false-colour view
// of RGB+NIR tiles. Empty: the image itself when C is 1 or 3, else its first three channels
// (C > 3) or its first (C == 2). Throws naming the band when one is outside 1..C.
torch::Tensor display_bands(const torch::Tensor& chw, const std::vector<int>& bands = {});

// C x H x W float [0,1] -> BGR uint8 image (RGB or 1 channel; any other C through
// display_bands(chw) first).
cv::Mat to_bgr_image(const torch::Tensor& chw);

// H x W integer labels -> BGR image in the class palette.
cv::Mat labels_to_color(const torch::Tensor& labels);

// Side by side, each part scaled to the first one's height, 4 white pixels between parts.
cv::Mat hstack(const std::vector<cv::Mat>& parts);

// One above the other, left-aligned on a white background, 4 white pixels between rows.
cv::Mat vstack(const std::vector<cv::Mat>& rows);

// Segmentation: the predicted labels (H x W int64) of C x H x W probabilities / class scores
// (argmax for several classes, eval.threshold on the single channel otherwise).
torch::Tensor predicted_labels(const Config& cfg, const torch::Tensor& prob);

// input | target | prediction for one sample. `input` is what the model was fed (for
// super-resolution the bicubic up-scaling), `target` the sample's target (undefined: left out),
// `prediction` the activated output (to_prediction(), C x H x W).
// `rgb_bands`: the input's channels shown (display_bands); image targets and predictions with
// the input's channel count are shown through the same bands.
cv::Mat comparison_grid(const Config& cfg, const torch::Tensor& input, const torch::Tensor& target,
                        const torch::Tensor& prediction, const std::vector<int>& rgb_bands = {});

}  // namespace tessera
