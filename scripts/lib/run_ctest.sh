#!/usr/bin/env bash
# Usage: run_ctest.sh BUILD_DIR [ctest args...]
# The test half of scripts/test.sh: runs ctest in BUILD_DIR (extra arguments go to ctest, e.g.
# -R config), writes its JUnit result to BUILD_DIR/Testing/tessera-junit.xml, and hands that to
# scripts/lib/test_summary.py, which lists every skip and failure and prints, as the last line,
# `N passed, N failed, N skipped`. Exit status: non-zero when a test failed, or (CI=true) when a
# test skipped without being listed in tests/allowed_skips.txt (docs/testing.md, "Skip policy").
set -uo pipefail
lib=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$lib/../.." && pwd)
build=$(cd "$1" && pwd) || exit 1
shift
junit=$build/Testing/tessera-junit.xml
mkdir -p "$build/Testing"
rm -f "$junit"
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
start=$(date +%s)
# Passed tests' output is kept whole (ctest's default keeps 1 KiB) so that GoogleTest cases
# skipped inside a passing multi-rank test are seen.
(cd "$build" && ctest --output-on-failure --timeout 900 -j "${TESSERA_TEST_JOBS:-2}" \
  --output-junit "$junit" --test-output-size-passed 4194304 --test-output-size-failed 4194304 "$@")
rc=$?
echo "test.sh: ctest finished in $(( $(date +%s) - start )) s (exit status $rc)"
"$py" "$lib/test_summary.py" "$junit" --allowed "${TESSERA_ALLOWED_SKIPS:-$root/tests/allowed_skips.txt}" \
  --ctest-rc "$rc"
