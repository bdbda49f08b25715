// Small models and training loops shared by the reducer and SyncBatchNorm tests. Everything is
// deterministic: weights come from torch::manual_seed(seed), data from a seeded generator, and
// every rank can rebuild any rank's data (the single-process references need all of it).
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace tessera::testing {

// conv(3->8) relu conv(8->8) relu conv(8->3): no batch norm, no dropout.
struct ConvNetImpl : torch::nn::Module {
  explicit ConvNetImpl(uint64_t seed) {
    torch::manual_seed(seed);
    c1 = register_module("c1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3).padding(1)));
    c2 = register_module("c2", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 8, 3).padding(1)));
    c3 = register_module("c3", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 3, 1)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return c3(torch::relu(c2(torch::relu(c1(x)))));
  }
  torch::nn::Conv2d c1{nullptr}, c2{nullptr}, c3{nullptr};
};
TORCH_MODULE(ConvNet);

// Same layers, registered in an order (c3, c1, c2) that differs from the order of use.
struct ShuffledNetImpl : torch::nn::Module {
  explicit ShuffledNetImpl(uint64_t seed) {
    torch::manual_seed(seed);
    c3 = register_module("c3", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 3, 1)));
    c1 = register_module("c1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3).padding(1)));
    c2 = register_module("c2", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 8, 3).padding(1)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return c3(torch::relu(c2(torch::relu(c1(x)))));
  }
  torch::nn::Conv2d c1{nullptr}, c2{nullptr}, c3{nullptr};
};
TORCH_MODULE(ShuffledNet);

// `steps` global batches of `batch` samples (inputs [batch,3,6,6], targets [batch,3,6,6]).
inline std::vector<std::pair<torch::Tensor, torch::Tensor>> make_batches(int steps, int batch,
                                                                         uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<std::pair<torch::Tensor, torch::Tensor>> out;
  for (int s = 0; s < steps; ++s) {
    out.emplace_back(torch::randn({batch, 3, 6, 6}), torch::randn({batch, 3, 6, 6}));
  }
  return out;
}

inline std::unique_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& model,
                                                               const std::string& name) {
  if (name == "sgd") {
    return std::make_unique<torch::optim::SGD>(model.parameters(),
                                               torch::optim::SGDOptions(0.1).momentum(0.9));
  }
  if (name == "adam") {
    return std::make_unique<torch::optim::Adam>(model.parameters(),
                                                torch::optim::AdamOptions(1e-2));
  }
  TESSERA_THROW("test: unknown optimizer '{}'", name);
}

// Trains on rows [first, first+count) of every batch, loss = MSE mean, no communication.
template <typename Model>
void train_local(Model& model, const std::vector<std::pair<torch::Tensor, torch::Tensor>>& data,
                 int first, int count, const std::string& optimizer_name) {
  auto optimizer = make_optimizer(model, optimizer_name);
  for (const auto& batch : data) {
    optimizer->zero_grad();
    const auto x = batch.first.narrow(0, first, count);
    const auto y = batch.second.narrow(0, first, count);
    torch::mse_loss(model.forward(x), y).backward();
    optimizer->step();
  }
}

// Largest absolute difference between same-named parameters and buffers.
inline double max_param_diff(torch::nn::Module& a, torch::nn::Module& b) {
  double worst = 0;
  auto pb = b.named_parameters();
  for (const auto& item : a.named_parameters()) {
    worst = std::max(worst, (item.value() - pb[item.key()]).abs().max().item<double>());
    if (std::isnan(worst)) return worst;  // std::max would drop a NaN: report it
  }
  auto bb = b.named_buffers();
  for (const auto& item : a.named_buffers()) {
    if (!item.value().defined()) continue;
    worst = std::max(
        worst, (item.value().to(torch::kFloat64) - bb[item.key()].to(torch::kFloat64)).abs().max().item<double>());
  }
  return worst;
}

}  // namespace tessera::testing
