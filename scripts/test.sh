#!/usr/bin/env bash
# The test command: installs packages (idempotent), builds (Release, build/), runs every test
# (unit, multi-rank through mpirun, end-to-end, cluster) with ctest. Extra arguments go to ctest,
# e.g. scripts/test.sh -R config. The last line is always `N passed, N failed, N skipped`.
# Exits non-zero when a test failed, or, with CI=true, when a test was skipped without being on
# tests/allowed_skips.txt (docs/testing.md, "Skip policy"). The counting: scripts/lib/.
#
# scripts/test.sh --sanitize [ctest args]: the same with an ASan + UBSan build in
# build-sanitize/ (-DTESSERA_SANITIZE=ON), running the unit and multi-rank tests (every test but
# the e2e_* and cluster_* scripts, unless ctest arguments say otherwise). Any sanitizer report
# fails the test that produced it (tests/sanitize/: options and the suppressions of leaks inside
# uninstrumented libraries). docs/RELIABILITY.md, "Sanitizers".
# TESSERA_SANITIZE_TARGETS="exe ...": build only those GoogleTest executables and run only their
# tests (label gtest:<exe>); CI's sanitize stage runs the ones without LibTorch this way.
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=0
if [ "${1:-}" = --sanitize ]; then
  sanitize=1
  shift
fi
bash scripts/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
if [ "$sanitize" = 1 ]; then
  export TESSERA_BUILD_DIR=${TESSERA_BUILD_DIR:-build-sanitize}
  TESSERA_BUILD_TARGETS=${TESSERA_SANITIZE_TARGETS:-} \
    bash scripts/build.sh -DTESSERA_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
  source tests/sanitize/env.sh
  if [ -n "${TESSERA_SANITIZE_TARGETS:-}" ]; then
    [ $# -gt 0 ] || set -- -L "^gtest:($(tr ' ' '|' <<<"$TESSERA_SANITIZE_TARGETS"))\$"
  fi
  [ $# -gt 0 ] || set -- -E '^(e2e|cluster)_'
else
  bash scripts/build.sh
fi
exec bash scripts/lib/run_ctest.sh "${TESSERA_BUILD_DIR:-build}" "$@"
