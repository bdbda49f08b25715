// The training loop: `tessera train CONFIG [--resume auto|PATH]` on every rank.
//
// train() builds model, loss, optimizer, schedule and loaders from the config, restores a
// checkpoint when asked, wraps the model in the gradient reducer (which broadcasts rank 0's
// weights and buckets gradients), checks that all ranks agree (fingerprint), and runs steps until
// train.max_steps (or max_epochs, early stopping, or a stop signal on any rank). Rank 0 writes
// the run directory (docs/run-dir.md): config.resolved.yaml, metrics.jsonl, checkpoints/.
//
// Determinism (CPU): model init from experiment.seed; the default torch generator is reseeded at
// every step from (seed, step, rank), so dropout masks depend only on the step; the sampler's
// permutation on (seed, epoch); augmentation on (seed, epoch, sample). A resumed run therefore
// continues bit-identically from the checkpoint's step and sampler cursor.
//
// Errors throw tessera::Error; main() turns them into MPI_Abort so no rank hangs.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "comm/communicator.h"
#include "common/config.h"

namespace tessera {

class StopSignal;

struct TrainOptions {
  std::string resume;  // "" (fresh; refuses to overwrite a run with checkpoints), "auto", or a path
  // The process's stop handlers (SIGTERM/SIGINT/SIGUSR1 -> a stop request), not owned. `tessera
  // train` installs them before MPI starts and keeps them until the process exits, so a
  // preemption signal during start-up stops the run after its first step and one that comes
  // after the last step is harmless (it would otherwise kill a finished rank in MPI_Finalize and
  // fail the job). Null: the run installs its own for its lifetime (tests, library use).
  StopSignal* stop_signal = nullptr;
};

struct TrainSummary {
  int64_t step = 0;
  int64_t epoch = 0;
  bool stopped_by_signal = false;
  bool stopped_early = false;
  std::string last_checkpoint;
  std::map<std::string, double> last_val;
};

TrainSummary train(const Config& cfg, Communicator& comm, const TrainOptions& opts);

}  // namespace tessera
