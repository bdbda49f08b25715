#!/usr/bin/env bash
# The test command: installs packages (idempotent), builds (Release, build/), runs every test
# (unit, multi-rank through mpirun, end-to-end, cluster) with ctest. Extra arguments go to ctest,
# e.g. scripts/test.sh -R config. The last line is always `N passed, N failed, N skipped`.
# Exits non-zero when a test failed, or, with CI=true, when a test was skipped without being on
# tests/allowed_skips.txt (docs/testing.md, "Skip policy"). The counting: scripts/lib/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
exec bash scripts/lib/run_ctest.sh "${TESSERA_BUILD_DIR:-build}" "$@"
