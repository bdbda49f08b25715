#!/usr/bin/env bash
# A private one-node Slurm 22.05 on this machine, for tests and for trying `tessera submit`.
#
#   tests/cluster/slurm.sh up DIR     installs the packages if missing, writes DIR/slurm.conf
#                                     (this machine's real CPUs and memory, from `slurmd -C`),
#                                     starts munged, slurmctld and slurmd in the background (output
#                                     in DIR/log/), waits (bounded) until the node is idle, and
#                                     prints the line to `source` for the client commands:
#                                     export SLURM_CONF=DIR/slurm.conf
#   tests/cluster/slurm.sh down DIR   stops every daemon it started, by PID (DIR/pids).
#
# Sourced (by the tests), it defines slurm_up DIR / slurm_down DIR, which also export SLURM_CONF.
# Nothing outside DIR is touched but a /tmp/tessera-munge-* directory: munged gets its own key
# and socket there (Slurm reaches it through AuthInfo=socket=...; removed by down), the daemons listen on TESSERA_SLURM_PORT and the next port
# (default 16817, 16818; Slurm's own 6817/6818 stay free), and every state, spool, log and pid
# file is under DIR. Daemons left over by a killed earlier run (recorded in
# /tmp/tessera-slurm-test.pids) are stopped first.
#
# Needs root (the daemons run as root, munged as the munge user). Slurm's client commands need
# SLURM_CONF to find this instance.

TESSERA_SLURM_GLOBAL_PIDS=/tmp/tessera-slurm-test.pids

_slurm_log() { echo "slurm.sh: $*" >&2; }

# _slurm_alive PID: running and not a zombie.
_slurm_alive() {
  local state
  state=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# _slurm_stop_pid PID NAME: TERM, then (bounded wait) KILL.
_slurm_stop_pid() {
  local pid=$1 name=$2 i
  _slurm_alive "$pid" || return 0
  # Only our daemons: the command line must name the expected program.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -a -q "$name" || return 0
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 100); do
    _slurm_alive "$pid" || return 0
    sleep 0.1  # polling the daemon's exit, bounded
  done
  _slurm_log "$name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null
  for i in $(seq 1 50); do
    _slurm_alive "$pid" || return 0
    sleep 0.1
  done
  _slurm_log "$name (pid $pid) is still alive after SIGKILL"
  return 1
}

# Stops the daemons listed in a pid file (lines "PID NAME").
_slurm_stop_listed() {
  local file=$1 pid name rc=0
  [ -f "$file" ] || return 0
  # Reverse order: slurmd, slurmctld, then munged.
  while read -r pid name; do
    [ -n "$pid" ] && { _slurm_stop_pid "$pid" "$name" || rc=1; }
  done < <(tac "$file")
  return $rc
}

_slurm_install() {
  local p missing=()
  for p in slurm-wlm slurmctld slurmd slurm-client munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -a -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  _slurm_log "installing ${missing[*]}"
  apt-get update -qq >/dev/null 2>&1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/tmp/tessera-slurm-apt.log 2>&1 || { tail -20 /tmp/tessera-slurm-apt.log >&2; return 1; }
}

_slurm_port_free() {
  ! ss -Htln "sport = :$1" 2>/dev/null | grep -a -q .
}

# _slurm_start DIR NAME cmd...: background daemon, output to DIR/log/NAME.out, pid recorded.
_slurm_start() {
  local dir=$1 name=$2; shift 2
  # Daemons must not inherit the tests' lock descriptors (tests/cluster/lib.sh: fds 8 and 9).
  "$@" >"$dir/log/$name.out" 2>&1 </dev/null 8>&- 9>&- &
  local pid=$!
  echo "$pid $name" >>"$dir/pids"
  echo "$pid $name" >>"$TESSERA_SLURM_GLOBAL_PIDS"
}

slurm_up() {
  local dir=$1
  local port=${TESSERA_SLURM_PORT:-16817}
  [ "$(id -u)" = 0 ] || { _slurm_log "needs root (daemons run as root)"; return 1; }
  _slurm_install || return 1
  _slurm_stop_listed "$TESSERA_SLURM_GLOBAL_PIDS"
  rm -f "$TESSERA_SLURM_GLOBAL_PIDS"
  local p
  for p in "$port" $((port + 1)); do
    _slurm_port_free "$p" || { _slurm_log "port $p is in use (set TESSERA_SLURM_PORT)"; return 1; }
  done

  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  mkdir -p "$dir/log" "$dir/state" "$dir/spool/slurmd-localhost" "$dir/run"
  : >"$dir/pids"

  # munge: own key and socket, owned by the munge user (munged refuses keys others can read).
  # They live in a directory of their own under /tmp: munged (user munge) must be able to reach
  # them, and DIR's parents (e.g. a 0700 mktemp directory) may not let it.
  local mdir
  mdir=$(mktemp -d /tmp/tessera-munge-XXXXXX) || return 1
  echo "$mdir" >"$dir/munge_dir"
  chown munge:munge "$mdir"
  chmod 0711 "$mdir"  # clients need to reach the socket
  mungekey --create --keyfile="$mdir/munge.key" >/dev/null 2>&1 || {
    _slurm_log "mungekey failed"; return 1; }
  chown munge:munge "$mdir/munge.key"
  chmod 0400 "$mdir/munge.key"
  _slurm_start "$dir" munged setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged --foreground \
    --socket="$mdir/munge.socket" --key-file="$mdir/munge.key" \
    --pid-file="$mdir/munged.pid" --log-file="$mdir/munged.log" \
    --seed-file="$mdir/munged.seed"

  local node
  node=$(slurmd -C 2>/dev/null | head -1 | sed -e 's/^NodeName=[^ ]* //') || true
  [ -n "$node" ] || { _slurm_log "slurmd -C printed nothing"; return 1; }
  cat >"$dir/slurm.conf" <<EOF
# One-node Slurm for tessera's tests (written by tests/cluster/slurm.sh).
ClusterName=tessera
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$mdir/munge.socket,cred_expire=${TESSERA_SLURM_CRED_EXPIRE:-5}
CredType=cred/munge
MailProg=/bin/true
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd-%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Finished jobs stay visible to squeue/scontrol for 10 minutes (there is no sacct).
MinJobAge=600
KillWait=10
SchedulerType=sched/backfill
# Requeued jobs start again within seconds, not at the next 30/60 s scheduling pass.
SchedulerParameters=sched_interval=1,bf_interval=1
NodeName=localhost NodeAddr=127.0.0.1 $node State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$dir/slurm.conf

  # Wait for munged's socket before the Slurm daemons need it.
  local i
  for i in $(seq 1 100); do
    [ -S "$mdir/munge.socket" ] && break
    sleep 0.1  # polling for the socket, bounded
  done
  [ -S "$mdir/munge.socket" ] || { _slurm_log "munged did not start:"; cat "$dir/log/munged.out" \
    "$mdir/munged.log" >&2 2>/dev/null; return 1; }

  _slurm_start "$dir" slurmctld /usr/sbin/slurmctld -D -c -f "$dir/slurm.conf"
  _slurm_start "$dir" slurmd /usr/sbin/slurmd -D -N localhost -f "$dir/slurm.conf"
  local state=""
  for i in $(seq 1 300); do
    state=$(timeout 10 sinfo -h -N -o %T 2>/dev/null | head -1)
    [ "$state" = idle ] && break
    sleep 0.1  # polling the node state, bounded (30 s)
  done
  if [ "$state" != idle ]; then
    _slurm_log "the node did not become idle within 30 s (state '$state'); logs in $dir/log"
    tail -20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 2>/dev/null
    return 1
  fi
  _slurm_log "up: node idle; export SLURM_CONF=$dir/slurm.conf"
}

# PIDs of the processes of this instance's jobs: slurmstepd and everything a job started carry
# SLURM_CONF=<our conf> in their environment (jobs also SLURM_JOB_ID).
_slurm_job_pids() {
  local conf=$1 dir pid
  for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    [ "$pid" = $$ ] && continue
    grep -a -qzxF "SLURM_CONF=$conf" "$dir/environ" 2>/dev/null || continue
    if grep -a -qz '^SLURM_JOB_ID=' "$dir/environ" 2>/dev/null ||
       grep -a -qz '^slurmstepd' "$dir/cmdline" 2>/dev/null; then
      echo "$pid"
    fi
  done
}

slurm_down() {
  local dir=$1 rc=0 i pid
  dir=$(cd "$dir" 2>/dev/null && pwd) || return 0
  local conf=$dir/slurm.conf
  # 1. Cancel the jobs while the daemons still run, and wait (bounded) until none is active.
  local ctld
  ctld=$(awk '$2 == "slurmctld" {print $1}' "$dir/pids" 2>/dev/null | tail -1)
  if [ -f "$conf" ] && [ -n "$ctld" ] && _slurm_alive "$ctld"; then
    SLURM_CONF=$conf timeout 20 scancel --partition=debug >/dev/null 2>&1
    for i in $(seq 1 150); do
      [ -z "$(SLURM_CONF=$conf timeout 10 squeue -h -t RUNNING,COMPLETING,CONFIGURING,PENDING 2>/dev/null)" ] && break
      sleep 0.2  # polling the queue, bounded (30 s)
    done
  fi
  # 2. The daemons, by PID.
  _slurm_stop_listed "$dir/pids" || rc=1
  # 3. Anything a job left behind (slurmstepd outlives slurmd).
  for sig in TERM KILL; do
    for pid in $(_slurm_job_pids "$conf"); do kill -"$sig" "$pid" 2>/dev/null; done
    for i in $(seq 1 50); do
      [ -z "$(_slurm_job_pids "$conf")" ] && break
      sleep 0.1  # polling for the exit, bounded
    done
  done
  if [ -n "$(_slurm_job_pids "$conf")" ]; then
    _slurm_log "job processes survived SIGKILL: $(_slurm_job_pids "$conf" | tr '\n' ' ')"
    rc=1
  fi
  if [ -f "$dir/munge_dir" ]; then
    local mdir
    mdir=$(cat "$dir/munge_dir")
    case "$mdir" in /tmp/tessera-munge-*) rm -rf "$mdir" ;; esac
    rm -f "$dir/munge_dir"
  fi
  # Forget them in the global list too.
  if [ -f "$TESSERA_SLURM_GLOBAL_PIDS" ] && [ -f "$dir/pids" ]; then
    grep -a -vxFf "$dir/pids" "$TESSERA_SLURM_GLOBAL_PIDS" >"$TESSERA_SLURM_GLOBAL_PIDS.tmp" || true
    mv -f "$TESSERA_SLURM_GLOBAL_PIDS.tmp" "$TESSERA_SLURM_GLOBAL_PIDS"
    [ -s "$TESSERA_SLURM_GLOBAL_PIDS" ] || rm -f "$TESSERA_SLURM_GLOBAL_PIDS"
  fi
  return $rc
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -u
  case "${1:-}" in
    up) [ -n "${2:-}" ] || { echo "usage: $0 up DIR" >&2; exit 2; }
        slurm_up "$2" || { slurm_down "$2"; exit 1; }
        echo "export SLURM_CONF=$(cd "$2" && pwd)/slurm.conf" ;;
    down) [ -n "${2:-}" ] || { echo "usage: $0 down DIR" >&2; exit 2; }
          slurm_down "$2" ;;
    *) echo "usage: $0 up|down DIR" >&2; exit 2 ;;
  esac
fi
