#include "launcher/cluster_status.h"

#include <fmt/format.h>

#include <cctype>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

namespace tessera {

namespace {

bool key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':' || c == '/' ||
         c == '(' || c == ')';
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

int to_int(const std::string& s) {
  try {
    return std::stoi(s);
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

std::map<std::string, std::string> parse_scontrol_fields(const std::string& text) {
  // Find every "Key=" that starts a field: at the start of the text or after whitespace.
  struct Start {
    size_t key, eq;
  };
  std::vector<Start> starts;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i > 0 && !std::isspace(static_cast<unsigned char>(text[i - 1]))) continue;
    size_t j = i;
    while (j < text.size() && key_char(text[j])) ++j;
    if (j > i && j < text.size() && text[j] == '=' && std::isalpha(static_cast<unsigned char>(text[i]))) {
      starts.push_back({i, j});
    }
  }
  std::map<std::string, std::string> fields;
  for (size_t k = 0; k < starts.size(); ++k) {
    const size_t vbegin = starts[k].eq + 1;
    const size_t vend = k + 1 < starts.size() ? starts[k + 1].key : text.size();
    fields[text.substr(starts[k].key, starts[k].eq - starts[k].key)] =
        trim(text.substr(vbegin, vend - vbegin));
  }
  return fields;
}

SlurmJob parse_scontrol_job(const std::string& text) {
  const auto f = parse_scontrol_fields(text);
  SlurmJob job;
  auto get = [&](const char* key) {
    auto it = f.find(key);
    return it == f.end() ? std::string() : it->second;
  };
  job.id = get("JobId");
  job.known = !job.id.empty();
  job.state = get("JobState");
  job.reason = get("Reason");
  job.run_time = get("RunTime");
  job.time_limit = get("TimeLimit");
  job.nodes = get("NodeList");
  job.eligible_time = get("EligibleTime");
  job.exit_code = get("ExitCode");
  job.restarts = to_int(get("Restarts"));
  if (!get("ArrayJobId").empty() && !get("ArrayTaskId").empty()) {
    job.array_task = get("ArrayJobId") + "_" + get("ArrayTaskId");
  }
  return job;
}

SlurmJob parse_squeue_line(const std::string& text) {
  SlurmJob job;
  const std::string line = trim(text.substr(0, text.find('\n')));
  if (line.empty()) return job;
  std::vector<std::string> parts;
  std::stringstream in(line);
  std::string part;
  while (std::getline(in, part, '|')) parts.push_back(part);
  if (parts.size() < 6) return job;
  job.known = true;
  job.id = parts[0];
  job.state = parts[1];
  job.run_time = parts[2];
  job.time_limit = parts[3];
  // %R: the reason for pending jobs, "(Reason)"; the node list otherwise.
  if (parts[5].size() >= 2 && parts[5].front() == '(' && parts[5].back() == ')') {
    job.reason = parts[5].substr(1, parts[5].size() - 2);
  } else {
    job.nodes = parts[5];
  }
  return job;
}

TrainingProgress parse_metrics_jsonl(const std::string& text) {
  TrainingProgress p;
  std::stringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (trim(line).empty()) continue;
    nlohmann::json rec = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (rec.is_discarded() || !rec.is_object()) {
      ++p.bad_lines;
      continue;
    }
    if (!rec.contains("step") || !rec["step"].is_number_integer()) continue;
    if (rec.contains("split") && rec["split"] == "val") {
      p.val_step = rec["step"].get<int64_t>();
      p.val.clear();
      for (const auto& [k, v] : rec.items()) {
        if (k.rfind("val/", 0) == 0 && v.is_number()) p.val[k] = v.get<double>();
      }
    } else if (rec.contains("loss") && rec["loss"].is_number()) {
      p.found = true;
      p.step = rec["step"].get<int64_t>();
      p.epoch = rec.value("epoch", int64_t{0});
      p.loss = rec["loss"].get<double>();
    }
  }
  return p;
}

std::string format_status(const StatusReport& r) {
  std::string s = fmt::format("run:        {}\n", r.run_dir);
  if (r.job_id.empty()) {
    s += "slurm job:  none recorded (not submitted with `tessera submit`)\n";
  } else if (!r.job) {
    s += fmt::format("slurm job:  {} (state unknown: {})\n", r.job_id, r.slurm_error);
  } else if (!r.job->known) {
    s += fmt::format("slurm job:  {} (no longer known to Slurm{})\n", r.job_id,
                     r.slurm_error.empty() ? "" : ": " + r.slurm_error);
  } else {
    const SlurmJob& j = *r.job;
    if (j.array_task.empty()) {
      s += fmt::format("slurm job:  {}  state {}", j.id, j.state);
    } else {
      s += fmt::format("slurm job:  {} (job {})  state {}", j.array_task, j.id, j.state);
    }
    if (!j.reason.empty() && j.reason != "None") s += fmt::format(" (reason {})", j.reason);
    s += "\n";
    if (j.state == "PENDING" && j.reason == "BeginTime" && !j.eligible_time.empty()) {
      s += fmt::format("            eligible at {} (Slurm holds a requeued job back for "
                       "cred_expire seconds)\n",
                       j.eligible_time);
    }
    if (!j.run_time.empty()) {
      s += fmt::format("            elapsed {} of {}", j.run_time,
                       j.time_limit.empty() ? "?" : j.time_limit);
      if (!j.nodes.empty() && j.nodes != "(null)") s += fmt::format(" on {}", j.nodes);
      s += "\n";
    }
    if (j.restarts > 0) s += fmt::format("            requeued {} time(s)\n", j.restarts);
    if (!j.exit_code.empty() && j.state != "RUNNING" && j.state != "PENDING") {
      s += fmt::format("            exit code {}\n", j.exit_code);
    }
  }
  if (!r.metrics_present) {
    s += "last step:  none (no metrics.jsonl yet)\n";
  } else if (!r.progress.found) {
    s += "last step:  none logged yet\n";
  } else {
    s += fmt::format("last step:  {}", r.progress.step);
    if (r.max_steps > 0) s += fmt::format(" of {}", r.max_steps);
    s += fmt::format(" (epoch {}, loss {:.6g})\n", r.progress.epoch, r.progress.loss);
  }
  if (r.progress.val_step) {
    // The overall metrics ("val/dice", not per class "val/dice/0"), at most kShown of them.
    constexpr int kShown = 6;
    s += fmt::format("last val:   step {}", *r.progress.val_step);
    int shown = 0;
    for (const auto& [k, v] : r.progress.val) {
      if (k.find('/', 4) != std::string::npos || k == "val/images") continue;
      if (shown++ == kShown) {
        s += " ...";
        break;
      }
      s += fmt::format(" {} {:.4f}", k.substr(4), v);
    }
    s += "\n";
  }
  s += fmt::format("checkpoint: {}\n", r.latest_checkpoint.empty() ? "none" : r.latest_checkpoint);
  s += fmt::format("ended:      {}\n",
                   r.outcome.empty() ? "no (running, or stopped without reaching its end)"
                                     : r.outcome);
  return s;
}

}  // namespace tessera
