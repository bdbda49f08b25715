#include "models/model.h"

#include <fmt/ranges.h>

#include <cmath>

#include "common/error.h"
#include "models/autoencoder.h"
#include "models/layers.h"
#include "models/unet.h"

namespace tessera {

ImageModelImpl::ImageModelImpl(int64_t in_channels, int64_t out_channels, bool residual)
    : in_channels_(in_channels), out_channels_(out_channels), residual_(residual) {
  TESSERA_CHECK(!residual || in_channels == out_channels,
                "model.residual needs as many output channels as input channels (output = "
                "input + network(input)); got task.in_channels {} and {} output channels",
                in_channels, out_channels);
}

torch::Tensor ImageModelImpl::forward(torch::Tensor x) {
  TESSERA_CHECK(x.dim() == 4, "{}: expected an N x C x H x W input, got a tensor of shape {}",
                arch(), fmt::join(x.sizes(), "x"));
  TESSERA_CHECK(x.scalar_type() == torch::kFloat32 || x.scalar_type() == torch::kFloat64 ||
                    x.scalar_type() == torch::kFloat16 || x.scalar_type() == torch::kBFloat16,
                "{}: expected a floating-point input, got {}", arch(),
                c10::toString(x.scalar_type()));
  check_input(x.size(1), x.size(2), x.size(3));
  torch::Tensor z = x;
  if (normalizes_input()) {
    const auto shape = std::vector<int64_t>{1, in_channels_, 1, 1};
    z = trace_layer(trace_, "normalize", "Normalization",
                    (x - input_mean_.to(x.scalar_type()).view(shape)) /
                        input_std_.to(x.scalar_type()).view(shape));
  }
  torch::Tensor y = forward_net(z);
  if (residual_) y = trace_layer(trace_, "residual", "Add", y + x);
  return y;
}

void ImageModelImpl::enable_input_normalization() {
  TESSERA_CHECK(!normalizes_input(), "{}: the input normalisation is already enabled", arch());
  input_mean_ = register_buffer("input_mean", torch::zeros({in_channels_}));
  input_std_ = register_buffer("input_std", torch::ones({in_channels_}));
}

void ImageModelImpl::set_input_normalization(const std::vector<double>& mean,
                                             const std::vector<double>& std,
                                             const std::string& where) {
  TESSERA_CHECK(normalizes_input(), "{}: the model was built without data.normalize", where);
  TESSERA_CHECK(static_cast<int64_t>(mean.size()) == in_channels_ &&
                    static_cast<int64_t>(std.size()) == in_channels_,
                "{}: {} means and {} standard deviations for a model of {} input channels",
                where, mean.size(), std.size(), in_channels_);
  for (size_t c = 0; c < mean.size(); ++c) {
    TESSERA_CHECK(std::isfinite(mean[c]) && std::isfinite(std[c]) && std[c] > 0,
                  "{}: channel {} has mean {} and standard deviation {}; expected finite "
                  "values and a standard deviation > 0",
                  where, c, mean[c], std[c]);
  }
  torch::NoGradGuard no_grad;
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  input_mean_.copy_(torch::tensor(mean, opts));
  input_std_.copy_(torch::tensor(std, opts));
}

int64_t model_out_channels(const TaskConfig& task) {
  if (task.kind == TaskKind::segmentation && task.classes > 1) {
    TESSERA_CHECK(task.out_channels == 1 || task.out_channels == task.classes,
                  "task.out_channels ({}) contradicts task.classes ({}): a multi-class "
                  "segmentation model outputs one channel per class; leave out_channels at 1 or "
                  "set it to {}",
                  task.out_channels, task.classes, task.classes);
    return task.classes;
  }
  TESSERA_CHECK(task.classes >= 1, "task.classes must be >= 1; got {}", task.classes);
  return task.out_channels;
}

namespace {

ImageModel build_model(const ModelConfig& model, const TaskConfig& task,
                       const Norm2dFactory& norm) {
  const int64_t in = task.in_channels;
  const int64_t out = model_out_channels(task);
  if (model.arch == "unet") {
    UNetOptions o;
    o.in_channels = in;
    o.out_channels = out;
    o.filters = model.filters;
    o.depth = model.depth;
    o.dropout = model.dropout;
    o.batch_norm = model.batch_norm;
    o.norm = norm;
    o.residual = model.residual;
    return UNet(o).ptr();
  }
  if (model.arch == "autoencoder") {
    TESSERA_CHECK(model.depth == 4,
                  "model.arch autoencoder is the article's fixed network (4 down-samplings, "
                  "model.depth 4); got model.depth {}. Use model.arch autoencoder_generic for "
                  "another depth",
                  model.depth);
    ArticleAutoencoderOptions o;
    o.in_channels = in;
    o.out_channels = out;
    o.filters = model.filters;
    o.residual = model.residual;
    return ArticleAutoencoder(o).ptr();
  }
  if (model.arch == "autoencoder_generic") {
    GenericAutoencoderOptions o;
    o.in_channels = in;
    o.out_channels = out;
    o.filters = model.filters;
    o.depth = model.depth;
    o.dropout = model.dropout;
    o.batch_norm = model.batch_norm;
    o.norm = norm;
    o.residual = model.residual;
    return GenericAutoencoder(o).ptr();
  }
  TESSERA_THROW("unknown model.arch '{}'; expected one of: unet, autoencoder, autoencoder_generic",
                model.arch);
}

}  // namespace

ImageModel make_model(const ModelConfig& model, const TaskConfig& task,
                      const Norm2dFactory& norm) {
  ImageModel net = build_model(model, task, norm);
  if (model.head_init == "zero") {
    TESSERA_CHECK(net->residual(),
                  "model.head_init zero needs model.residual: true (without the residual the "
                  "network would start at a constant output)");
    torch::NoGradGuard no_grad;
    torch::nn::init::zeros_(net->output_conv()->weight);
    torch::nn::init::zeros_(net->output_conv()->bias);
  } else {
    TESSERA_CHECK(model.head_init == "keras",
                  "unknown model.head_init '{}'; expected keras or zero", model.head_init);
  }
  return net;
}

ImageModel make_model(const Config& cfg, const Norm2dFactory& norm) {
  ImageModel net = make_model(cfg.model, cfg.task, norm);
  if (cfg.data.normalize == "dataset") {
    net->enable_input_normalization();
  } else {
    TESSERA_CHECK(cfg.data.normalize == "none",
                  "unknown data.normalize '{}'; expected none or dataset", cfg.data.normalize);
  }
  return net;
}

torch::Tensor apply_activation(const std::string& activation, torch::Tensor raw) {
  if (activation == "sigmoid") return torch::sigmoid(raw);
  if (activation == "softmax") return torch::softmax(raw, /*dim=*/1);
  if (activation == "relu") return torch::relu(raw);
  if (activation == "none") return raw;
  TESSERA_THROW("unknown model.activation '{}'; expected one of: sigmoid, softmax, relu, none",
                activation);
}

}  // namespace tessera
