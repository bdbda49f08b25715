#include "launcher/cluster_sbatch.h"

#include "launcher/cluster_launch.h"
#include "launcher/cluster_shell.h"

namespace tessera {

std::string sbatch_value(const std::string& value, const std::string& what) {
  bool ok = !value.empty() && value.find_first_of(" \t\n\"'\\") == std::string::npos;
  for (char c : value) ok = ok && static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
  TESSERA_CHECK(ok,
                "{}: \"{}\" cannot go into an #SBATCH line (no whitespace, quotes, backslashes "
                "or control characters)",
                what, comment_text(value));
  return value;
}

namespace {

// The batch shell's part: trap, background step, wait, requeue on preemption.
constexpr const char* kBody = R"SH(
# Preemption: USR1 (from --signal=B:USR1@grace, or scancel --signal=USR1 [--full]) is forwarded
# to mpirun, which forwards it to every rank; the ranks agree on a step, checkpoint and exit 0;
# then this job requeues itself and the next run resumes with --resume auto.
# TERM to this shell alone (scancel --batch --signal=TERM) stops the same way without a requeue.
# A plain scancel or the time limit sends TERM to every process (mpirun then ends the ranks);
# we keep waiting for the step either way. A bash trap runs only while bash waits: `& wait`.
preempted=0
step_pid=
on_usr1() {
  preempted=1
  echo "tessera job.sbatch: $(date '+%F %T') SIGUSR1: asking the ranks to checkpoint and stop"
  if [ -n "$step_pid" ]; then kill -USR1 "$step_pid" 2>/dev/null; fi
}
on_term() {
  preempted=0
  echo "tessera job.sbatch: $(date '+%F %T') SIGTERM: asking the ranks to checkpoint and stop (no requeue)"
  if [ -n "$step_pid" ]; then kill -USR1 "$step_pid" 2>/dev/null; fi
}
trap on_usr1 USR1
trap on_term TERM

)SH";

constexpr const char* kJobLine = R"SH(echo "tessera job.sbatch: $(date '+%F %T') job ${SLURM_JOB_ID} (restart ${SLURM_RESTART_COUNT:-0}) on ${SLURM_JOB_NODELIST:-?}"
)SH";

constexpr const char* kTail = R"SH(step_pid=$!
# wait returns early (status 138 = 128 + USR1) when a trapped signal arrives, whether or not the
# step still runs: scancel --full signals the step and this shell at once, and a step that
# checkpoints fast has often exited by then. So wait while it runs, then ask for its own status.
while kill -0 "$step_pid" 2>/dev/null; do wait "$step_pid"; done
wait "$step_pid"
rc=$?
if [ "$rc" -lt 0 ]; then
  # Bash 5.2 loses the status of a child that ends while a trap runs (wait says -1). The
  # trainer's end-of-run record, written after its last checkpoint, then tells a clean end.
  if [ -f "$outcome" ]; then rc=0; else rc=3; fi
  echo "tessera job.sbatch: the shell lost the step's exit status; end-of-run record: $([ -f "$outcome" ] && echo present || echo missing)"
fi
echo "tessera job.sbatch: $(date '+%F %T') step exited with status $rc"
if [ "$rc" = 0 ] && [ ! -f "$outcome" ]; then
  echo "tessera job.sbatch: error: the step exited 0 but the training did not reach its end (no $outcome): ranks were lost without an error status"
  rc=3
fi
if [ "$preempted" = 1 ] && [ "$rc" = 0 ] && ! grep -q '"outcome": "stopped"' "$outcome"; then
  # The signal came after the last step (or the run stopped early): nothing is left to resume.
  echo "tessera job.sbatch: the run had already reached its end; no requeue"
elif [ "$preempted" = 1 ] && [ "$rc" = 0 ]; then
  echo "tessera job.sbatch: checkpoint written; requeueing job ${SLURM_JOB_ID}"
  # The requeue ends this script; nothing after it is guaranteed to run.
  scontrol requeue "${SLURM_JOB_ID}"
  exit 0
fi
exit "$rc"
)SH";

}  // namespace

std::string sbatch_resource_lines(const Config& cfg) {
  const ClusterConfig& cl = cfg.cluster;
  const int cpus = cl.cpus_per_task > 0 ? cl.cpus_per_task : cfg.train.threads_per_rank;
  std::string s = fmt::format("#SBATCH --nodes={}\n", cl.nodes);
  s += fmt::format("#SBATCH --ntasks-per-node={}\n", cl.ranks_per_node);
  s += fmt::format("#SBATCH --cpus-per-task={}\n", cpus);
  if (cl.gpus_per_node > 0) s += fmt::format("#SBATCH --gpus-per-node={}\n", cl.gpus_per_node);
  if (!cl.partition.empty()) {
    s += fmt::format("#SBATCH --partition={}\n", sbatch_value(cl.partition, "cluster.partition"));
  }
  if (!cl.account.empty()) {
    s += fmt::format("#SBATCH --account={}\n", sbatch_value(cl.account, "cluster.account"));
  }
  s += fmt::format("#SBATCH --time={}\n", sbatch_value(cl.time, "cluster.time"));
  if (cl.preempt_grace_s > 0) {
    s += fmt::format("#SBATCH --signal=B:USR1@{}\n", cl.preempt_grace_s);
  }
  return s;
}

std::string sbatch_preamble() { return kBody; }

std::string sbatch_step(const Config& cfg, const SbatchRequest& req) {
  const std::string run_dir = sbatch_value(req.run_dir, "run directory");
  LaunchRequest launch;
  launch.config_path = req.config_path;
  launch.overrides = req.overrides;
  launch.train_args = {"--resume", "auto"};
  launch.tessera_exe = req.tessera_exe;
  launch.run_as_root = req.run_as_root;
  JobEnvironment inside;
  inside.in_slurm = true;
  inside.slurm_job_id = "$SLURM_JOB_ID";
  const LaunchPlan plan = plan_launch(cfg, launch, inside);
  std::string s;
  for (const auto& [k, v] : plan.env) {
    check_env_name(k, "cluster.env");
    s += fmt::format("export {}={}\n", k, shell_quote(v));
  }
  // The trainer's end-of-run record (trainer/run_outcome.h): a step that exits 0 without it
  // lost its ranks without an error status (OpenMPI 5's prterun after losing a node).
  s += "outcome=" + shell_quote(run_dir + "/outcome.json") + "\n";
  s += "rm -f \"$outcome\"\n";
  s += "# The step: " + std::string(to_string(plan.mode)) + " inside the allocation.\n";
  s += shell_command(plan.argv) + " &\n";
  return s;
}

std::string sbatch_wait_and_requeue() { return kTail; }

std::string render_sbatch(const Config& cfg, const SbatchRequest& req) {
  const std::string run_dir = sbatch_value(req.run_dir, "run directory");
  std::string s = "#!/bin/bash\n";
  s += "# Written by `tessera submit`";
  if (!req.header_comment.empty()) s += " (" + comment_text(req.header_comment) + ")";
  s += ".\n";
  // Comments hold escaped text: a newline in a path must not become a line of the script.
  s += fmt::format("# Config: {}\n# Submit again with: sbatch {}/job.sbatch\n",
                   comment_text(req.config_path), run_dir);
  s += fmt::format("#SBATCH --job-name={}\n",
                   sbatch_value(cfg.experiment.name, "experiment.name"));
  s += sbatch_resource_lines(cfg);
  s += fmt::format("#SBATCH --chdir={}\n", sbatch_value(req.workdir, "working directory"));
  s += fmt::format("#SBATCH --output={}/{}\n", run_dir, kSbatchOutputPattern);
  s += fmt::format("#SBATCH --error={}/{}\n", run_dir, kSbatchErrorPattern);
  s += "#SBATCH --open-mode=append\n";
  s += "#SBATCH --requeue\n";
  s += kBody;
  s += kJobLine;
  s += "\n";
  s += sbatch_step(cfg, req);
  s += kTail;
  return s;
}

}  // namespace tessera
