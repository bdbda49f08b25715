// `tessera status`: what Slurm says about a run's job and how far the training got.
//
// Parsers for the text of `scontrol show job -o ID` and `squeue -h -t all -j ID -o FORMAT`
// (kSqueueFormat), for the last training record of metrics.jsonl, and the report formatter.
// All pure functions of their text inputs (no processes, no files); thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace tessera {

// Key=Value fields of one `scontrol show job` record (one-line -o form or the multi-line form).
// Values may contain spaces (e.g. a Command with spaces): a value runs until the next
// " Key=" whose key is a plain identifier (letters, digits, '_', ':', '/', '(', ')').
std::map<std::string, std::string> parse_scontrol_fields(const std::string& text);

struct SlurmJob {
  bool known = false;  // Slurm still knows the job (not purged after MinJobAge)
  std::string id;
  std::string state;   // PENDING, RUNNING, COMPLETED, CANCELLED, FAILED, TIMEOUT, ...
  std::string reason;  // for pending jobs: BeginTime, Resources, Priority, ...
  std::string run_time;
  std::string time_limit;
  std::string nodes;   // node list
  std::string eligible_time;
  std::string exit_code;  // "status:signal"
  int restarts = 0;       // times requeued
  std::string array_task;  // "ARRAYID_TASK" for a task of a job array (tessera sweep --submit)
};

// From `scontrol show job -o ID` output. known=false when there is no JobId field.
SlurmJob parse_scontrol_job(const std::string& text);

// `squeue -h -t all -j ID -o <kSqueueFormat>`: id|state|elapsed|limit|nodes|reason-or-nodelist
inline const char* kSqueueFormat = "%i|%T|%M|%l|%D|%R";
// One line of that output; known=false for empty output.
SlurmJob parse_squeue_line(const std::string& text);

// The last training record of metrics.jsonl (a line with "step" and "loss"), and the last
// validation record (a line with "split":"val").
struct TrainingProgress {
  bool found = false;
  int64_t step = 0;
  int64_t epoch = 0;
  double loss = 0.0;
  std::optional<int64_t> val_step;
  std::map<std::string, double> val;  // "val/dice" -> value
  int bad_lines = 0;                  // lines that were not JSON (a run killed mid-write)
};
TrainingProgress parse_metrics_jsonl(const std::string& text);

struct StatusReport {
  std::string run_dir;
  std::string job_id;                // "" when the run was not submitted
  std::optional<SlurmJob> job;       // nullopt when Slurm could not be asked
  std::string slurm_error;           // why Slurm could not be asked / job unknown
  TrainingProgress progress;
  bool metrics_present = false;
  int64_t max_steps = 0;             // 0 = unknown
  std::string latest_checkpoint;     // checkpoints/latest, "" = none
  std::string outcome;               // outcome.json described (trainer/run_outcome.h), "" = none
};

// The human-readable report (several "label: value" lines).
std::string format_status(const StatusReport& r);

}  // namespace tessera
