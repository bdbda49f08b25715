#include "comm/step_consensus.h"

#include <fmt/ranges.h>

#include <cmath>
#include <limits>
#include <optional>

#include "comm/communicator.h"
#include "comm/watchdog.h"
#include "common/error.h"

namespace tessera {
namespace {
// Layout of the per-step buffer.
enum Slot { kLossSum, kCount, kNonfinite, kStop, kStepSum, kStepSquareSum, kFixedSlots };
}  // namespace

NonfinitePolicy parse_nonfinite_policy(const std::string& text) {
  if (text == "skip") return NonfinitePolicy::skip;
  if (text == "abort") return NonfinitePolicy::abort;
  TESSERA_THROW("dist.nonfinite: unknown value '{}'; expected skip or abort", text);
}

StepConsensus::StepConsensus(Communicator& comm, NonfinitePolicy policy, Watchdog* watchdog)
    : comm_(comm), policy_(policy), watchdog_(watchdog) {}

StepDecision StepConsensus::agree(int64_t step, const StepReport& mine) {
  std::optional<Watchdog::Scope> scope;
  if (watchdog_ != nullptr) scope.emplace(watchdog_->enter(Phase::consensus, step));

  const bool nonfinite =
      mine.nonfinite || !std::isfinite(mine.loss_sum) || !std::isfinite(mine.count);
  std::vector<double> buf(kFixedSlots + mine.extra.size());
  buf[kLossSum] = nonfinite ? 0.0 : mine.loss_sum;
  buf[kCount] = nonfinite ? 0.0 : mine.count;
  buf[kNonfinite] = nonfinite ? 1.0 : 0.0;
  buf[kStop] = mine.stop ? 1.0 : 0.0;
  buf[kStepSum] = static_cast<double>(step);
  buf[kStepSquareSum] = static_cast<double>(step) * static_cast<double>(step);
  std::copy(mine.extra.begin(), mine.extra.end(), buf.begin() + kFixedSlots);
  comm_.allreduce(buf.data(), buf.size(), ReduceOp::sum);

  const int n = comm_.size();
  // All steps equal <=> variance 0: n * sum(s^2) == sum(s)^2 (exact in double for s < 2^26).
  const double s1 = buf[kStepSum];
  const double s2 = buf[kStepSquareSum];
  TESSERA_CHECK(s1 == static_cast<double>(step) * n && s2 * n == s1 * s1,
                "ranks disagree on the step number in the step consensus: this rank (rank {}) "
                "is at step {}, the mean over {} ranks is {:.2f}; a rank skipped or repeated a "
                "step (the data loaders or a resume differ between ranks)",
                comm_.rank(), step, n, s1 / n);

  StepDecision d;
  d.step = step;
  d.loss_sum = buf[kLossSum];
  d.count = buf[kCount];
  d.loss_mean = d.count > 0 ? d.loss_sum / d.count : std::numeric_limits<double>::quiet_NaN();
  d.extra.assign(buf.begin() + kFixedSlots, buf.end());
  const bool any_nonfinite = buf[kNonfinite] > 0;
  d.stop = buf[kStop] > 0;

  if (any_nonfinite || d.stop) {
    // Rare path: name the ranks. Every rank takes it (the sums above are the same everywhere).
    std::vector<int64_t> who(2 * static_cast<size_t>(n), 0);
    who[comm_.rank()] = nonfinite ? 1 : 0;
    who[n + comm_.rank()] = mine.stop ? 1 : 0;
    comm_.allreduce(who.data(), who.size(), ReduceOp::sum);
    for (int r = 0; r < n; ++r) {
      if (who[r] != 0) d.nonfinite_ranks.push_back(r);
      if (who[n + r] != 0) d.stop_ranks.push_back(r);
    }
  }
  if (any_nonfinite) {
    TESSERA_CHECK(policy_ != NonfinitePolicy::abort,
                  "non-finite loss or gradients at step {} on rank(s) {} (dist.nonfinite: abort; "
                  "use dist.nonfinite: skip to skip such steps on all ranks)",
                  step, fmt::join(d.nonfinite_ranks, ", "));
    d.skip = true;
  }
  return d;
}

}  // namespace tessera
