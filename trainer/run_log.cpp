#include "trainer/run_log.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <vector>

#include "checkpoints/file_io.h"
#include "common/error.h"

namespace tessera {
namespace fs = std::filesystem;

RunLog::RunLog(const std::string& run_dir, int64_t resume_step, const std::string& progress_mode,
               bool enabled, bool tensorboard)
    : enabled_(enabled), mode_(progress_mode), path_(run_dir + "/metrics.jsonl") {
  if (!enabled_) return;
  // Under a launcher, stdout being a terminal says nothing about where the output ends up:
  // OpenMPI hands every rank a pseudo-terminal even when mpirun's own output goes to a file
  // (and srun can too), so `auto` draws the bar only in a process started directly.
  const bool launched = std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr ||
                        std::getenv("PMIX_RANK") != nullptr || std::getenv("PMI_RANK") != nullptr ||
                        std::getenv("SLURM_STEP_ID") != nullptr;
  tty_ = isatty(STDOUT_FILENO) != 0 && !launched;
  std::string kept;
  if (resume_step >= 0 && fs::exists(path_)) {
    std::ifstream in(path_);
    TESSERA_CHECK(in.good(), "cannot read {} to resume it", path_);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) continue;  // a torn last line from a killed run
      // Records after the resumed step go; `step` is compared as a number, whatever its type.
      const auto step = j.find("step");
      const bool later = step != j.end() && step->is_number() &&
                         step->get<double>() > static_cast<double>(resume_step);
      if (!later) kept += line + '\n';
    }
    TESSERA_CHECK(!in.bad(), "error reading {} to resume it", path_);
  }
  // Never truncated in place: the new contents (kept records, or nothing for a fresh run) go to
  // a temporary file that replaces the old one by rename.
  checkpoints::write_file_atomic(path_, kept);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  TESSERA_CHECK(fd_ >= 0, "cannot open {} for appending: {}", path_, std::strerror(errno));
  if (tensorboard) tb_ = std::make_unique<TensorBoardWriter>(run_dir + "/tb", resume_step);
}

RunLog::~RunLog() {
  if (fd_ >= 0) ::close(fd_);
}

void RunLog::write(const nlohmann::json& record) {
  if (!enabled_) return;
  checkpoints::write_all(fd_, record.dump() + '\n', path_);
  if (tb_) tb_->scalars(record.at("step").get<int64_t>(), tensorboard_scalars(record));
}

void RunLog::image(int64_t step, const std::string& tag, const EncodedImage& image) {
  if (enabled_ && tb_ && !image.png.empty()) tb_->image(step, tag, image);
}


void RunLog::progress(int64_t step, int64_t total, int64_t epoch, double loss,
                      const std::string& metric, double metric_value, double images_per_s,
                      double eta_s) {
  if (!enabled_ || mode_ == "off") return;
  std::string m = metric.empty() ? "" : fmt::format(" {} {:.4f}", metric, metric_value);
  std::string text = fmt::format("step {}/{} epoch {} loss {:.4f}{} {:.1f} img/s ETA {}", step,
                                 total, epoch, loss, m, images_per_s, format_duration(eta_s));
  const bool bar = (mode_ == "bar") || (mode_ == "auto" && tty_);
  if (bar) {
    const int width = 24;
    int filled = total > 0 ? static_cast<int>(width * step / total) : 0;
    std::string b(static_cast<size_t>(filled), '#');
    b.resize(width, '.');
    std::printf("\r[%s] %s\x1b[K", b.c_str(), text.c_str());
    std::fflush(stdout);
    line_open_ = true;
  } else {
    spdlog::info("{}", text);
  }
}

void RunLog::end_progress() {
  if (line_open_) {
    std::printf("\n");
    std::fflush(stdout);
    line_open_ = false;
  }
}

}  // namespace tessera
