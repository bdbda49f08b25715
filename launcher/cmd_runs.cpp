// tessera runs [DIR]: one line per run directory under DIR (default runs/, the default
// experiment.output_dir; a run directory itself gives its own line): name, task, architecture,
// steps done / planned, the best value of its checkpoint.metric and that step, its state
// (running, finished, stopped and resumable, failed and resumable: launcher/runs_table.h) and
// the time since it last wrote. Reads only files; `tessera status RUN` asks Slurm too.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "launcher/cluster_hosts.h"
#include "launcher/cluster_sbatch.h"
#include "launcher/cluster_status.h"
#include "launcher/commands.h"
#include "launcher/runs_table.h"
#include "trainer/run_outcome.h"

namespace tessera::cli {

namespace fs = std::filesystem;

namespace {

bool is_run_dir(const fs::path& d) {
  for (const char* f : {"config.resolved.yaml", "metrics.jsonl", ".tessera-lock", "checkpoints",
                        kSlurmJobIdFile}) {
    if (fs::exists(d / f)) return true;
  }
  return false;
}

std::string first_line_of(const fs::path& p) {
  if (!fs::is_regular_file(p)) return "";
  std::string s = read_text_file(p.string(), "run file");
  return s.substr(0, s.find('\n'));
}

// Seconds since the newest of the files a run writes as it goes.
double age_seconds(const fs::path& d) {
  std::optional<fs::file_time_type> newest;
  for (const char* f : {"metrics.jsonl", "outcome.json", "checkpoints/latest",
                        "config.resolved.yaml", ".tessera-lock", kSlurmJobIdFile}) {
    std::error_code ec;
    const auto t = fs::last_write_time(d / f, ec);
    if (!ec && (!newest || t > *newest)) newest = t;
  }
  if (!newest) return -1;
  return std::chrono::duration<double>(fs::file_time_type::clock::now() - *newest).count();
}

RunRow read_row(const fs::path& d) {
  RunRow row;
  row.name = d.filename().string();
  RunFacts facts;
  facts.lock_holder = lock_holder(d.string());
  facts.latest = first_line_of(d / "checkpoints" / "latest");
  facts.slurm_job_id = first_line_of(d / kSlurmJobIdFile);
  std::string metrics;
  if (fs::is_regular_file(d / "metrics.jsonl")) {
    metrics = read_text_file((d / "metrics.jsonl").string(), "metrics");
    facts.started = true;
    row.step = parse_metrics_jsonl(metrics).step;
  }
  facts.started = facts.started || fs::exists(d / "checkpoints");
  try {
    if (auto o = read_run_outcome(d.string())) {
      facts.outcome = o->outcome;
      facts.outcome_step = o->step;
    }
  } catch (const Error&) {
    facts.outcome = "unreadable outcome.json";
  }
  try {
    const Config cfg = load_config((d / "config.resolved.yaml").string());
    row.task = to_string(cfg.task.kind);
    row.arch = cfg.model.arch;
    row.max_steps = cfg.train.max_steps;
    row.metric = cfg.checkpoint.metric;
    row.best = best_metric(metrics, cfg.checkpoint.metric, cfg.checkpoint.mode);
  } catch (const Error&) {
    // no config.resolved.yaml yet (a submitted job) or a foreign one: task and arch stay "?"
  }
  row.state = run_state(facts);
  row.age_s = age_seconds(d);
  return row;
}

void run_runs(const std::string& dir) {
  TESSERA_CHECK(fs::is_directory(dir),
                "DIR {}: no such directory (runs go to <experiment.output_dir>/<name>; the "
                "default output_dir is runs/)",
                dir);
  std::vector<fs::path> dirs;
  if (is_run_dir(dir)) {
    dirs.push_back(fs::path(dir));
  } else {
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.is_directory() && is_run_dir(e.path())) dirs.push_back(e.path());
    }
    std::sort(dirs.begin(), dirs.end());
  }
  std::vector<std::string> names;
  for (const fs::path& d : dirs) names.push_back(d.string());
  std::printf("%s", runs_table_of(names, dir).c_str());
}

}  // namespace

std::string runs_table_of(const std::vector<std::string>& run_dirs, const std::string& title) {
  std::vector<RunRow> rows;
  for (const std::string& d : run_dirs) {
    if (fs::is_directory(d)) rows.push_back(read_row(d));
  }
  return format_runs_table(rows, title);
}

void add_runs_command(CLI::App& app) {
  auto dir = std::make_shared<std::string>("runs");
  CLI::App* cmd = app.add_subcommand(
      "runs", "List the runs under DIR: task, steps, best metric, state (running, finished, "
              "stopped, failed and resumable) and age");
  cmd->add_option("DIR", *dir, "Directory of run directories (default: runs), or one run");
  cmd->callback([dir] { run_runs(*dir); });
}

}  // namespace tessera::cli
