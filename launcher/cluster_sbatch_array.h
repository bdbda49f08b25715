// The Slurm job array of `tessera sweep --submit` (<output_dir>/<name>-sweep/sweep.sbatch).
//
// One array task per sweep point, all with the one resource request a job array allows (the
// points' #SBATCH resource lines must agree: a grid over cluster.* that changes them is refused,
// naming the first point that differs). Task K runs point K as `tessera submit` would run it:
// the same traps, step (`tessera train CONFIG --set ... --resume auto`), outcome check and
// preemption (USR1 -> checkpoint, stop, `scontrol requeue` of this task alone: inside a task
// SLURM_JOB_ID is the task's own job id). Each task first redirects its output into its own run
// directory as slurm-<array id>_<task>.out/.err, the names `tessera status RUN` looks for when
// the run's slurm_job_id file holds "<array id>_<task>"; the sweep directory keeps only the
// lines sbatch writes before that.
// Pure functions of their inputs; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "launcher/cluster_sbatch.h"

namespace tessera {

struct SweepTask {
  int index = 0;                // the array task id (the point's place in the grid)
  const Config* config = nullptr;
  SbatchRequest step;           // its config path, overrides, run dir, executable
};

struct SweepSbatchRequest {
  std::string job_name;        // "<base name>-sweep"
  std::string sweep_dir;       // absolute; sweep.sbatch and the early output live here
  std::string workdir;         // absolute; --chdir
  std::string config_path;     // for the comment
  std::string header_comment;  // e.g. "tessera 0.1.0, 2026-12-07 01:00"
  int max_parallel = 0;        // > 0: at most this many tasks run at once (--array=...%N)
};

// "0-3", "0,2-4,7", with "%N" appended when max_parallel > 0. Indices must be ascending and
// distinct (a tessera::Error otherwise, as for an empty list).
std::string array_spec(const std::vector<int>& indices, int max_parallel);

std::string render_sweep_sbatch(const SweepSbatchRequest& req, const std::vector<SweepTask>& tasks);

}  // namespace tessera
