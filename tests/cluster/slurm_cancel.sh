#!/usr/bin/env bash
# Cancellation under a real Slurm:
#  1. plain `scancel JOB` mid-run (TERM to every process, mpirun ends the ranks) ends the job as
#     CANCELLED without a requeue, leaves no process behind, and the run's last checkpoint is
#     loadable: `tessera eval --checkpoint latest` works, and `--resume auto` continues from it;
#  2. `scancel --batch --signal=TERM JOB` (the batch shell only) is a clean stop: the ranks
#     checkpoint at the same step, the job COMPLETES with exit 0 and is not requeued.
source "$(dirname "$0")/lib.sh"
start_slurm
synth roads data
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
common=(--set data.train=$WORK/data/train --set data.val=$WORK/data/val
        --set data.test=$WORK/data/test --set experiment.output_dir=$WORK/out
        --set experiment.name=cancel --set train.log_every=1 --set train.eval_every=0
        --set train.checkpoint_every=2 --set cluster.ranks_per_node=2)
RUN=$WORK/out/cancel

expect_ok submit run submit 60 "$TESSERA_BIN" submit "$CFG" "${common[@]}" --set train.max_steps=100000
id=$(cat "$RUN/slurm_job_id")
wait_until 300 "job $id to write a checkpoint and log 5 steps" eval \
  '[ -n "$(latest_step '"$RUN"')" ] && has_train_records '"$RUN"' 5'
timeout 20 scancel "$id" || fail "scancel failed"
wait_until 120 "job $id to end" job_ends "$id"
state=$(job_state "$id")
[ "$state" = CANCELLED ] || fail "job $id ended $state, not CANCELLED"
[ "$(squeue_state "$id")" = CANCELLED ] || fail "squeue says $(squeue_state "$id")"
[ "$(scontrol_field "$id" Restarts)" = 0 ] || fail "a cancelled job was requeued"
grep -a -qF "requeueing" "$RUN/slurm-$id.out" && fail "the batch shell requeued a cancelled job"
wait_until 60 "no rank of job $id left" eval '[ -z "$(_slurm_job_pids "$SLURM_CONF")" ]'

S=$(latest_step "$RUN")
echo "cancelled; latest checkpoint: step $S"
expect_ok eval run eval 300 "$TESSERA_BIN" eval "$CFG" "${common[@]}" --checkpoint latest --split val
R=$((S + 2))
expect_ok resume mpi resume 2 300 train "$CFG" "${common[@]}" --set train.max_steps=$R --resume auto
expect_log resume "resumed from step $S"
[ "$(latest_step "$RUN")" = "$R" ] || fail "resume ended at $(latest_step "$RUN"), not $R"

# 2. Clean stop through the batch shell.
RUN2=$WORK/out/stop
expect_ok submit2 run submit2 60 "$TESSERA_BIN" submit "$CFG" "${common[@]}" \
  --set experiment.name=stop --set train.max_steps=100000 --set train.checkpoint_every=0
id2=$(cat "$RUN2/slurm_job_id")
wait_until 300 "job $id2 to log 2 steps" has_train_records "$RUN2" 2
timeout 20 scancel --batch --signal=TERM "$id2" || fail "scancel --batch --signal=TERM failed"
wait_until 120 "job $id2 to end" job_ends "$id2"
[ "$(job_state "$id2")" = COMPLETED ] || fail "job $id2 ended $(job_state "$id2"), not COMPLETED"
[ "$(scontrol_field "$id2" Restarts)" = 0 ] || fail "a stopped job was requeued"
T=$(grep -a -ho "stop requested: checkpointing at step [0-9]*" "$RUN2/slurm-$id2.err" | grep -a -o "[0-9]*$")
[ -n "$T" ] && [ "$(latest_step "$RUN2")" = "$T" ] ||
  fail "no checkpoint at the stop step '$T' (latest $(latest_step "$RUN2"))"
echo "PASS: scancel leaves checkpoint step $S loadable (eval, resume); TERM to the batch shell stops cleanly at step $T"
