#!/usr/bin/env bash
# The article's own comparison (../shared/seed/): its convolutional autoencoder (myTransformer,
# model.arch=autoencoder, no skip connections) against its U-Net (GiveMeUnet, model.arch=unet) on
# the same image-to-image tasks, with everything else identical: config file, data, steps, batch,
# optimiser and schedule, loss (MSE), ranks. Two tasks:
#   style     photo -> painting translation (configs/monet_style.yaml; `tessera synth --task style`)
#   denoise   Gaussian noise std 0.1 (configs/denoise.yaml with model.residual=false and
#             model.depth=4 for both: the networks alone, at the article's depth, are compared)
# Each run's best checkpoint (on validation PSNR) is evaluated on the test split; the end is a
# table (PSNR/SSIM, and the noisy input for denoising) and, per task, one `tessera report` of both
# runs (curves overlaid, configs diffed, the same test images side by side) at
# $OUT/report-<task>.html. docs/RESULTS.md quotes the figures.
# Usage: scripts/compare_article.sh [style] [denoise]   (default both; ~25 min on 2 cores)
# Environment: COMPARE_STEPS (1500), COMPARE_RANKS (2), COMPARE_OUT (runs/compare).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/bin/tessera ] || bash scripts/build.sh >/tmp/tessera-compare-build.log 2>&1 ||
  { tail -40 /tmp/tessera-compare-build.log; exit 1; }
STEPS=${COMPARE_STEPS:-1500}
RANKS=${COMPARE_RANKS:-2}
OUT=${COMPARE_OUT:-runs/compare}
mkdir -p "$OUT/bin"
cp build/bin/tessera "$OUT/bin/"  # a private copy: rebuilding the tree cannot swap it mid-run
BIN=$PWD/$OUT/bin/tessera
TASKS=("$@")
[ ${#TASKS[@]} -gt 0 ] || TASKS=(style denoise)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
declare -A CONFIG=([style]=configs/monet_style.yaml [denoise]=configs/denoise.yaml)
data() {  # task
  local d=$OUT/data/$1
  [ -f "$d/test/manifest.json" ] && return 0
  case $1 in
    style) "$BIN" synth --task style --out "$d" --samples 1200 --size 64 --seed 21 ;;
    denoise) "$BIN" synth --task denoise --out "$d" --samples 1200 --size 64 --noise 0.1 --seed 22 ;;
  esac >"$OUT/$1.synth.log" 2>&1
}
sets() {  # task arch
  local d=$OUT/data/$1
  echo --set experiment.output_dir="$OUT" --set experiment.name="$1-$2" --set model.arch="$2" \
    --set data.train="$d/train" --set data.val="$d/val" --set data.test="$d/test" \
    --set data.image_size=64 --set data.batch_size=8 --set train.threads_per_rank=1 \
    --set data.loader_threads=1 --set train.max_steps="$STEPS" --set train.log_every=50 \
    --set train.eval_every=250 --set train.checkpoint_every=250 --set optim.lr=1e-3 \
    --set schedule.name=cosine --set schedule.warmup_steps=50 --set schedule.min_lr=1e-5 \
    --set logging.progress=lines --set eval.tile=0
  [ "$1" = denoise ] && echo --set model.residual=false --set model.depth=4
  return 0
}
for t in "${TASKS[@]}"; do
  [ -n "${CONFIG[$t]:-}" ] || { echo "unknown task '$t': expected style or denoise" >&2; exit 2; }
  data "$t"
  for a in autoencoder unet; do
    # shellcheck disable=SC2207  # no spaces in these paths
    s=($(sets "$t" "$a"))
    run=$OUT/$t-$a
    if [ -f "$run.train_seconds" ]; then
      echo "== $t $a: already trained (delete $run.train_seconds and $run to train again)"
    else
      echo "== $t $a: tessera train ${CONFIG[$t]} ${s[*]}"
      start=$(date +%s)
      mpirun --bind-to none -np "$RANKS" "$BIN" train "${CONFIG[$t]}" "${s[@]}" --resume auto \
        >"$run.train.log" 2>&1 || { tail -30 "$run.train.log"; exit 1; }
      echo "$(( $(date +%s) - start ))" >"$run.train_seconds"
    fi
    "$BIN" inspect "$run/config.resolved.yaml" >"$run.inspect.txt" 2>&1 || true
    mpirun --bind-to none -np "$RANKS" "$BIN" eval "${CONFIG[$t]}" "${s[@]}" --checkpoint best \
      --split test >"$run.eval.txt" 2>"$run.eval.log" || { tail -30 "$run.eval.log"; exit 1; }
  done
  "$BIN" report "$OUT/$t-autoencoder" "$OUT/$t-unet" --out "$OUT/report-$t.html" \
    >"$OUT/report-$t.log" 2>&1 || { tail -20 "$OUT/report-$t.log"; exit 1; }
  echo "== $t: report $OUT/report-$t.html"
done

/usr/bin/python3 - "$OUT" "$STEPS" "${TASKS[@]}" <<'PY'
import json, sys
out, steps, tasks = sys.argv[1], sys.argv[2], sys.argv[3:]
print(f"\n| task | model | parameters | test PSNR (dB) | test SSIM | baseline PSNR | train time ({steps} steps) |")
print("|---|---|---|---|---|---|---|")
for t in tasks:
    for a in ("autoencoder", "unet"):
        s = json.load(open(f"{out}/{t}-{a}/eval/summary.json"))
        m = s["metrics"]
        base = s.get("noisy_input") or s.get("bicubic") or {}
        b = f"{base['psnr']:.2f} (noisy input)" if base else "-"
        params = "-"
        try:
            for line in open(f"{out}/{t}-{a}.inspect.txt", errors="replace"):
                if line.startswith("total params:"):
                    params = line.split()[-1]
        except OSError:
            pass
        secs = open(f"{out}/{t}-{a}.train_seconds").read().strip()
        print(f"| {t} | {a} | {params} | {m['psnr']:.2f} | {m['ssim']:.4f} | {b} | {secs} s |")
PY
