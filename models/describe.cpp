#include "models/describe.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>

#include "common/error.h"

namespace tessera {

namespace {

// Parameters + floating buffers (Keras' view: BN moving stats count as non-trainable params).
int64_t keras_count(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters(/*recurse=*/true)) n += p.numel();
  for (const auto& b : module.buffers(/*recurse=*/true)) {
    if (b.is_floating_point()) n += b.numel();
  }
  return n;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  return fmt::format("{}", fmt::join(shape, " x "));
}

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

// Restores the model's trace pointer and train mode on every exit path.
class TraceScope {
 public:
  TraceScope(ImageModelImpl& model, std::vector<TracedLayer>* trace)
      : model_(model), was_training_(model.is_training()) {
    model_.eval();
    model_.set_trace(trace);
  }
  ~TraceScope() {
    model_.set_trace(nullptr);
    model_.train(was_training_);
  }
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;

 private:
  ImageModelImpl& model_;
  bool was_training_;
};

}  // namespace

ModelSummary summarize_model(ImageModelImpl& model, int64_t height, int64_t width) {
  model.check_input(model.in_channels(), height, width);
  ModelSummary s;
  s.arch = model.arch();
  s.input_shape = {model.in_channels(), height, width};

  std::vector<TracedLayer> trace;
  torch::Tensor out;
  {
    TraceScope scope(model, &trace);
    torch::NoGradGuard no_grad;
    // Same device/dtype as the weights.
    const auto params = model.parameters();
    auto options = params.empty()
                       ? torch::TensorOptions().dtype(torch::kFloat32)
                       : torch::TensorOptions().dtype(params[0].dtype()).device(params[0].device());
    out = model.forward(torch::zeros({1, model.in_channels(), height, width}, options));
  }
  s.output_shape = out.sizes().vec();
  s.output_shape.erase(s.output_shape.begin());

  std::map<std::string, std::shared_ptr<torch::nn::Module>> modules;
  for (const auto& item : model.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    modules.emplace(item.key(), item.value());
  }
  for (const auto& layer : trace) {
    LayerRow row;
    row.name = layer.name;
    row.type = layer.type;
    row.output_shape.assign(layer.shape.begin() + 1, layer.shape.end());
    auto it = modules.find(layer.name);
    if (it != modules.end()) row.params = keras_count(*it->second);
    // data.normalize's statistics are buffers of the model itself (Keras's Normalization layer
    // counts its mean and variance as its weights too).
    if (layer.name == "normalize" && model.normalizes_input()) {
      row.params = model.input_mean().numel() + model.input_std().numel();
    }
    s.layers.push_back(std::move(row));
  }
  for (const auto& p : model.parameters()) {
    (p.requires_grad() ? s.trainable_params : s.non_trainable_params) += p.numel();
  }
  for (const auto& b : model.buffers()) {
    if (b.is_floating_point()) s.non_trainable_params += b.numel();
  }
  s.total_params = s.trainable_params + s.non_trainable_params;
  return s;
}

std::string format_summary(const ModelSummary& s) {
  size_t name_w = 5, type_w = 4, shape_w = 12;
  for (const auto& r : s.layers) {
    name_w = std::max(name_w, r.name.size());
    type_w = std::max(type_w, r.type.size());
    shape_w = std::max(shape_w, shape_text(r.output_shape).size());
  }
  std::string out;
  const std::string rule(name_w + type_w + shape_w + 6 + 12, '-');
  out += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>12}\n", "layer", name_w, "type", type_w,
                     "output shape", shape_w, "params");
  out += rule + "\n";
  for (const auto& r : s.layers) {
    out += fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>12}\n", r.name, name_w, r.type, type_w,
                       shape_text(r.output_shape), shape_w, with_commas(r.params));
  }
  out += rule + "\n";
  out += fmt::format("input shape:          {}\n", shape_text(s.input_shape));
  out += fmt::format("output shape:         {}\n", shape_text(s.output_shape));
  out += fmt::format("total params:         {}\n", with_commas(s.total_params));
  out += fmt::format("trainable params:     {}\n", with_commas(s.trainable_params));
  const bool normalize = std::any_of(s.layers.begin(), s.layers.end(),
                                     [](const LayerRow& r) { return r.name == "normalize"; });
  out += fmt::format("non-trainable params: {} (BatchNorm moving mean/variance{})\n",
                     with_commas(s.non_trainable_params),
                     normalize ? "; data.normalize's input mean/std" : "");
  return out;
}

std::string describe_model(const Config& config, int64_t image_size) {
  TESSERA_CHECK(image_size > 0, "describe_model: image size must be positive; got {}", image_size);
  ImageModel model = make_model(config);
  const ModelSummary s = summarize_model(*model, image_size, image_size);
  const ModelConfig& m = config.model;
  const std::string residual = !m.residual                ? "off"
                               : m.head_init == "zero" ? "on, last convolution zero-initialised"
                                                       : "on";
  std::string out =
      s.arch == "autoencoder"
          ? fmt::format(
                "model: autoencoder (the article's myTransformer; filters {}, residual {}; "
                "model.depth/dropout/batch_norm do not apply)\n",
                m.filters, residual)
          : fmt::format(
                "model: {} (filters {}, depth {}, dropout {}, batch_norm {}, residual {})\n",
                s.arch, m.filters, m.depth, m.dropout, m.batch_norm ? "on" : "off", residual);
  out += fmt::format(
      "task: {}, {} -> {} channels, output activation {} (applied outside the "
      "network)\n\n",
      to_string(config.task.kind), model->in_channels(), model->out_channels(), m.activation);
  return out + format_summary(s);
}

}  // namespace tessera
