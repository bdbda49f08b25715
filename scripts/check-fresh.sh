#!/usr/bin/env bash
# The fresh-machine check: does the commit under test install, build and run on a clean Debian?
#
#   scripts/check-fresh.sh [--release bookworm|trixie] [--full] [--keep] [--root DIR]
#
# Makes a clean Debian root with mmdebstrap (bookworm = Debian 12, the default; trixie = 13),
# clones this repository's HEAD into it (/src; uncommitted changes are NOT included), and runs
# inside it (chroot, as root) scripts/setup.sh, scripts/build.sh and then either a smoke run of
# the main job (default: synth -> mpirun -np 2 train -> mpirun -np 2 eval -> report -> predict -> export,
# plus the Python interop the tests rely on: h5py reads our shards, /usr/bin/python3's torch.load
# reads the export, also with weights_only=True) or, with --full, the whole scripts/test.sh.
#
# Every package comes from the root's own scripts/setup.sh. Two host directories are bound in
# only to save time: the host's ccache directory (same compiler -> cache hits; bookworm's gcc 12
# matches the host, trixie's gcc 14 hits from its second run on) and a per-release apt archive
# cache (/var/cache/tessera-fresh/RELEASE, .debs apt verified against the root's own index).
# The root shares the host's network, so its Slurm ports and test namespaces get other names.
# proc, sysfs (with the host's /sys/fs/cgroup), devpts and a tmpfs on /dev/shm are mounted; an EXIT trap stops every process left
# in the root and unmounts everything, also on failure or Ctrl-C; the root is then removed
# (--keep leaves it, unmounted, for inspection).
#
# Every step has a hard time bound and its own log under the log dir printed first
# (TESSERA_FRESH_LOGS, default /var/tmp/tessera-fresh-logs/RELEASE-TIME). On failure the script
# names the first failing step, shows the tail of its log and exits non-zero. The last lines are
# a table of step timings (also in LOGDIR/timings.txt). Needs root (re-runs itself with sudo).
# Environment: TESSERA_FRESH_JOBS (build jobs, default nproc), TESSERA_FRESH_TEST_JOBS (ctest -j
# for --full, default 2), TESSERA_FRESH_APT_CACHE ('' disables it), CCACHE_DIR,
# TESSERA_FRESH_TARGETS (what the build step builds: default 'tessera', the CLI, for the smoke run
# and every target for --full; '' builds every target).
set -euo pipefail

release=bookworm full=0 keep=0 root=""
while [ $# -gt 0 ]; do
  case $1 in
    --release) release=${2:?--release needs bookworm or trixie}; shift 2 ;;
    --release=*) release=${1#*=}; shift ;;
    --full) full=1; shift ;;
    --keep) keep=1; shift ;;
    --root) root=${2:?--root needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "check-fresh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case $release in bookworm|trixie) ;; *) echo "check-fresh: --release must be bookworm or trixie, not '$release'" >&2; exit 2 ;; esac
if [ "$(id -u)" != 0 ]; then exec sudo -E bash "$0" --release "$release" $([ $full = 1 ] && echo --full) $([ $keep = 1 ] && echo --keep) ${root:+--root "$root"}; fi

repo=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$repo" rev-parse HEAD)
stamp=$(date -u +%Y%m%dT%H%M%S)
LOGDIR=${TESSERA_FRESH_LOGS:-/var/tmp/tessera-fresh-logs/$release-$stamp}
root=${root:-$(mktemp -d "/var/tmp/tessera-fresh-$release-XXXXXX")}
case $root in "$repo"/*) echo "check-fresh: the root must be outside the repository" >&2; exit 2 ;; esac
ccache_dir=${CCACHE_DIR:-$(ccache -k cache_dir 2>/dev/null || echo "$HOME/.cache/ccache")}
apt_cache=${TESSERA_FRESH_APT_CACHE-/var/cache/tessera-fresh/$release}
jobs=${TESSERA_FRESH_JOBS:-$(nproc)}
# The root shares the host's network: its Slurm ports and test network namespaces must not be
# the ones a host test run uses at the same time (tests/cluster/slurm.sh, netns.sh defaults).
case $release in
  bookworm) slurm_port=16917 netns_prefix=tfb netns_net=10.201.0 ;;
  trixie) slurm_port=16937 netns_prefix=tft netns_net=10.202.0 ;;
esac
mkdir -p "$LOGDIR" "$root"
TIMINGS=$LOGDIR/timings.txt
: >"$TIMINGS"
echo "check-fresh: Debian $release, commit $(git -C "$repo" log -1 --format='%h %s' | cut -c1-70)"
echo "check-fresh: root $root, logs $LOGDIR"
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  echo "check-fresh: note: uncommitted changes in $repo are not part of the check (HEAD only)"
fi

# --- mounts and clean-up ------------------------------------------------------------------------
mount_in() {  # mount_in TARGET mount-args...: mounts onto TARGET inside the root
  local target=$root/$1; shift
  mkdir -p "$target"
  mount "$@" "$target"
  # Host directories bound in: events may flow in, never out (unmounting here leaves the host's).
  case " $* " in *" --bind "* | *" --rbind "*) mount --make-rslave "$target" ;; esac
}
root_mounts() { awk -v r="$root" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/mounts | sort -r; }
root_pids() {  # processes whose root directory is the fresh root
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && echo "${p#/proc/}"
  done
  return 0
}
step_pid="" step_name=""
cleanup() {
  local rc=$? i pids m
  trap - EXIT INT TERM
  if [ -n "$step_pid" ]; then  # interrupted: stop the running step's timeout (and its group)
    echo "check-fresh: interrupted during step '$step_name'; cleaning up" >&2
    kill -TERM "$step_pid" 2>/dev/null
  fi
  for sig in TERM KILL; do  # daemons (slurmd, munged) or ranks a failed step left behind
    pids=$(root_pids)
    [ -z "$pids" ] && break
    kill -"$sig" $pids 2>/dev/null || true
    for i in 1 2 3 4 5 6 7 8 9 10; do [ -z "$(root_pids)" ] && break; sleep 0.5; done
  done
  for m in $(root_mounts); do  # deepest first
    umount "$m" 2>/dev/null || umount -l "$m" || echo "check-fresh: could not unmount $m" >&2
  done
  if [ -n "$(root_mounts)" ]; then
    echo "check-fresh: mounts remain under $root; not removing it" >&2
  elif [ "$keep" = 1 ]; then
    echo "check-fresh: root kept at $root (unmounted; rm -rf it when done)"
  else
    rm -rf "$root"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- steps ----------------------------------------------------------------------------------------
total_start=$(date +%s)
# step NAME SECONDS cmd...: runs cmd with a hard bound, output to LOGDIR/NAME.log, records time.
step() {
  local name=$1 secs=$2; shift 2
  local log=$LOGDIR/$name.log start rc=0
  step_name=$name
  start=$(date +%s)
  printf 'check-fresh: %-14s ... ' "$name"
  # Functions run in a child bash (exported below), so `timeout` bounds them like commands. It
  # runs in the background so that a signal to this script is handled at once, not at its end.
  timeout --kill-after=20 "$secs" bash -c '"$@"' step "$@" >"$log" 2>&1 </dev/null &
  step_pid=$!
  wait $step_pid || rc=$?
  step_pid=
  local took=$(( $(date +%s) - start ))
  printf '%-14s %5d s  %s\n' "$name" "$took" "$([ $rc = 0 ] && echo ok || echo "FAILED rc=$rc")" >>"$TIMINGS"
  if [ $rc = 0 ]; then echo "ok ($took s)"; return 0; fi
  echo "FAILED ($took s)"
  if [ $rc = 124 ] || [ $rc = 137 ]; then echo "check-fresh: step '$name' ran past its bound of $secs s"; fi
  echo "check-fresh: first failing step: '$name' (exit $rc); last lines of $log:"
  tail -n 40 "$log" | sed 's/^/  | /'
  summary
  exit 1
}
summary() {
  echo "check-fresh: timings (Debian $release, $([ $full = 1 ] && echo full suite || echo smoke)):"
  sed 's/^/  /' "$TIMINGS"
  echo "  total          $(( $(date +%s) - total_start )) s"
}
# in_root CMD: runs the bash command CMD in /src inside the root with a clean environment.
in_root() {
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 TERM=dumb CI="${CI:-}" CCACHE_DIR=/ccache TESSERA_JOBS="$jobs" \
    TESSERA_TEST_JOBS="${TESSERA_FRESH_TEST_JOBS:-2}" \
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
    OMP_NUM_THREADS=1 TESSERA_SLURM_PORT="$slurm_port" TESSERA_NETNS_PREFIX="$netns_prefix" \
    TESSERA_NETNS_NET="$netns_net" \
    chroot "$root" /bin/bash -c "set -euo pipefail; cd /src; $1"
}

host_tools() {
  command -v mmdebstrap >/dev/null && return 0
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap
}
bootstrap() {
  rmdir "$root"  # mmdebstrap wants a missing or empty target
  mmdebstrap --variant=apt --quiet "$release" "$root"
}
clone() {  # the commit alone (also a detached HEAD on no branch), as branch `under-test`
  git init -q "$root/src"
  git -C "$repo" push -q "$root/src" "$commit:refs/heads/under-test"
  git -C "$root/src" checkout -q under-test
  git -C "$root/src" log -1 --format='%H %s'
}
mounts() {
  # The root is a mount point of its own: `ip netns exec` (tests/cluster/netns.sh) remounts / in
  # a new mount namespace, which fails where / is a plain directory.
  mount --bind "$root" "$root"
  mount --make-private "$root"
  mount_in proc -t proc proc
  mount_in sys -t sysfs sysfs
  # Slurm 24.11's slurmd (trixie) will not start without the cgroup file system (sysfs alone
  # lacks it: "No filesystem mounted on /sys/fs/cgroup"); v1 hierarchies or v2, as the host has.
  mount_in sys/fs/cgroup --rbind /sys/fs/cgroup
  mount_in dev/pts --bind /dev/pts
  mount_in dev/shm -t tmpfs -o size=4g tmpfs
  mkdir -p "$ccache_dir"
  mount_in ccache --bind "$ccache_dir"
  if [ -n "$apt_cache" ]; then
    mkdir -p "$apt_cache/partial"
    mount_in var/cache/apt/archives --bind "$apt_cache"
  fi
  grep " $root[/ ]" /proc/mounts
}

export root repo commit release jobs ccache_dir apt_cache slurm_port netns_prefix netns_net
export -f mount_in in_root host_tools bootstrap clone mounts

SMOKE_ENV='B=/src/build/bin/tessera; S=/tmp/smoke; CFG=configs/ci/roads.yaml;
  sets="--set data.train=$S/data/train --set data.val=$S/data/val --set data.test=$S/data/test
        --set experiment.output_dir=$S/out --set experiment.name=smoke --set data.image_size=32";'
MPI='mpirun --oversubscribe --bind-to none -np 2'

step host-tools 600 host_tools
step bootstrap 900 bootstrap
step clone 300 clone
step mounts 60 mounts
step setup 1800 in_root 'bash scripts/setup.sh'
# The smoke run needs only the CLI: building just its target (and the libraries under it) halves
# the build. CMake's configure step still finds every package the tests need, and --full builds all.
if [ "$full" = 1 ]; then targets=${TESSERA_FRESH_TARGETS-}; else targets=${TESSERA_FRESH_TARGETS-tessera}; fi
step build 3600 in_root "TESSERA_BUILD_TARGETS='$targets' bash scripts/build.sh"
if [ "$full" = 1 ]; then
  step test-suite 5400 in_root 'bash scripts/test.sh'
else
  step synth 180 in_root "$SMOKE_ENV"' rm -rf $S; mkdir -p $S
    $B synth --task roads --out $S/data --samples 40 --size 32 --shards 2 --seed 3 \
      --val-fraction 0.2 --test-fraction 0.2'
  step train 600 in_root "$SMOKE_ENV $MPI"' $B train $CFG $sets --set train.max_steps=4
    test -f $S/out/smoke/checkpoints/latest'
  step eval 300 in_root "$SMOKE_ENV $MPI"' $B eval $CFG $sets --checkpoint latest --split test
    python3 -c "import json; s = json.load(open(\"$S/out/smoke/eval/summary.json\")); assert s[\"samples\"] == 8, s; print(s[\"metrics\"])"'
  step report 120 in_root "$SMOKE_ENV"' $B report $S/out/smoke --out $S/report.html
    grep -q "<svg" $S/report.html'
  step predict 300 in_root "$SMOKE_ENV"' $B predict $CFG $sets --checkpoint latest \
      --input $S/data/test --out $S/pred
    ls $S/pred/*.png | head -3'
  step export 300 in_root "$SMOKE_ENV"' $B export $CFG $sets --checkpoint latest --out $S/m.pt'
  step py-h5py 120 in_root "$SMOKE_ENV"' /usr/bin/python3 - $S/data/train <<"PY"
import glob, sys, h5py
paths = sorted(glob.glob(sys.argv[1] + "/*.h5"))
assert paths, "no shards"
n = 0
for p in paths:
    with h5py.File(p, "r") as f:
        x, y = f["inputs"], f["targets"]
        assert x.ndim == 4 and x.shape[1:] == (32, 32, 3) and x.dtype == "uint8", (p, x.shape, x.dtype)
        assert y.shape[:3] == x.shape[:3], (p, y.shape)
        assert x[0].any(), p
        n += x.shape[0]
print(f"h5py {h5py.__version__} (HDF5 {h5py.version.hdf5_version}): {len(paths)} shards, {n} samples")
PY'
  step py-torch 180 in_root "$SMOKE_ENV"' /usr/bin/python3 - $S/m.pt <<"PY"
import sys, torch
sys.path.insert(0, "/src/tools/reference")
plain = torch.load(sys.argv[1])
safe = torch.load(sys.argv[1], weights_only=True)
assert isinstance(plain, dict) and plain.keys() == safe.keys() and len(plain) > 0
assert all(torch.equal(plain[k], safe[k]) for k in plain)
print(f"torch {torch.__version__}: {len(plain)} tensors, plain and weights_only=True loads agree")
PY'
fi
echo "check-fresh: PASS (Debian $release, $([ $full = 1 ] && echo full suite || echo smoke), commit ${commit:0:12})"
summary
