# Sourced by `scripts/test.sh --sanitize`: sanitizer options for every test process (ctest
# passes the environment to mpirun, which passes it to its local ranks).
# - halt_on_error / -fno-sanitize-recover: a report ends the process non-zero, so the test fails.
# - leaks: reported, except those whose allocation stack is inside an uninstrumented library
#   that keeps process-lifetime state (lsan.supp says which and why).
_tessera_sanitize_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:detect_leaks=1:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export LSAN_OPTIONS=suppressions=$_tessera_sanitize_dir/lsan.supp:print_suppressions=0
# OpenMPI's memory patcher hooks malloc/free, which ASan owns.
export OMPI_MCA_memory=^patcher
# Leaks in MPI ranks: OpenMPI 4.1 unloads its components (mca_*.so) in MPI_Finalize, so LSan
# reports their allocations as "<unknown module>", which no suppression matches, and this
# OpenMPI has no MCA parameter to keep them loaded: tests/run_mpi.sh (ranks) and
# tests/sanitize/mpi_singleton.sh (processes that call MPI_Init without mpirun) turn the leak
# check off for them; test executables without MPI keep it.
unset _tessera_sanitize_dir
