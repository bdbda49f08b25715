#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "launcher/cluster_process.h"
#include "launcher/cluster_sbatch_array.h"
#include "launcher/cluster_submit.h"
#include "launcher/sweep_submit.h"
#include "tessera/version.h"
#include "trainer/run_outcome.h"

namespace tessera::cli {

namespace fs = std::filesystem;

namespace {

std::string absolute_dir(const std::string& dir) {
  std::string d = fs::absolute(dir).lexically_normal().string();
  if (d.size() > 1 && d.back() == '/') d.pop_back();
  return d;
}

bool finished(const std::string& run_dir) {
  const auto outcome = read_run_outcome(run_dir);
  return outcome && (outcome->outcome == "finished" || outcome->outcome == "early_stopped");
}

}  // namespace

void submit_sweep(const std::string& config_path, const std::string& base_name,
                  const std::vector<SweepPointConfig>& points, int max_parallel, bool dry_run) {
  TESSERA_CHECK(!points.empty(), "tessera sweep --submit: the grid has no points");
  SweepSbatchRequest req;
  const Config& first = points.front().config;
  const std::string output_dir = absolute_dir(fs::path(first.run_dir()).parent_path().string());
  req.job_name = base_name + "-sweep";
  req.sweep_dir = output_dir + "/" + req.job_name;
  req.workdir = fs::current_path().string();
  req.config_path = absolute_dir(config_path);
  req.header_comment = std::string("tessera ") + TESSERA_VERSION + ", " + local_time_text();
  req.max_parallel = max_parallel;

  std::vector<SweepTask> tasks;
  std::string table = "task\trun\trun_dir\n";
  for (size_t i = 0; i < points.size(); ++i) {
    const SweepPointConfig& p = points[i];
    SweepTask t;
    t.index = static_cast<int>(i);
    t.config = &p.config;
    t.step.config_path = req.config_path;
    t.step.overrides = p.overrides;
    t.step.tessera_exe = current_executable();
    t.step.workdir = req.workdir;
    t.step.run_dir = absolute_dir(p.config.run_dir());
    t.step.run_as_root = ::geteuid() == 0;
    if (finished(t.step.run_dir)) {
      std::fprintf(stderr, "tessera sweep: [%zu/%zu] %s: already finished, left out\n", i + 1,
                   points.size(), p.point.name.c_str());
      continue;
    }
    table += fmt::format("{}\t{}\t{}\n", t.index, p.point.name, t.step.run_dir);
    tasks.push_back(std::move(t));
  }
  if (tasks.empty()) {
    std::fprintf(stderr, "tessera sweep: every run of the sweep has finished; nothing to submit\n");
    return;
  }
  const std::string script = render_sweep_sbatch(req, tasks);
  const std::string script_path = req.sweep_dir + "/sweep.sbatch";
  if (dry_run) {
    std::printf("%s", script.c_str());
    std::fprintf(stderr, "tessera sweep: dry run: would write %s and run `sbatch --parsable %s`\n",
                 script_path.c_str(), script_path.c_str());
    return;
  }
  for (const SweepTask& t : tasks) refuse_active_job(t.step.run_dir);
  fs::create_directories(req.sweep_dir);
  for (const SweepTask& t : tasks) fs::create_directories(t.step.run_dir);
  write_file_atomically(req.sweep_dir + "/tasks.tsv", table);
  write_file_atomically(script_path, script);
  const std::string id = sbatch_submit(script_path);
  write_file_atomically(req.sweep_dir + "/slurm_array_job_id", id + "\n");
  for (const SweepTask& t : tasks) {
    write_file_atomically(t.step.run_dir + "/" + kSlurmJobIdFile,
                          fmt::format("{}_{}\n", id, t.index));
  }
  std::fprintf(stderr,
               "tessera sweep: job array %s submitted: %zu task(s), script %s; each task writes "
               "RUN_DIR/slurm-%s_<task>.out; `tessera runs %s` and `tessera status RUN_DIR` show "
               "their state\n",
               id.c_str(), tasks.size(), script_path.c_str(), id.c_str(), output_dir.c_str());
  std::printf("%s\n", id.c_str());
}

}  // namespace tessera::cli
