#include "launcher/cluster_sbatch_array.h"

#include "launcher/cluster_shell.h"

namespace tessera {

std::string array_spec(const std::vector<int>& indices, int max_parallel) {
  TESSERA_CHECK(!indices.empty(), "a job array needs at least one task");
  std::string s;
  for (size_t i = 0; i < indices.size();) {
    TESSERA_CHECK(indices[i] >= 0 && (i == 0 || indices[i] > indices[i - 1]),
                  "array task ids must be ascending and distinct (got {} after {})", indices[i],
                  i == 0 ? -1 : indices[i - 1]);
    size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
    s += (s.empty() ? "" : ",") + std::to_string(indices[i]);
    if (j > i) s += "-" + std::to_string(indices[j]);
    i = j + 1;
  }
  if (max_parallel > 0) s += "%" + std::to_string(max_parallel);
  return s;
}

namespace {

void check_same_resources(const std::vector<SweepTask>& tasks) {
  const std::string first = sbatch_resource_lines(*tasks.front().config);
  for (const SweepTask& t : tasks) {
    const std::string mine = sbatch_resource_lines(*t.config);
    TESSERA_CHECK(mine == first,
                  "a Slurm job array has one resource request, but sweep point {} ({}) asks "
                  "for\n{}where point {} ({}) asks for\n{}submit such points separately "
                  "(`tessera submit CONFIG --set ...`) or keep cluster.* out of the grid",
                  t.index, t.config->experiment.name, mine, tasks.front().index,
                  tasks.front().config->experiment.name, first);
  }
}

}  // namespace

std::string render_sweep_sbatch(const SweepSbatchRequest& req, const std::vector<SweepTask>& tasks) {
  TESSERA_CHECK(!tasks.empty(), "a sweep to submit needs at least one run");
  check_same_resources(tasks);
  std::vector<int> ids;
  for (const SweepTask& t : tasks) ids.push_back(t.index);
  const std::string dir = sbatch_value(req.sweep_dir, "sweep directory");

  std::string s = "#!/bin/bash\n# Written by `tessera sweep --submit`";
  if (!req.header_comment.empty()) s += " (" + comment_text(req.header_comment) + ")";
  s += fmt::format(".\n# Config: {}\n# {} run(s); tasks.tsv beside this script maps task -> run.\n",
                   comment_text(req.config_path), tasks.size());
  s += fmt::format("# Submit again with: sbatch {}/sweep.sbatch\n", dir);
  s += fmt::format("#SBATCH --job-name={}\n", sbatch_value(req.job_name, "sweep job name"));
  s += sbatch_resource_lines(*tasks.front().config);
  s += fmt::format("#SBATCH --chdir={}\n", sbatch_value(req.workdir, "working directory"));
  s += fmt::format("#SBATCH --output={}/slurm-%A_%a.out\n", dir);
  s += fmt::format("#SBATCH --error={}/slurm-%A_%a.err\n", dir);
  s += "#SBATCH --open-mode=append\n#SBATCH --requeue\n";
  s += fmt::format("#SBATCH --array={}\n", array_spec(ids, req.max_parallel));
  s += sbatch_preamble();
  s += "\ntask=${SLURM_ARRAY_TASK_ID:?tessera sweep.sbatch is a Slurm job array: submit it with sbatch}\n";
  s += "case \"$task\" in\n";
  for (const SweepTask& t : tasks) {
    s += fmt::format("  {}) run_dir={} ;;\n", t.index,
                     shell_quote(sbatch_value(t.step.run_dir, "run directory")));
  }
  s += "  *) echo \"tessera sweep.sbatch: task $task is not in this sweep\" >&2; exit 2 ;;\nesac\n";
  s += "# Each task writes into its own run directory, where `tessera status RUN` finds it.\n";
  s += "log=\"$run_dir/slurm-${SLURM_ARRAY_JOB_ID}_${task}\"\n";
  s += "exec >>\"$log.out\" 2>>\"$log.err\"\n";
  s += "echo \"tessera job.sbatch: $(date '+%F %T') job ${SLURM_JOB_ID} = array task "
       "${SLURM_ARRAY_JOB_ID}_${task} (restart ${SLURM_RESTART_COUNT:-0}) on "
       "${SLURM_JOB_NODELIST:-?}\"\n";
  s += "case \"$task\" in\n";
  for (const SweepTask& t : tasks) {
    s += fmt::format("{})\n", t.index);
    s += sbatch_step(*t.config, t.step);
    s += ";;\n";
  }
  s += "esac\n";
  s += sbatch_wait_and_requeue();
  return s;
}

}  // namespace tessera
