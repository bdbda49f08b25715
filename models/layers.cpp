#include "models/layers.h"

#include <cmath>

#include "common/error.h"
#include "models/conv_transpose.h"
#include "models/model.h"

namespace tessera {
torch::nn::AnyModule make_norm2d(const Norm2dFactory& norm,
                                 const torch::nn::BatchNorm2dOptions& options) {
  if (!norm) return torch::nn::AnyModule(torch::nn::BatchNorm2d(options));
  torch::nn::AnyModule m = norm(options);
  TESSERA_CHECK(!m.is_empty(), "the norm layer factory returned an empty module for {} channels",
                options.num_features());
  return m;
}

namespace keras {

namespace {
// Standard normal CDF.
double normal_cdf(double x) {
  return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0)));
}
}  // namespace

void he_normal_(torch::Tensor weight, int64_t fan_in) {
  TESSERA_CHECK(fan_in > 0, "he_normal_: fan_in must be positive, got {}", fan_in);
  // Keras VarianceScaling(scale=2, mode='fan_in', distribution='truncated_normal'): the std of
  // the normal before truncation at +-2 std is sqrt(2/fan_in) / 0.8796..., the std of a unit
  // normal truncated at +-2.
  const double stddev = std::sqrt(2.0 / static_cast<double>(fan_in)) / 0.87962566103423978;
  // Inverse-CDF sampling: u ~ U(Phi(-2), Phi(2)) mapped through Phi^-1.
  const double lo = 2.0 * normal_cdf(-2.0) - 1.0;
  const double hi = 2.0 * normal_cdf(2.0) - 1.0;
  torch::NoGradGuard no_grad;
  weight.uniform_(lo, hi);
  weight.erfinv_();
  weight.mul_(stddev * std::sqrt(2.0));
  weight.clamp_(-2.0 * stddev, 2.0 * stddev);
}

void glorot_uniform_(torch::Tensor weight, int64_t fan_in, int64_t fan_out) {
  TESSERA_CHECK(fan_in > 0 && fan_out > 0,
                "glorot_uniform_: fans must be positive, got fan_in {} fan_out {}", fan_in,
                fan_out);
  const double limit = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  torch::NoGradGuard no_grad;
  weight.uniform_(-limit, limit);
}

torch::nn::BatchNorm2dOptions batch_norm_options(int64_t channels) {
  return torch::nn::BatchNorm2dOptions(channels)
      .momentum(0.01)
      .eps(1e-3)
      .affine(true)
      .track_running_stats(true);
}

std::pair<int64_t, int64_t> tf_same_padding(int64_t in, int64_t kernel, int64_t stride) {
  TESSERA_CHECK(in > 0 && kernel > 0 && stride > 0,
                "tf_same_padding: need positive sizes, got in={} kernel={} stride={}", in, kernel,
                stride);
  const int64_t out = (in + stride - 1) / stride;  // ceil(in / stride)
  const int64_t total = std::max<int64_t>((out - 1) * stride + kernel - in, 0);
  return {total / 2, total - total / 2};
}

torch::Tensor tf_same_pad(const torch::Tensor& x, int64_t kernel, int64_t stride) {
  TESSERA_CHECK(x.dim() == 4, "tf_same_pad: expected an N x C x H x W tensor, got {} dims",
                x.dim());
  const auto [top, bottom] = tf_same_padding(x.size(2), kernel, stride);
  const auto [left, right] = tf_same_padding(x.size(3), kernel, stride);
  if (top == 0 && bottom == 0 && left == 0 && right == 0) return x;
  namespace F = torch::nn::functional;
  return F::pad(x, F::PadFuncOptions({left, right, top, bottom}).mode(torch::kConstant).value(0));
}

torch::nn::Conv2d conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                         bool he) {
  torch::nn::Conv2d conv(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(true));
  const int64_t fan_in = in * kernel * kernel;
  const int64_t fan_out = out * kernel * kernel;
  if (he) {
    he_normal_(conv->weight, fan_in);
  } else {
    glorot_uniform_(conv->weight, fan_in, fan_out);
  }
  torch::NoGradGuard no_grad;
  conv->bias.zero_();
  return conv;
}

}  // namespace keras

KerasConvTranspose2dImpl::KerasConvTranspose2dImpl(int64_t in, int64_t out, int64_t kernel,
                                                   int64_t stride)
    : kernel_(kernel), stride_(stride) {
  TESSERA_CHECK(in > 0 && out > 0 && kernel >= stride && stride > 0,
                "KerasConvTranspose2d: need in, out > 0 and kernel >= stride > 0; got in={} "
                "out={} kernel={} stride={}",
                in, out, kernel, stride);
  weight = register_parameter("weight", torch::empty({in, out, kernel, kernel}));
  bias = register_parameter("bias", torch::zeros({out}));
  // Keras' kernel is (k, k, out, in): fan_in = k*k*out, fan_out = k*k*in (the sum is what
  // matters for glorot).
  keras::glorot_uniform_(weight, out * kernel * kernel, in * kernel * kernel);
}

torch::Tensor KerasConvTranspose2dImpl::forward(const torch::Tensor& x) {
  // One ordinary convolution + pixel shuffle instead of conv_transpose2d + crop: same result,
  // several times faster on CPU (models/conv_transpose.h).
  return keras_conv_transpose2d_polyphase(x, weight, bias, kernel_, stride_);
}

ConvBlockImpl::ConvBlockImpl(int64_t in, int64_t out, bool batch_norm,
                             const Norm2dFactory& norm) {
  conv1 = register_module("conv1", keras::conv2d(in, out, 3, 1, 1, /*he=*/true));
  if (batch_norm) {
    bn1 = make_norm2d(norm, keras::batch_norm_options(out));
    register_module("bn1", bn1.ptr());
  }
  conv2 = register_module("conv2", keras::conv2d(out, out, 3, 1, 1, /*he=*/true));
  if (batch_norm) {
    bn2 = make_norm2d(norm, keras::batch_norm_options(out));
    register_module("bn2", bn2.ptr());
  }
}

torch::Tensor ConvBlockImpl::forward(torch::Tensor x, std::vector<TracedLayer>* trace,
                                     const std::string& prefix) {
  // Names are built only while tracing.
  auto rec = [&](const char* suffix, const char* type, torch::Tensor t) {
    return trace != nullptr ? trace_layer(trace, prefix + suffix, type, std::move(t)) : t;
  };
  x = rec(".conv1", "Conv2D", conv1(x));
  if (!bn1.is_empty()) x = rec(".bn1", "BatchNormalization", bn1.forward(x));
  x = rec(".relu1", "Activation(relu)", torch::relu(x));
  x = rec(".conv2", "Conv2D", conv2(x));
  if (!bn2.is_empty()) x = rec(".bn2", "BatchNormalization", bn2.forward(x));
  return rec(".relu2", "Activation(relu)", torch::relu(x));
}

torch::Tensor trace_layer(std::vector<TracedLayer>* trace, const std::string& name,
                          const char* type, torch::Tensor t) {
  if (trace != nullptr) trace->push_back(TracedLayer{name, type, t.sizes().vec()});
  return t;
}

}  // namespace tessera
