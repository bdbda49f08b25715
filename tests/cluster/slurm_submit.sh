#!/usr/bin/env bash
# `tessera submit` against a real one-node Slurm (tests/cluster/slurm.sh): a 2-task training job
# runs, checkpoints and finishes; squeue and scontrol agree on its state (no accounting here, so
# no sacct); `tessera status` reports it; the run dir holds the outputs. Also: --dry-run writes
# nothing, a second submit while the job is active is refused, and cluster.launcher=srun (the
# step is `srun --mpi=pmix`) runs the same 2-task job to the same parameters.
source "$(dirname "$0")/lib.sh"
start_slurm
synth roads data
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
common=(--set data.train=$WORK/data/train --set data.val=$WORK/data/val
        --set data.test=$WORK/data/test --set experiment.output_dir=$WORK/out
        --set experiment.name=submit --set train.max_steps=6 --set train.checkpoint_every=3
        --set cluster.nodes=1 --set cluster.ranks_per_node=2 --set cluster.time=00:10:00)
RUN=$WORK/out/submit

# Dry run: the script on stdout, nothing written.
timeout 60 "$TESSERA_BIN" submit "$CFG" "${common[@]}" --dry-run >"$LOGS/dry.out" 2>"$LOGS/dry.log" \
  </dev/null || fail "submit --dry-run failed"
for line in "#SBATCH --job-name=submit" "#SBATCH --nodes=1" "#SBATCH --ntasks-per-node=2" \
            "#SBATCH --requeue" "#SBATCH --signal=B:USR1@120" "#SBATCH --output=$RUN/slurm-%j.out" \
            "--resume auto"; do
  grep -a -qF -- "$line" "$LOGS/dry.out" || fail "dry-run script lacks '$line'"
done
[ -e "$RUN" ] && fail "submit --dry-run created $RUN"

expect_ok submit run submit 60 "$TESSERA_BIN" submit "$CFG" "${common[@]}"
[ -f "$RUN/job.sbatch" ] || fail "no $RUN/job.sbatch"
id=$(cat "$RUN/slurm_job_id")
[ -n "$id" ] && expect_log submit "$id"
echo "submitted job $id"

# A second submit while the first is queued or running is refused. (Hold the job so that it is
# surely still active; a hold fails harmlessly when it already runs.)
timeout 20 scontrol hold "$id" >/dev/null 2>&1
run again 60 "$TESSERA_BIN" submit "$CFG" "${common[@]}" && fail "a second submit was accepted"
expect_log again "already has Slurm job $id"
timeout 20 scontrol release "$id" >/dev/null 2>&1

wait_until 300 "job $id to finish" job_ends "$id"
state=$(job_state "$id")
[ "$state" = COMPLETED ] || fail "job $id ended $state: $(cat "$RUN"/slurm-"$id".out "$RUN"/slurm-"$id".err 2>/dev/null | tail -30)"
[ "$(squeue_state "$id")" = COMPLETED ] || fail "squeue says $(squeue_state "$id"), scontrol COMPLETED"
[ "$(scontrol_field "$id" ExitCode)" = 0:0 ] || fail "exit code $(scontrol_field "$id" ExitCode)"
[ "$(scontrol_field "$id" NumTasks)" = 2 ] || fail "job had $(scontrol_field "$id" NumTasks) tasks, not 2"

# The run dir: outputs of a 2-rank run that reached step 6.
for f in job.sbatch slurm_job_id config.resolved.yaml metrics.jsonl "slurm-$id.out" checkpoints/latest outcome.json; do
  [ -e "$RUN/$f" ] || fail "run dir lacks $f: $(ls "$RUN")"
done
[ "$(latest_step "$RUN")" = 6 ] || fail "latest checkpoint is step $(latest_step "$RUN"), not 6"
grep -a -qF "training done at step 6" "$RUN/slurm-$id.out" "$RUN/slurm-$id.err" ||
  fail "no 'training done at step 6' in the job output"
grep -a -qF "[0/2]" "$RUN/slurm-$id.out" "$RUN/slurm-$id.err" || fail "the job did not run 2 ranks"
grep -a -qF "step exited with status 0" "$RUN/slurm-$id.out" || fail "batch shell did not report the step"

expect_ok status run status 60 "$TESSERA_BIN" status "$RUN"
expect_log status "slurm job:  $id  state COMPLETED"
expect_log status "last step:  6 of 6"
expect_log status "checkpoint: step-0000006"
expect_log status "ended:      finished at step 6"
# Same answer through the config.
expect_ok status-cfg run status-cfg 60 "$TESSERA_BIN" status "$CFG" "${common[@]}"
expect_log status-cfg "state COMPLETED"

# The same job with srun as the step's launcher: same ranks, same parameters.
expect_ok submit-srun run submit-srun 60 "$TESSERA_BIN" submit "$CFG" "${common[@]}" \
  --set experiment.name=srun --set cluster.launcher=srun
RUN2=$WORK/out/srun
id2=$(cat "$RUN2/slurm_job_id")
grep -a -q "^srun --mpi=pmix " "$RUN2/job.sbatch" || fail "the srun job's step is not srun --mpi=pmix"
wait_until 300 "job $id2 to finish" job_ends "$id2"
[ "$(job_state "$id2")" = COMPLETED ] || fail "srun job $id2 ended $(job_state "$id2"): $(tail -20 "$RUN2/slurm-$id2.err")"
grep -a -qF "[0/2]" "$RUN2/slurm-$id2.err" || fail "the srun job did not run 2 ranks"
for r in submit srun; do
  expect_ok "export-$r" run "export-$r" 120 "$TESSERA_BIN" export "$CFG" "${common[@]}" \
    --set experiment.name=$r --checkpoint latest --out $r.pt
done
same_weights submit.pt srun.pt >"$LOGS/compare.log" 2>&1 || fail "srun and mpirun jobs differ"
echo "PASS: submitted job $id ran 2 tasks to step 6; squeue/scontrol/status agree; srun job $id2 equal"
