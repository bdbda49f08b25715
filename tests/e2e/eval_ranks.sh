#!/usr/bin/env bash
# `tessera eval` is independent of the rank count: on a test split of 7 samples (no rank count
# of 2 or 3 divides it), eval at 1, 2 and 3 ranks writes identical summary.json (every field but
# "ranks" and "seconds", compared exactly, per-image scores included), for a segmentation task and
# an image task with its baseline. Control: the same comparison flags a summary of another
# checkpoint (the model after 3 steps instead of 6).
source "$(dirname "$0")/lib.sh"

compare() {  # A B -> exit 0 when identical
  "$PY" - "$1" "$2" <<'PYEOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for s in (a, b):
    s.pop("ranks"); s.pop("seconds"); s.pop("checkpoint")
if a != b:
    diff = {k: (a["metrics"].get(k), b["metrics"].get(k)) for k in a["metrics"]
            if a["metrics"].get(k) != b["metrics"].get(k)}
    print("summaries differ; metrics:", diff); sys.exit(1)
print(f"identical: {a['samples']} samples, {len(a['metrics'])} metrics, {len(a['per_image'])} per-image rows")
PYEOF
}

for pair in cells:cells denoise:denoise; do
  name=${pair%%:*} task=${pair#*:}
  rm -rf data; SYNTH_SAMPLES=35 synth "$task" data
  CFG=$TESSERA_SOURCE_DIR/configs/ci/$name.yaml
  common=(--set data.train=data/train --set data.val= --set data.test=data/test
          --set experiment.output_dir=out --set experiment.name=$name --set train.eval_every=0
          --set train.checkpoint_every=3 --set checkpoint.keep_last=5 --set train.max_steps=6)
  expect_ok "train-$name" mpi "train-$name" 1 300 train "$CFG" "${common[@]}"
  for np in 1 2 3; do
    expect_ok "eval-$name-$np" mpi "eval-$name-$np" $np 300 eval "$CFG" "${common[@]}" \
      --checkpoint latest --split test
    cp out/$name/eval/summary.json "$name-np$np.json"
  done
  expect_ok "eval-$name-early" mpi "eval-$name-early" 2 300 eval "$CFG" "${common[@]}" \
    --checkpoint out/$name/checkpoints/step-0000003 --split test
  cp out/$name/eval/summary.json "$name-early.json"
  "$PY" -c "import json; assert json.load(open('$name-np1.json'))['samples'] == 7" ||
    fail "$name: the test split should have 7 samples"
  for np in 2 3; do
    compare "$name-np1.json" "$name-np$np.json" >>"$LOGS/compare.log" 2>&1 ||
      fail "$name: eval at $np ranks differs from 1 rank: $(tail -1 "$LOGS/compare.log")"
  done
  compare "$name-np1.json" "$name-early.json" >>"$LOGS/compare.log" 2>&1 &&
    fail "control: $name summaries of two checkpoints compare equal"
done
cat "$LOGS/compare.log"
echo "PASS: eval identical at 1, 2 and 3 ranks (cells, denoise); control differs"
