// Fault injection for the end-to-end tests: the one place the trainer reads test hooks.
//
// The hooks come from environment variables, parsed ONCE when training starts
// (TestHooks::from_env); the training loop only asks the parsed struct, so nothing reads the
// environment per step. A malformed value is an error naming the variable (a test that meant
// to inject a fault and silently did not would pass for the wrong reason). They are never needed
// in normal use; docs/run-dir.md ("Test hooks") lists them:
//
//   TESSERA_TEST_STOP_AT_STEP=S              (-1: none) the last rank requests a stop at step S, as
//                                            if it had received SIGTERM
//   TESSERA_TEST_KILL_IN_CHECKPOINT=PHASE:S  rank 0 SIGKILLs itself at phase PHASE of the
//                                            checkpoint store's write at step S (S may be omitted:
//                                            any step)
//   TESSERA_TEST_FAULT=ACTION:RANK:PHASE:S   rank RANK (or `last`) does ACTION when it enters
//                                            trainer phase PHASE at step S: `kill` (SIGKILL
//                                            itself), `stall` (stop making progress, as a hung
//                                            file system or a deadlock would, until the watchdog
//                                            or the launcher ends it) or `nan` (phase data only:
//                                            the batch's inputs become NaN, as a corrupt sample
//                                            would make them). PHASE: data, forward,
//                                            backward, allreduce, consensus, validation,
//                                            checkpoint, logging. Before it acts, the rank writes
//                                            "tessera test hook: rank R kills itself with
//                                            SIGKILL|stalls in phase P at step S (unix time T)"
//                                            on stderr: the test sees that the fault fired, and
//                                            when (T, seconds since the epoch).
//   TESSERA_TEST_HOLD_CHECKPOINT=S:U         (checkpoint.async only) rank 0's background write of
//                                            step S waits before its first file until training
//                                            has completed step U (at most 120 s), after the
//                                            line "tessera test hook: the background write of
//                                            step S waits for step U" on stderr: a test sees
//                                            steps trained while a write was in flight
//   TESSERA_TEST_SAMPLE_LOG=PREFIX           every rank appends one line per training batch to
//                                            PREFIX.rank<R>: "EPOCH STEP i0 i1 ..." (the global
//                                            sample indices it trained on)
//   TESSERA_TEST_AWAIT_STOP=S                rank 0, after completing step S, waits until it
//                                            receives a stop request (a real SIGUSR1/SIGTERM), at
//                                            most 120 s (then an error), after the line "tessera
//                                            test hook: rank 0 waits for a stop signal after step
//                                            S (unix time T)" on stderr: a test sends its signal
//                                            while the run is certainly mid-way, so the stop comes
//                                            at step S+1 however slow the machine is
//   TESSERA_TEST_HOOKS_RUN=NAME              the variables above apply only to the run whose
//                                            experiment.name is NAME (the others of a sweep that
//                                            share the environment ignore them)
//
// Threads: const after construction; hit() may be called from the training thread only, except
// that step_done() (training thread) and hold_checkpoint() (the background writer) meet through
// an internal mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tessera {

// Where in a step a TESSERA_TEST_FAULT can fire.
enum class FaultPhase {
  data,
  forward,
  backward,
  allreduce,
  consensus,
  validation,
  checkpoint,
  logging  // after a step, before its log line: outside every watchdog phase marker
};
const char* to_string(FaultPhase phase);

struct TestHooks {
  int64_t stop_at_step = -1;             // -1: none
  std::string kill_in_checkpoint;        // store phase name; empty: none
  int64_t kill_in_checkpoint_step = -1;  // -1: any step

  enum class Action { none, kill, stall, nan };
  Action fault = Action::none;
  int fault_rank = -1;  // resolved against the world size; -2 = "last" until resolved
  FaultPhase fault_phase = FaultPhase::data;
  int64_t fault_step = -1;

  std::string sample_log;  // prefix; empty: none

  int64_t hold_checkpoint_step = -1;  // TESSERA_TEST_HOLD_CHECKPOINT S (-1: none)
  int64_t hold_until_step = -1;       // ... and U
  int64_t await_stop_step = -1;       // TESSERA_TEST_AWAIT_STOP S (-1: none)
  std::string only_run;               // TESSERA_TEST_HOOKS_RUN (empty: every run)

  // Parses the variables (getenv is injectable for tests). Throws tessera::Error naming the
  // variable and the expected form for a malformed value.
  static TestHooks from_env(const std::function<const char*(const char*)>& getenv);
  static TestHooks from_env();
  // These hooks for the run named `experiment_name`: no hooks at all when TESSERA_TEST_HOOKS_RUN
  // names another run.
  TestHooks for_run(const std::string& experiment_name) const;

  // Resolves "last" for a world of `size` ranks.
  void resolve_ranks(int size);

  // Called on entering `phase` at `step` on `rank`: kills or stalls the process when a fault
  // is set for exactly that place, after one line on stderr (below). Cheap when no fault is set.
  void hit(FaultPhase phase, int rank, int64_t step) const {
    if ((fault == Action::kill || fault == Action::stall) && phase == fault_phase &&
        step == fault_step && rank == fault_rank) {
      fire(phase, rank, step);
    }
  }

  // Appends a batch's sample indices to the sample log (when set). Throws naming the file when
  // it cannot be written.
  void log_samples(int rank, int64_t epoch, int64_t step,
                   const std::vector<int64_t>& indices) const {
    if (!sample_log.empty()) append_samples(rank, epoch, step, indices);
  }

  // True when this rank's batch of `step` is to be poisoned with NaN (action `nan`).
  bool poison_batch(int rank, int64_t step) const {
    return fault == Action::nan && step == fault_step && rank == fault_rank;
  }

  // Training thread, after each completed step: releases a held checkpoint write.
  void step_done(int64_t step) const {
    if (hold_checkpoint_step >= 0) advance_gate(step);
  }
  // Background writer, before the write of `step`: waits when TESSERA_TEST_HOLD_CHECKPOINT
  // names that step.
  void hold_checkpoint(int64_t step) const {
    if (step == hold_checkpoint_step) wait_gate(step);
  }

  // Training thread, after step `step` completed: with TESSERA_TEST_AWAIT_STOP=step, rank 0
  // blocks until `stop_requested()` is true (polled every 10 ms); throws tessera::Error when no
  // stop request came within 120 s.
  void await_stop(int rank, int64_t step, const std::function<bool()>& stop_requested) const {
    if (rank == 0 && step == await_stop_step) wait_for_stop(step, stop_requested);
  }

  // The rank that requests a stop at `step` (the last rank).
  bool stop_requested(int rank, int size, int64_t step) const {
    return stop_at_step >= 0 && rank == size - 1 && step == stop_at_step;
  }

 private:
  [[noreturn]] void fire(FaultPhase phase, int rank, int64_t step) const;
  void append_samples(int rank, int64_t epoch, int64_t step,
                      const std::vector<int64_t>& indices) const;
  void advance_gate(int64_t step) const;
  void wait_gate(int64_t step) const;
  void wait_for_stop(int64_t step, const std::function<bool()>& stop_requested) const;

  struct Gate;  // the steps completed, under a mutex (test_hooks.cpp)
  std::shared_ptr<Gate> gate_;
};

}  // namespace tessera
