# Shared helpers of the end-to-end tests (sourced). Every process runs under a hard time bound
# with its output in a log file (never a pipe a stray rank could hold open).
set -u
: "${TESSERA_BIN:?TESSERA_BIN must point at build/bin/tessera (set by ctest)}"
: "${TESSERA_SOURCE_DIR:?TESSERA_SOURCE_DIR must be set (set by ctest)}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1
export TESSERA_LOG_LEVEL=${TESSERA_LOG_LEVEL:-info}
PY=/usr/bin/python3

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tessera-e2e-XXXXXX")
LOGS=$WORK/logs
mkdir -p "$LOGS"
cleanup() { if [ "${KEEP_WORK:-0}" != 1 ]; then rm -rf "$WORK"; fi; }
trap cleanup EXIT
cd "$WORK"

fail() {
  echo "FAIL: $*"
  for f in "$LOGS"/*.log; do [ -f "$f" ] && { echo "----- $f"; tail -40 "$f"; }; done
  exit 1
}

# run NAME SECONDS cmd...: single process, output to $LOGS/NAME.log; returns the exit status.
run() {
  local name=$1 secs=$2; shift 2
  timeout --kill-after=10 "$secs" "$@" >"$LOGS/$name.log" 2>&1 </dev/null
}

# mpi NAME NP SECONDS args...: `mpirun -np NP tessera args...`.
mpi() {
  local name=$1 np=$2 secs=$3; shift 3
  timeout --kill-after=10 "$secs" mpirun --oversubscribe --bind-to none -np "$np" \
    "$TESSERA_BIN" "$@" >"$LOGS/$name.log" 2>&1 </dev/null
}

expect_ok() { local name=$1; shift; "$@" || fail "$name exited with $? (log $LOGS/$name.log)"; }

# Asserts that log NAME contains the fixed string TEXT.
expect_log() { grep -a -qF -- "$2" "$LOGS/$1.log" || fail "log $1 lacks '$2'"; }

# synth TASK OUT [extra synth args]: a tiny dataset (SYNTH_SAMPLES samples, default 40).
synth() {
  local task=$1 out=$2; shift 2
  run "synth-$task" 120 "$TESSERA_BIN" synth --task "$task" --out "$out" --samples "${SYNTH_SAMPLES:-40}" --size 32 \
    --shards 2 --seed 3 --val-fraction 0.2 --test-fraction 0.2 "$@" ||
    fail "synth $task failed"
}

# Python: tensors of two exported state dicts are bit-identical.
same_weights() {
  "$PY" - "$1" "$2" <<'PYEOF'
import sys, torch
a = torch.load(sys.argv[1]); b = torch.load(sys.argv[2])
assert a.keys() == b.keys(), "different keys"
bad = [k for k in a if not torch.equal(a[k], b[k])]
if bad:
    print("differing tensors:", bad[:5]); sys.exit(1)
print(f"{len(a)} tensors bit-identical")
PYEOF
}
