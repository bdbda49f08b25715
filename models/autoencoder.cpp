#include "models/autoencoder.h"

#include <array>

#include "common/error.h"
#include "models/dropout.h"

namespace tessera {

namespace F = torch::nn::functional;

namespace {

// Output width of conv1..conv15 in units of `filters` (conv16 -> out_channels).
constexpr std::array<int64_t, 15> kArticleWidths = {1, 2, 4, 4, 8, 8, 16, 32, 16, 8, 8, 8, 4, 2, 1};

void check_common(const char* what, int64_t in, int64_t out, int64_t filters) {
  TESSERA_CHECK(in >= 1 && out >= 1,
                "{}: task.in_channels and the output channels must be >= 1; got {} and {}", what,
                in, out);
  TESSERA_CHECK(filters >= 1, "{}: model.filters must be >= 1; got {}", what, filters);
}

torch::Tensor upsample2(const torch::Tensor& x) {
  // Keras UpSampling2D(size=(2, 2)), interpolation 'nearest': out[i] = in[i / 2].
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .scale_factor(std::vector<double>{2.0, 2.0})
                               .mode(torch::kNearest));
}

}  // namespace

// ---- ArticleAutoencoder ------------------------------------------------------------------------

ArticleAutoencoderImpl::ArticleAutoencoderImpl(const ArticleAutoencoderOptions& options)
    : ImageModelImpl(options.in_channels, options.out_channels, options.residual),
      options_(options) {
  const auto& o = options_;
  check_common("autoencoder", o.in_channels, o.out_channels, o.filters);
  int64_t channels = o.in_channels;
  for (int i = 0; i < kConvs; ++i) {
    const int64_t width = i < kConvs - 1 ? o.filters * kArticleWidths[i] : o.out_channels;
    // conv2 (index 1): stride 2 'valid'; conv3 (index 2): stride 2 'same' with TF's padding
    // applied in forward (padding 0 here); all others: stride 1 'same' = symmetric padding 1.
    const int64_t stride = (i == 1 || i == 2) ? 2 : 1;
    const int64_t padding = (i == 1 || i == 2) ? 0 : 1;
    convs_.push_back(
        register_module("conv" + std::to_string(i + 1),
                        keras::conv2d(channels, width, 3, stride, padding, /*he=*/false)));
    channels = width;
  }
}

void ArticleAutoencoderImpl::check_input(int64_t channels, int64_t h, int64_t w) const {
  TESSERA_CHECK(channels == options_.in_channels,
                "autoencoder (the article's myTransformer) expects {} input channels "
                "(task.in_channels); got {}",
                options_.in_channels, channels);
  TESSERA_CHECK(h >= 16 && w >= 16 && h % 16 == 0 && w % 16 == 0,
                "autoencoder (the article's myTransformer) reproduces the input size only when H "
                "and W are multiples of 16 (>= 16); got {}x{}. Use model.arch "
                "autoencoder_generic for other sizes",
                h, w);
}

torch::Tensor ArticleAutoencoderImpl::forward_net(torch::Tensor x) {
  auto* tr = trace();
  auto conv = [&](int i, torch::Tensor in) {  // conv<i> (1-based) + ReLU, except conv16
    const std::string name = tr != nullptr ? "conv" + std::to_string(i) : std::string();
    torch::Tensor out = trace_layer(tr, name, "Conv2D", convs_[i - 1](in));
    if (i == kConvs) return out;
    return trace_layer(tr, name + ".relu", "Activation(relu)", torch::relu(out));
  };
  auto pool = [&](const char* name, torch::Tensor in) {
    return trace_layer(tr, name, "MaxPooling2D", F::max_pool2d(in, F::MaxPool2dFuncOptions(2)));
  };
  auto up = [&](const char* name, torch::Tensor in) {
    return trace_layer(tr, name, "UpSampling2D", upsample2(in));
  };
  // encoder
  x = conv(1, x);
  x = pool("pool1", x);
  x = conv(2, x);  // stride 2, 'valid'
  x = trace_layer(tr, "conv3.pad", "ZeroPadding2D(tf same)", keras::tf_same_pad(x, 3, 2));
  x = conv(3, x);  // stride 2, 'same'
  x = pool("pool2", x);
  for (int i = 4; i <= 8; ++i) x = conv(i, x);
  // decoder
  x = up("up1", x);
  for (int i = 9; i <= 12; ++i) x = conv(i, x);
  x = up("up2", x);
  x = conv(13, x);
  x = up("up3", x);
  x = conv(14, x);
  x = up("up4", x);
  x = conv(15, x);
  return conv(16, x);
}

// ---- GenericAutoencoder ------------------------------------------------------------------------

GenericAutoencoderImpl::GenericAutoencoderImpl(const GenericAutoencoderOptions& options)
    : ImageModelImpl(options.in_channels, options.out_channels, options.residual),
      options_(options) {
  const auto& o = options_;
  check_common("autoencoder_generic", o.in_channels, o.out_channels, o.filters);
  TESSERA_CHECK(o.depth >= 1 && o.depth <= 10,
                "autoencoder_generic: model.depth must be in [1, 10]; got {}", o.depth);
  TESSERA_CHECK(o.dropout >= 0.0 && o.dropout < 1.0,
                "autoencoder_generic: model.dropout must be in [0, 1); got {}", o.dropout);
  auto encoder = register_module("encoder", torch::nn::ModuleList());
  int64_t channels = o.in_channels;
  for (int64_t i = 0; i < o.depth; ++i) {
    encoder_.emplace_back(channels, o.filters << i, o.batch_norm, o.norm);
    encoder->push_back(encoder_.back());
    channels = o.filters << i;
  }
  bottleneck_ =
      register_module("bottleneck", ConvBlock(channels, o.filters << o.depth, o.batch_norm, o.norm));
  channels = o.filters << o.depth;
  auto decoder = register_module("decoder", torch::nn::ModuleList());
  for (int64_t level = o.depth - 1; level >= 0; --level) {
    decoder_.emplace_back(channels, o.filters << level, o.batch_norm, o.norm);
    decoder->push_back(decoder_.back());
    channels = o.filters << level;
  }
  head_ = register_module("head", keras::conv2d(channels, o.out_channels, 1, 1, 0, /*he=*/false));
}

void GenericAutoencoderImpl::check_input(int64_t channels, int64_t h, int64_t w) const {
  TESSERA_CHECK(channels == options_.in_channels,
                "autoencoder_generic expects {} input channels (task.in_channels); got {}",
                options_.in_channels, channels);
  const int64_t multiple = int64_t{1} << options_.depth;
  TESSERA_CHECK(h > 0 && w > 0 && h % multiple == 0 && w % multiple == 0,
                "autoencoder_generic of depth {} needs H and W divisible by {}; got {}x{} (each "
                "of the {} 2x2 poolings halves H and W)",
                options_.depth, multiple, h, w, options_.depth);
}

torch::Tensor GenericAutoencoderImpl::forward_net(torch::Tensor x) {
  auto* tr = trace();
  const bool train = is_training();
  for (size_t i = 0; i < encoder_.size(); ++i) {
    const std::string idx = tr != nullptr ? std::to_string(i) : std::string();
    x = encoder_[i]->forward(x, tr, "encoder." + idx);
    x = trace_layer(tr, "pool." + idx, "MaxPooling2D",
                    F::max_pool2d(x, F::MaxPool2dFuncOptions(2)));
    x = trace_layer(tr, "dropout." + idx, "Dropout",
                    fast_dropout(x, options_.dropout, train));
  }
  x = bottleneck_->forward(x, tr, "bottleneck");
  for (size_t j = 0; j < decoder_.size(); ++j) {
    const std::string idx = tr != nullptr ? std::to_string(j) : std::string();
    x = trace_layer(tr, "upsample." + idx, "UpSampling2D", upsample2(x));
    x = decoder_[j]->forward(x, tr, "decoder." + idx);
  }
  return trace_layer(tr, "head", "Conv2D", head_(x));
}

}  // namespace tessera
