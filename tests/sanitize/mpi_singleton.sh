#!/usr/bin/env bash
# Usage: mpi_singleton.sh COMMAND [ARGS...]: runs COMMAND, a process that calls MPI_Init without
# mpirun (an MPI singleton: comm_mpi_test_singleton, `tessera` started directly). In sanitizer
# builds (ASAN_OPTIONS set by tests/sanitize/env.sh) it turns LeakSanitizer's leak check off for
# it, as tests/run_mpi.sh does for mpirun's ranks: OpenMPI 4.1 unloads its components in
# MPI_Finalize and their process-lifetime allocations are then reported from "<unknown module>",
# which no suppression can match. ASan's and UBSan's other checks stay on. Elsewhere: plain exec.
if [ -n "${ASAN_OPTIONS:-}" ]; then export ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"; fi
exec "$@"
