// RunLog: rank 0's record of a training run.
//   - metrics.jsonl in the run directory: one JSON object per line, appended with one write(2)
//     per record (per log interval and per validation). On resume, records with a step beyond
//     the resumed step (written after the checkpoint a crashed run resumes from) are dropped
//     first, so the file reads as one uninterrupted run. That rewrite goes through a temporary
//     file, fsync and rename (checkpoints::write_file_atomic): a kill or a full disk at that
//     moment leaves the old file whole. A failed write (disk full, EFBIG, I/O error) is a
//     tessera::Error naming the file and the OS error, never ignored.
//   - a progress display on stdout: a single refreshing line when stdout is a terminal and the
//     process was not started by mpirun/srun (logging.progress auto; `bar` forces it), plain log
//     lines otherwise (auto|lines), or nothing (off). Under mpirun every rank's stdout is a
//     pseudo-terminal whatever mpirun's own output is, so auto cannot tell.
// Only rank 0 constructs one with enabled=true; other ranks get a disabled instance.
#pragma once

#include <nlohmann/json.hpp>

#include "common/progress.h"  // format_duration

#include <chrono>
#include <cstdint>
#include <string>

namespace tessera {

class RunLog {
 public:
  RunLog() = default;
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;
  // Opens <run_dir>/metrics.jsonl for appending; truncates records with step > resume_step
  // (resume_step < 0: a fresh run; the file is started anew).
  RunLog(const std::string& run_dir, int64_t resume_step, const std::string& progress_mode,
         bool enabled);

  void write(const nlohmann::json& record);

  // Progress: step/total, epoch, loss, a metric, images/s, ETA.
  void progress(int64_t step, int64_t total, int64_t epoch, double loss, const std::string& metric,
                double metric_value, double images_per_s, double eta_s);
  void end_progress();

 private:
  bool enabled_ = false;
  bool tty_ = false;
  std::string mode_;
  std::string path_;
  int fd_ = -1;  // metrics.jsonl, O_APPEND
  bool line_open_ = false;
};

}  // namespace tessera
