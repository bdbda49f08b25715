#include "comm/grad_reducer.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>

#include <fmt/ranges.h>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"

namespace tessera {

namespace detail {

// Post-hook of a parameter's AccumulateGrad node: runs after the incoming gradient was added
// into .grad (the bucket view). The same FunctionPostHook interface exists in LibTorch 1.13
// and 2.x.
class ReducerHook : public torch::autograd::FunctionPostHook {
 public:
  ReducerHook(GradReducer* reducer, size_t index) : reducer_(reducer), index_(index) {}
  torch::autograd::variable_list operator()(
      const torch::autograd::variable_list& outputs,
      const torch::autograd::variable_list& /*inputs*/) override {
    reducer_->on_grad_ready(index_);
    return outputs;
  }

 private:
  GradReducer* reducer_;
  size_t index_;
};

}  // namespace detail

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

size_t mib_to_bytes(double mib) {
  return static_cast<size_t>(mib * 1024.0 * 1024.0);
}

std::string describe(const std::string& name, const torch::Tensor& t) {
  return fmt::format("{} {} {}", name, c10::str(t.sizes()), c10::toString(t.scalar_type()));
}

}  // namespace

ReducerOptions reducer_options(const DistConfig& dist) {
  ReducerOptions o;
  o.bucket_mb = dist.bucket_mb;
  o.overlap = dist.overlap;
  return o;
}

GradReducer::GradReducer(torch::nn::Module& model, Communicator& comm,
                         const ReducerOptions& options)
    : model_(model), comm_(comm), options_(options) {
  TESSERA_CHECK(options_.bucket_mb > 0, "dist.bucket_mb must be > 0 (MiB), got {}",
                options_.bucket_mb);
  TESSERA_CHECK(options_.first_bucket_mb > 0, "first_bucket_mb must be > 0 (MiB), got {}",
                options_.first_bucket_mb);
  std::set<const c10::TensorImpl*> seen;  // a parameter shared by two modules counts once
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    if (item.value().defined() && item.value().requires_grad() &&
        seen.insert(item.value().unsafeGetTensorImpl()).second) {
      params_.push_back(item.value());
      names_.push_back(item.key());
    }
  }
  check_same_structure(model);
  if (options_.broadcast_on_start && comm_.size() > 1) {
    std::vector<torch::Tensor> state;
    for (const auto& p : model.parameters(true)) state.push_back(p);
    for (const auto& b : model.buffers(true)) state.push_back(b);
    broadcast_coalesced(comm_, state, 0, mib_to_bytes(options_.bucket_mb));
  }
  std::vector<size_t> order;
  for (size_t i = params_.size(); i-- > 0;) order.push_back(i);
  install(plan_buckets(params_, order, mib_to_bytes(options_.bucket_mb),
                       mib_to_bytes(std::min(options_.first_bucket_mb, options_.bucket_mb))));
  for (size_t i = 0; i < params_.size(); ++i) {
    std::shared_ptr<torch::autograd::Node> acc = torch::autograd::impl::grad_accumulator(params_[i]);
    TESSERA_CHECK(acc != nullptr, "parameter '{}' has no gradient accumulator (not a leaf?)",
                  names_[i]);
    hook_keys_.push_back(acc->add_post_hook(std::make_unique<detail::ReducerHook>(this, i)));
    accumulators_.push_back(std::move(acc));
  }
  ready_.assign(params_.size(), 0);
  reset_step();
  spdlog::debug("GradReducer: {} parameter(s) in {} bucket(s) of <= {} MiB, overlap {}",
                params_.size(), buckets_.size(), options_.bucket_mb,
                options_.overlap ? "on" : "off");
}

GradReducer::~GradReducer() {
  for (size_t i = 0; i < accumulators_.size(); ++i) accumulators_[i]->del_post_hook(hook_keys_[i]);
  for (auto& b : buckets_) {
    if (!b.work) continue;
    try {
      b.work->wait();
    } catch (const std::exception& e) {
      spdlog::error("GradReducer: an allreduce failed while shutting down: {}", e.what());
    }
  }
}

void GradReducer::check_same_structure(torch::nn::Module& model) {
  std::string mine;
  for (const auto& item : model.named_parameters(true)) mine += describe(item.key(), item.value()) + "\n";
  for (const auto& item : model.named_buffers(true)) {
    if (item.value().defined()) mine += describe("buffer " + item.key(), item.value()) + "\n";
  }
  if (comm_.size() == 1) return;
  const std::vector<std::string> all = comm_.allgather_bytes(mine);
  std::vector<int> differing;
  std::string first_difference;
  for (size_t r = 1; r < all.size(); ++r) {
    if (all[r] == all[0]) continue;
    differing.push_back(static_cast<int>(r));
    if (first_difference.empty()) {
      size_t a = 0;
      size_t b = 0;
      while (a < all[0].size() && b < all[r].size()) {  // first differing line
        const size_t ea = all[0].find('\n', a);
        const size_t eb = all[r].find('\n', b);
        const std::string la = all[0].substr(a, ea - a);
        const std::string lb = all[r].substr(b, eb - b);
        if (la != lb) {
          first_difference = fmt::format("rank 0 has '{}', rank {} has '{}'", la, r, lb);
          break;
        }
        a = ea + 1;
        b = eb + 1;
      }
      if (first_difference.empty()) {
        first_difference = fmt::format("rank 0 lists {} bytes of parameters/buffers, rank {} {}",
                                       all[0].size(), r, all[r].size());
      }
    }
  }
  TESSERA_CHECK(differing.empty(),
                "GradReducer: the model differs between ranks (ranks {} differ from rank 0: {}); "
                "every rank must build the same model from the same config",
                fmt::join(differing, ","), first_difference);
}

void GradReducer::install(const std::vector<std::vector<size_t>>& layout) {
  buckets_ = build_buckets(params_, layout);
  slots_.assign(params_.size(), Slot{});
  std::vector<char> placed(params_.size(), 0);
  for (size_t b = 0; b < buckets_.size(); ++b) {
    for (size_t k = 0; k < buckets_[b].params.size(); ++k) {
      slots_[buckets_[b].params[k]] = Slot{b, k};
      placed[buckets_[b].params[k]] = 1;
    }
  }
  for (size_t i = 0; i < params_.size(); ++i) {
    TESSERA_CHECK(placed[i], "GradReducer: parameter '{}' is in no bucket", names_[i]);
  }
}

void GradReducer::reset_step() {
  std::fill(ready_.begin(), ready_.end(), 0);
  for (auto& b : buckets_) {
    b.pending = b.params.size();
    b.launched = false;
    b.work.reset();
  }
  next_launch_ = 0;
  launched_in_backward_ = 0;
}

void GradReducer::ensure_view(size_t index) {
  const Slot& s = slots_[index];
  const torch::Tensor& view = buckets_[s.bucket].views[s.pos];
  torch::Tensor& grad = params_[index].mutable_grad();
  if (is_same_view(grad, view)) return;
  torch::NoGradGuard no_grad;
  if (grad.defined()) {
    view.copy_(grad);
  } else {
    view.zero_();
  }
  grad = view;
  ++stats_.grad_copies;
}

void GradReducer::on_grad_ready(size_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  ensure_view(index);
  if (!sync_) return;
  TESSERA_CHECK(!ready_[index],
                "GradReducer: parameter '{}' received a second gradient in one synchronised step "
                "(its allreduce may already run); call finish() after each synchronised "
                "backward, and run the other micro-batches' backward inside no_sync()",
                names_[index]);
  ready_[index] = 1;
  if (!first_step_done_) ready_order_.push_back(index);
  Bucket& bucket = buckets_[slots_[index].bucket];
  if (--bucket.pending == 0 && options_.overlap) {
    const size_t before = next_launch_;
    launch_ready_buckets();
    launched_in_backward_ += next_launch_ - before;
  }
}

void GradReducer::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
    Bucket& b = buckets_[next_launch_++];
    b.launched = true;
    if (comm_.size() > 1) b.work = comm_.allreduce_async(b.flat, ReduceOp::avg);
  }
}

void GradReducer::finish() {
  TESSERA_CHECK(sync_,
                "GradReducer::finish() called while gradient sync is off (inside no_sync() or "
                "after set_sync(false)); finish() belongs after the synchronised backward");
  const auto t0 = Clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  unused_.clear();
  for (size_t i = 0; i < params_.size(); ++i) {
    if (ready_[i]) continue;
    ensure_view(i);  // an unused parameter whose .grad was reset still reduces its zero slice
    unused_.push_back(names_[i]);
    ready_[i] = 1;
    if (!first_step_done_) ready_order_.push_back(i);
    --buckets_[slots_[i].bucket].pending;
  }
  if (!unused_.empty() && unused_.size() < params_.size() && !warned_unused_) {
    warned_unused_ = true;
    spdlog::warn("GradReducer: {} parameter(s) got no gradient this step on this rank (first: "
                 "'{}'); their buckets are reduced at finish(), with less overlap",
                 unused_.size(), unused_.front());
  }
  launch_ready_buckets();
  const auto t_wait = Clock::now();
  for (auto& b : buckets_) {
    if (b.work) b.work->wait();
  }
  stats_.last_wait_s = seconds_since(t_wait);
  stats_.buckets_in_backward = launched_in_backward_;
  ++stats_.steps;
  reset_step();
  if (!first_step_done_ && options_.rebuild_buckets) rebuild_from_ready_order();
  first_step_done_ = true;
  ready_order_.clear();
  stats_.last_finish_s = seconds_since(t0);
}

void GradReducer::rebuild_from_ready_order() {
  // Rank 0's order decides, so that every rank builds identical buckets.
  std::string bytes;
  if (comm_.rank() == 0) {
    bytes.resize(ready_order_.size() * sizeof(uint64_t));
    for (size_t k = 0; k < ready_order_.size(); ++k) {
      const uint64_t v = ready_order_[k];
      std::memcpy(&bytes[k * sizeof(uint64_t)], &v, sizeof(v));
    }
  }
  if (comm_.size() > 1) comm_.broadcast_bytes(bytes, 0);
  TESSERA_CHECK(bytes.size() == params_.size() * sizeof(uint64_t),
                "GradReducer: rank 0's gradient order has {} entries, this rank has {} parameters",
                bytes.size() / sizeof(uint64_t), params_.size());
  std::vector<size_t> order(params_.size());
  for (size_t k = 0; k < order.size(); ++k) {
    uint64_t v = 0;
    std::memcpy(&v, &bytes[k * sizeof(uint64_t)], sizeof(v));
    order[k] = static_cast<size_t>(v);
  }
  const auto layout =
      plan_buckets(params_, order, mib_to_bytes(options_.bucket_mb),
                   mib_to_bytes(std::min(options_.first_bucket_mb, options_.bucket_mb)));
  bool same = layout.size() == buckets_.size();
  for (size_t b = 0; same && b < layout.size(); ++b) same = layout[b] == buckets_[b].params;
  rebuilt_ = true;
  if (same) return;
  install(layout);  // copies the current (reduced) gradients into the new buffers
  reset_step();
  spdlog::debug("GradReducer: rebuilt {} bucket(s) from the gradient-ready order",
                buckets_.size());
}

void GradReducer::zero_grad() {
  std::lock_guard<std::mutex> lock(mu_);
  TESSERA_CHECK(next_launch_ == 0,
                "GradReducer::zero_grad() during a step whose allreduces are in flight; call "
                "finish() first");
  torch::NoGradGuard no_grad;
  for (auto& b : buckets_) b.flat.zero_();
  for (size_t i = 0; i < params_.size(); ++i) {
    const Slot& s = slots_[i];
    torch::Tensor& grad = params_[i].mutable_grad();
    if (!is_same_view(grad, buckets_[s.bucket].views[s.pos])) grad = buckets_[s.bucket].views[s.pos];
  }
}

void GradReducer::set_sync(bool sync) {
  std::lock_guard<std::mutex> lock(mu_);
  sync_ = sync;
}

double GradReducer::grad_norm() const {
  double sq = 0;
  for (const auto& b : buckets_) {
    const double n = b.flat.norm().item<double>();
    sq += n * n;
  }
  return std::sqrt(sq);
}

double GradReducer::clip_grad_norm(double max_norm) {
  TESSERA_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be > 0, got {}", max_norm);
  const double norm = grad_norm();
  if (std::isfinite(norm) && norm > max_norm) {
    torch::NoGradGuard no_grad;
    const double scale = max_norm / (norm + 1e-6);
    for (auto& b : buckets_) b.flat.mul_(scale);
  }
  return norm;
}

namespace {

// True when no element of a contiguous float32 CPU buffer is Inf or NaN: one pass testing the
// exponent bits (all ones), no temporaries (torch::isfinite(...).all() allocates a bool tensor
// and makes several passes: ~20-30 ms per step for the U-Net on a loaded core).
bool all_finite_f32(const float* data, int64_t n) {
  const auto* bits = reinterpret_cast<const uint32_t*>(data);
  constexpr uint32_t kExp = 0x7F800000u;
  constexpr int64_t kBlock = 4096;  // early exit granularity
  for (int64_t begin = 0; begin < n; begin += kBlock) {
    const int64_t end = std::min(n, begin + kBlock);
    uint32_t bad = 0;
    for (int64_t i = begin; i < end; ++i) bad |= static_cast<uint32_t>((bits[i] & kExp) == kExp);
    if (bad) return false;
  }
  return true;
}

}  // namespace

bool GradReducer::grads_finite() const {
  for (const auto& b : buckets_) {
    if (b.flat.device().is_cpu() && b.flat.scalar_type() == torch::kFloat32 &&
        b.flat.is_contiguous()) {
      if (!all_finite_f32(b.flat.data_ptr<float>(), b.flat.numel())) return false;
    } else if (!torch::isfinite(b.flat).all().item<bool>()) {
      return false;
    }
  }
  return true;
}

void GradReducer::broadcast_buffers(int root) {
  if (comm_.size() == 1) return;
  std::vector<torch::Tensor> buffers;
  for (const auto& b : model_.buffers(true)) buffers.push_back(b);
  broadcast_coalesced(comm_, buffers, root, mib_to_bytes(options_.bucket_mb));
}

std::vector<std::vector<std::string>> GradReducer::bucket_layout() const {
  std::vector<std::vector<std::string>> out;
  for (const auto& b : buckets_) {
    out.emplace_back();
    for (size_t idx : b.params) out.back().push_back(names_[idx]);
  }
  return out;
}

const torch::Tensor& GradReducer::bucket_buffer(size_t b) const {
  TESSERA_CHECK(b < buckets_.size(), "bucket index {} out of range ({} buckets)", b,
                buckets_.size());
  return buckets_[b].flat;
}

}  // namespace tessera
