#!/bin/bash
# Image restoration as the field measures it (docs/RESULTS.md, "Super-resolution on real
# photographs" and "Denoising real photographs"): trains the example configs on real
# photographs and scores whole held-out photographs through `tessera predict`, beside
#   sr       plain bicubic, and the PyTorch twin (tools/reference/restoration_train.py: the
#            parity-tested network, the same data and recipe) trained for the same steps;
#   denoise  the noisy input, OpenCV's non-local means (best h), and the twin.
# Data: the photographs Debian ships in python3-skimage and python-matplotlib-data, split by
# photograph: test = astronaut, chelsea, coffee (never seen in training; their 128 px tiles are
# also the validation set, and the scores below use the LAST checkpoint, so no choice is made
# on them); training = the 13 others.
# Usage: scripts/results_restoration.sh [sr] [denoise]   (default both; ~75 min on 2 cores, the
# PyTorch twin being the slower half)
# Environment: RESULTS_OUT (runs/restoration), RESULTS_RANKS (2), RESULTS_STEPS (3000),
# RESULTS_TWIN_SEED (42: the twin's --seed). Extra tessera settings (e.g. another
# experiment.seed): RESULTS_SETS="--set key=value ...".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
TESSERA_BUILD_TARGETS="tessera bench_nlm_baseline" bash scripts/build.sh \
  >/tmp/tessera-restoration-build.log 2>&1 || { tail -40 /tmp/tessera-restoration-build.log; exit 1; }
OUT=${RESULTS_OUT:-runs/restoration}
RANKS=${RESULTS_RANKS:-2}
STEPS=${RESULTS_STEPS:-3000}
ROOT=$PWD
mkdir -p "$OUT/bin"
# Private copies, so rebuilding the tree during the runs cannot swap them.
cp build/bin/tessera build/bin/bench_nlm_baseline "$OUT/bin/"
BIN=$ROOT/$OUT/bin/tessera
PY=/usr/bin/python3
TASKS=("$@")
[ ${#TASKS[@]} -gt 0 ] || TASKS=(sr denoise)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
SKIMAGE=/usr/lib/python3/dist-packages/skimage/data
MPLDATA=/usr/share/matplotlib/mpl-data/sample_data

photos() {
  [ -f "$OUT/photos/test/coffee.png" ] && return 0
  mkdir -p "$OUT/photos/train" "$OUT/photos/test"
  for f in rocket.jpg motorcycle_left.png motorcycle_right.png ihc.png camera.png moon.png \
           coins.png grass.png gravel.png brick.png page.png text.png; do
    cp "$SKIMAGE/$f" "$OUT/photos/train/"
  done
  cp "$MPLDATA/grace_hopper.jpg" "$OUT/photos/train/"
  for f in astronaut.png chelsea.png coffee.png; do cp "$SKIMAGE/$f" "$OUT/photos/test/"; done
}

# pack TASK DIR ARGS...: the training photos into DIR/train, the test photos' tiles into DIR/val
# and DIR/test (the same tiles: validation curves and the eval table are on held-out photos).
pack() {
  local task=$1 dir=$2; shift 2
  [ -f "$dir/test/manifest.json" ] && return 0
  mkdir -p "$(dirname "$dir")"
  "$BIN" pack --task "$task" --inputs "$OUT/photos/train" --out "$dir" --size 128 --fit tile \
    --split train "$@" >"$dir.pack.log" 2>&1
  "$BIN" pack --task "$task" --inputs "$OUT/photos/test" --out "$dir" --size 128 --fit tile \
    --split val --seed 7 "$@" >>"$dir.pack.log" 2>&1
  "$BIN" pack --task "$task" --inputs "$OUT/photos/test" --out "$dir" --size 128 --fit tile \
    --split test --seed 7 "$@" >>"$dir.pack.log" 2>&1
}

# run TASK CONFIG DATA: tessera train + eval (last checkpoint), then the twin, then the checks.
run() {
  local t=$1 cfg=$2 data=$3
  local sets=(--set experiment.output_dir="$OUT" --set experiment.name="$t"
              --set data.train="$data/train" --set data.val="$data/val"
              --set data.test="$data/test" --set train.max_steps="$STEPS"
              --set logging.progress=lines)
  # shellcheck disable=SC2206  # RESULTS_SETS is a word list by design
  sets+=(${RESULTS_SETS:-})
  if [ ! -f "$OUT/$t.train_seconds" ]; then
    echo "== $t: tessera train $cfg on $RANKS ranks ($STEPS steps)"
    local start; start=$(date +%s)
    mpirun --bind-to none -np "$RANKS" "$BIN" train "$cfg" "${sets[@]}" >"$OUT/$t.train.log" 2>&1 ||
      { tail -30 "$OUT/$t.train.log"; exit 1; }
    echo "$(( $(date +%s) - start ))" >"$OUT/$t.train_seconds"
  fi
  mpirun --bind-to none -np "$RANKS" "$BIN" eval "$cfg" "${sets[@]}" --checkpoint latest \
    --split test >"$OUT/$t.eval.txt" 2>"$OUT/$t.eval.log"
  local mode=$t extra=()
  [ "$t" = denoise ] && extra=(--sigma 25 --nlm "$ROOT/$OUT/bin/bench_nlm_baseline")
  echo "== $t: whole held-out photographs through tessera predict (last checkpoint)"
  $PY tools/restoration_check.py "$mode" --tessera "$BIN" --config "$cfg" "${sets[@]}" \
    --checkpoint latest --photos "$OUT/photos/test" --out "$OUT/check-$t" "${extra[@]}" |
    tee "$OUT/check-$t.txt"
  local input_dir=$OUT/check-$t/lr
  [ "$t" = denoise ] && input_dir=$OUT/check-$t/noisy
  local twin_extra=()
  # model.head_init: zero in the resolved config (base: files and RESULTS_SETS included) -> the
  # twin's last convolution starts at zero too.
  "$BIN" config show "$cfg" "${sets[@]}" >"$OUT/$t.config.yaml" ||
    { echo "tessera config show $cfg failed"; exit 1; }
  grep -Eq '^[[:space:]]*head_init:[[:space:]]*zero' "$OUT/$t.config.yaml" && twin_extra+=(--zero-head)
  twin_extra+=(--seed "${RESULTS_TWIN_SEED:-42}")
  if [ ! -f "$OUT/twin-$t/model.pt" ]; then
    echo "== $t: the PyTorch twin, same data and recipe (${twin_extra[*]})"
    local start; start=$(date +%s)
    mpirun --bind-to none -np "$RANKS" $PY tools/reference/restoration_train.py --task "$t" \
      --train "$data/train" --val "$data/val" --steps "$STEPS" --out "$OUT/twin-$t" \
      $([ "$t" = denoise ] && echo --noise-std 0.0980392) "${twin_extra[@]}" --predict-in "$input_dir" --predict-out "$OUT/twin-$t/pred" >"$OUT/twin-$t.log" 2>&1 ||
      { tail -30 "$OUT/twin-$t.log"; exit 1; }
    echo "$(( $(date +%s) - start ))" >"$OUT/twin-$t.train_seconds"
  fi
  $PY tools/restoration_check.py "$mode" --predictions "$OUT/twin-$t/pred" \
    --photos "$OUT/photos/test" --out "$OUT/check-twin-$t" "${extra[@]:0:2}" |
    tee "$OUT/check-twin-$t.txt"
}

photos
for t in "${TASKS[@]}"; do
  case $t in
    sr)
      pack super_resolution "$OUT/data/sr" --scale 2
      run sr configs/superres.yaml "$OUT/data/sr" ;;
    denoise)
      pack denoising "$OUT/data/denoise" --noise 0.0980392
      run denoise configs/denoise_photos.yaml "$OUT/data/denoise" ;;
    *) echo "unknown task '$t': expected sr or denoise" >&2; exit 2 ;;
  esac
done
$PY - "$OUT" "${TASKS[@]}" <<'PY'
import json, sys
out, tasks = sys.argv[1], sys.argv[2:]
print("\n| task | model | PSNR on Y (dB) | gain over the input's baseline | SSIM on Y | train time |")
print("|---|---|---|---|---|---|")
for t in tasks:
    for who, check, secs in (("tessera", f"check-{t}", f"{t}.train_seconds"),
                             ("PyTorch twin", f"check-twin-{t}", f"twin-{t}.train_seconds")):
        s = json.load(open(f"{out}/{check}/summary.json"))
        m, b = s["mean"], s["baselines"]
        for name in (["model"] + b if who == "tessera" else ["model"]):
            label = who if name == "model" else name
            gain = m[name]["psnr_y"] - m[b[0]]["psnr_y"]
            sec = open(f"{out}/{secs}").read().strip() + " s" if name == "model" else ""
            print(f"| {t} | {label} | {m[name]['psnr_y']:.2f} | {gain:+.2f} | "
                  f"{m[name]['ssim_y']:.4f} | {sec} |")
PY
