// StopSignal: turns SIGTERM, SIGINT and SIGUSR1 (Slurm's preemption warning, `--signal=USR1@t`;
// mpirun forwards SIGUSR1 to every rank) into a stop request that the training loop folds into
// the per-step consensus (StepConsensus), so every rank stops after the same step.
//
// The handlers are async-signal-safe: they only store into lock-free atomics (the signal number
// and a count). A second SIGINT or SIGTERM while a stop is already pending restores the default
// action and re-raises, so a user can still kill a run that does not stop.
//
// RAII: the constructor installs the handlers (sigaction) and the destructor restores the
// previous ones. The flag is process-wide (a signal handler cannot reach an object), so at most
// one StopSignal may exist at a time; a second one throws. request() lets code (and tests) ask
// for a stop without a signal.
#pragma once

#include <signal.h>

namespace tessera {

class StopSignal {
 public:
  StopSignal();
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  bool requested() const;
  // The signal that requested the stop (0 when none, or when request() was used).
  int signal_number() const;
  void request();
  // Forgets a pending request (after the stop was handled).
  void clear();

 private:
  struct sigaction previous_[3];
};

const char* signal_name(int signum);

}  // namespace tessera
