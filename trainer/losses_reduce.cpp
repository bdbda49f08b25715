// Batch-level loss statistics: the loss.reduction modes and the global-batch LossStats (an
// allreduce inside autograd). Semantics: trainer/losses.h.
#include <torch/torch.h>

#include <optional>

#include "common/error.h"
#include "trainer/losses_internal.h"

namespace tessera {

LossReduction parse_loss_reduction(const std::string& s) {
  if (s == "global_batch") return LossReduction::global_batch;
  if (s == "per_image") return LossReduction::per_image;
  if (s == "per_rank") return LossReduction::per_rank;
  TESSERA_THROW("loss.reduction: unknown value '{}'; expected global_batch, per_image or per_rank",
                s);
}

namespace {

// Forward: the sum over ranks. Backward: the incoming gradient times the world size (the
// gradient reducer then averages over ranks, which makes it the gradient of the global sum).
class GlobalSum : public torch::autograd::Function<GlobalSum> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& local,
                               Communicator* comm) {
    ctx->saved_data["world"] = static_cast<int64_t>(comm->size());
    torch::Tensor total = local.detach().clone().contiguous();
    comm->allreduce(total, ReduceOp::sum);
    return total;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const double world = static_cast<double>(ctx->saved_data["world"].toInt());
    return {grads[0] * world, torch::Tensor()};
  }
};

class CommLossStats : public LossStats {
 public:
  explicit CommLossStats(std::unique_ptr<Communicator> comm) : comm_(std::move(comm)) {}
  torch::Tensor global_sum(const torch::Tensor& local) override {
    std::optional<Watchdog::Scope> waiting;
    if (watchdog_ != nullptr) waiting.emplace(watchdog_->enter(Phase::collective));
    return GlobalSum::apply(local, comm_.get());
  }

 private:
  std::unique_ptr<Communicator> comm_;
};

}  // namespace

std::shared_ptr<LossStats> make_loss_stats(const LossConfig& loss, const Communicator& comm) {
  if (comm.size() == 1 || parse_loss_reduction(loss.reduction) != LossReduction::global_batch) {
    return nullptr;
  }
  return std::make_shared<CommLossStats>(comm.duplicate());
}

namespace detail {

std::vector<torch::Tensor> BatchReduce::sums(const std::vector<torch::Tensor>& parts) const {
  if (mode != LossReduction::global_batch || !stats) return parts;
  // One allreduce for all of them.
  std::vector<torch::Tensor> flat;
  for (const auto& s : parts) flat.push_back(s.reshape({-1}));
  const torch::Tensor total = stats->global_sum(torch::cat(flat));
  std::vector<torch::Tensor> out;
  int64_t at = 0;
  for (const auto& s : parts) {
    out.push_back(total.narrow(0, at, s.numel()).reshape(s.sizes()));
    at += s.numel();
  }
  return out;
}

torch::Tensor BatchReduce::weighted_mean(const torch::Tensor& values,
                                         const torch::Tensor& weights) const {
  const torch::Tensor vw = values * weights;
  if (mode == LossReduction::per_image) {
    const torch::Tensor w = weights.expand_as(vw);
    const torch::Tensor num = vw.reshape({vw.size(0), -1}).sum(1);
    const torch::Tensor den = w.reshape({w.size(0), -1}).sum(1);
    // den == 0 only when every weight of the image is 0, and then num == 0 too: 0 / 1 keeps
    // gradients finite.
    return (num / (den + (den == 0).to(den.scalar_type()))).mean();
  }
  const auto s = sums({vw.sum(), weights.sum()});
  return s[0] / (s[1] + (s[1] == 0).to(s[1].scalar_type()));
}

torch::Tensor BatchReduce::dice(const torch::Tensor& p, const torch::Tensor& y,
                                float smooth) const {
  const std::vector<int64_t> dims =
      mode == LossReduction::per_image ? std::vector<int64_t>{2, 3} : std::vector<int64_t>{0, 2, 3};
  const auto s = sums({(p * y).sum(dims), p.sum(dims) + y.sum(dims)});
  return ((2.0 * s[0] + smooth) / (s[1] + smooth)).mean();
}

}  // namespace detail
}  // namespace tessera
