#!/usr/bin/env bash
# Exact resume contract (CPU): a run of 2S steps and a run stopped at step S (mid-epoch, by a
# stop request folded into the step consensus) then resumed with --resume auto for S more steps
# end with bit-identical parameters and identical metrics.jsonl training losses.
# Shuffling, augmentation and dropout are on. Usage: exact_resume.sh NP [syncbn]
# (syncbn: with dist.sync_batchnorm on, the model's batch norms synchronised across the ranks;
# bf16: train.precision bf16 with batch norm on, and the bf16 checkpoint scored by an fp32 eval;
# noise: denoising with task.noise_std, fresh noise every step, whose draws must repeat exactly
# after the resume; control: the losses differ from a run on the stored noisy inputs).
source "$(dirname "$0")/lib.sh"
NP=${1:-2}
MODE=${2:-}
S=7   # 40 samples * 0.6 train = 24; batch 2 x NP ranks -> 6 (np 2) or 12 (np 1) steps per epoch
if [ "$MODE" = noise ]; then
  synth denoise data
  CFG=$TESSERA_SOURCE_DIR/configs/ci/denoise.yaml
else
  synth roads data
  CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
fi
common=(--set data.train=data/train --set data.val=data/val --set data.test=data/test
        --set experiment.output_dir=out --set train.max_steps=$((2 * S)) --set train.log_every=1
        --set train.eval_every=5 --set train.checkpoint_every=100 --set model.dropout=0.2
        --set data.shuffle=global --set data.augment.hflip=true --set data.augment.rot90=true
        --set data.augment.color_jitter=0.1)
[ "$MODE" = syncbn ] && common+=(--set model.batch_norm=true --set dist.sync_batchnorm=true)
[ "$MODE" = bf16 ] && common+=(--set model.batch_norm=true --set train.precision=bf16)
if [ "$MODE" = noise ]; then
  # Control: the stored noisy inputs, no noise drawn; its losses must differ from the runs below.
  expect_ok stored mpi stored "$NP" 300 train "$CFG" "${common[@]}" --set experiment.name=stored
  common+=(--set task.noise_std=0.1)
fi

expect_ok full mpi full "$NP" 300 train "$CFG" "${common[@]}" --set experiment.name=full
TESSERA_TEST_STOP_AT_STEP=$S expect_ok part1 mpi part1 "$NP" 300 train "$CFG" "${common[@]}" \
  --set experiment.name=part
expect_log part1 "stop requested"
if [ "$MODE" = syncbn ]; then
  expect_log full "dist.sync_batchnorm: 10 batch-norm layers synchronised across $NP ranks"
fi
[ -d out/part/checkpoints/step-000000$S ] || [ -d "out/part/checkpoints/$(printf 'step-%07d' $S)" ] ||
  fail "no checkpoint at step $S after the stop: $(ls out/part/checkpoints)"
expect_ok part2 mpi part2 "$NP" 300 train "$CFG" "${common[@]}" --set experiment.name=part --resume auto
expect_log part2 "resumed from step $S"

expect_ok export-full run export-full 120 "$TESSERA_BIN" export "$CFG" "${common[@]}" \
  --set experiment.name=full --checkpoint latest --out full.pt
expect_ok export-part run export-part 120 "$TESSERA_BIN" export "$CFG" "${common[@]}" \
  --set experiment.name=part --checkpoint latest --out part.pt
same_weights full.pt part.pt >"$LOGS/compare.log" 2>&1 || fail "parameters differ after resume"

"$PY" - out/full/metrics.jsonl out/part/metrics.jsonl >"$LOGS/losses.log" 2>&1 <<'PYEOF' || fail "losses differ"
import json, sys
def losses(p):
    return [(r["step"], r["loss"]) for r in map(json.loads, open(p)) if "loss" in r]
a, b = losses(sys.argv[1]), losses(sys.argv[2])
assert len(a) == 14 and a == b, f"full {a}\npart {b}"
print("identical losses:", a)
# Validation after the resume (step 10) scores the same model exactly alike.
def vals(p):
    return [{k: v for k, v in r.items() if k != "seconds"}
            for r in map(json.loads, open(p)) if r.get("split") == "val"]
va, vb = vals(sys.argv[1]), vals(sys.argv[2])
assert len(va) >= 2 and va == vb, f"full {va}\npart {vb}"
print("identical validation records:", va)
PYEOF
if [ "$MODE" = noise ]; then
  "$PY" - out/full/metrics.jsonl out/stored/metrics.jsonl >"$LOGS/noise.log" 2>&1 <<'PYEOF' ||
import json, sys
def losses(p):
    return [r["loss"] for r in map(json.loads, open(p)) if "loss" in r]
a, b = losses(sys.argv[1]), losses(sys.argv[2])
assert a[0] != b[0] and a != b, f"fresh noise {a}\nstored {b}"
print("losses with fresh noise differ from the stored inputs' from step 1:", a[0], b[0])
PYEOF
    fail "task.noise_std made no difference: $(cat "$LOGS/noise.log")"
fi
if [ "$MODE" = bf16 ]; then
  expect_log full "train.precision bf16"
  # The bf16 run's checkpoint in an fp32 eval: loads, and scores what training's (fp32)
  # validation scored at the same step.
  expect_ok eval-fp32 mpi eval-fp32 "$NP" 300 eval "$CFG" "${common[@]}" \
    --set experiment.name=full --set train.precision=fp32 --checkpoint latest --split val
  "$PY" - out/full/metrics.jsonl out/full/eval/summary.json >"$LOGS/eval.log" 2>&1 <<'PYEOF' ||
import json, sys
last = [r for r in map(json.loads, open(sys.argv[1])) if r.get("split") == "val"][-1]
s = json.load(open(sys.argv[2]))
assert s["metrics"]["dice"] == last["val/dice"], (s["metrics"], last)
print("fp32 eval of the bf16 checkpoint: dice", s["metrics"]["dice"], "= training's validation")
PYEOF
    fail "fp32 eval of the bf16 checkpoint: $(cat "$LOGS/eval.log")"
fi
echo "PASS: exact resume with $NP rank(s) ${MODE:+($MODE) }: parameters and losses identical"
