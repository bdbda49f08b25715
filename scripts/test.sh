#!/usr/bin/env bash
# The test command: installs packages (idempotent), builds (Release, build/), runs every test
# (unit, multi-rank through mpirun, end-to-end, cluster) with ctest. Exits non-zero on failure.
# Extra arguments go to ctest, e.g. scripts/test.sh -R config
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd "${TESSERA_BUILD_DIR:-build}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
start=$(date +%s)
ctest --output-on-failure --timeout 900 -j "${TESSERA_TEST_JOBS:-2}" "$@"
echo "test.sh: all tests passed in $(( $(date +%s) - start )) s"
