#!/usr/bin/env bash
# Usage: run_mpi.sh <seconds> <np> <command> [args...]
# Runs `mpirun -np <np> <command>` with a hard time bound. All output goes to a log file (never
# a pipe a stray rank could hold open), which is printed afterwards. Exit status is mpirun's;
# 124 when the bound was hit.
set -u
secs=$1; np=$2; shift 2
start=$(date +%s)
log=$(mktemp "${TMPDIR:-/tmp}/tessera-mpi-XXXXXX.log")
# Sanitizer builds (scripts/test.sh --sanitize): no leak check in MPI ranks. OpenMPI 4.1 unloads
# its components in MPI_Finalize, so their process-lifetime allocations show up as leaks from
# "<unknown module>" that no suppression can match; ASan and UBSan stay on.
if [ -n "${ASAN_OPTIONS:-}" ]; then export ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"; fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
timeout --kill-after=10 "$secs" mpirun --oversubscribe --bind-to none -np "$np" "$@" \
  >"$log" 2>&1 </dev/null
rc=$?
cat "$log"
rm -f "$log"
# 137 is also mpirun's own status when a rank died of SIGKILL: only a run that lasted the bound
# timed out.
if { [ $rc -eq 124 ] || [ $rc -eq 137 ]; } && [ $(( $(date +%s) - start )) -ge "$secs" ]; then echo "run_mpi.sh: TIMED OUT after ${secs}s (np=$np): $*"; fi
exit $rc
