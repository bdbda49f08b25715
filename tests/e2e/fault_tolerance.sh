#!/usr/bin/env bash
# Checkpoint safety and refusals, through mpirun -np 2:
#  1. kill -9 of rank 0 in the middle of a checkpoint write (after the new step directory's files
#     are written, before it is published) leaves the previous checkpoint loadable, and
#     --resume auto continues from it;
#  2. a corrupt checkpoint (one flipped byte) is refused naming the file; --resume auto falls
#     back to the newest valid one, saying so;
#  3. resuming with a changed model is refused with a diff of the keys; a changed max_steps is
#     allowed and reported;
#  4. SIGTERM sent to one rank mid-run: every rank stops at the same step, a checkpoint is
#     written, and the job exits 0.
# Along the way `tessera runs out` must name each run's state as it is: failed and resumable
# after the kill, finished after the resume, running during the SIGTERM run, stopped after it.
source "$(dirname "$0")/lib.sh"

# expect_state LOG RUN TEXT: the line of run RUN in `tessera runs out` contains TEXT.
expect_state() {
  run "$1" 60 "$TESSERA_BIN" runs out || fail "tessera runs out exited non-zero (log $LOGS/$1.log)"
  local line
  line=$(grep -a -E "^$2 " "$LOGS/$1.log")
  [[ "$line" == *"$3"* ]] || fail "tessera runs: run $2 should show '$3': '$line' (log $LOGS/$1.log)"
}
synth roads data
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
common=(--set data.train=data/train --set data.val=data/val --set data.test=data/test
        --set experiment.output_dir=out --set train.log_every=1 --set train.eval_every=0
        --set train.checkpoint_every=3 --set checkpoint.keep_last=5)

# 1. kill -9 during the write of the step-6 checkpoint.
TESSERA_TEST_KILL_IN_CHECKPOINT=meta_written:6 mpi kill 2 300 train "$CFG" "${common[@]}" \
  --set experiment.name=kill --set train.max_steps=9
[ $? -ne 0 ] || fail "the killed job exited 0"
[ "$(head -1 out/kill/checkpoints/latest)" = "step-0000003" ] || fail "latest is not step 3: $(head -1 out/kill/checkpoints/latest)"
[ ! -e out/kill/outcome.json ] || fail "a killed run wrote its end-of-run record: $(cat out/kill/outcome.json)"
expect_state runs-killed kill "failed, resumable from step 3"
expect_state runs-killed kill "segmentation  unet"
expect_ok kill-resume mpi kill-resume 2 300 train "$CFG" "${common[@]}" --set experiment.name=kill \
  --set train.max_steps=9 --resume auto
expect_log kill-resume "resumed from step 3"
[ "$(head -1 out/kill/checkpoints/latest)" = "step-0000009" ] || fail "resume did not finish"
grep -a -q '"outcome": "finished"' out/kill/outcome.json || fail "no finished outcome.json after the resume"
grep -a -q '"step": 9' out/kill/outcome.json || fail "outcome.json: $(cat out/kill/outcome.json)"
expect_state runs-resumed kill " 9/9 "
expect_state runs-resumed kill "finished"

# 2. corrupt the newest checkpoint.
ckpt=out/kill/checkpoints/step-0000009
"$PY" -c "
import sys; p='$ckpt/model.pt'; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=0xFF; open(p,'wb').write(b)"
run corrupt-eval 120 "$TESSERA_BIN" eval "$CFG" "${common[@]}" --set experiment.name=kill \
  --checkpoint latest --split val && fail "eval accepted a corrupt checkpoint"
expect_log corrupt-eval "model.pt"
expect_ok corrupt-auto mpi corrupt-auto 2 300 train "$CFG" "${common[@]}" --set experiment.name=kill \
  --set train.max_steps=12 --resume auto
expect_log corrupt-auto "step-0000009"
expect_log corrupt-auto "resumed from step 6"

# 3. changed config.
mpi changed 2 120 train "$CFG" "${common[@]}" --set experiment.name=kill --set train.max_steps=15 \
  --set model.filters=8 --resume auto && fail "resume accepted a changed model"
expect_log changed "model.filters"
expect_log changed "cannot resume"

# 4. SIGTERM to one rank mid-run.
TESSERA_TEST_STOP_AT_STEP=-1 mpirun --oversubscribe --bind-to none -np 2 "$TESSERA_BIN" train "$CFG" \
  "${common[@]}" --set experiment.name=sig --set train.max_steps=100000 --set train.checkpoint_every=0 \
  >"$LOGS/sig.log" 2>&1 </dev/null &
mpirun_pid=$!
# Wait (bounded) until training has logged a few steps, then signal one rank.
for _ in $(seq 1 600); do
  [ -f out/sig/metrics.jsonl ] && [ "$(wc -l <out/sig/metrics.jsonl)" -ge 3 ] && break
  kill -0 $mpirun_pid 2>/dev/null || break
  sleep 0.2  # polling a condition, bounded by the loop count
done
expect_state runs-running sig "running (host $(hostname) pid "
rank_pid=$(pgrep -f "^$TESSERA_BIN train .*experiment.name=sig" | tail -1)
[ -n "$rank_pid" ] || fail "no rank process found to signal"
kill -TERM "$rank_pid"
# Bounded wait for mpirun to end (tail --pid polls the process; it holds no pipe of the job).
if ! timeout 120 tail --pid=$mpirun_pid -f /dev/null; then
  kill -KILL $mpirun_pid 2>/dev/null
  fail "the job was still running 120 s after SIGTERM to one rank"
fi
wait $mpirun_pid; rc=$?
[ $rc -eq 0 ] || fail "job did not exit 0 after SIGTERM (rc=$rc)"
expect_log sig "stop requested"
[ -f out/sig/checkpoints/latest ] || fail "no checkpoint after SIGTERM"
expect_state runs-stopped sig "stopped at step"
expect_state runs-stopped sig ", resumable"
run runs-one 60 "$TESSERA_BIN" runs out/sig || fail "tessera runs out/sig failed"
[ "$(grep -a -c -E '^sig ' "$LOGS/runs-one.log")" = 1 ] && [ "$(wc -l <"$LOGS/runs-one.log")" = 2 ] ||
  fail "tessera runs RUN_DIR should show that one run: $(cat "$LOGS/runs-one.log")"
echo "PASS: kill -9 mid-checkpoint, corrupt checkpoint, changed config, SIGTERM"
