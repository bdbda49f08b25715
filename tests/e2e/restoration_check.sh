#!/usr/bin/env bash
# tools/restoration_check.py, the scorer behind docs/RESULTS.md's restoration tables, through
# `tessera predict` on whole photographs:
#  1. sr: a checkpoint of configs/ci/superres.yaml up-scales photographs down-scaled by PIL's
#     antialiased bicubic; the bicubic baseline's PSNR on Y (BT.601, border crop = scale) equals
#     an independent computation here. Control: predictions that ARE the bicubic up-scaling
#     score exactly the baseline (gain 0), and predictions that are the originals score inf.
#  2. denoise: a checkpoint of configs/ci/denoise.yaml on noisy photographs (sigma 25), with
#     OpenCV's non-local means (bench_nlm_baseline) as a baseline: at h 10 it gains > 2 dB over
#     the noisy input. Control: at h 0.5 it stays within 0.5 dB of the noisy input.
#  3. model.head_init: zero (configs/superres.yaml's recipe) through `tessera train` and `tessera
#     eval`: with a learning rate of 1e-12 (the weights stay where they started) the model scores
#     exactly the bicubic baseline on the test split. Control: the same run with the Keras head
#     scores > 3 dB below it (RGB; > 1 dB on Y).
source "$(dirname "$0")/lib.sh"
CHECK=$TESSERA_SOURCE_DIR/tools/restoration_check.py
NLM=$(dirname "$TESSERA_BIN")/bench_nlm_baseline
[ -x "$NLM" ] || fail "$NLM is missing (built with the bench targets)"
"$PY" - <<'PYEOF' >"$LOGS/photos.log" 2>&1 || fail "writing the photographs failed"
import os
from PIL import Image
from skimage import data
os.makedirs("photos", exist_ok=True)
# Real photographs, small: 96x64 crops (sides divisible by the scale; not by 2^depth, so predict
# pads them).
Image.fromarray(data.astronaut()[100:164, 150:246]).save("photos/astronaut.png")
Image.fromarray(data.coffee()[80:144, 200:296]).save("photos/coffee.png")
PYEOF

# ---- 1. super-resolution
synth superres sr --scale 2
sets=(--set data.train=sr/train --set data.val=sr/val --set data.test=sr/test
      --set experiment.output_dir=out --set experiment.name=sr --set train.max_steps=2)
expect_ok train-sr mpi train-sr 1 300 train "$TESSERA_SOURCE_DIR/configs/ci/superres.yaml" "${sets[@]}"
expect_ok check-sr run check-sr 300 "$PY" "$CHECK" sr --tessera "$TESSERA_BIN" \
  --config "$TESSERA_SOURCE_DIR/configs/ci/superres.yaml" "${sets[@]}" --checkpoint latest \
  --photos photos --out check-sr
"$PY" - <<'PYEOF' >"$LOGS/independent.log" 2>&1 || fail "independent PSNR: $(cat "$LOGS/independent.log")"
import json
import numpy as np
from PIL import Image
s = json.load(open("check-sr/summary.json"))
assert s["border"] == 2, s["border"]
for stem in ("astronaut", "coffee"):
    hr = np.asarray(Image.open(f"photos/{stem}.png").convert("RGB")).astype(np.float64)
    lr = Image.open(f"photos/{stem}.png").resize((48, 32), Image.BICUBIC)
    bic = np.asarray(lr.resize((96, 64), Image.BICUBIC)).astype(np.float64)
    y = lambda im: 16.0 + (65.481 * im[..., 0] + 128.553 * im[..., 1] + 24.966 * im[..., 2]) / 255.0
    d = (y(bic) - y(hr))[2:-2, 2:-2]
    want = 10 * np.log10(255.0 ** 2 / np.mean(d * d))
    got = s["photos"][stem]["bicubic"]["psnr_y"]
    assert abs(got - want) < 1e-9, (stem, got, want)
    print(stem, "bicubic PSNR on Y", got, "= independent", want)
PYEOF
# Controls: the bicubic up-scaling itself as the predictions (gain exactly 0), the originals (inf).
"$PY" - <<'PYEOF' || fail "writing the control predictions failed"
import os
from PIL import Image
os.makedirs("as-bicubic", exist_ok=True)
os.makedirs("as-original", exist_ok=True)
for stem in ("astronaut", "coffee"):
    lr = Image.open(f"check-sr/lr/{stem}.png")
    lr.resize((96, 64), Image.BICUBIC).save(f"as-bicubic/{stem}_pred.png")
    Image.open(f"photos/{stem}.png").convert("RGB").save(f"as-original/{stem}_pred.png")
PYEOF
expect_ok control-bicubic run control-bicubic 120 "$PY" "$CHECK" sr --predictions as-bicubic \
  --photos photos --out control-bicubic
expect_ok control-original run control-original 120 "$PY" "$CHECK" sr --predictions as-original \
  --photos photos --out control-original
"$PY" - <<'PYEOF' >"$LOGS/controls.log" 2>&1 || fail "controls: $(cat "$LOGS/controls.log")"
import json, math
b = json.load(open("control-bicubic/summary.json"))["mean"]
assert b["model"]["psnr_y"] == b["bicubic"]["psnr_y"], b
o = json.load(open("control-original/summary.json"))["mean"]
assert math.isinf(o["model"]["psnr_y"]) and not math.isinf(o["bicubic"]["psnr_y"]), o
print("controls: bicubic as the model gains 0; the originals score inf")
PYEOF
grep -aq "| \*\*mean\*\* |" "$LOGS/check-sr.log" || fail "check-sr printed no table"

# ---- 2. denoising, with non-local means
synth denoise dn --noise 0.1
dsets=(--set data.train=dn/train --set data.val=dn/val --set data.test=dn/test
       --set experiment.output_dir=out --set experiment.name=dn --set train.max_steps=2)
expect_ok train-dn mpi train-dn 1 300 train "$TESSERA_SOURCE_DIR/configs/ci/denoise.yaml" "${dsets[@]}"
expect_ok check-dn run check-dn 300 "$PY" "$CHECK" denoise --tessera "$TESSERA_BIN" \
  --config "$TESSERA_SOURCE_DIR/configs/ci/denoise.yaml" "${dsets[@]}" --checkpoint latest \
  --photos photos --out check-dn --sigma 25 --nlm "$NLM" --nlm-h 0.5 10
"$PY" - <<'PYEOF' >"$LOGS/nlm.log" 2>&1 || fail "non-local means: $(cat "$LOGS/nlm.log")"
import json
s = json.load(open("check-dn/summary.json"))
assert s["baselines"] == ["noisy", "nlm (h=10)"], s["baselines"]
m = s["mean"]
gain = m["nlm (h=10)"]["psnr_y"] - m["noisy"]["psnr_y"]
assert gain > 2.0, f"NLM h 10 gains only {gain:.2f} dB"
print(f"NLM h 10: {gain:+.2f} dB over the noisy input")
PYEOF
grep -aE "nlm h=0.5: mean PSNR on Y" "$LOGS/check-dn.log" >/dev/null || fail "no h 0.5 line"
"$PY" - "$LOGS/check-dn.log" <<'PYEOF' >>"$LOGS/nlm.log" 2>&1 || fail "NLM control: $(cat "$LOGS/nlm.log")"
import json, re, sys
text = open(sys.argv[1]).read()
h05 = float(re.search(r"nlm h=0.5: mean PSNR on Y ([0-9.]+) dB", text).group(1))
noisy = json.load(open("check-dn/summary.json"))["mean"]["noisy"]["psnr_y"]
assert abs(h05 - noisy) < 0.5, (h05, noisy)
print(f"control: NLM h 0.5 {h05:.2f} dB vs noisy {noisy:.2f} dB")
PYEOF
# ---- 3. the zero-initialised head: the untrained network is bicubic
for head in zero keras; do
  hsets=(--set data.train=sr/train --set data.val=sr/val --set data.test=sr/test
         --set experiment.output_dir=out --set experiment.name="head-$head" --set train.max_steps=2
         --set model.head_init="$head" --set optim.lr=1.0e-12 --set schedule.min_lr=0
         --set train.eval_every=0)
  expect_ok "train-head-$head" mpi "train-head-$head" 1 300 train \
    "$TESSERA_SOURCE_DIR/configs/ci/superres.yaml" "${hsets[@]}"
  expect_ok "eval-head-$head" mpi "eval-head-$head" 1 300 eval \
    "$TESSERA_SOURCE_DIR/configs/ci/superres.yaml" "${hsets[@]}" --checkpoint latest --split test
done
"$PY" - <<'PYEOF' >"$LOGS/head.log" 2>&1 || fail "head_init: $(cat "$LOGS/head.log")"
import json
z = json.load(open("out/head-zero/eval/summary.json"))
k = json.load(open("out/head-keras/eval/summary.json"))
# The Keras head's random image costs ~7 dB on RGB here, less on Y (a weighted mean of the
# channels averages part of it out).
for name, below in (("psnr", 3.0), ("psnr_y", 1.0)):
    model, base = z["metrics"][name], z["bicubic"][name]
    assert abs(model - base) < 1e-4, ("zero head", name, model, base)
    assert k["metrics"][name] < k["bicubic"][name] - below, ("keras head", name, k["metrics"], k["bicubic"])
    print(f"{name}: zero head {model:.4f} = bicubic {base:.4f}; keras head {k['metrics'][name]:.2f}")
PYEOF
echo "PASS: restoration_check: sr scores match an independent computation, controls hold; NLM baseline; a zero head starts at bicubic"
