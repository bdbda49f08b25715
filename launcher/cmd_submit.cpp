// tessera submit CONFIG [--dry-run] [--set k=v]: writes <run dir>/job.sbatch (the template of
// launcher/cluster_sbatch.h), submits it with `sbatch --parsable`, records the job id in
// <run dir>/slurm_job_id and prints it on stdout (human-readable lines go to stderr).
// --dry-run prints the script and writes nothing. Refuses to submit while the run's previous job
// is still pending or running.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "launcher/cluster_launch.h"
#include "launcher/cluster_process.h"
#include "launcher/cluster_sbatch.h"
#include "launcher/cluster_status.h"
#include "launcher/cluster_submit.h"
#include "launcher/commands.h"
#include "tessera/version.h"

namespace tessera::cli {

namespace fs = std::filesystem;

namespace {

struct SubmitArgs {
  ConfigArgs config;
  bool dry_run = false;
};

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
  req.header_comment = std::string("tessera ") + TESSERA_VERSION + ", " + local_time_text();
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
  write_file_atomically(script_path.string(), script);
  const std::string id = sbatch_submit(script_path.string());
  write_file_atomically((fs::path(req.run_dir) / kSlurmJobIdFile).string(), id + "\n");
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
