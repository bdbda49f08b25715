#!/usr/bin/env bash
# Faults through the real trainer (`mpirun -np 2 tessera train`, configs/ci/roads.yaml, tiny
# data), placed exactly with TESSERA_TEST_FAULT (trainer/test_hooks.h, docs/run-dir.md):
#  1. kill: rank 0 and the last rank SIGKILL themselves at step K in each phase (data, forward,
#     backward, allreduce, consensus, validation, checkpoint): the job must END by itself within
#     60 s of the kill (a hang until the hard bound is a failure, told apart from a clean
#     non-zero exit), non-zero, with mpirun's line naming the rank and signal 9. For each phase
#     one of the two kills (alternating: data rank 0, forward the last rank, ...) is then resumed
#     with `--resume auto` and must end bit-identical (exported weights) to an uninterrupted run
#     (7 resumes rather than 14 keep the test near 3 minutes).
#  2. stall: a rank blocked for good in forward or in checkpoint (rank 0 and the last rank) and
#     in validation (the last rank) is named by its own watchdog with that phase (validation's
#     is `eval`); the other rank is not blamed (its line, if any, says it is waiting); the job
#     ends non-zero within dist.timeout_s + 30 s.
#  3. controls: the same harness with no fault finishes 0 (it is the reference run of 1.), and a
#     fault at a step the run never reaches does not fire (the job finishes 0): the injected fault
#     is what ends the jobs above.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../compat.sh"  # mpi_log_text: OpenMPI 4 and 5 word the kill alike, 5 wraps it
NP=2
LAST=$((NP - 1))
K=4          # the faulty step: mid-epoch (24 train samples / (2 ranks x batch 2) = 6 steps per epoch)
STEPS=8      # the run crosses an epoch boundary after the resume
KILL_BOUND=60    # s from the kill to the end of the job
HARD=150         # s: hard bound of one job (start-up + K steps + KILL_BOUND, with room)
STALL_TIMEOUT=5  # dist.timeout_s of the stall runs
STALL_BOUND=$((STALL_TIMEOUT + 30))

synth roads data
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
# Validation and checkpoints every 2 steps: both happen at step K, and a checkpoint exists
# before every kill. dist.timeout_s stays at the CI config's 60 s in the kill runs, so it is
# mpirun noticing the dead rank that ends them, not the watchdog.
# Checkpoints are written synchronously: with checkpoint.async (the default) the step K-2
# checkpoint may still be in flight when a rank is killed at step K (the hook fires before
# rank 0 waits for it), and the resume would start from an earlier step or fresh. That race
# and its guarantees are e2e_async_checkpoint's; this test needs "a checkpoint before every kill".
common=(--set data.train=data/train --set data.val=data/val --set data.test=data/test
        --set experiment.output_dir=out --set train.max_steps=$STEPS --set train.log_every=1
        --set train.eval_every=2 --set train.checkpoint_every=2 --set checkpoint.async=false)

now() { date +%s.%N; }
# timed NAME SECONDS args...: `mpirun -np NP tessera args...` under a hard bound of SECONDS;
# sets RC and ENDED (the time it returned) and ELAPSED (s, whole job). The bound is detected by
# the time, not the status: mpirun itself exits 137 when a rank was SIGKILLed.
timed() {
  local name=$1 secs=$2; shift 2
  local t0; t0=$(now)
  mpi "$name" "$NP" "$secs" "$@"
  RC=$?
  ENDED=$(now)
  ELAPSED=$(awk -v a="$t0" -v b="$ENDED" 'BEGIN { printf "%.1f", b - a }')
  if awk -v e="$ELAPSED" -v s="$secs" 'BEGIN { exit !(e >= s - 1) }'; then
    fail "$name: HANG: the job did not end by itself; killed by the ${secs} s bound (rc=$RC)"
  fi
}
# fired_at NAME RANK WHAT PHASE: sets FIRED to the unix time at which the hook fired in log
# NAME ("tessera test hook: rank R WHAT in phase P at step K (unix time T)"), or fails.
  # -a: OpenMPI 5 can leave a NUL byte in the log, and grep -a would call it a binary file
fired_at() {
  FIRED=$(grep -aoE "tessera test hook: rank $2 $3 in phase $4 at step $K \(unix time [0-9.]+\)" \
            "$LOGS/$1.log" | grep -a -oE "[0-9]+\.[0-9]+" | tail -1)
  [ -n "$FIRED" ] || fail "$1: the hook did not fire (no 'tessera test hook: rank $2 $3 in phase $4 at step $K')"
}

# ---- 3a. control and reference: no fault, finishes 0
timed ref $HARD train "$CFG" "${common[@]}" --set experiment.name=ref
[ $RC -eq 0 ] || fail "ref: the run without a fault exited $RC (log $LOGS/ref.log)"
echo "control: no fault: exit 0 in ${ELAPSED} s"
expect_ok export-ref run export-ref 120 "$TESSERA_BIN" export "$CFG" "${common[@]}" \
  --set experiment.name=ref --checkpoint latest --out ref.pt

# ---- 3b. control: a fault at a step never reached does not fire
TESSERA_TEST_FAULT=kill:$LAST:forward:$((STEPS + 100)) timed unreached $HARD train "$CFG" \
  "${common[@]}" --set experiment.name=unreached
[ $RC -eq 0 ] || fail "unreached: a fault at a step beyond max_steps ended the job (rc=$RC)"
grep -a -q "tessera test hook" "$LOGS/unreached.log" && fail "unreached: the hook fired"
echo "control: fault at step $((STEPS + 100)) (never reached): exit 0 in ${ELAPSED} s"

# ---- 1. kill in every phase, rank 0 and the last rank
summary=()
resume_rank=0   # the rank whose kill is resumed, alternating over the phases
for phase in data forward backward allreduce consensus validation checkpoint; do
  for rank in 0 $LAST; do
    name=kill-$phase-r$rank
    TESSERA_TEST_FAULT=kill:$rank:$phase:$K timed "$name" $HARD train "$CFG" "${common[@]}" \
      --set experiment.name="$name"
    [ $RC -ne 0 ] || fail "$name: the job exited 0 after rank $rank was killed"
    fired_at "$name" $rank "kills itself with SIGKILL" $phase
    took=$(awk -v a="$FIRED" -v b="$ENDED" 'BEGIN { printf "%.1f", b - a }')
    awk -v d="$took" -v m=$KILL_BOUND 'BEGIN { exit !(d <= m) }' ||
      fail "$name: the job ended ${took} s after the kill (bound ${KILL_BOUND} s)"
    # OpenMPI 4: "mpirun noticed that process rank 1 with PID ... exited on signal 9 (Killed)";
    # OpenMPI 5 (prterun) words it alike but wraps the line (tests/compat.sh: mpi_log_text).
    mpi_log_text "$LOGS/$name.log" | grep -a -Eq "rank $rank\b.*(signal 9|Killed)" ||
      fail "$name: the log does not name rank $rank and signal 9"
    if [ $rank -ne $resume_rank ]; then
      summary+=("kill $phase rank $rank: rc $RC, job ended ${took} s after the kill")
      continue
    fi
    timed "$name-resume" $HARD train "$CFG" "${common[@]}" --set experiment.name="$name" --resume auto
    [ $RC -eq 0 ] || fail "$name-resume: exited $RC"
    expect_log "$name-resume" "resumed from step"
    expect_ok "$name-export" run "$name-export" 120 "$TESSERA_BIN" export "$CFG" "${common[@]}" \
      --set experiment.name="$name" --checkpoint latest --out "$name.pt"
    same_weights ref.pt "$name.pt" >"$LOGS/$name-compare.log" 2>&1 ||
      fail "$name: the resumed run's weights differ from the uninterrupted run's"
    from=$(grep -a -oE "resumed from step [0-9]+" "$LOGS/$name-resume.log" | grep -a -oE "[0-9]+$")
    summary+=("kill $phase rank $rank: rc $RC, job ended ${took} s after the kill; resumed from step $from: bit-identical")
    rm -rf "out/$name"   # keeps the work directory small
  done
  resume_rank=$((LAST - resume_rank))
done

# ---- 2. stall: named by the watchdog with its phase, the job ends within timeout + 30 s
# logging: training code outside every marked phase (the watchdog's "between phases").
for place in forward:0 forward:$LAST checkpoint:0 checkpoint:$LAST validation:$LAST logging:$LAST; do
  phase=${place%%:*} rank=${place##*:}
  wphase=$phase   # the watchdog's name of the phase
  [ $phase = validation ] && wphase=eval
  [ $phase = logging ] && wphase="between phases"
  # The watchdog's step is the step index last trained (0-based): after K steps, validation
  # and checkpoint of step K run while it still says K-1.
  wstep=$K; [ $phase != forward ] && wstep=$((K - 1))
  other=$((LAST - rank))
  name=stall-$phase-r$rank
  TESSERA_TEST_FAULT=stall:$rank:$phase:$K timed "$name" $HARD train "$CFG" "${common[@]}" \
    --set experiment.name="$name" --set dist.timeout_s=$STALL_TIMEOUT
  [ $RC -ne 0 ] || fail "$name: the job exited 0"
  fired_at "$name" $rank "stalls" $phase
  took=$(awk -v a="$FIRED" -v b="$ENDED" 'BEGIN { printf "%.1f", b - a }')
  awk -v d="$took" -v m=$STALL_BOUND 'BEGIN { exit !(d <= m) }' ||
    fail "$name: the job ended ${took} s after the stall (bound ${STALL_BOUND} s)"
  log=$LOGS/$name.log
  grep -aEq "tessera watchdog: rank $rank \(host [^)]*\) stuck in phase $wphase( #[0-9]+)? \(step $wstep\)" "$log" ||
    fail "$name: no watchdog line naming rank $rank in phase $wphase at step $wstep"
  # The first line that blames a rank (one that is not waiting) names the stalled one; the
  # other rank's line, if any, says it is waiting.
  first=$(grep -a "tessera watchdog: rank" "$log" | grep -a -v "waiting for other ranks" | head -1)
  echo "$first" | grep -a -q "tessera watchdog: rank $rank " ||
    fail "$name: the first blaming watchdog line is not rank $rank's: $first"
  if grep -a "tessera watchdog: rank $other " "$log" | grep -a -vq "waiting for other ranks"; then
    fail "$name: rank $other is blamed: $(grep -a "tessera watchdog: rank $other " "$log")"
  fi
  summary+=("stall $phase rank $rank: rc $RC, named by its watchdog; job ended ${took} s after the stall (timeout ${STALL_TIMEOUT} s)")
done
printf '%s\n' "${summary[@]}"
echo "PASS: kill -9 in 7 phases x ranks 0,$LAST (7 resumed bit-identical), stalls named by the watchdog, controls"
