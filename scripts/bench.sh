#!/usr/bin/env bash
# The performance suite (issue 8): tessera vs PyTorch DDP training throughput, gradient
# averaging overhead, allreduce bandwidth vs raw MPI, loader throughput and data wait,
# checkpoint save/load vs plain file I/O, peak memory, and the weak-scaling model. Writes every
# table (with its exact command) into docs/PERFORMANCE.md's generated blocks.
#
#   scripts/bench.sh [--quick] [--no-build] [--no-doc] [--only SECTION[,SECTION...]]
#
# SECTION: machine train ablation precision heap grad allreduce loader checkpoint stall memory
# roofline scale scaling. About 15-20 minutes
# on 2 idle cores (--quick: fewer steps and one repetition, ~6 minutes; for trying it out, not
# for the document). Results also land in $TESSERA_BENCH_OUT (default build/bench-results/).
# Environment: TESSERA_JOBS (build parallelism, default 2), TESSERA_BENCH_REPS (train
# repetitions, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
quick=0 build=1 doc=1 only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --no-build) build=0 ;;
    --no-doc) doc=0 ;;
    --only) only=$2; shift ;;
    *) echo "scripts/bench.sh: unknown option $1 (see the header)" >&2; exit 2 ;;
  esac
  shift
done
OUT=${TESSERA_BENCH_OUT:-$ROOT/build/bench-results}
WORK=${TESSERA_BENCH_WORK:-/tmp/tessera-bench}
PY=/usr/bin/python3
BIN=$ROOT/build/bin
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# What `tessera train` sets for its ranks (launcher/distributed.cpp): waiting MPI calls yield the
# core instead of spinning. The benches' raw-MPI baselines run with the same setting.
export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
MPIRUN=(mpirun --oversubscribe --bind-to none)
# A full run starts from an empty results folder; --only adds to (replaces in) the last one.
[ -n "$only" ] || rm -rf "$OUT"
mkdir -p "$OUT" "$WORK"
rm -f "$OUT"/goals.md

want() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }
# section NAME TITLE-COMMAND... : runs the command with a hard time bound, output to a file;
# the block shows the command and the output.
section() {
  local name=$1 limit=$2; shift 2
  local log="$OUT/$name.log" t0=$SECONDS rc=0
  echo "== $name: $*" >&2
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1 </dev/null || rc=$?
  {
    echo '```'
    echo "\$ ${*/#$ROOT\//}"
    echo '```'
    echo
    if [ $rc -ne 0 ]; then echo "**FAILED (exit $rc)**; last lines:"; echo '```'; tail -20 "$log"; echo '```';
    else grep -v -e '^\[' -e 'UserWarning' -e 'warnings.warn' "$log" || true; fi
    echo
    echo "_($(( SECONDS - t0 )) s, $(date -u +%H:%M) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg))_"
  } >"$OUT/$name.md"
  echo "   $name: rc $rc, $(( SECONDS - t0 )) s" >&2
}

if [ $build -eq 1 ]; then
  TESSERA_JOBS=${TESSERA_JOBS:-2} bash scripts/build.sh >"$OUT/build.log" 2>&1 ||
    { tail -30 "$OUT/build.log"; exit 1; }
fi

if want machine; then
  {
    echo "| | |"
    echo "|---|---|"
    echo "| date | $(date -u '+%Y-%m-%d %H:%M UTC') |"
    echo "| CPU | $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores ($(grep -m1 -o -w -e avx512f -e avx2 /proc/cpuinfo | head -1)) |"
    echo "| memory | $(free -g | awk '/Mem:/{print $2}') GiB |"
    echo "| load average at start | $(cut -d' ' -f1-3 /proc/loadavg) (shared machine: other builds ran concurrently) |"
    echo "| commit | $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (+ local changes)') |"
    echo "| LibTorch / PyTorch | $($PY -c 'import torch; print(torch.__version__)') (Debian, CPU, oneDNN; generic BLAS) |"
    echo "| MPI | $(mpirun --version 2>&1 | head -1) |"
  } >"$OUT/machine.md"
fi

if [ $quick -eq 1 ]; then
  TRAIN=(--reps 1 --steps 10 --warmup-steps 5)
  GRAD=(--steps 4 --warmup 1)
  AR=(--max-mib 16 --trials 2)
  LOADER=(--samples 500)
  MEM=(--steps 4 --scale 0.5)
else
  TRAIN=(--reps "${TESSERA_BENCH_REPS:-2}" --steps 20 --warmup-steps 10)
  GRAD=(--steps 10 --warmup 2)
  AR=(--max-mib 64 --trials 3)
  LOADER=(--samples 2000)
  MEM=(--steps 6)
fi

if want train; then
  section train 1500 $PY "$ROOT/bench/train_compare.py" "${TRAIN[@]}" --threads 1 \
    --work "$WORK/train" --json "$OUT/train.json"
fi
if want ablation; then
  # PyTorch with tessera's polyphase Conv2DTranspose: what remains is the framework itself
  section ablation 900 $PY "$ROOT/bench/train_compare.py" --cases unet64x1,unet64x2 \
    "${TRAIN[@]}" --threads 1 --work "$WORK/train" --ddp-arg=--polyphase-upsample
  # channels-last (NHWC) on both sides: the option train.channels_last vs PyTorch's own
  section ablation-cl 900 $PY "$ROOT/bench/train_compare.py" --cases ae64x1,unet64x1 \
    "${TRAIN[@]}" --threads 1 --work "$WORK/train" --tessera-set=train.channels_last=true \
    --ddp-arg=--channels-last
fi
if want precision; then
  # train.precision bf16 vs fp32 on both sides (PyTorch: torch.autocast("cpu", torch.bfloat16)),
  # including the article's 256x256: per case and repetition four adjacent runs (tessera and
  # DDP, fp32 and bf16). 10 steps (5 warm-up): the 256 px cases take minutes on one core.
  { grep -o -w -e avx512_bf16 -e amx_bf16 /proc/cpuinfo || true; } | sort -u | tr '\n' ' ' \
    >"$OUT/bf16-flags.txt"
  section precision-runs 3000 $PY "$ROOT/bench/train_compare.py" --with-bf16 \
    --cases unet64x1,unet128x1,unet128x2,unet256x1,ae64x1,ae256x1 \
    --reps "${TESSERA_BENCH_REPS:-2}" --steps 10 --warmup-steps 5 --threads 1 \
    --work "$WORK/train" --json "$OUT/precision.json"
  section precision 60 $PY "$ROOT/bench/precision_table.py" "$OUT/precision.json" \
    "$OUT/bf16-flags.txt"
fi
if want heap; then
  # The heap policy (common/heap_tuning.h): tessera as shipped vs TESSERA_MALLOC=system, PyTorch
  # DDP as it comes vs the same reuse through GLIBC_TUNABLES; four adjacent runs per case and
  # repetition, fp32, including the article's 256x256.
  section heap-runs 3000 $PY "$ROOT/bench/train_compare.py" --with-heap \
    --cases unet64x1,unet128x1,unet128x2,unet256x1,ae64x1,ae256x1 \
    --reps "${TESSERA_BENCH_REPS:-2}" --steps 10 --warmup-steps 5 --threads 1 \
    --work "$WORK/train" --json "$OUT/heap.json"
  section heap 60 $PY "$ROOT/bench/heap_table.py" "$OUT/heap.json"
fi
if want grad; then
  section grad 600 "${MPIRUN[@]}" -np 2 "$BIN/bench_grad_overhead" --size 64 --batch 8 \
    --threads 1 "${GRAD[@]}"
fi
if want allreduce; then
  section allreduce 600 "${MPIRUN[@]}" -np 2 "$BIN/bench_allreduce" --min-kib 1 "${AR[@]}"
fi
if want loader; then
  if [ -x "$BIN/bench_loader" ]; then
    section loader 600 "$BIN/bench_loader" "${LOADER[@]}" --dir "$WORK/loader"
  else
    echo "   loader: build/bin/bench_loader not built in this tree (bench/loader.cpp)" >&2
  fi
fi
if want checkpoint; then
  section checkpoint 300 "$BIN/bench_checkpoint" --reps 5 --dir "$WORK/checkpoint"
fi
if want stall; then
  # checkpoint.async vs synchronous writes: the training step's stall per checkpoint, for the
  # article's U-Net at 2.2 M (filters 16) and 34.6 M (filters 64) parameters.
  section stall-2m 600 "$BIN/bench_checkpoint_stall" --filters 16 --dir "$WORK/stall"
  section stall-35m 900 "$BIN/bench_checkpoint_stall" --filters 64 --dir "$WORK/stall"
fi
if want memory; then
  section memory 900 $PY "$ROOT/bench/memory.py" --ranks 2 "${MEM[@]}" --work "$WORK/memory"
fi
if want roofline; then
  # The hardware limit: a 3x3 convolution micro-benchmark (fwd + both gradients) at the models'
  # channel counts, then each model's training step against it (FLOPs counted from layer shapes).
  section roofline 1500 taskset -c 0 "$BIN/bench_roofline" --sizes 64,128,256 --batch 8 \
    --steps "$([ $quick = 1 ] && echo 2 || echo 4)"
fi
if want scale; then
  # Scale of the work: img/s, data wait, allreduce time and peak RSS as the training set grows
  # 1x/10x/100x and the ranks go 1/2/4, shards read from disk (page cache dropped; root only).
  cold=(); [ "$(id -u)" = 0 ] && cold=(--cold)
  section scale 1800 $PY "$ROOT/bench/scale.py" --steps "$([ $quick = 1 ] && echo 12 || echo 30)" \
    "${cold[@]}" --work "$WORK/scale"
fi
if want scaling; then
  cpu=()
  if [ -f "$OUT/train.json" ]; then
    # measured: tessera, U-Net 128x128, 1 rank -> seconds per image
    spi=$($PY -c "import json; r=[c for c in json.load(open('$OUT/train.json')) if c['case']=='unet128x1' and 'tessera' in c]; print(1/r[0]['tessera'] if r else '')")
    [ -n "$spi" ] && cpu=(--cpu-s-per-image "$spi" --cpu-size 128)
  fi
  section scaling 120 $PY "$ROOT/bench/scaling_model.py" "${cpu[@]}"
fi

# The goal table needs every section's results: a partial run (--only) leaves the document's as it is.
if [ -z "$only" ]; then
  { $PY "$ROOT/bench/goals.py" "$OUT"; echo; echo "_(bench/goals.py on the results in $(basename "$OUT")/)_"; } \
    >"$OUT/goals.md"
fi

if [ $doc -eq 1 ]; then
  $PY "$ROOT/bench/update_doc.py" docs/PERFORMANCE.md "$OUT"
fi
echo "results: $OUT" >&2
