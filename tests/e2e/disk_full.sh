#!/usr/bin/env bash
# Disk full during a checkpoint, through `mpirun -np 2 tessera train` (issue 13): the run
# directory is a tmpfs with room for one checkpoint and a half.
#  1. a run stopped at step 3 saves one checkpoint; resumed to step 9, its step-6 save runs out of space:
#     the job exits non-zero within its bound, the message names the file being written and
#     "No space left on device", `latest` still names step 3 and that checkpoint verifies
#     (`tessera export --checkpoint latest`), no temporary directory is left, and no end-of-run
#     record (outcome.json) was written;
#  2. the control: the same resume with room (the tmpfs grown, as a user frees space) exits 0,
#     continues from step 3 and ends bit-identical to an uninterrupted run: nothing was
#     corrupted by the failed save.
# Needs root (mount); exit 77 (skip) otherwise.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root to mount a tmpfs"; exit 77; }
SMALL=$WORK/small
mkdir -p "$SMALL"
trap 'umount "$SMALL" 2>/dev/null; cleanup' EXIT
synth roads data
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
common=(--set data.train=$WORK/data/train --set data.val=$WORK/data/val
        --set data.test=$WORK/data/test --set train.log_every=1 --set train.eval_every=0
        --set train.checkpoint_every=3 --set checkpoint.keep_last=1 --set experiment.name=run)

# The reference: uninterrupted to step 9 on the normal disk; its step-3 checkpoint's size sizes
# the tmpfs.
expect_ok ref mpi ref 2 300 train "$CFG" "${common[@]}" --set experiment.output_dir=ref \
  --set train.max_steps=9 --set checkpoint.keep_last=3
ckpt_kib=$(du -sk ref/run/checkpoints/step-0000003 | cut -f1)
size_kib=$((ckpt_kib * 3 / 2 + 16))
mount -t tmpfs -o size=${size_kib}k tmpfs "$SMALL" || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
echo "checkpoint: $ckpt_kib KiB; tmpfs: $size_kib KiB"
small=(--set experiment.output_dir=$SMALL)

# 1. Room for the first checkpoint only.
# (A stop request at step 3 of the 9: the same schedule as the reference.)
TESSERA_TEST_STOP_AT_STEP=3 expect_ok first mpi first 2 300 train "$CFG" "${common[@]}" \
  "${small[@]}" --set train.max_steps=9
[ "$(head -1 "$SMALL/run/checkpoints/latest")" = step-0000003 ] || fail "no step-3 checkpoint"

mpi full 2 300 train "$CFG" "${common[@]}" "${small[@]}" --set train.max_steps=9 --resume auto
rc=$?
[ $rc -ne 0 ] || fail "the job exited 0 although its step-6 checkpoint could not be written"
[ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "the job hung (killed by its time bound) instead of failing"
expect_log full "No space left on device"
grep -a -E "cannot write [^ ]*/checkpoints/\.tmp-step-0000006-[0-9]+/[a-z_.]+" "$LOGS/full.log" \
  >/dev/null || fail "the error does not name the checkpoint file being written"
[ "$(head -1 "$SMALL/run/checkpoints/latest")" = step-0000003 ] ||
  fail "latest moved: $(cat "$SMALL/run/checkpoints/latest")"
left=$(ls -A "$SMALL/run/checkpoints" | grep -a -v -x -e latest -e best -e step-0000003)
[ -z "$left" ] || fail "left in checkpoints/ after the failed save: $left"
[ ! -e "$SMALL/run/outcome.json" ] || fail "a failed run wrote outcome.json"
expect_ok verify run verify 120 "$TESSERA_BIN" export "$CFG" "${common[@]}" "${small[@]}" \
  --checkpoint latest --out "$WORK/step3.pt"
echo "step-6 save failed with rc $rc: $(grep -a -m1 -o 'cannot write .*' "$LOGS/full.log" | cut -c1-160)"

# 2. Control: with room the same resume finishes, bit-identical to the uninterrupted run.
mount -o remount,size=$((ckpt_kib * 4 + 512))k "$SMALL" || fail "cannot grow the tmpfs"
expect_ok resume mpi resume 2 300 train "$CFG" "${common[@]}" "${small[@]}" \
  --set train.max_steps=9 --resume auto
expect_log resume "resumed from step 3"
[ "$(head -1 "$SMALL/run/checkpoints/latest")" = step-0000009 ] || fail "the resume did not reach step 9"
for r in ref small; do
  dir=$WORK/ref; [ $r = small ] && dir=$SMALL
  expect_ok "export-$r" run "export-$r" 120 "$TESSERA_BIN" export "$CFG" "${common[@]}" \
    --set experiment.output_dir=$dir --checkpoint latest --out "$WORK/$r.pt"
done
same_weights "$WORK/ref.pt" "$WORK/small.pt" >"$LOGS/compare.log" 2>&1 ||
  fail "after the disk-full failure and resume the parameters differ: $(cat "$LOGS/compare.log")"
echo "PASS: disk full at the step-6 save: rc $rc, file named, latest = step 3 verifies, nothing left; with room the resume is bit-identical"
