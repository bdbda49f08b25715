// Submitting a batch script to Slurm, shared by `tessera submit` (one run) and `tessera sweep
// --submit` (a job array of runs).
//
// sbatch_submit() runs `sbatch --parsable SCRIPT` (bounded to 120 s) and returns the job id it
// printed; a missing, slow or failing sbatch, or an answer that is not a job id, is a
// tessera::Error naming the script and sbatch's first line. refuse_active_job() reads DIR's
// slurm_job_id (a plain id, or ARRAY_TASK for a sweep's task) and throws when Slurm still has
// that job pending, running or requeued, so one run directory never has two jobs writing it;
// an unknown (purged) id or an unreachable Slurm lets sbatch decide. write_file_atomically()
// writes a temp file beside PATH and renames it over PATH, so readers see the old or the new
// text, never half of it.
// Thread-safe: no state (they start processes and write files).
#pragma once

#include <string>

namespace tessera {

std::string sbatch_submit(const std::string& script_path);
void refuse_active_job(const std::string& dir);
void write_file_atomically(const std::string& path, const std::string& text);
// The first line of `text` without trailing '\r' and spaces.
std::string first_line(const std::string& text);
// "YYYY-MM-DD HH:MM:SS", local time, for the comment atop a script.
std::string local_time_text();

}  // namespace tessera
