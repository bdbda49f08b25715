#!/usr/bin/env bash
# The main job, on its embedded default: installs what is missing, builds, synthesizes a small
# satellite-roads dataset, trains the article's U-Net on 2 MPI ranks on CPU, evaluates the best
# checkpoint on the test split, writes prediction images and the HTML report (tessera report),
# and prints where everything is.
# Environment: DEMO_STEPS (default from configs/demo.yaml), DEMO_RANKS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== packages (scripts/setup.sh)"
bash scripts/setup.sh

# The build runs in the background with its output in a log; every 15 s (or when it ends) one
# line says how far it got: ninja's/make's latest [n/N] (or [ p%]) line and the elapsed time.
BUILD_LOG=${TMPDIR:-/tmp}/tessera-demo-build.log
echo "== build (scripts/build.sh -> build/bin/tessera; log: $BUILD_LOG)"
echo "   a first build compiles ~200 files (~15 min on 2 cores); later builds take seconds"
bash scripts/build.sh >"$BUILD_LOG" 2>&1 &
build_pid=$!
build_start=$(date +%s)
last=""
while ! timeout 15 tail --pid=$build_pid -f /dev/null; do
  line=$(grep -aoE '^\[ *[0-9]+(/[0-9]+|%)\] .*' "$BUILD_LOG" | tail -n 1 | cut -c1-90 || true)
  if [ -n "$line" ] && [ "$line" != "$last" ]; then
    echo "   $(( $(date +%s) - build_start )) s: $line"
    last=$line
  fi
done
if ! wait $build_pid; then
  echo "== build FAILED after $(( $(date +%s) - build_start )) s; last lines of $BUILD_LOG:"
  tail -40 "$BUILD_LOG"
  exit 1
fi
echo "   built in $(( $(date +%s) - build_start )) s"
BIN=build/bin/tessera
RANKS=${DEMO_RANKS:-2}
CONFIG=configs/demo.yaml
DATA=runs/demo-data/roads
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
extra=()
if [ -n "${DEMO_STEPS:-}" ]; then extra+=(--set "train.max_steps=${DEMO_STEPS}"); fi

echo "== 1/5 synthesize roads dataset -> $DATA"
if [ ! -f "$DATA/test/manifest.json" ]; then
  $BIN synth --task roads --out "$DATA" --samples 1200 --size 64 --shards 4 --seed 7 \
    --val-fraction 0.1 --test-fraction 0.1
fi

echo "== 2/5 train the article's U-Net on $RANKS MPI ranks (CPU)"
start=$(date +%s)
mpirun --oversubscribe --bind-to none -np "$RANKS" $BIN train "$CONFIG" --resume auto "${extra[@]}"
echo "   trained in $(( $(date +%s) - start )) s"

echo "== 3/5 evaluate the best checkpoint on the test split"
mpirun --oversubscribe --bind-to none -np "$RANKS" $BIN eval "$CONFIG" --checkpoint best --split test "${extra[@]}"

echo "== 4/5 predictions on test images"
$BIN predict "$CONFIG" --checkpoint best --input "$DATA/test" --out runs/demo/predictions "${extra[@]}"

echo "== 5/5 report: curves, evaluation and validation images in one page"
$BIN report runs/demo --out runs/demo/report.html

cat <<TXT

Done. Everything is under runs/demo/:
  runs/demo/config.resolved.yaml     the resolved config
  runs/demo/metrics.jsonl            training log (loss, lr, images/s, validation metrics)
  runs/demo/checkpoints/             checkpoints (latest, best)
  runs/demo/eval/summary.json        test-split metrics (overall, per class, per image)
  runs/demo/predictions/             masks, overlays and input|target|prediction grids
  runs/demo/report.html              one self-contained page: open it in any browser
  runs/demo/tb/                      TensorBoard event files: tensorboard --logdir runs/demo/tb
TXT
