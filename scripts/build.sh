#!/usr/bin/env bash
# Configures and builds tessera in build/ (Release). Binary: build/bin/tessera.
# Extra CMake arguments are passed through, e.g. -DCMAKE_PREFIX_PATH=/path/to/libtorch.
# TESSERA_BUILD_TARGETS="a b": build only those targets (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${TESSERA_BUILD_DIR:-build}
JOBS=${TESSERA_JOBS:-$(nproc)}
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Share cache hits between checkouts/worktrees; the PCH needs these sloppiness settings.
  export CCACHE_BASEDIR="$PWD"
  export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
fi
generator=()
if command -v ninja >/dev/null && [ ! -f "$BUILD_DIR/Makefile" ]; then generator=(-G Ninja); fi
cmake -S . -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" "$@"
targets=()
for t in ${TESSERA_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$BUILD_DIR" -j "$JOBS" "${targets[@]}"
