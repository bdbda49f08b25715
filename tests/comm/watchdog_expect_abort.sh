#!/usr/bin/env bash
# Usage: watchdog_expect_abort.sh <bound_s> <np> <pattern> [<pattern>...] -- <program> [args...]
# Runs the program under tests/run_mpi.sh (mpirun -np <np>, hard time bound <bound_s>, output to
# a log file) and passes only when the job ended by itself (not by the bound) with a non-zero
# status and the log matches every extended-regex <pattern> (line breaks count as spaces).
set -u
bound=$1; np=$2; shift 2
patterns=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do patterns+=("$1"); shift; done
[ "${1:-}" = "--" ] || { echo "usage: $0 <bound_s> <np> <pattern>... -- <program> [args]"; exit 2; }
shift
here=$(cd "$(dirname "$0")" && pwd)
log=$(mktemp "${TMPDIR:-/tmp}/tessera-expect-XXXXXX.log")
start=$(date +%s)
"$here/../run_mpi.sh" "$bound" "$np" "$@" >"$log" 2>&1
rc=$?
elapsed=$(( $(date +%s) - start ))
fail() { echo "FAIL: $*"; echo "----- log (rc=$rc, ${elapsed}s) -----"; cat "$log"; rm -f "$log"; exit 1; }
# 124/137 also come from mpirun itself (137 = a rank killed by SIGKILL), so judge by the time.
if [ $elapsed -ge "$bound" ]; then fail "the job hung until the ${bound}s bound"; fi
if [ $rc -eq 0 ]; then fail "the job exited 0, expected it to be aborted"; fi
# Patterns match the log with line breaks folded into spaces (OpenMPI 5 wraps its messages).
source "$here/../compat.sh"
text=$(mpi_log_text "$log")
for p in "${patterns[@]}"; do
  grep -a -Eq -- "$p" <<<"$text" || fail "log does not match /$p/"
done
echo "OK: job ended with rc=$rc after ${elapsed}s; log matched ${#patterns[@]} pattern(s)"
grep -a -E "tessera watchdog|exited on signal|tessera: rank" "$log" | head -20
rm -f "$log"
exit 0
