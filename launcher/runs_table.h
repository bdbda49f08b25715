// `tessera runs [DIR]`: the table of the run directories under DIR (name, task, architecture,
// steps done / planned, best validation metric and its step, state, age).
//
// The pieces here are pure functions of what a run directory holds (the files' text and a few
// facts), so tests/launcher checks them without LibTorch; launcher/cmd_runs.cpp reads the files.
// A run's state, from the run directory alone (no process table, no Slurm):
//   running   another process holds <run>/.tessera-lock (checkpoints/run_dir_lock.h; the kernel
//             drops that lock when its holder dies in any way, kill -9 included);
//   finished  outcome.json says finished or early_stopped (trainer/run_outcome.h);
//   stopped   outcome.json says stopped: a stop signal was agreed and a checkpoint written;
//   failed    none of these but the run started (metrics or checkpoints exist): it ended
//             without its end-of-run record; "resumable from step N" when a checkpoint exists;
//   submitted a Slurm job id and nothing else yet (`tessera status` asks Slurm).
// Thread-safe: no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tessera {

// Facts about one run directory, as cmd_runs.cpp reads them.
struct RunFacts {
  std::string lock_holder;    // the holder's line of .tessera-lock when held, else ""
  std::string outcome;        // outcome.json's "outcome", "" when absent
  int64_t outcome_step = 0;
  std::string latest;         // checkpoints/latest's name ("step-0000009"), "" when none
  std::string slurm_job_id;   // "" when not submitted
  bool started = false;       // metrics.jsonl or a checkpoint exists
};

// "running (host h pid 12)", "finished", "finished (early stop)", "stopped, resumable",
// "failed, resumable from step 3", "failed", "submitted (Slurm job 17)", "not started".
std::string run_state(const RunFacts& f);

// The best value of `metric` (e.g. "val/dice") over the validation records of metrics.jsonl's
// text, by `mode` (max | min), and the step it was logged at; nullopt when none has it.
struct BestMetric {
  double value = 0.0;
  int64_t step = 0;
};
std::optional<BestMetric> best_metric(const std::string& metrics_text, const std::string& metric,
                                      const std::string& mode);

// "<name> holds its lock" probe: the holder's line when another process holds the flock of
// <run_dir>/.tessera-lock, "" when nobody does (or the file does not exist). Takes a shared
// lock for an instant and drops it; never blocks. A file system without locks reads as free.
std::string lock_holder(const std::string& run_dir);

struct RunRow {
  std::string name;
  std::string task = "?";
  std::string arch = "?";
  int64_t step = 0;       // last logged training step
  int64_t max_steps = 0;  // 0 = unknown
  std::string metric;     // checkpoint.metric of its config
  std::optional<BestMetric> best;
  std::string state;
  double age_s = -1;  // seconds since its last write; < 0 unknown
};

// "45s", "12m", "3h", "5d"; "-" when unknown.
std::string format_age(double seconds);

// The aligned table, a header line first; "no runs in DIR" when rows is empty.
std::string format_runs_table(const std::vector<RunRow>& rows, const std::string& dir);

}  // namespace tessera
