#!/usr/bin/env bash
# TensorBoard event files (logging.tensorboard, trainer/tensorboard.h), through mpirun -np 2 on
# configs/ci/roads.yaml (12 steps, logs every 2, validation and checkpoint every 4):
#   1. a run stopped at step 6 (TESSERA_TEST_STOP_AT_STEP): events file 1, SessionLog START 0;
#   2. --resume auto from 6, rank 0 SIGKILLed at step 10 (after logging step 10, whose records
#      are orphaned: the last checkpoint is step 8): file 2, START 7. This part writes its
#      checkpoints synchronously (checkpoint.async=false) so that step 8 is surely published before
#      the kill; with background writes a loaded machine may still be writing it at step 10 and the
#      resume then starts from 4 (that race is e2e_async_checkpoint's subject, not this test's);
#   3. --resume auto from 8 to the end: file 3, START 9.
# tensorboard_check.py, with Python classes protoc generates from trainer/tensorboard.proto and its
# own TFRecord parser, checks both masked CRC-32Cs of every record of every file, that each file
# starts with file_version and START at the expected steps, and, after TensorBoard's discard rule,
# that every scalar of metrics.jsonl is there once at its step (float32) and nothing else, and
# one decodable PNG per validation with the declared size, showing the same samples each time.
# Controls: a copy of an event file with one flipped byte is refused by the CRC check; without
# the discard rule the orphaned step-10 records make the check fail; logging.tensorboard=false
# writes no tb/ directory.
source "$(dirname "$0")/lib.sh"
t0=$(date +%s)
synth roads data
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
CHECK=$TESSERA_SOURCE_DIR/tests/e2e/tensorboard_check.py
common=(--set data.train=data/train --set data.val=data/val --set data.test=data/test
        --set experiment.output_dir=out --set experiment.name=tb --set train.max_steps=12
        --set train.log_every=2 --set train.eval_every=4 --set train.checkpoint_every=4
        --set checkpoint.keep_last=5)
mkdir -p pb
expect_ok protoc run protoc 60 protoc -I "$TESSERA_SOURCE_DIR/trainer" --python_out=pb tensorboard.proto

TESSERA_TEST_STOP_AT_STEP=6 expect_ok part1 mpi part1 2 120 train "$CFG" "${common[@]}"
expect_log part1 "stop requested"
TESSERA_TEST_FAULT=kill:0:data:10 mpi part2 2 120 train "$CFG" "${common[@]}" --resume auto \
  --set checkpoint.async=false &&
  fail "part 2 should have been killed at step 10"
expect_log part2 "resumed from step 6"
grep -a -q '"step":10' out/tb/metrics.jsonl || fail "part 2 did not log step 10 before the kill"
expect_ok part3 mpi part3 2 120 train "$CFG" "${common[@]}" --resume auto
expect_log part3 "resumed from step 8"
[ "$(ls out/tb/tb | wc -l)" = 3 ] || fail "expected 3 event files: $(ls out/tb/tb)"
ls out/tb/tb | grep -q -v '^events\.out\.tfevents\.[0-9]*\.' && fail "odd event file names: $(ls out/tb/tb)"

for f in out/tb/tb/*; do
  expect_ok "decode-$(basename "$f")" run "decode-$(basename "$f")" 60 "$PY" "$CHECK" pb decode "$f"
done
expect_ok check run check 60 "$PY" "$CHECK" pb check out/tb 0,7,9
cat "$LOGS/check.log"

# Controls.
cp "$(ls out/tb/tb/* | sed -n 2p)" flipped
"$PY" -c "import sys; p='flipped'; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=0x10; open(p,'wb').write(b)"
run flipped 60 "$PY" "$CHECK" pb decode flipped && fail "a flipped byte passed the CRC check"
expect_log flipped "CRC mismatch"
run no-purge 60 "$PY" "$CHECK" pb check out/tb 0,7,9 --no-purge &&
  fail "the check passed without TensorBoard's discard rule (the orphaned step-10 records)"
expect_log no-purge "appears twice at step 10"
expect_ok off mpi off 2 120 train "$CFG" "${common[@]}" --set experiment.name=off \
  --set train.max_steps=4 --set logging.tensorboard=false
[ -s out/off/metrics.jsonl ] || fail "the logging.tensorboard=false run wrote no metrics.jsonl"
[ ! -e out/off/tb ] || fail "logging.tensorboard=false wrote $(ls out/off/tb)"
echo "controls: flipped byte -> $(tail -1 "$LOGS/flipped.log"); no discard rule -> $(tail -1 "$LOGS/no-purge.log"); logging.tensorboard=false -> no tb/"
echo "e2e_tensorboard: ok in $(( $(date +%s) - t0 )) s"
