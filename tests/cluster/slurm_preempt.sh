#!/usr/bin/env bash
# Preemption under a real Slurm: `scancel --signal=USR1 --full JOB` mid-run reaches the batch
# shell (which forwards it to mpirun) and the ranks directly; every rank stops at the same step
# and checkpoints, the step exits 0, the batch shell requeues the job (`scontrol requeue`), the
# requeued job resumes with --resume auto and finishes, and its final parameters are
# bit-identical to an uninterrupted run with the same ranks.
#
# Slurm holds a requeued job back until its old credential expires (EligibleTime = requeue time
# + AuthInfo cred_expire + 1 s; 121 s by default). slurm.sh sets cred_expire=5, so the job
# restarts within seconds; docs/cluster.md has the details.
source "$(dirname "$0")/lib.sh"
start_slurm
synth roads data
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
M=${TESSERA_CLUSTER_STEPS:-300}
common=(--set data.train=$WORK/data/train --set data.val=$WORK/data/val
        --set data.test=$WORK/data/test --set experiment.output_dir=$WORK/out
        --set train.max_steps=$M --set train.log_every=1 --set train.eval_every=0
        --set train.checkpoint_every=0 --set cluster.ranks_per_node=2)
RUN=$WORK/out/pre

# Rank 0 waits after step 3 until the signal comes (TESSERA_TEST_AWAIT_STOP): the run cannot end
# before it arrives (it once did: 300 tiny steps take a second).
expect_ok submit run submit 60 env TESSERA_TEST_AWAIT_STOP=3 "$TESSERA_BIN" submit "$CFG" \
  "${common[@]}" --set experiment.name=pre
id=$(cat "$RUN/slurm_job_id")
echo "submitted job $id"
wait_until 300 "job $id to wait for the signal after step 3" hook_waits "$RUN/slurm-$id.err"
[ "$(job_state "$id")" = RUNNING ] || fail "job $id is $(job_state "$id") while logging steps"
timeout 20 scancel --signal=USR1 --full "$id" || fail "scancel --signal=USR1 --full failed"
t0=$(date +%s)

# The job requeues itself: Restarts=1, then it runs again and completes.
wait_until 120 "job $id to be requeued" eval '[ "$(scontrol_field '"$id"' Restarts)" = 1 ]'
echo "requeued after $(( $(date +%s) - t0 )) s; state $(job_state "$id"), eligible $(scontrol_field "$id" EligibleTime)"
expect_ok status-requeued run status-requeued 60 "$TESSERA_BIN" status "$RUN"
expect_log status-requeued "requeued 1 time(s)"
wait_until 600 "the requeued job $id to finish" job_ends "$id"
state=$(job_state "$id")
[ "$state" = COMPLETED ] || fail "job $id ended $state"
[ "$(squeue_state "$id")" = COMPLETED ] || fail "squeue says $(squeue_state "$id")"
[ "$(scontrol_field "$id" Restarts)" = 1 ] || fail "job restarted $(scontrol_field "$id" Restarts) times"

out=$RUN/slurm-$id.out
err=$RUN/slurm-$id.err
grep -a -qF "SIGUSR1: asking the ranks to checkpoint" "$out" || fail "the batch shell did not get USR1: $(tail -20 "$out")"
grep -a -qF "requeueing job $id" "$out" || fail "the batch shell did not requeue"
grep -a -qF "(restart 1)" "$out" || fail "no second run of the batch script"
S=$(grep -a -ho "stop requested: checkpointing at step [0-9]*" "$out" "$err" | head -1 | grep -a -o "[0-9]*$")
[ "$S" = 4 ] || fail "the stop came at step '$S', not 4 (right after the step the hook waited at)"
grep -a -qF "resumed from step $S" "$out" "$err" || fail "the requeued job did not resume from step $S"
[ "$(latest_step "$RUN")" = "$M" ] || fail "the run ended at step $(latest_step "$RUN"), not $M"
echo "stopped at step $S of $M, requeued, resumed, finished"

# Uninterrupted reference, same 2 ranks.
expect_ok ref mpi ref 2 600 train "$CFG" "${common[@]}" --set experiment.name=ref
for r in pre ref; do
  expect_ok "export-$r" run "export-$r" 120 "$TESSERA_BIN" export "$CFG" "${common[@]}" \
    --set experiment.name=$r --checkpoint latest --out $r.pt
done
same_weights pre.pt ref.pt >"$LOGS/compare.log" 2>&1 || fail "preempted+requeued parameters differ from the uninterrupted run"
echo "PASS: USR1 at step $S, requeue, resume; parameters bit-identical ($(cat "$LOGS/compare.log"))"
