#include "launcher/runs_table.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"

namespace tessera {

std::string run_state(const RunFacts& f) {
  if (!f.lock_holder.empty()) return fmt::format("running ({})", f.lock_holder);
  if (f.outcome == "finished") return "finished";
  if (f.outcome == "early_stopped") return "finished (early stop)";
  if (f.outcome == "stopped") return fmt::format("stopped at step {}, resumable", f.outcome_step);
  if (!f.outcome.empty()) return fmt::format("unknown outcome '{}'", f.outcome);
  if (!f.latest.empty()) {
    const auto digits = f.latest.find_first_not_of("step-0");
    const std::string step = digits == std::string::npos ? "0" : f.latest.substr(digits);
    return fmt::format("failed, resumable from step {}", step);
  }
  if (f.started) return "failed";
  if (!f.slurm_job_id.empty()) return fmt::format("submitted (Slurm job {})", f.slurm_job_id);
  return "not started";
}

std::optional<BestMetric> best_metric(const std::string& metrics_text, const std::string& metric,
                                      const std::string& mode) {
  std::optional<BestMetric> best;
  std::stringstream in(metrics_text);
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json rec = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (rec.is_discarded() || !rec.is_object() || rec.value("split", "") != "val") continue;
    if (!rec.contains(metric) || !rec[metric].is_number()) continue;
    if (!rec.contains("step") || !rec["step"].is_number_integer()) continue;
    const double v = rec[metric].get<double>();
    if (!best || (mode == "min" ? v < best->value : v > best->value)) {
      best = BestMetric{v, rec["step"].get<int64_t>()};
    }
  }
  return best;
}

std::string lock_holder(const std::string& run_dir) {
  const std::string path = run_dir + "/.tessera-lock";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string holder;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    char buf[256];
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    holder.assign(buf, n > 0 ? static_cast<size_t>(n) : 0);
    holder = holder.substr(0, holder.find('\n'));
    // "host H pid P since T": the table shows "host H pid P".
    holder = holder.substr(0, holder.find(" since "));
    if (holder.empty()) holder = "lock held";
  } else {
    ::flock(fd, LOCK_UN);
  }
  ::close(fd);
  return holder;
}

std::string format_age(double s) {
  if (s < 0) return "-";
  if (s < 120) return fmt::format("{}s", static_cast<int64_t>(s));
  if (s < 7200) return fmt::format("{}m", static_cast<int64_t>(s / 60));
  if (s < 172800) return fmt::format("{}h", static_cast<int64_t>(s / 3600));
  return fmt::format("{}d", static_cast<int64_t>(s / 86400));
}

std::string format_runs_table(const std::vector<RunRow>& rows, const std::string& dir) {
  if (rows.empty()) return fmt::format("no runs in {}\n", dir);
  std::vector<std::vector<std::string>> cells = {
      {"NAME", "TASK", "ARCH", "STEPS", "BEST", "AT STEP", "STATE", "AGE"}};
  for (const RunRow& r : rows) {
    const std::string steps =
        r.max_steps > 0 ? fmt::format("{}/{}", r.step, r.max_steps) : fmt::format("{}/?", r.step);
    const std::string best =
        r.best ? fmt::format("{} {:.4f}", r.metric, r.best->value) : std::string("-");
    const std::string at = r.best ? std::to_string(r.best->step) : std::string("-");
    cells.push_back({r.name, r.task, r.arch, steps, best, at, r.state, format_age(r.age_s)});
  }
  std::vector<size_t> width(cells[0].size(), 0);
  for (const auto& row : cells) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const auto& row : cells) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace tessera
