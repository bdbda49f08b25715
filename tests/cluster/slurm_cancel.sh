#!/usr/bin/env bash
# Cancellation under a real Slurm: plain `scancel JOB` mid-run (TERM to every process, then KILL
# after KillWait) ends the job as CANCELLED without a requeue, leaves no process behind, and the
# run's last checkpoint is loadable: `tessera eval --checkpoint latest` works, and
# `--resume auto` continues from it.
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
grep -qF "requeueing" "$RUN/slurm-$id.out" && fail "the batch shell requeued a cancelled job"
wait_until 60 "no rank of job $id left" eval '[ -z "$(_slurm_job_pids "$SLURM_CONF")" ]'

S=$(latest_step "$RUN")
echo "cancelled; latest checkpoint: step $S"
expect_ok eval run eval 300 "$TESSERA_BIN" eval "$CFG" "${common[@]}" --checkpoint latest --split val
R=$((S + 2))
expect_ok resume mpi resume 2 300 train "$CFG" "${common[@]}" --set train.max_steps=$R --resume auto
expect_log resume "resumed from step $S"
[ "$(latest_step "$RUN")" = "$R" ] || fail "resume ended at $(latest_step "$RUN"), not $R"
echo "PASS: scancel leaves checkpoint step $S loadable (eval, resume)"
