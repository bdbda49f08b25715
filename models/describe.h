// Model description for `tessera inspect CONFIG`: a Keras-summary-like layer table (name, type,
// output shape, parameters), the parameter counts and the output shape for an input size.
//
// summarize_model() runs one forward pass of a 1 x C x H x W zero tensor through the model in
// eval mode with no gradients while the model's layer trace is on, then restores the model's
// train/eval mode; the weights are not changed. Row names are module paths where the layer owns
// parameters (so they match state-dict keys), otherwise a descriptive path ("pool.0").
// Parameter counts follow Keras: a row's count includes BatchNorm's moving mean/variance
// (non-trainable in Keras, buffers in torch); trainable = torch parameters that require grad;
// non_trainable = the floating-point buffers (BN running_mean/var) + frozen parameters;
// total = trainable + non_trainable = the sum of the rows. Not thread-safe with respect to other
// uses of the same model. Bad sizes -> the model's check_input error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "models/model.h"

namespace tessera {

struct LayerRow {
  std::string name;
  std::string type;
  std::vector<int64_t> output_shape;  // without the batch dimension: C, H, W
  int64_t params = 0;
};

struct ModelSummary {
  std::string arch;
  std::vector<int64_t> input_shape;   // C, H, W
  std::vector<int64_t> output_shape;  // C, H, W
  std::vector<LayerRow> layers;
  int64_t trainable_params = 0;
  int64_t non_trainable_params = 0;
  int64_t total_params = 0;
};

ModelSummary summarize_model(ImageModelImpl& model, int64_t height, int64_t width);

// The summary as a fixed-width text table with a header and totals.
std::string format_summary(const ModelSummary& summary);

// Builds the config's model (make_model) and describes it for an image_size x image_size input,
// with the task's activation and residual setting in the header.
std::string describe_model(const Config& config, int64_t image_size);

}  // namespace tessera
