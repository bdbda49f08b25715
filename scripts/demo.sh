#!/usr/bin/env bash
# The main job, on its embedded default: installs what is missing, builds, synthesizes a small
# satellite-roads dataset, trains the article's U-Net on 2 MPI ranks on CPU, evaluates the best
# checkpoint on the test split, writes prediction images, and prints where everything is.
# Environment: DEMO_STEPS (default from configs/demo.yaml), DEMO_RANKS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh >/tmp/tessera-demo-build.log 2>&1 || { tail -40 /tmp/tessera-demo-build.log; exit 1; }
BIN=build/bin/tessera
RANKS=${DEMO_RANKS:-2}
CONFIG=configs/demo.yaml
DATA=runs/demo-data/roads
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
extra=()
if [ -n "${DEMO_STEPS:-}" ]; then extra+=(--set "train.max_steps=${DEMO_STEPS}"); fi

echo "== 1/4 synthesize roads dataset -> $DATA"
if [ ! -f "$DATA/test/manifest.json" ]; then
  $BIN synth --task roads --out "$DATA" --samples 1200 --size 64 --shards 4 --seed 7 \
    --val-fraction 0.1 --test-fraction 0.1
fi

echo "== 2/4 train the article's U-Net on $RANKS MPI ranks (CPU)"
start=$(date +%s)
mpirun --oversubscribe --bind-to none -np "$RANKS" $BIN train "$CONFIG" --resume auto "${extra[@]}"
echo "   trained in $(( $(date +%s) - start )) s"

echo "== 3/4 evaluate the best checkpoint on the test split"
mpirun --oversubscribe --bind-to none -np "$RANKS" $BIN eval "$CONFIG" --checkpoint best --split test "${extra[@]}"

echo "== 4/4 predictions on test images"
$BIN predict "$CONFIG" --checkpoint best --input "$DATA/test" --out runs/demo/predictions "${extra[@]}"

cat <<TXT

Done. Everything is under runs/demo/:
  runs/demo/config.resolved.yaml     the resolved config
  runs/demo/metrics.jsonl            training log (loss, lr, images/s, validation metrics)
  runs/demo/checkpoints/             checkpoints (latest, best)
  runs/demo/eval/summary.json        test-split metrics (overall, per class, per image)
  runs/demo/predictions/             masks, overlays and input|target|prediction grids
TXT
