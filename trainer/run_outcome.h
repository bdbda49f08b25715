// The run outcome: <run_dir>/outcome.json, rank 0's record that `tessera train` reached its end.
//
// Why: an MPI launcher's exit status is not enough to tell that a job finished. OpenMPI 5's
// prterun exits 0 after PRRTE loses a node's daemon and ends the job, so a supervisor that only
// looks at the status reports success for a run that stopped half-way. The trainer therefore
// removes the file when a run starts (resume(): before any step) and writes it, atomically, as
// the very last thing of finish(), after the final checkpoint. `tessera launch` and the batch
// script of `tessera submit` remove it before they start the ranks and fail a job whose launcher
// exited 0 without it; `tessera status` shows it.
//
// Contents (JSON): {"outcome": "finished" | "stopped" | "early_stopped", "step": N, "epoch": E,
// "ranks": W, "checkpoint": "step-..."}. "stopped": a stop signal (SIGUSR1/SIGTERM) was agreed
// and a checkpoint written; the run can continue with --resume auto.
// Threads: plain functions, no state; only rank 0 calls the writers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace tessera {

inline constexpr const char* kOutcomeFile = "outcome.json";

struct RunOutcome {
  std::string outcome;  // finished | stopped | early_stopped
  int64_t step = 0;
  int64_t epoch = 0;
  int ranks = 0;
  std::string checkpoint;  // the checkpoint the run ended with (may be empty)
};

std::string outcome_path(const std::string& run_dir);

// Removes <run_dir>/outcome.json if present (a missing directory is fine). Throws
// tessera::Error naming the file when it exists and cannot be removed.
void clear_run_outcome(const std::string& run_dir);

// Writes <run_dir>/outcome.json through a temporary file, fsync and rename.
void write_run_outcome(const std::string& run_dir, const RunOutcome& outcome);

// nullopt when the file does not exist. A file that is not a valid outcome record throws
// tessera::Error naming it and what was expected.
std::optional<RunOutcome> read_run_outcome(const std::string& run_dir);

// "finished at step 12 (epoch 3, 2 ranks)" and the like.
std::string describe(const RunOutcome& outcome);

}  // namespace tessera
