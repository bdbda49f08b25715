#!/usr/bin/env bash
# `tessera sweep --submit` against a real one-node Slurm (tests/cluster/slurm.sh): a grid of two
# learning rates becomes one job array (--max-parallel 1: the tasks run one after the other);
# task 0 is preempted mid-run (`scancel --signal=USR1 --full ARRAY_0`), requeues itself alone,
# resumes and finishes; task 1 then runs. Each run dir holds its own output
# (slurm-ARRAY_TASK.out), `tessera status RUN` and `tessera runs` report the tasks, and the
# preempted run's parameters are bit-identical to an uninterrupted local run of the same point.
# Also: --dry-run writes nothing; a second submit while the array is active is refused; a
# submit after both finished has nothing to do. The control: a grid over cluster.ranks_per_node
# (two resource requests cannot share one array) is refused before anything is written.
source "$(dirname "$0")/lib.sh"
start_slurm
synth roads data
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
M=${TESSERA_CLUSTER_STEPS:-300}
common=(--set data.train=$WORK/data/train --set data.val=$WORK/data/val
        --set data.test=$WORK/data/test --set experiment.output_dir=$WORK/out
        --set experiment.name=sw --set train.max_steps=$M --set train.log_every=1
        --set train.eval_every=0 --set train.checkpoint_every=0 --set cluster.nodes=1
        --set cluster.ranks_per_node=2 --set cluster.time=00:10:00)
grid=(--grid optim.lr=0.001,0.003)
R0=$WORK/out/sw-lr_0.001
R1=$WORK/out/sw-lr_0.003

# The control: two resource requests in one grid.
run mixed 60 "$TESSERA_BIN" sweep "$CFG" "${common[@]}" --grid cluster.ranks_per_node=1,2 --submit &&
  fail "a grid over cluster.ranks_per_node was submitted as one array"
expect_log mixed "one resource request"
[ -e "$WORK/out" ] && fail "the refused sweep wrote $(ls "$WORK/out")"

# Dry run: the script on stdout, nothing written.
timeout 60 "$TESSERA_BIN" sweep "$CFG" "${common[@]}" "${grid[@]}" --submit --max-parallel 1 \
  --dry-run >"$LOGS/dry.out" 2>"$LOGS/dry.log" </dev/null || fail "sweep --submit --dry-run failed"
for line in "#SBATCH --array=0-1%1" "#SBATCH --job-name=sw-sweep" "#SBATCH --ntasks-per-node=2" \
            "#SBATCH --requeue" "run_dir=$R1" "--set experiment.name=sw-lr_0.003 --resume auto"; do
  grep -a -qF -- "$line" "$LOGS/dry.out" || fail "dry-run script lacks '$line'"
done
[ -e "$WORK/out" ] && fail "sweep --submit --dry-run wrote $(ls "$WORK/out")"

# Task 0's rank 0 waits after step 3 until the signal comes (TESSERA_TEST_AWAIT_STOP; only in
# run sw-lr_0.001, TESSERA_TEST_HOOKS_RUN): it cannot finish before the signal arrives.
expect_ok submit run submit 60 env TESSERA_TEST_AWAIT_STOP=3 TESSERA_TEST_HOOKS_RUN=sw-lr_0.001 \
  "$TESSERA_BIN" sweep "$CFG" "${common[@]}" "${grid[@]}" --submit --max-parallel 1
A=$(cat "$WORK/out/sw-sweep/slurm_array_job_id")
[ "$(cat "$R0/slurm_job_id")" = "${A}_0" ] || fail "run 0's slurm_job_id: $(cat "$R0/slurm_job_id")"
[ "$(cat "$R1/slurm_job_id")" = "${A}_1" ] || fail "run 1's slurm_job_id: $(cat "$R1/slurm_job_id")"
echo "submitted job array $A"
run again 60 "$TESSERA_BIN" sweep "$CFG" "${common[@]}" "${grid[@]}" --submit &&
  fail "a second submit of an active sweep was accepted"
expect_log again "already has Slurm job ${A}_"

# Preempt task 0 mid-run; it requeues alone and finishes; then task 1 runs.
wait_until 300 "task ${A}_0 to wait for the signal after step 3" hook_waits "$R0/slurm-${A}_0.err"
[ "$(job_state "${A}_1")" = PENDING ] || fail "task 1 is $(job_state "${A}_1") while task 0 runs (--max-parallel 1)"
timeout 20 scancel --signal=USR1 --full "${A}_0" || fail "scancel --signal=USR1 --full ${A}_0 failed"
wait_until 120 "task ${A}_0 to be requeued" eval '[ "$(scontrol_field '"${A}_0"' Restarts)" = 1 ]'
for t in 0 1; do
  wait_until 600 "task ${A}_$t to finish" job_ends "${A}_$t"
  [ "$(job_state "${A}_$t")" = COMPLETED ] || fail "task ${A}_$t ended $(job_state "${A}_$t")"
done
[ "$(scontrol_field "${A}_1" Restarts)" = 0 ] || fail "task 1 was requeued too"
out=$R0/slurm-${A}_0.out
grep -a -qF "array task ${A}_0 (restart 1)" "$out" || fail "no second run of task 0 in its run dir: $(tail -20 "$out")"
grep -a -qF "requeueing job" "$out" || fail "task 0 did not requeue itself"
S=$(grep -a -ho "stop requested: checkpointing at step [0-9]*" "$out" "$R0/slurm-${A}_0.err" | head -1 | grep -a -o "[0-9]*$")
[ "$S" = 4 ] || fail "task 0 stopped at step '$S', not 4 (right after the step the hook waited at)"
grep -a -qF "resumed from step $S" "$out" "$R0/slurm-${A}_0.err" || fail "task 0 did not resume from step $S"
for r in "$R0" "$R1"; do
  [ "$(latest_step "$r")" = "$M" ] || fail "$r ended at step $(latest_step "$r"), not $M"
done
[ -e "$R1/slurm-${A}_1.out" ] && [ ! -e "$R1/slurm-${A}_0.out" ] || fail "task outputs in the wrong run dirs: $(ls "$R0" "$R1")"
echo "task 0 stopped at step $S of $M, requeued alone, resumed, finished; task 1 finished"

expect_ok status run status 60 "$TESSERA_BIN" status "$R0"
expect_log status "slurm job:  ${A}_0 (job "
expect_log status "state COMPLETED"
expect_log status "requeued 1 time(s)"
expect_ok runs run runs 60 "$TESSERA_BIN" runs "$WORK/out"
for n in sw-lr_0.001 sw-lr_0.003; do
  grep -a "$n" "$LOGS/runs.log" | grep -a -q finished || fail "tessera runs: $n not finished: $(cat "$LOGS/runs.log")"
done
grep -a -q "sw-sweep" "$LOGS/runs.log" && fail "tessera runs lists the sweep directory as a run"
expect_ok done-again run done-again 60 "$TESSERA_BIN" sweep "$CFG" "${common[@]}" "${grid[@]}" --submit
expect_log done-again "nothing to submit"

# The preempted point against an uninterrupted local run of the same point.
expect_ok ref mpi ref 2 600 train "$CFG" "${common[@]}" --set optim.lr=0.001 --set experiment.name=ref
for r in sw-lr_0.001 ref; do
  expect_ok "export-$r" run "export-$r" 120 "$TESSERA_BIN" export "$CFG" "${common[@]}" \
    --set experiment.name=$r --checkpoint latest --out $r.pt
done
same_weights sw-lr_0.001.pt ref.pt >"$LOGS/compare.log" 2>&1 || fail "the preempted array task's parameters differ from the uninterrupted run"
echo "PASS: job array $A: task 0 preempted at step $S, requeued alone, resumed; bit-identical ($(cat "$LOGS/compare.log")); task 1 finished"
