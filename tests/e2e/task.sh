#!/usr/bin/env bash
# End-to-end for one task of configs/ci/: synthesize a tiny dataset, train on 2 ranks,
# resume for more steps, evaluate (summary.json), predict (PNGs), export (torch.load-able).
# Usage: task.sh CONFIG_NAME SYNTH_TASK [extra synth args]
source "$(dirname "$0")/lib.sh"
name=$1 task=$2; shift 2
synth "$task" data "$@"
CFG=$TESSERA_SOURCE_DIR/configs/ci/$name.yaml
common=(--set data.train=data/train --set data.val=data/val --set data.test=data/test
        --set experiment.output_dir=out --set experiment.name=$name --set train.log_every=1
        --set train.eval_every=3 --set train.checkpoint_every=3)
expect_ok check run check 60 "$TESSERA_BIN" config check "$CFG" "${common[@]}"
expect_ok train mpi train 2 300 train "$CFG" "${common[@]}" --set train.max_steps=4
[ -f out/$name/checkpoints/latest ] || fail "no checkpoint"
[ -f out/$name/config.resolved.yaml ] || fail "no config.resolved.yaml"
grep -a -q '"split":"val"' out/$name/metrics.jsonl || fail "no validation record in metrics.jsonl"
expect_ok resume mpi resume 2 300 train "$CFG" "${common[@]}" --set train.max_steps=6 --resume auto
expect_log resume "resumed from step 4"
expect_ok eval mpi eval 2 300 eval "$CFG" "${common[@]}" --checkpoint latest --split test
[ -f out/$name/eval/summary.json ] || fail "no eval/summary.json"
# The model's input scored beside it where that is the baseline to beat.
case $name in superres) base=bicubic ;; denoise) base=noisy_input ;; inpaint) base=masked_input ;; *) base= ;; esac
"$PY" -c "
import json; s = json.load(open('out/$name/eval/summary.json'))
assert s['samples'] == 8, s['samples']          # 40 * 0.2, each sample exactly once
assert len(s['per_image']) == 8 and s['metrics'], s
base = '$base'
if base:
    assert set(s[base]) == set(s['metrics']) and 'psnr' in s[base], s
else:
    assert not {'bicubic', 'noisy_input', 'masked_input'} & set(s), s
print(s['metrics'])" >"$LOGS/summary.log" 2>&1 || fail "bad summary.json: $(cat "$LOGS/summary.log")"
expect_ok predict run predict 120 "$TESSERA_BIN" predict "$CFG" "${common[@]}" --checkpoint latest \
  --input data/test --out pred
ls pred/*.png >/dev/null 2>&1 || fail "predict wrote no PNG"
expect_ok export run export 120 "$TESSERA_BIN" export "$CFG" "${common[@]}" --checkpoint best --out m.pt
"$PY" -c "import torch; d = torch.load('m.pt'); assert len(d) > 0" || fail "torch.load cannot read the export"
echo "PASS: $name: train, resume, eval, predict, export"
