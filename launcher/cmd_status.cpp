// tessera status RUN [--set k=v]: RUN is a run directory or a config (whose run dir is used).
// Shows the Slurm state of the job recorded by `tessera submit` (scontrol show job), the last
// logged step and validation of metrics.jsonl, the latest checkpoint, and whether the training
// reached its end (outcome.json, trainer/run_outcome.h).
#include <cstdio>
#include <filesystem>
#include <memory>

#include "launcher/cluster_launch.h"
#include "launcher/cluster_process.h"
#include "launcher/cluster_sbatch.h"
#include "launcher/cluster_status.h"
#include "launcher/cluster_submit.h"
#include "launcher/commands.h"
#include "trainer/run_outcome.h"

namespace tessera::cli {

namespace fs = std::filesystem;

namespace {

struct StatusArgs {
  std::string run;
  std::vector<std::string> overrides;
};

void ask_slurm(StatusReport& report) {
  CommandResult r;
  try {
    r = run_command({"scontrol", "show", "job", "-o", report.job_id}, 30.0);
  } catch (const Error& e) {
    report.slurm_error = e.message();
    return;
  }
  if (r.ok()) {
    report.job = parse_scontrol_job(r.out);
  } else if (r.err.find("Invalid job id") != std::string::npos) {
    report.job = SlurmJob{};  // purged: finished longer than MinJobAge ago
  } else {
    report.slurm_error = r.timed_out ? "scontrol did not answer within 30 s"
                                     : first_line(r.err.empty() ? r.out : r.err);
  }
}

void run_status(const StatusArgs& args) {
  StatusReport report;
  fs::path run_dir;
  if (fs::is_directory(args.run)) {
    run_dir = args.run;
  } else {
    TESSERA_CHECK(fs::is_regular_file(args.run),
                  "RUN {}: expected a run directory (<output_dir>/<name>) or a config file",
                  args.run);
    ConfigArgs c;
    c.path = args.run;
    c.overrides = args.overrides;
    run_dir = load(c).run_dir();
    TESSERA_CHECK(fs::is_directory(run_dir),
                  "run directory {} (from {}) does not exist: the run has not started or been "
                  "submitted",
                  run_dir.string(), args.run);
  }
  report.run_dir = run_dir.string();
  if (fs::exists(run_dir / kSlurmJobIdFile)) {
    report.job_id = first_line(read_text_file((run_dir / kSlurmJobIdFile).string(), "job id file"));
  }
  if (!report.job_id.empty()) ask_slurm(report);
  if (fs::exists(run_dir / "metrics.jsonl")) {
    report.metrics_present = true;
    report.progress = parse_metrics_jsonl(read_text_file((run_dir / "metrics.jsonl").string(),
                                                         "metrics"));
  }
  if (fs::exists(run_dir / "config.resolved.yaml")) {
    try {
      report.max_steps = load_config((run_dir / "config.resolved.yaml").string()).train.max_steps;
    } catch (const Error&) {
      report.max_steps = 0;  // an older or foreign config: the step count alone still helps
    }
  }
  if (fs::exists(run_dir / "checkpoints" / "latest")) {
    report.latest_checkpoint =
        first_line(read_text_file((run_dir / "checkpoints" / "latest").string(), "checkpoint"));
  }
  if (auto outcome = read_run_outcome(run_dir.string())) report.outcome = describe(*outcome);
  std::printf("%s", format_status(report).c_str());
}

}  // namespace

void add_status_command(CLI::App& app) {
  auto args = std::make_shared<StatusArgs>();
  CLI::App* cmd =
      app.add_subcommand("status", "Show a run's Slurm job state and its last logged step");
  cmd->add_option("RUN", args->run, "Run directory (<output_dir>/<name>) or its config file")
      ->required();
  cmd->add_option("--set", args->overrides, "Config override, when RUN is a config file")
      ->allow_extra_args(false)
      ->type_name("KEY=VALUE");
  cmd->callback([args] { run_status(*args); });
}

}  // namespace tessera::cli
