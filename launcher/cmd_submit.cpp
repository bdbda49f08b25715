// tessera submit CONFIG [--dry-run] [--set k=v]: writes <run dir>/job.sbatch (the template of
// launcher/cluster_sbatch.h), submits it with `sbatch --parsable`, records the job id in
// <run dir>/slurm_job_id and prints it on stdout (human-readable lines go to stderr).
// --dry-run prints the script and writes nothing. Refuses to submit while the run's previous job
// is still pending or running.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>

#include "launcher/cluster_launch.h"
#include "launcher/cluster_process.h"
#include "launcher/cluster_sbatch.h"
#include "launcher/cluster_status.h"
#include "launcher/commands.h"
#include "tessera/version.h"

namespace tessera::cli {

namespace fs = std::filesystem;

namespace {

struct SubmitArgs {
  ConfigArgs config;
  bool dry_run = false;
};

std::string now_text() {
  const std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  return buf;
}

std::string first_line(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

// Throws when the run's recorded job is still queued or running.
void refuse_active_job(const std::string& run_dir) {
  const fs::path id_file = fs::path(run_dir) / kSlurmJobIdFile;
  if (!fs::exists(id_file)) return;
  const std::string id = first_line(read_text_file(id_file.string(), "job id file"));
  if (id.empty()) return;
  const CommandResult r = run_command({"scontrol", "show", "job", "-o", id}, 30.0);
  if (!r.ok()) return;  // unknown (purged) or Slurm unreachable: sbatch will tell
  const SlurmJob job = parse_scontrol_job(r.out);
  for (const char* active : {"PENDING", "RUNNING", "REQUEUED", "SUSPENDED", "CONFIGURING",
                             "COMPLETING", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING"}) {
    TESSERA_CHECK(!job.known || job.state != active,
                  "run {} already has Slurm job {} in state {}; wait for it, `scancel {}`, or "
                  "choose another experiment.name",
                  run_dir, id, job.state, id);
  }
}

void write_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    TESSERA_CHECK(out.good(), "cannot write {}", tmp.string());
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  TESSERA_CHECK(!ec, "cannot rename {} to {}: {}", tmp.string(), path.string(), ec.message());
}

void run_submit(const SubmitArgs& args) {
  const Config cfg = load(args.config);
  SbatchRequest req;
  req.config_path = fs::absolute(args.config.path).lexically_normal().string();
  req.overrides = args.config.overrides;
  req.tessera_exe = current_executable();
  req.workdir = fs::current_path().string();
  req.run_dir = fs::absolute(cfg.run_dir()).lexically_normal().string();
  if (!req.run_dir.empty() && req.run_dir.back() == '/') req.run_dir.pop_back();
  req.run_as_root = ::geteuid() == 0;
  req.header_comment = std::string("tessera ") + TESSERA_VERSION + ", " + now_text();
  const std::string script = render_sbatch(cfg, req);
  const fs::path script_path = fs::path(req.run_dir) / "job.sbatch";

  if (args.dry_run) {
    std::printf("%s", script.c_str());
    std::fprintf(stderr, "tessera submit: dry run: would write %s and run `sbatch --parsable %s`\n",
                 script_path.c_str(), script_path.c_str());
    return;
  }
  refuse_active_job(req.run_dir);
  fs::create_directories(req.run_dir);
  if (fs::exists(fs::path(req.run_dir) / "checkpoints" / "latest")) {
    std::fprintf(stderr, "tessera submit: %s has checkpoints: the job continues the run "
                 "(--resume auto)\n", req.run_dir.c_str());
  }
  write_atomically(script_path, script);
  const CommandResult r = run_command({"sbatch", "--parsable", script_path.string()}, 120.0);
  TESSERA_CHECK(!r.timed_out, "sbatch {} did not answer within 120 s", script_path.string());
  TESSERA_CHECK(r.ok(), "sbatch {} failed (exit {}): {}", script_path.string(), r.exit_code,
                first_line(r.err.empty() ? r.out : r.err));
  // --parsable: "jobid" or "jobid;cluster".
  std::string id = first_line(r.out);
  id = id.substr(0, id.find(';'));
  TESSERA_CHECK(!id.empty() && id.find_first_not_of("0123456789") == std::string::npos,
                "sbatch printed \"{}\" where a job id was expected", first_line(r.out));
  write_atomically(fs::path(req.run_dir) / kSlurmJobIdFile, id + "\n");
  std::fprintf(stderr,
               "tessera submit: job %s submitted: script %s, output %s/slurm-%s.out; "
               "`tessera status %s` shows its state\n",
               id.c_str(), script_path.c_str(), req.run_dir.c_str(), id.c_str(),
               req.run_dir.c_str());
  std::printf("%s\n", id.c_str());
}

}  // namespace

void add_submit_command(CLI::App& app) {
  auto args = std::make_shared<SubmitArgs>();
  CLI::App* cmd = app.add_subcommand(
      "submit", "Write a Slurm batch script for the config into its run dir and submit it");
  add_config_args(*cmd, args->config);
  cmd->add_flag("--dry-run", args->dry_run, "Print the script; write and submit nothing");
  cmd->callback([args] { run_submit(*args); });
}

}  // namespace tessera::cli
