#include "models/unet.h"

#include "common/error.h"
#include "models/dropout.h"

namespace tessera {

namespace F = torch::nn::functional;

UNetImpl::UNetImpl(const UNetOptions& options)
    : ImageModelImpl(options.in_channels, options.out_channels, options.residual),
      options_(options) {
  const UNetOptions& o = options_;
  TESSERA_CHECK(o.in_channels >= 1 && o.out_channels >= 1,
                "U-Net: task.in_channels and the output channels must be >= 1; got {} and {}",
                o.in_channels, o.out_channels);
  TESSERA_CHECK(o.filters >= 1, "U-Net: model.filters must be >= 1; got {}", o.filters);
  TESSERA_CHECK(o.depth >= 1 && o.depth <= 10, "U-Net: model.depth must be in [1, 10]; got {}",
                o.depth);
  TESSERA_CHECK(o.dropout >= 0.0 && o.dropout < 1.0,
                "U-Net: model.dropout must be in [0, 1); got {}", o.dropout);

  auto encoder = register_module("encoder", torch::nn::ModuleList());
  int64_t channels = o.in_channels;
  for (int64_t i = 0; i < o.depth; ++i) {
    const int64_t width = o.filters << i;
    encoder_.emplace_back(channels, width, o.batch_norm, o.norm);
    encoder->push_back(encoder_.back());
    channels = width;
  }
  bottleneck_ =
      register_module("bottleneck", ConvBlock(channels, o.filters << o.depth, o.batch_norm, o.norm));
  channels = o.filters << o.depth;

  auto up = register_module("up", torch::nn::ModuleList());
  auto decoder = register_module("decoder", torch::nn::ModuleList());
  for (int64_t level = o.depth - 1; level >= 0; --level) {
    const int64_t width = o.filters << level;
    up_.emplace_back(channels, width, 3, 2);
    up->push_back(up_.back());
    // concat [up (width), skip (width)] -> block
    decoder_.emplace_back(2 * width, width, o.batch_norm, o.norm);
    decoder->push_back(decoder_.back());
    channels = width;
  }
  // The article's output layer: Conv2D(1, (1,1)) with the default glorot-uniform kernel.
  head_ = register_module("head", keras::conv2d(channels, o.out_channels, 1, 1, 0, /*he=*/false));
}

void UNetImpl::check_input(int64_t channels, int64_t h, int64_t w) const {
  TESSERA_CHECK(channels == options_.in_channels,
                "U-Net expects {} input channels (task.in_channels); got {}", options_.in_channels,
                channels);
  const int64_t multiple = int64_t{1} << options_.depth;
  TESSERA_CHECK(h > 0 && w > 0 && h % multiple == 0 && w % multiple == 0,
                "U-Net of depth {} needs H and W divisible by {}; got {}x{} (each of the {} 2x2 "
                "poolings halves H and W, and the decoder must get back to the input size)",
                options_.depth, multiple, h, w, options_.depth);
}

torch::Tensor UNetImpl::forward_net(torch::Tensor x) {
  auto* tr = trace();
  const bool train = is_training();
  std::vector<torch::Tensor> skips;
  skips.reserve(encoder_.size());
  for (size_t i = 0; i < encoder_.size(); ++i) {
    const std::string idx = tr != nullptr ? std::to_string(i) : std::string();
    x = encoder_[i]->forward(x, tr, "encoder." + idx);
    skips.push_back(x);
    x = trace_layer(tr, "pool." + idx, "MaxPooling2D",
                    F::max_pool2d(x, F::MaxPool2dFuncOptions(2)));
    x = trace_layer(tr, "dropout." + idx, "Dropout",
                    fast_dropout(x, options_.dropout, train));
  }
  x = bottleneck_->forward(x, tr, "bottleneck");
  for (size_t j = 0; j < up_.size(); ++j) {
    const std::string idx = tr != nullptr ? std::to_string(j) : std::string();
    x = trace_layer(tr, "up." + idx, "Conv2DTranspose", up_[j]->forward(x));
    x = trace_layer(tr, "concat." + idx, "Concatenate",
                    torch::cat({x, skips[skips.size() - 1 - j]}, 1));
    x = trace_layer(tr, "dropout_up." + idx, "Dropout",
                    fast_dropout(x, options_.dropout, train));
    x = decoder_[j]->forward(x, tr, "decoder." + idx);
  }
  return trace_layer(tr, "head", "Conv2D", head_(x));
}

}  // namespace tessera
