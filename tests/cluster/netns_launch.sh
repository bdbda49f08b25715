#!/usr/bin/env bash
# Multi-host `tessera launch` over TCP between network-namespace "hosts" (tests/cluster/netns.sh;
# OpenMPI reaches them through the rsh agent nsexec.sh instead of ssh; host names tess1, tess2
# or $TESSERA_NETNS_PREFIX{1,2}):
#  1. 2 ranks on 2 hosts (--host tess1:1,tess2:1) end with the same parameters as 2 ranks on
#     1 host (--host tess1:2), bit for bit;
#  2. the link of one host taken down mid-run ends the job within 30 s (OOB keepalive set by
#     launch) with a message naming the lost host, nothing is left running in the namespaces,
#     and after the link is back `-- --resume auto` continues from the last checkpoint.
# Skipped (exit 77) where network namespaces are not allowed.
source "$(dirname "$0")/lib.sh"
start_netns 2
mpi_use_rsh_agent "$TESSERA_NETNS_AGENT"  # tests/compat.sh: OpenMPI 4 and 5 spell it differently
H1=${TESSERA_NETNS_PREFIX}1 H2=${TESSERA_NETNS_PREFIX}2  # host names (netns.sh; tess1, tess2)
synth roads data
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
M=${TESSERA_NETNS_STEPS:-12}
common=(--set data.train=$WORK/data/train --set data.val=$WORK/data/val
        --set data.test=$WORK/data/test --set experiment.output_dir=$WORK/out
        --set train.log_every=1 --set train.eval_every=0 --set train.checkpoint_every=4
        --set cluster.tcp_interface=$TESSERA_NETNS_CIDR --set dist.timeout_s=120)

# 1. Same ranks, one host vs two hosts.
expect_ok one run one 300 "$TESSERA_BIN" launch "$CFG" "${common[@]}" --set experiment.name=one \
  --set train.max_steps=$M --set cluster.ranks_per_node=2 --host $H1:2
expect_ok two run two 300 "$TESSERA_BIN" launch "$CFG" "${common[@]}" --set experiment.name=two \
  --set train.max_steps=$M --set cluster.ranks_per_node=1 --host $H1:1,$H2:1
expect_log two "2 rank(s) on 2 node(s)"
for r in one two; do
  [ "$(latest_step out/$r)" = "$M" ] || fail "run $r ended at step $(latest_step out/$r)"
  expect_ok "export-$r" run "export-$r" 120 "$TESSERA_BIN" export "$CFG" "${common[@]}" \
    --set experiment.name=$r --checkpoint latest --out $r.pt
done
same_weights one.pt two.pt >"$LOGS/compare.log" 2>&1 || fail "2-host parameters differ from 1-host"
echo "2 hosts == 1 host after $M steps: $(cat "$LOGS/compare.log")"

# 2. Lose a host mid-run.
long=(--set experiment.name=lost --set train.max_steps=100000 --set cluster.ranks_per_node=1)
"$TESSERA_BIN" launch "$CFG" "${common[@]}" "${long[@]}" --host $H1:1,$H2:1 \
  >"$LOGS/lost.log" 2>&1 </dev/null &
pid=$!
wait_until 240 "a checkpoint and 6 logged steps" eval \
  '[ -n "$(latest_step out/lost)" ] && has_train_records out/lost 6'
netns_link $H2 down
t0=$(date +%s.%N)
wait_exit 60 $pid
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')  # no bc on a fresh Debian
echo "job ended $took s after ${H2}'s link went down (exit $EXIT_RC)"
[ "$EXIT_RC" -ne 0 ] || fail "the job exited 0 after losing a host"
awk -v d="$took" 'BEGIN { exit !(d < 30) }' || fail "the job took ${took}s (> 30 s) to notice the lost host"
expect_log lost "lost communication"
grep -a -A4 "lost communication" "$LOGS/lost.log" | grep -a -q "$H2" || fail "the error does not name $H2"
for ns in $H1 $H2; do
  wait_until 30 "no process left in $ns" eval "[ -z \"\$(ip netns pids $ns)\" ]"
done
S=$(latest_step out/lost)
echo "last checkpoint before the loss: step $S"

netns_link $H2 up
R=$((S + 4))
expect_ok resume run resume 300 "$TESSERA_BIN" launch "$CFG" "${common[@]}" "${long[@]}" \
  --set train.max_steps=$R --host $H1:1,$H2:1 -- --resume auto
expect_log resume "resumed from step $S"
[ "$(latest_step out/lost)" = "$R" ] || fail "the resumed run ended at $(latest_step out/lost), not $R"
echo "PASS: 2 hosts == 1 host; lost host ends the job in ${took}s naming it; resume from step $S"
