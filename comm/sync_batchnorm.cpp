#include "comm/sync_batchnorm.h"

#include <cstdint>
#include <optional>

#include "common/error.h"

namespace tessera {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

torch::Tensor per_channel(const torch::Tensor& t) {
  return t.view({1, -1, 1, 1});
}

// The allreduce waits for every rank: mark it so (watchdog.h, "Naming the culprit").
void allreduce_watched(Communicator& comm, torch::Tensor& t, Watchdog* watchdog) {
  std::optional<Watchdog::Scope> waiting;
  if (watchdog != nullptr && watchdog->on_training_thread()) {
    waiting.emplace(watchdog->enter(Phase::collective));
  }
  comm.allreduce(t, ReduceOp::sum);
}

// y = (x - mean) * invstd * weight + bias with given (global) statistics; backward reduces the
// per-channel sums of grad_out and grad_out*(x-mean) over all ranks. mean/var are inputs that
// need no gradient: their dependence on x is part of the analytic backward below.
struct SyncBatchNormFunction : public torch::autograd::Function<SyncBatchNormFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               const torch::Tensor& mean, const torch::Tensor& var, double eps,
                               double count, int64_t comm_address, int64_t watchdog_address) {
    const torch::Tensor invstd = (var + eps).rsqrt();
    ctx->save_for_backward({x, weight, mean, invstd});
    ctx->saved_data["count"] = count;
    ctx->saved_data["comm"] = comm_address;
    ctx->saved_data["watchdog"] = watchdog_address;
    // Eval-mode batch_norm = the fused "normalise with these statistics" kernel.
    return torch::batch_norm(x, weight, bias, mean, var, /*training=*/false, /*momentum=*/0.0,
                             eps, /*cudnn_enabled=*/true);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& weight = saved[1];
    const torch::Tensor& mean = saved[2];
    const torch::Tensor& invstd = saved[3];
    const double count = ctx->saved_data["count"].toDouble();
    auto* comm = reinterpret_cast<Communicator*>(  // NOLINT(performance-no-int-to-ptr)
        static_cast<intptr_t>(ctx->saved_data["comm"].toInt()));
    auto* watchdog = reinterpret_cast<Watchdog*>(  // NOLINT(performance-no-int-to-ptr)
        static_cast<intptr_t>(ctx->saved_data["watchdog"].toInt()));

    const torch::Tensor g = grad_outputs[0];
    const torch::Tensor xmu = x - per_channel(mean);
    const torch::Tensor sum_dy = g.sum({0, 2, 3});
    const torch::Tensor sum_dy_xmu = (g * xmu).sum({0, 2, 3});

    torch::Tensor grad_x;
    torch::Tensor grad_weight;
    torch::Tensor grad_bias;
    if (ctx->needs_input_grad(1) && weight.defined()) grad_weight = sum_dy_xmu * invstd;
    if (ctx->needs_input_grad(2)) grad_bias = sum_dy;
    if (ctx->needs_input_grad(0)) {
      const int64_t c = sum_dy.size(0);
      torch::Tensor packed = torch::cat({sum_dy, sum_dy_xmu});
      if (comm->size() > 1) allreduce_watched(*comm, packed, watchdog);
      const torch::Tensor mean_dy = packed.narrow(0, 0, c) / count;
      const torch::Tensor mean_dy_xmu = packed.narrow(0, c, c) / count;
      const torch::Tensor scale = weight.defined() ? invstd * weight : invstd;
      grad_x = (g - per_channel(mean_dy) - xmu * per_channel(invstd * invstd * mean_dy_xmu)) *
               per_channel(scale);
    }
    return {grad_x,          grad_weight,     grad_bias,       torch::Tensor(), torch::Tensor(),
            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor sync_batch_norm(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias, torch::Tensor running_mean,
                              torch::Tensor running_var, double exponential_average_factor,
                              double eps, Communicator& comm, Watchdog* watchdog) {
  TESSERA_CHECK(x.dim() == 4, "SyncBatchNorm2d: expected a 4-D input [N, C, H, W], got shape {}",
                c10::str(x.sizes()));
  const int64_t c = x.size(1);
  torch::Tensor gmean;
  torch::Tensor gvar;
  double count = 0;
  {
    torch::NoGradGuard no_grad;
    const double n = static_cast<double>(x.numel() / std::max<int64_t>(c, 1));
    const auto dopt = x.options().dtype(torch::kFloat64);
    torch::Tensor packed = torch::empty({2 * c + 1}, dopt);
    if (n > 0) {
      auto var_mean = torch::var_mean(x, {0, 2, 3}, /*unbiased=*/false);
      const torch::Tensor mean = std::get<1>(var_mean).to(torch::kFloat64);
      const torch::Tensor var = std::get<0>(var_mean).to(torch::kFloat64);
      packed.narrow(0, 0, c).copy_(mean * n);
      packed.narrow(0, c, c).copy_((var + mean * mean) * n);
    } else {
      packed.narrow(0, 0, 2 * c).zero_();
    }
    packed.narrow(0, 2 * c, 1).fill_(n);
    if (comm.size() > 1) allreduce_watched(comm, packed, watchdog);
    count = packed[2 * c].item<double>();
    TESSERA_CHECK(count > 1,
                  "SyncBatchNorm2d: expected more than 1 value per channel over all ranks in "
                  "training, got {} (this rank's input shape {})",
                  count, c10::str(x.sizes()));
    const torch::Tensor mean = packed.narrow(0, 0, c) / count;
    const torch::Tensor var = (packed.narrow(0, c, c) / count - mean * mean).clamp_min(0.0);
    if (running_mean.defined()) {
      const double f = exponential_average_factor;
      running_mean.mul_(1.0 - f).add_(mean.to(running_mean.scalar_type()), f);
      running_var.mul_(1.0 - f).add_((var * (count / (count - 1))).to(running_var.scalar_type()),
                                     f);
    }
    gmean = mean.to(x.scalar_type());
    gvar = var.to(x.scalar_type());
  }
  // LibTorch 1.13's Function::apply cannot take undefined tensors: affine=false gets constants.
  const auto popt = x.options().requires_grad(false);
  const torch::Tensor w = weight.defined() ? weight : torch::ones({c}, popt);
  const torch::Tensor b = bias.defined() ? bias : torch::zeros({c}, popt);
  return SyncBatchNormFunction::apply(
      x, w, b, gmean, gvar, eps, count, static_cast<int64_t>(reinterpret_cast<intptr_t>(&comm)),
      static_cast<int64_t>(reinterpret_cast<intptr_t>(watchdog)));
}

SyncBatchNorm2dImpl::SyncBatchNorm2dImpl(const torch::nn::BatchNorm2dOptions& options_,
                                         Communicator& comm)
    : options(options_), comm_(&comm) {
  reset();
}

SyncBatchNorm2dImpl::SyncBatchNorm2dImpl(const torch::nn::BatchNorm2dOptions& options_,
                                         std::shared_ptr<Communicator> comm)
    : options(options_), comm_(comm.get()), owned_comm_(std::move(comm)) {
  TESSERA_CHECK(comm_ != nullptr, "SyncBatchNorm2d: null communicator");
  reset();
}

void SyncBatchNorm2dImpl::reset() {
  const int64_t c = options.num_features();
  TESSERA_CHECK(c > 0, "SyncBatchNorm2d: num_features must be > 0, got {}", c);
  if (options.affine()) {
    weight = register_parameter("weight", torch::empty({c}));
    bias = register_parameter("bias", torch::empty({c}));
  } else {
    weight = register_parameter("weight", torch::Tensor(), /*requires_grad=*/false);
    bias = register_parameter("bias", torch::Tensor(), /*requires_grad=*/false);
  }
  if (options.track_running_stats()) {
    running_mean = register_buffer("running_mean", torch::zeros({c}));
    running_var = register_buffer("running_var", torch::ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
  } else {
    running_mean = register_buffer("running_mean", torch::Tensor());
    running_var = register_buffer("running_var", torch::Tensor());
    num_batches_tracked = register_buffer("num_batches_tracked", torch::Tensor());
  }
  reset_parameters();
}

void SyncBatchNorm2dImpl::reset_running_stats() {
  if (!options.track_running_stats()) return;
  torch::NoGradGuard no_grad;
  running_mean.zero_();
  running_var.fill_(1);
  num_batches_tracked.zero_();
}

void SyncBatchNorm2dImpl::reset_parameters() {
  reset_running_stats();
  if (!options.affine()) return;
  torch::NoGradGuard no_grad;
  weight.fill_(1);
  bias.zero_();
}

torch::Tensor SyncBatchNorm2dImpl::forward(const torch::Tensor& input) {
  TESSERA_CHECK(input.dim() == 4 && input.size(1) == options.num_features(),
                "SyncBatchNorm2d({}): expected input [N, {}, H, W], got shape {}",
                options.num_features(), options.num_features(), c10::str(input.sizes()));
  const auto dtype = input.scalar_type();
  if (dtype == torch::kBFloat16 || dtype == torch::kHalf) {
    // Mixed precision (trainer/precision.h): statistics, their allreduce and the normalisation
    // in float32 (var_mean of a bf16 tensor rounds the mean to 8 bits); the result returns in
    // the input's dtype.
    return forward(input.to(torch::kFloat32)).to(dtype);
  }
  if (!is_training()) {
    // Without running stats, eval mode normalises with the local batch (as PyTorch does).
    const bool use_batch = !options.track_running_stats();
    return torch::batch_norm(input, weight, bias, running_mean, running_var, use_batch, 0.0,
                             options.eps(), /*cudnn_enabled=*/true);
  }
  double factor = options.momentum().has_value() ? *options.momentum() : 0.0;
  if (options.track_running_stats()) {
    torch::NoGradGuard no_grad;
    num_batches_tracked += 1;
    if (!options.momentum().has_value()) factor = 1.0 / num_batches_tracked.item<double>();
  }
  return sync_batch_norm(input, weight, bias, running_mean, running_var, factor, options.eps(),
                         *comm_, watchdog_);
}

int set_sync_batchnorm_watchdog(torch::nn::Module& root, Watchdog* watchdog) {
  int n = 0;
  for (const auto& m : root.modules(/*include_self=*/true)) {
    if (auto* bn = dynamic_cast<SyncBatchNorm2dImpl*>(m.get())) {
      bn->set_watchdog(watchdog);
      ++n;
    }
  }
  return n;
}

void SyncBatchNorm2dImpl::pretty_print(std::ostream& stream) const {
  stream << "tessera::SyncBatchNorm2d(" << options.num_features() << ", eps=" << options.eps()
         << ", momentum=";
  if (options.momentum().has_value()) {
    stream << *options.momentum();
  } else {
    stream << "None";
  }
  stream << ", affine=" << std::boolalpha << options.affine()
         << ", track_running_stats=" << options.track_running_stats() << ")";
}

void SyncBatchNorm2dImpl::load_from(const torch::nn::BatchNorm2dImpl& bn) {
  const auto& o = bn.options;
  TESSERA_CHECK(o.num_features() == options.num_features() && o.affine() == options.affine() &&
                    o.track_running_stats() == options.track_running_stats(),
                "SyncBatchNorm2d::load_from: the BatchNorm2d has num_features={} affine={} "
                "track_running_stats={}, this layer {} {} {}",
                o.num_features(), o.affine(), o.track_running_stats(), options.num_features(),
                options.affine(), options.track_running_stats());
  options.eps(o.eps());
  options.momentum(o.momentum());
  torch::NoGradGuard no_grad;
  auto take = [](torch::Tensor& dst, const torch::Tensor& src) {
    if (dst.defined() && src.defined()) dst.set_data(src.detach().clone());
  };
  take(weight, bn.weight);
  take(bias, bn.bias);
  take(running_mean, bn.running_mean);
  take(running_var, bn.running_var);
  take(num_batches_tracked, bn.num_batches_tracked);
  train(bn.is_training());
}

Norm2dFactory sync_batchnorm_factory(Communicator& comm) {
  Communicator* c = &comm;
  return [c](const torch::nn::BatchNorm2dOptions& options) {
    return torch::nn::AnyModule(SyncBatchNorm2d(options, *c));
  };
}

Norm2dFactory sync_batchnorm_factory(std::shared_ptr<Communicator> comm) {
  TESSERA_CHECK(comm != nullptr, "sync_batchnorm_factory: null communicator");
  return [comm](const torch::nn::BatchNorm2dOptions& options) {
    return torch::nn::AnyModule(SyncBatchNorm2d(options, comm));
  };
}

namespace {

struct Swap {
  torch::nn::Module* parent;
  std::string name;       // key in the parent's registry
  std::string qualified;  // path from the root, for messages
  torch::nn::SequentialImpl* sequential;  // non-null when the parent is a Sequential
  size_t sequential_index;
  std::shared_ptr<torch::nn::BatchNorm2dImpl> old;
};

void collect(torch::nn::Module& m, const std::string& prefix, std::vector<Swap>& swaps) {
  auto* seq = dynamic_cast<torch::nn::SequentialImpl*>(&m);
  for (const auto& item : m.named_children()) {
    const std::string qualified = prefix.empty() ? item.key() : prefix + "." + item.key();
    auto bn = std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(item.value());
    if (!bn) {
      collect(*item.value(), qualified, swaps);
      continue;
    }
    Swap s{&m, item.key(), qualified, nullptr, 0, bn};
    if (seq != nullptr) {
      size_t k = 0;
      for (auto it = seq->begin(); it != seq->end(); ++it, ++k) {
        if (it->ptr().get() == bn.get()) {
          s.sequential = seq;
          s.sequential_index = k;
          break;
        }
      }
    }
    swaps.push_back(std::move(s));
  }
}

}  // namespace

std::vector<std::string> convert_sync_batchnorm(torch::nn::Module& root, Communicator& comm) {
  std::vector<Swap> swaps;
  collect(root, "", swaps);
  // Owners we can update: the parent's registry, the Sequential's slot, and `swaps` itself. Any
  // other owner (a holder member used by forward(), the same layer registered twice) would keep
  // the old layer in use, so refuse before changing anything.
  for (const auto& s : swaps) {
    const long expected = 2 + (s.sequential != nullptr ? 1 : 0);
    TESSERA_CHECK(s.old.use_count() == expected,
                  "convert_sync_batchnorm: cannot replace BatchNorm2d '{}': it is also held "
                  "outside the module registry{} (e.g. a BatchNorm2d member that forward() "
                  "calls, or one layer registered twice), so the model would keep using the "
                  "unsynchronised layer. Keep conv/bn blocks in torch::nn::Sequential, or build "
                  "the model's norm layers with sync_batchnorm_factory()",
                  s.qualified, s.sequential != nullptr ? " and its Sequential" : "");
  }
  std::vector<std::string> names;
  for (auto& s : swaps) {
    SyncBatchNorm2d replacement(s.old->options, comm);
    replacement->load_from(*s.old);
    if (s.sequential != nullptr) {
      *(s.sequential->begin() + static_cast<std::ptrdiff_t>(s.sequential_index)) =
          torch::nn::AnyModule(replacement);
    }
    s.parent->replace_module(s.name, replacement.ptr());
    names.push_back(s.qualified);
  }
  return names;
}

}  // namespace tessera
