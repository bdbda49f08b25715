# Shared helpers of the cluster tests (sourced). Builds on tests/e2e/lib.sh (work dir, logs,
# fail, run, mpi, synth, same_weights) and adds: a private one-node Slurm (slurm.sh), network
# namespace hosts (netns.sh), bounded polling, and a cleanup trap that stops every daemon and
# removes every namespace this test started, whatever way the script ends.
CLUSTER_TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$CLUSTER_TESTS/../e2e/lib.sh"
source "$CLUSTER_TESTS/slurm.sh"
source "$CLUSTER_TESTS/netns.sh"
source "$CLUSTER_TESTS/../compat.sh"

SKIP=77  # ctest SKIP_RETURN_CODE
CLUSTER_SLURM_DIR=""
CLUSTER_NETNS=0

cluster_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$CLUSTER_SLURM_DIR" ]; then
    # Cancels the jobs, stops the daemons, then kills what the jobs left behind.
    slurm_down "$CLUSTER_SLURM_DIR" || echo "cluster test: a Slurm daemon did not stop (see $CLUSTER_SLURM_DIR/pids)"
    if [ $rc -ne 0 ] && [ $rc -ne $SKIP ]; then
      for f in "$CLUSTER_SLURM_DIR"/log/slurmctld.log "$CLUSTER_SLURM_DIR"/log/slurmd.log; do
        [ -f "$f" ] && { echo "----- $f"; tail -25 "$f"; }
      done
    fi
  fi
  [ "$CLUSTER_NETNS" = 1 ] && netns_down
  cleanup  # tests/e2e/lib.sh: removes $WORK unless KEEP_WORK=1
  exit $rc
}
trap cluster_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

skip() {
  echo "SKIP: $*"
  exit $SKIP
}

need_root() { [ "$(id -u)" = 0 ] || skip "$1 need(s) root"; }

# hold_lock FD FILE WHAT: takes an exclusive lock for the rest of the script. The Slurm ports and
# the namespace names are machine-wide: cluster tests of other checkouts (another ctest run on
# this machine) wait here instead of colliding. ctest's RESOURCE_LOCK covers one ctest run only.
hold_lock() {
  local fd=$1 file=$2 what=$3
  eval "exec $fd>\"\$file\""
  if ! flock -n "$fd"; then
    echo "waiting for $what: another test holds $file"
    flock -w 600 "$fd" || fail "waited 600 s for $what (lock $file)"
  fi
}

# Starts the private Slurm (exports SLURM_CONF) or fails the test.
start_slurm() {
  need_root "a private Slurm"
  hold_lock 9 /tmp/tessera-slurm-test.lock "the test Slurm"
  CLUSTER_SLURM_DIR=$WORK/slurm
  slurm_up "$CLUSTER_SLURM_DIR" >"$LOGS/slurm-up.log" 2>&1 || fail "could not start Slurm"
  echo "slurm: node idle ($(sinfo -h -N -o '%N %c CPUs %m MB'))"
}

start_netns() {
  need_root "network namespaces"
  netns_check >"$LOGS/netns-check.log" 2>&1 ||
    skip "this machine does not allow network namespaces ($(tail -1 "$LOGS/netns-check.log"))"
  hold_lock 8 /tmp/tessera-netns-test.lock "the test namespaces"
  CLUSTER_NETNS=1
  netns_up "$1" >"$LOGS/netns-up.log" 2>&1 || fail "could not create $1 namespace hosts"
}

# wait_until SECONDS DESCRIPTION cmd...: polls cmd (every 0.2 s) until it succeeds; fails the
# test after SECONDS.
wait_until() {
  local secs=$1 what=$2 i
  shift 2
  for i in $(seq 1 $((secs * 5))); do
    "$@" && return 0
    sleep 0.2  # polling a condition, bounded by the loop count
  done
  fail "timed out after ${secs}s waiting for: $what"
}

# The Slurm state of a job, two ways (no accounting here: no sacct).
scontrol_field() { timeout 20 scontrol show job -o "$1" 2>/dev/null | grep -a -o "\b$2=[^ ]*" | head -1 | cut -d= -f2; }
job_state() { scontrol_field "$1" JobState; }
squeue_state() { timeout 20 squeue -h -t all -j "$1" -o %T 2>/dev/null | head -1; }

# job_ends ID: true once the job is in a final state (anything but pending/running/requeue).
job_ends() {
  case "$(job_state "$1")" in
    PENDING | RUNNING | REQUEUED | COMPLETING | CONFIGURING | SUSPENDED | "") return 1 ;;
    *) return 0 ;;
  esac
}

# Number of training records in a run's metrics.jsonl.
train_records() {
  local n
  n=$(grep -a -c '"loss"' "$1/metrics.jsonl" 2>/dev/null) || true
  echo "${n:-0}"
}
has_train_records() { [ "$(train_records "$1")" -ge "$2" ]; }

# hook_waits FILE...: a rank logged that it waits for a stop signal (TESSERA_TEST_AWAIT_STOP,
# trainer/test_hooks.h): the run is certainly mid-way, however slow the machine is.
hook_waits() { grep -a -qs "tessera test hook: rank 0 waits for a stop signal" "$@"; }

# The step of checkpoints/latest ("step-0000012" -> 12), empty when none.
latest_step() {
  local l
  l=$(head -1 "$1/checkpoints/latest" 2>/dev/null) || return 0
  echo $((10#${l#step-}))
}

# True while PID runs (a zombie, exited but not yet reaped by us, counts as ended).
running() {
  local s
  s=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ]
}
not_running() { ! running "$1"; }

# wait_exit SECONDS PID: waits (bounded) for our background child PID to end; sets EXIT_RC.
wait_exit() {
  wait_until "$1" "process $2 to exit" not_running "$2"
  wait "$2"
  EXIT_RC=$?
}
