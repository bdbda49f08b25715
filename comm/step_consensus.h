// StepConsensus: one small allreduce per training step so that every rank takes the same
// decisions from the same numbers:
//   - the global loss (sum and sample count over ranks, hence the same mean everywhere),
//   - whether any rank saw a non-finite loss or gradient, handled by `dist.nonfinite`:
//       skip  -> every rank skips the optimizer step (decision.skip),
//       abort -> every rank throws tessera::Error naming the step and the non-finite ranks,
//   - whether any rank was asked to stop (StopSignal), so all stop after the same step,
//   - that all ranks are at the same step (sum of step and step^2 over ranks; a rank that
//     skipped or repeated a step is an error rather than silent divergence),
//   - optional extra per-step values summed over ranks (same length on every rank).
// The common path is a single MPI allreduce of 6 + extra doubles; only when a rank is
// non-finite or stopping does a second one (one slot per rank) name the ranks involved.
//
// Threads: the training thread; a collective, so every rank calls agree() once per step.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

class Communicator;
class Watchdog;

enum class NonfinitePolicy { skip, abort };

// "skip" | "abort"; anything else throws naming the key dist.nonfinite.
NonfinitePolicy parse_nonfinite_policy(const std::string& text);

struct StepReport {
  double loss_sum = 0.0;    // this rank's summed loss (e.g. batch mean * samples)
  double count = 0.0;       // samples behind loss_sum
  bool nonfinite = false;   // loss or gradients non-finite here (a non-finite loss_sum also counts)
  bool stop = false;        // a stop was requested on this rank
  int stop_signal = 0;      // which signal (for messages); 0 = programmatic
  std::vector<double> extra;
};

struct StepDecision {
  int64_t step = 0;
  double loss_sum = 0.0;  // over ranks with a finite loss
  double count = 0.0;
  double loss_mean = 0.0;  // loss_sum / count (NaN when count is 0)
  bool skip = false;       // some rank was non-finite and the policy is skip
  std::vector<int> nonfinite_ranks;
  bool stop = false;
  std::vector<int> stop_ranks;
  std::vector<double> extra;  // summed over ranks
};

class StepConsensus {
 public:
  // `watchdog` (optional) gets Phase::consensus with the step as index during the reduction.
  StepConsensus(Communicator& comm, NonfinitePolicy policy, Watchdog* watchdog = nullptr);

  StepDecision agree(int64_t step, const StepReport& mine);

 private:
  Communicator& comm_;
  NonfinitePolicy policy_;
  Watchdog* watchdog_;
};

}  // namespace tessera
