// `tessera sweep --submit`: the sweep's grid as one Slurm job array.
//
// submit_sweep() writes <output_dir>/<base name>-sweep/sweep.sbatch (launcher/
// cluster_sbatch_array.h) and tasks.tsv (task id, run name, run dir), creates each run
// directory, submits the script with `sbatch --parsable`, and records the array job id in the
// sweep directory (slurm_array_job_id) and "<array id>_<task>" in each run's slurm_job_id, so
// `tessera status RUN`, `tessera runs` and a later `tessera submit` of the same run see the task.
// Points whose outcome.json says finished are left out of the array (a sweep submitted again
// after some runs ended runs only the rest); a point whose run still has a pending or running
// job is refused before anything is written. dry_run prints the script and writes nothing.
// Main thread only (starts sbatch, prints to stdout/stderr).
#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "launcher/runs_sweep.h"

namespace tessera::cli {

struct SweepPointConfig {
  SweepPoint point;
  std::vector<std::string> overrides;  // the sweep's --set, then the point's own
  Config config;                       // loaded and validated
};

// base_name: the config's experiment.name, which the points' run names extend.
void submit_sweep(const std::string& config_path, const std::string& base_name,
                  const std::vector<SweepPointConfig>& points, int max_parallel, bool dry_run);

}  // namespace tessera::cli
