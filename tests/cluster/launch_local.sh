#!/usr/bin/env bash
# `tessera launch` on this machine (no Slurm, no namespaces):
#  1. --dry-run prints the exact mpirun argv (keepalive MCA options, OMP_NUM_THREADS, root flag,
#     `tessera train CONFIG --set ... -- extra`), and says what it decided; inside a (simulated)
#     Slurm allocation or MPI job it prints the in-allocation mpirun / direct train command;
#  2. a real launch supervises mpirun (its child): SIGUSR1 sent to the launch PID is forwarded to
#     every rank, which checkpoint at the same step, and the job exits 0 with the trainer's
#     end-of-run record (outcome.json: "stopped");
#  2b. an mpirun that exits 0 without the ranks reaching their end (OpenMPI 5's prterun after it
#     loses a node) fails the launch (status 3, a message naming outcome.json); a non-zero status
#     is passed through (controls: the real runs of 2 and 3 exit 0);
#  3. `tessera launch ... -- --resume auto` finishes the run, and its parameters equal a plain
#     uninterrupted `mpirun -np 2 tessera train` bit for bit.
source "$(dirname "$0")/lib.sh"
synth roads data
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
M=${TESSERA_CLUSTER_STEPS:-300}
common=(--set data.train=data/train --set data.val=data/val --set data.test=data/test
        --set experiment.output_dir=out --set train.log_every=1 --set train.eval_every=0
        --set train.checkpoint_every=0 --set train.max_steps=$M)

# 1. Dry runs: stdout is the command alone.
dry() {  # dry NAME [env...] -- launch args
  local name=$1; shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  env "${envs[@]}" timeout 60 "$TESSERA_BIN" launch "$CFG" "${common[@]}" --dry-run "$@" \
    >"$LOGS/$name.out" 2>"$LOGS/$name.log" </dev/null || fail "launch --dry-run ($name) failed"
  [ "$(wc -l <"$LOGS/$name.out")" = 1 ] || fail "$name: expected one line on stdout: $(cat "$LOGS/$name.out")"
}
sets="--set data.train=data/train --set data.val=data/val --set data.test=data/test --set experiment.output_dir=out --set train.log_every=1 --set train.eval_every=0 --set train.checkpoint_every=0 --set train.max_steps=$M --set experiment.name=dry"
keepalive="--mca oob_tcp_keepalive_time 5 --mca oob_tcp_keepalive_intvl 2 --mca oob_tcp_keepalive_probes 3"

dry plain -- --set experiment.name=dry -- --resume auto
want="mpirun -np 2 --bind-to none -x OMP_NUM_THREADS=1 $keepalive --allow-run-as-root $TESSERA_BIN train $CFG $sets --resume auto"
[ "$(cat "$LOGS/plain.out")" = "$want" ] || fail "dry run printed
  $(cat "$LOGS/plain.out")
expected
  $want"
expect_log plain "2 rank(s) on 1 node(s) (this machine)"

dry hosts -- --set experiment.name=dry --set cluster.ranks_per_node=1 --set cluster.tcp_interface=10.9.0.0/16 --host a:1,b:1
want="mpirun -np 2 --host a:1,b:1 --map-by ppr:1:node --bind-to none -x OMP_NUM_THREADS=1 --mca oob_tcp_if_include 10.9.0.0/16 --mca btl_tcp_if_include 10.9.0.0/16 $keepalive --allow-run-as-root"
case "$(cat "$LOGS/hosts.out")" in "$want "*) ;; *) fail "host-list dry run: $(cat "$LOGS/hosts.out")" ;; esac

dry slurm SLURM_JOB_ID=4242 SLURM_NTASKS=2 SLURM_JOB_NUM_NODES=1 -- --set experiment.name=dry
case "$(cat "$LOGS/slurm.out")" in "mpirun --bind-to none -x OMP_NUM_THREADS=1 $keepalive --allow-run-as-root $TESSERA_BIN train "*) ;;
  *) fail "in-allocation dry run: $(cat "$LOGS/slurm.out")" ;; esac
expect_log slurm "inside Slurm allocation 4242"

dry inmpi OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=0 -- --set experiment.name=dry
[ "$(cat "$LOGS/inmpi.out")" = "env OMP_NUM_THREADS=1 $TESSERA_BIN train $CFG $sets" ] ||
  fail "in-MPI dry run: $(cat "$LOGS/inmpi.out")"
expect_log inmpi "already inside an MPI job"

timeout 60 "$TESSERA_BIN" launch "$CFG" "${common[@]}" --set cluster.nodes=2 --dry-run \
  >"$LOGS/nohosts.log" 2>&1 </dev/null && fail "2 nodes without hosts were accepted"
expect_log nohosts "cluster.nodes=2 but no hosts"
[ -e out ] && fail "a dry run created $(ls out)"

# 2. A real launch, stopped by SIGUSR1 sent to its PID (the supervisor; its child is mpirun, which
#    OpenMPI 5 execs on into prterun, tests/compat.sh).
#    Rank 0 waits after step 3 until the signal comes (TESSERA_TEST_AWAIT_STOP).
TESSERA_TEST_AWAIT_STOP=3 "$TESSERA_BIN" launch "$CFG" "${common[@]}" --set experiment.name=pre \
  >"$LOGS/pre.log" 2>&1 </dev/null &
pid=$!
wait_until 180 "training to wait for the signal after step 3" hook_waits "$LOGS/pre.log"
child=$(pgrep -P $pid | head -1)
is_mpi_launcher "$(tr '\0' ' ' </proc/$child/cmdline | cut -d' ' -f1)" ||
  fail "the launch's child is not mpirun: $(tr '\0' ' ' </proc/$child/cmdline)"
kill -USR1 $pid
wait_exit 120 $pid
rc=$EXIT_RC
[ $rc -eq 0 ] || fail "the launched job exited $rc after SIGUSR1"
expect_log pre "stop requested"
expect_log pre "tessera launch: training stopped by a signal"
grep -a -q '"outcome": "stopped"' out/pre/outcome.json || fail "outcome.json: $(cat out/pre/outcome.json)"
S=$(latest_step out/pre)
[ -n "$S" ] || fail "no checkpoint after SIGUSR1"
[ "$S" = 4 ] || fail "the stop came at step $S, not 4 (right after the step the hook waited at)"
echo "stopped by SIGUSR1 at step $S of $M"

# 2b. A launcher that exits 0 (or 7) without running the ranks: a fake mpirun first in PATH.
mkdir -p fakebin
printf '#!/bin/sh\nexit "${FAKE_RC:-0}"\n' >fakebin/mpirun
chmod +x fakebin/mpirun
echo '{"outcome": "finished", "step": 1}' >out/pre/outcome.json  # a stale record: launch clears it
PATH=$PWD/fakebin:$PATH timeout 60 "$TESSERA_BIN" launch "$CFG" "${common[@]}" \
  --set experiment.name=pre >"$LOGS/fake0.log" 2>&1 </dev/null
rc=$?
[ $rc -eq 3 ] || fail "launch exited $rc (want 3) after mpirun exited 0 without the ranks' end"
expect_log fake0 "did not reach its end"
expect_log fake0 "out/pre/outcome.json"
FAKE_RC=7 PATH=$PWD/fakebin:$PATH timeout 60 "$TESSERA_BIN" launch "$CFG" "${common[@]}" \
  --set experiment.name=pre >"$LOGS/fake7.log" 2>&1 </dev/null
rc=$?
[ $rc -eq 7 ] || fail "launch exited $rc, not mpirun's 7"
expect_log fake7 "exited with status 7"

# 3. Resume to the end through launch; compare with an uninterrupted run.
expect_ok resume run resume 600 "$TESSERA_BIN" launch "$CFG" "${common[@]}" \
  --set experiment.name=pre -- --resume auto
expect_log resume "resumed from step $S"
expect_log resume "tessera launch: training finished at step $M"
[ "$(latest_step out/pre)" = "$M" ] || fail "resumed run ended at $(latest_step out/pre), not $M"
expect_ok ref mpi ref 2 600 train "$CFG" "${common[@]}" --set experiment.name=ref
for r in pre ref; do
  expect_ok "export-$r" run "export-$r" 120 "$TESSERA_BIN" export "$CFG" "${common[@]}" \
    --set experiment.name=$r --checkpoint latest --out $r.pt
done
same_weights pre.pt ref.pt >"$LOGS/compare.log" 2>&1 || fail "stopped+resumed parameters differ from the uninterrupted run"
echo "PASS: launch dry runs; SIGUSR1 to the launch PID checkpoints at step $S; exit 0 without the end fails; resume is bit-identical"
