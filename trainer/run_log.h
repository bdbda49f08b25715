// RunLog: rank 0's record of a training run.
//   - metrics.jsonl in the run directory: one JSON object per line, appended with one write(2)
//     per record (per log interval and per validation). On resume, records with a step beyond
//     the resumed step (written after the checkpoint a crashed run resumes from) are dropped
//     first, so the file reads as one uninterrupted run. That rewrite goes through a temporary
//     file, fsync and rename (checkpoints::write_file_atomic): a kill or a full disk at that
//     moment leaves the old file whole. A failed write (disk full, EFBIG, I/O error) is a
//     tessera::Error naming the file and the OS error, never ignored.
//   - with logging.tensorboard, a TensorBoard event file in <run_dir>/tb/ (trainer/tensorboard.h):
//     every record written to metrics.jsonl is mirrored there as scalars (one mapping:
//     tensorboard_scalars()), and image() adds pictures (the validation samples' grids).
//   - a progress display on stdout: a single refreshing line when stdout is a terminal and the
//     process was not started by mpirun/srun (logging.progress auto; `bar` forces it), plain log
//     lines otherwise (auto|lines), or nothing (off). Under mpirun every rank's stdout is a
//     pseudo-terminal whatever mpirun's own output is, so auto cannot tell.
// Only rank 0 constructs one with enabled=true; other ranks get a disabled instance.
#pragma once

#include <nlohmann/json.hpp>

#include "common/progress.h"  // format_duration
#include "trainer/tensorboard.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace tessera {

class RunLog {
 public:
  RunLog() = default;
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;
  // Opens <run_dir>/metrics.jsonl for appending; truncates records with step > resume_step
  // (resume_step < 0: a fresh run; the file is started anew). `tensorboard`: also write
  // <run_dir>/tb/ (a new event file; see tensorboard.h).
  RunLog(const std::string& run_dir, int64_t resume_step, const std::string& progress_mode,
         bool enabled, bool tensorboard = false);

  // Appends the record (which has a "step") to metrics.jsonl, and its scalars to TensorBoard.
  void write(const nlohmann::json& record);
  // A TensorBoard image summary (nothing without TensorBoard).
  void image(int64_t step, const std::string& tag, const EncodedImage& image);
  bool tensorboard() const { return tb_ != nullptr; }

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
  std::unique_ptr<TensorBoardWriter> tb_;
  bool line_open_ = false;
};

}  // namespace tessera
