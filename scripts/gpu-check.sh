#!/usr/bin/env bash
# GPU run check of the NCCL backend: builds comm_nccl_check and runs it with one MPI rank per
# visible GPU (allreduce sum/avg/max/min over several dtypes, async ordering, broadcast,
# allgather, host buffers over MPI; the CUDA tensor API too when LibTorch has CUDA).
#
#   scripts/gpu-check.sh            # build dir: $TESSERA_BUILD_DIR or build-gpu
#
# Without a GPU it prints "no GPU: skipped" and exits 0. With one GPU it runs a single rank:
# NCCL does not allow two ranks on the same GPU, so a 1-GPU machine only checks the 1-rank path.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-check: no GPU: skipped (nvidia-smi missing or no device visible)"
  exit 0
fi
ngpu=$(nvidia-smi -L | grep -c '^GPU ')
if [ "$ngpu" -eq 0 ]; then
  echo "gpu-check: no GPU: skipped (nvidia-smi lists none)"
  exit 0
fi
if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
  ngpu=$(echo "$CUDA_VISIBLE_DEVICES" | tr ',' '\n' | grep -c .)
fi

BUILD_DIR=${TESSERA_BUILD_DIR:-build-gpu}
JOBS=${TESSERA_JOBS:-$(nproc)}
echo "gpu-check: $ngpu GPU(s); building comm_nccl_check in $BUILD_DIR"
generator=()
if command -v ninja >/dev/null && [ ! -f "$BUILD_DIR/Makefile" ]; then generator=(-G Ninja); fi
cmake -S . -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DTESSERA_WITH_NCCL=ON \
  >"$BUILD_DIR.configure.log" 2>&1 || { cat "$BUILD_DIR.configure.log"; exit 1; }
if ! grep -q "NCCL backend ON" "$BUILD_DIR.configure.log"; then
  grep "tessera: NCCL" "$BUILD_DIR.configure.log" || true
  echo "gpu-check: FAILED: the NCCL backend was not configured (CUDA toolkit or NCCL not found)"
  exit 1
fi
cmake --build "$BUILD_DIR" -j "$JOBS" --target comm_nccl_check

np=$ngpu
if [ "$np" -eq 1 ]; then
  echo "gpu-check: single GPU: running 1 rank (NCCL does not allow 2 ranks on one GPU)"
fi
tests/run_mpi.sh 300 "$np" "$BUILD_DIR/bin/comm_nccl_check"
