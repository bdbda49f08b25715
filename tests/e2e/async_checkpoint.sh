#!/usr/bin/env bash
# Checkpoints off the critical path (checkpoint.async, the default), through
# `mpirun -np 2 tessera train`:
#  1. rank 0's background write of the step-4 checkpoint is held (TESSERA_TEST_HOLD_CHECKPOINT)
#     until training has completed step 6, then the process is killed with SIGKILL in the middle
#     of that write (after its files are fsynced, before the publish): training went on during
#     the write (steps 5 and 6 logged), the job ends non-zero and is not a hang, `latest` still
#     names step 2, no step-4 directory was published, and --resume auto from step 2 ends
#     bit-identical to an uninterrupted run;
#  2. the control: the same kill with checkpoint.async=false stops training at step 4 (the write
#     is on the training thread), which shows that part 1's "steps logged" check can fail;
#  3. the hold hook with checkpoint.async=false is refused with a clean error, not a deadlock;
#  4. async and synchronous runs of the same schedule publish the same checkpoints with
#     bit-identical weights, and `tessera eval` reads the async run's last checkpoint.
source "$(dirname "$0")/lib.sh"
synth roads data
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
common=(--set data.train=data/train --set data.val=data/val --set data.test=data/test
        --set experiment.output_dir=out --set train.log_every=1 --set train.eval_every=0
        --set train.checkpoint_every=2 --set checkpoint.keep_last=5 --set train.max_steps=8)

# last_step RUN: the highest step in the run's metrics.jsonl.
last_step() {
  "$PY" -c "import json,sys; print(max(json.loads(l)['step'] for l in open(sys.argv[1]) if l.strip()))" \
    "out/$1/metrics.jsonl"
}
# expect_failed NAME RC SECONDS BOUND: a non-zero end well inside the time bound, not a hang
# (rc alone cannot tell: mpirun also exits 137 when a rank was killed with SIGKILL).
expect_failed() {
  [ "$2" -ne 0 ] || fail "$1 exited 0"
  [ "$2" -ne 124 ] && [ "$3" -lt $(( $4 - 5 )) ] || fail "$1 hung (rc $2 after $3 s, bound $4 s)"
}

# The uninterrupted reference (async, the default) and the same schedule written synchronously.
expect_ok ref mpi ref 2 300 train "$CFG" "${common[@]}" --set experiment.name=ref
expect_ok sync-ref mpi sync-ref 2 300 train "$CFG" "${common[@]}" --set experiment.name=syncref \
  --set checkpoint.async=false
expect_log ref "training done at step 8"

# 1. Kill during a background write that training has run ahead of.
t0=$SECONDS
TESSERA_TEST_HOLD_CHECKPOINT=4:6 TESSERA_TEST_KILL_IN_CHECKPOINT=tmp_synced:4 \
  mpi async 2 300 train "$CFG" "${common[@]}" --set experiment.name=async
rc=$?
expect_failed "the job killed in its background write" $rc $((SECONDS - t0)) 300
expect_log async "the background write of step 4 waits for step 6"
steps=$(last_step async)
[ "$steps" -ge 5 ] || fail "training did not go on during the background write: last step logged $steps"
[ "$(head -1 out/async/checkpoints/latest)" = step-0000002 ] ||
  fail "latest is not step 2: $(head -1 out/async/checkpoints/latest)"
[ ! -e out/async/checkpoints/step-0000004 ] || fail "the killed write of step 4 was published"
[ ! -e out/async/outcome.json ] || fail "a killed run wrote outcome.json"
echo "killed in the background write of step 4 (rc $rc) after training reached step $steps"
expect_ok async-resume mpi async-resume 2 300 train "$CFG" "${common[@]}" \
  --set experiment.name=async --resume auto
expect_log async-resume "resumed from step 2"
[ "$(head -1 out/async/checkpoints/latest)" = step-0000008 ] || fail "the resume did not reach step 8"
grep -a -q '"checkpoint": "step-0000008"' out/async/outcome.json ||
  fail "outcome.json does not name the last checkpoint: $(cat out/async/outcome.json)"

# 2. Control: the same kill with synchronous checkpoints ends training at step 4.
t0=$SECONDS
TESSERA_TEST_KILL_IN_CHECKPOINT=tmp_synced:4 mpi sync 2 300 train "$CFG" "${common[@]}" \
  --set experiment.name=sync --set checkpoint.async=false
rc=$?
expect_failed "the synchronous job killed in its write" $rc $((SECONDS - t0)) 300
steps=$(last_step sync)
[ "$steps" -eq 4 ] || fail "control: a synchronous write should stop training at step 4, got $steps"

# 3. The hold hook needs background writes.
t0=$SECONDS
TESSERA_TEST_HOLD_CHECKPOINT=4:6 mpi hold-sync 2 120 train "$CFG" "${common[@]}" \
  --set experiment.name=holdsync --set checkpoint.async=false
rc=$?
expect_failed "the hold hook with synchronous checkpoints" $rc $((SECONDS - t0)) 120
expect_log hold-sync "TESSERA_TEST_HOLD_CHECKPOINT needs checkpoint.async: true"

# 4. Same checkpoints and weights, async or not; eval reads the async run's checkpoint.
for run in ref syncref async; do
  ls out/$run/checkpoints | grep -a -E '^step-' >"$LOGS/list-$run.txt"
  expect_ok "export-$run" run "export-$run" 120 "$TESSERA_BIN" export "$CFG" "${common[@]}" \
    --set experiment.name=$run --checkpoint latest --out "$WORK/$run.pt"
done
cmp -s "$LOGS/list-ref.txt" "$LOGS/list-syncref.txt" ||
  fail "async and synchronous runs kept different checkpoints: $(paste -sd' ' "$LOGS/list-ref.txt") vs $(paste -sd' ' "$LOGS/list-syncref.txt")"
same_weights "$WORK/ref.pt" "$WORK/syncref.pt" >"$LOGS/cmp-sync.log" 2>&1 ||
  fail "async and synchronous checkpoints differ: $(cat "$LOGS/cmp-sync.log")"
same_weights "$WORK/ref.pt" "$WORK/async.pt" >"$LOGS/cmp-resume.log" 2>&1 ||
  fail "the resumed run differs from the uninterrupted one: $(cat "$LOGS/cmp-resume.log")"
expect_ok eval run eval 120 "$TESSERA_BIN" eval "$CFG" "${common[@]}" --set experiment.name=async \
  --checkpoint latest --split val
echo "PASS: background write killed after training ran ahead (control: sync stops at 4), resume bit-identical, async = sync checkpoints"
