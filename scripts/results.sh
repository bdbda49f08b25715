#!/usr/bin/env bash
# Trains the example configs long enough on CPU to show the models really work, evaluates each
# best checkpoint on its test split and prints the figures recorded in docs/RESULTS.md:
#   cells, roads      binary segmentation (synthetic data): test Dice (goal >= 0.90)
#   denoise           Gaussian noise std 0.1 (synthetic): PSNR vs the noisy input (goal >= +4 dB)
# Usage: scripts/results.sh [TASK...]   (default: all three; ~20-30 min on 2 cores)
# Super-resolution and denoising of real photographs: scripts/results_restoration.sh.
# Environment: RESULTS_RANKS (2), RESULTS_OUT (runs/results).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh >/tmp/tessera-results-build.log 2>&1 ||
  { tail -40 /tmp/tessera-results-build.log; exit 1; }
RANKS=${RESULTS_RANKS:-2}
OUT=${RESULTS_OUT:-runs/results}
# A private copy of the binary, so rebuilding the tree during the long runs cannot swap it.
mkdir -p "$OUT/bin"
cp build/bin/tessera build/bin/tessera-shard-probe "$OUT/bin/"
BIN=$PWD/$OUT/bin/tessera
TASKS=("$@")
[ ${#TASKS[@]} -gt 0 ] || TASKS=(cells roads denoise)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

# data_<task>: builds $OUT/data/<task>/{train,val,test} once.
data_cells() { [ -f "$OUT/data/cells/test/manifest.json" ] ||
  $BIN synth --task cells --out "$OUT/data/cells" --samples 1200 --size 64 --seed 11; }
data_roads() { [ -f "$OUT/data/roads/test/manifest.json" ] ||
  $BIN synth --task roads --out "$OUT/data/roads" --samples 1200 --size 64 --seed 12; }
data_denoise() { [ -f "$OUT/data/denoise/test/manifest.json" ] ||
  $BIN synth --task denoise --out "$OUT/data/denoise" --samples 1200 --size 64 --noise 0.1 --seed 13; }
# Per task: config and the overrides that fit a CPU budget (64x64 crops, 2 ranks x batch 8).
declare -A CONFIG=([cells]=configs/cells.yaml [roads]=configs/roads.yaml
                   [denoise]=configs/denoise.yaml)
common() {  # task
  local t=$1 d=$OUT/data/$1
  echo --set experiment.output_dir="$OUT" --set experiment.name="$t" --set data.batch_size=8 \
    --set data.image_size=64 --set train.threads_per_rank=1 --set data.loader_threads=1 \
    --set train.log_every=50 --set train.eval_every=250 --set train.checkpoint_every=250 \
    --set logging.progress=lines --set eval.tile=0
  case $t in
    cells | roads)
      echo --set data.train="$d/train" --set data.val="$d/val" --set data.test="$d/test" \
        --set train.max_steps=1500 --set optim.lr=2e-3 --set schedule.name=cosine \
        --set schedule.warmup_steps=50 --set schedule.min_lr=1e-4 ;;
    denoise)
      echo --set data.train="$d/train" --set data.val="$d/val" --set data.test="$d/test" \
        --set train.max_steps=1500 --set optim.lr=1e-3 --set schedule.name=cosine \
        --set schedule.warmup_steps=50 --set schedule.min_lr=1e-5 ;;
  esac
}

for t in "${TASKS[@]}"; do
  [ -n "${CONFIG[$t]:-}" ] || { echo "unknown task '$t': expected cells, roads, denoise (super-resolution: scripts/results_restoration.sh)" >&2; exit 2; }
  echo "== $t: data"
  "data_$t"
  # shellcheck disable=SC2207  # the override list is split on whitespace (no spaces in paths)
  sets=($(common "$t"))
  echo "== $t: train on $RANKS ranks: tessera train ${CONFIG[$t]} ${sets[*]}"
  if [ -f "$OUT/$t.train_seconds" ]; then
    echo "   already trained (delete $OUT/$t.train_seconds and $OUT/$t to train again)"
  else
    start=$(date +%s)
    mpirun --bind-to none -np "$RANKS" "$BIN" train "${CONFIG[$t]}" "${sets[@]}" --resume auto \
      >"$OUT/$t.train.log" 2>&1 || { tail -30 "$OUT/$t.train.log"; exit 1; }
    echo "$(( $(date +%s) - start ))" >"$OUT/$t.train_seconds"
  fi
  echo "   trained in $(cat "$OUT/$t.train_seconds") s (log: $OUT/$t.train.log)"
  echo "== $t: evaluate the best checkpoint on the test split"
  mpirun --bind-to none -np "$RANKS" "$BIN" eval "${CONFIG[$t]}" "${sets[@]}" --checkpoint best \
    --split test 2>"$OUT/$t.eval.log" | tee "$OUT/$t.eval.txt"
done

python3 - "$OUT" "${TASKS[@]}" <<'PY'
import json, sys
out, tasks = sys.argv[1], sys.argv[2:]
print("\n| task | test split | metric | model | baseline | margin | goal | train time |")
print("|---|---|---|---|---|---|---|---|")
for t in tasks:
    s = json.load(open(f"{out}/{t}/eval/summary.json"))
    m = s["metrics"]
    secs = int(open(f"{out}/{t}.train_seconds").read())
    n = s["samples"]
    if t in ("cells", "roads"):
        ok = m["dice"] >= 0.90
        print(f"| {t} | {n} synthetic 64x64 | Dice | {m['dice']:.4f} | - | - | >= 0.90 {'met' if ok else 'NOT met'} | {secs} s |")
    else:
        base_name = "noisy_input"
        b = s[base_name]
        d = m["psnr"] - b["psnr"]
        goal = 4.0
        split = f"{n} synthetic 64x64"
        print(f"| {t} | {split} | PSNR (dB) | {m['psnr']:.2f} | {b['psnr']:.2f} ({base_name}) | "
              f"{d:+.2f} dB | >= +{goal:.0f} dB {'met' if d >= goal else 'NOT met'} | {secs} s |")
        print(f"| {t} | | SSIM | {m['ssim']:.4f} | {b['ssim']:.4f} | {m['ssim'] - b['ssim']:+.4f} | | |")
PY
