#!/usr/bin/env bash
# Resume at another world size through `tessera train` (docs/distributed.md, "Resuming on
# another number of ranks"), mid-epoch, keeping the global batch:
#   2 ranks x batch 2 stopped at step 3 -> 1 rank x batch 4 to step 9 (into the next epoch);
#   1 rank x batch 6 stopped at step 2 -> 3 ranks x batch 2 to step 6.
# Every resumed run continues (the log names the change), every sample of an epoch is trained
# on exactly once (TESSERA_TEST_SAMPLE_LOG records each rank's batches), and each step trains on
# the same samples as an uninterrupted run (global shuffling). A change of the global batch is
# refused with the batch size that would keep it. Control: the checker flags a sample log with
# one batch repeated.
source "$(dirname "$0")/lib.sh"
synth roads data   # 40 samples: 24 train
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
common=(--set data.train=data/train --set data.val=data/val --set data.test=data/test
        --set experiment.output_dir=out --set train.log_every=1 --set train.eval_every=0
        --set train.checkpoint_every=0 --set data.shuffle=global)

# check_samples LOGPREFIX EPOCH_SIZE STEPS_PER_EPOCH: per epoch no sample twice, full epochs
# complete; prints "step: samples" lines for comparison.
check_samples() {
  "$PY" - "$@" <<'PYEOF'
import collections, glob, sys
prefix, n, per_epoch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
by_epoch, by_step = collections.defaultdict(list), collections.defaultdict(list)
for f in sorted(glob.glob(prefix + ".rank*")):
    for line in open(f):
        e, s, *idx = map(int, line.split())
        by_epoch[e] += idx
        by_step[s] += idx
for e, idx in sorted(by_epoch.items()):
    dup = [i for i, c in collections.Counter(idx).items() if c > 1]
    assert not dup, f"epoch {e}: samples seen twice: {dup}"
    assert all(0 <= i < n for i in idx), f"epoch {e}: index out of range"
steps = sorted(by_step)
full = [e for e in by_epoch if (e + 1) * per_epoch <= max(steps) + 1]
for e in full:
    assert sorted(by_epoch[e]) == list(range(n)), f"epoch {e}: not every sample once: {sorted(by_epoch[e])}"
for s in steps:
    print(s, sorted(by_step[s]))
PYEOF
}

# ---- 2 ranks -> 1 rank ---------------------------------------------------------------------
TESSERA_TEST_SAMPLE_LOG=$WORK/ref expect_ok ref mpi ref 2 300 train "$CFG" "${common[@]}" \
  --set experiment.name=ref --set data.batch_size=2 --set train.max_steps=9
TESSERA_TEST_SAMPLE_LOG=$WORK/a TESSERA_TEST_STOP_AT_STEP=3 expect_ok a1 mpi a1 2 300 train "$CFG" \
  "${common[@]}" --set experiment.name=a --set data.batch_size=2 --set train.max_steps=9
expect_log a1 "stop requested"
mpi a-refused 1 120 train "$CFG" "${common[@]}" --set experiment.name=a --set data.batch_size=2 \
  --set train.max_steps=9 --resume auto && fail "resume with another global batch was accepted"
expect_log a-refused "global batch"
expect_log a-refused "set data.batch_size=4"
TESSERA_TEST_SAMPLE_LOG=$WORK/a expect_ok a2 mpi a2 1 300 train "$CFG" "${common[@]}" \
  --set experiment.name=a --set data.batch_size=4 --set train.max_steps=9 --resume auto
expect_log a2 "resumed from step 3"
expect_log a2 "world size 2 -> 1"
check_samples "$WORK/ref" 24 6 >ref.steps 2>"$LOGS/check-ref.log" || fail "reference: $(cat "$LOGS/check-ref.log")"
check_samples "$WORK/a" 24 6 >a.steps 2>"$LOGS/check-a.log" || fail "2 -> 1: $(cat "$LOGS/check-a.log")"
diff ref.steps a.steps >"$LOGS/diff-a.log" || fail "2 -> 1: steps trained on other samples than the uninterrupted run"
[ "$(wc -l <a.steps)" -eq 9 ] || fail "2 -> 1: expected 9 steps, got $(wc -l <a.steps)"

# ---- 1 rank -> 3 ranks ---------------------------------------------------------------------
TESSERA_TEST_SAMPLE_LOG=$WORK/b TESSERA_TEST_STOP_AT_STEP=2 expect_ok b1 mpi b1 1 300 train "$CFG" \
  "${common[@]}" --set experiment.name=b --set data.batch_size=6 --set train.max_steps=6
TESSERA_TEST_SAMPLE_LOG=$WORK/b expect_ok b2 mpi b2 3 300 train "$CFG" "${common[@]}" \
  --set experiment.name=b --set data.batch_size=2 --set train.max_steps=6 --resume auto
expect_log b2 "resumed from step 2"
expect_log b2 "world size 1 -> 3"
check_samples "$WORK/b" 24 4 >b.steps 2>"$LOGS/check-b.log" || fail "1 -> 3: $(cat "$LOGS/check-b.log")"
[ "$(wc -l <b.steps)" -eq 6 ] || fail "1 -> 3: expected 6 steps, got $(wc -l <b.steps)"

# ---- control: a repeated batch is caught ---------------------------------------------------
cp "$WORK/a.rank0" "$WORK/ctl.rank0"
sed -n 5p "$WORK/a.rank0" | sed 's/^\([0-9]*\) [0-9]*/\1 99/' >>"$WORK/ctl.rank0"
check_samples "$WORK/ctl" 24 6 >/dev/null 2>"$LOGS/check-ctl.log" &&
  fail "control: a sample log with a repeated batch passed the check"
grep -a -q "seen twice" "$LOGS/check-ctl.log" || fail "control failed for another reason: $(cat "$LOGS/check-ctl.log")"
echo "PASS: resume 2 -> 1 and 1 -> 3 ranks mid-epoch: every sample once, same samples per step"
