// Rendering the Slurm batch script of `tessera submit` (runs/<name>/job.sbatch).
//
// The script asks for cluster.nodes x cluster.ranks_per_node tasks (cpus, gpus, partition,
// account, time from the config), writes its output into the run directory (append mode, so a
// requeued job continues the same files), and starts the ranks with the launch plan of
// cluster_launch.h for "inside a Slurm allocation" (mpirun, or srun --mpi=pmix) running
// `tessera train CONFIG --set ... --resume auto`.
//
// Preemption (docs/cluster.md): `--signal=B:USR1@grace` reaches only the batch shell, so the
// shell runs the step in the background, traps USR1 and forwards it to mpirun (which forwards it
// to every rank); `scancel --signal=USR1 --full` reaches the shell and the ranks directly, and
// the trainer treats repeated USR1 as one stop request. Either way every rank stops at the same
// step and checkpoints, the step exits 0, and the shell calls `scontrol requeue` for its own job,
// which then resumes with --resume auto. A TERM to the shell becomes the same clean stop without
// the requeue (`scancel --batch --signal=TERM`); a plain scancel or the time limit also sends
// TERM to mpirun, which then ends the ranks itself (the newest published checkpoint stays).
//
// Pure function of its inputs; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"

namespace tessera {

struct SbatchRequest {
  std::string config_path;               // absolute path of the YAML file
  std::vector<std::string> overrides;    // --set key=value, passed to train
  std::string tessera_exe;               // absolute path of the tessera binary
  std::string workdir;                   // absolute; the job's working directory (--chdir)
  std::string run_dir;                   // absolute; output, error and job.sbatch live here
  bool run_as_root = false;              // the job runs as root: mpirun --allow-run-as-root
  std::string header_comment;            // e.g. "tessera 0.1.0, 2026-11-29 08:00"
};

// The script's text. Throws tessera::Error when a value cannot go into an #SBATCH line
// (whitespace or quotes in the job name or a path).
std::string render_sbatch(const Config& cfg, const SbatchRequest& req);

// The pieces render_sbatch() joins, for other batch scripts (the job array of `tessera sweep
// --submit`, launcher/cluster_sbatch_array.h):
// sbatch_value() returns `value` when sbatch reads it back whole on an #SBATCH line; else it
// throws naming `what` (whitespace, quotes, backslashes and control characters are refused).
std::string sbatch_value(const std::string& value, const std::string& what);
// The resource request: --nodes, --ntasks-per-node, --cpus-per-task, --gpus-per-node,
// --partition, --account, --time and the preemption --signal, one #SBATCH line each.
std::string sbatch_resource_lines(const Config& cfg);
// The batch shell's signal traps (USR1: checkpoint, stop, requeue; TERM: checkpoint, stop).
std::string sbatch_preamble();
// The step of one run: its environment, its outcome.json path, and the launch command started
// in the background (the line ends with " &").
std::string sbatch_step(const Config& cfg, const SbatchRequest& req);
// What follows the step: wait for it (across trapped signals), check outcome.json, requeue the
// job after a preemption stop, exit with the step's status.
std::string sbatch_wait_and_requeue();

// The sbatch output file name pattern inside the run dir (%j = job id).
inline const char* kSbatchOutputPattern = "slurm-%j.out";
inline const char* kSbatchErrorPattern = "slurm-%j.err";
// Where `tessera submit` records the job id (one line) in the run dir.
inline const char* kSlurmJobIdFile = "slurm_job_id";

}  // namespace tessera
