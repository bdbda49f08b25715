#!/usr/bin/env bash
# A damaged shard that no checksum vouches for ends `tessera train` with an error naming it,
# never with a crash or a hang of the job (issue 13; datasets/shard_probe.h). HDF5 1.10.8 itself
# crashes or loops on some damaged metadata; tessera parses such shards (no manifest.json, or a
# dataset over the whole-file check limit) in tessera-shard-probe first. Here the probe's crash
# and hang are planted (TESSERA_PROBE_CONTROL); corruption_sweep_test.cpp feeds it real damaged
# copies. Through `mpirun -np 2 tessera train` on a manifest-less dataset:
#   crash: exit non-zero within the time bound, the error names the shard and the signal;
#   hang:  the probe is killed after data's 30 s per-shard bound, the same clean end;
# controls: with the manifest in place nothing is probed and the same planted crash changes
# nothing; without the plant the manifest-less run trains.
source "$(dirname "$0")/lib.sh"
synth roads data
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
common=(--set data.train=data/train --set data.val= --set data.test=data/test
        --set experiment.output_dir=out --set train.max_steps=2 --set train.eval_every=0
        --set train.checkpoint_every=0)
# Control 1: verified by its manifest, nothing is probed: the plant is never reached.
TESSERA_PROBE_CONTROL=crash expect_ok verified mpi verified 2 300 train "$CFG" "${common[@]}" \
  --set experiment.name=verified
rm data/train/manifest.json
# Control 2: no manifest, no plant: the probe passes every shard and the job trains.
expect_ok unplanted mpi unplanted 2 300 train "$CFG" "${common[@]}" --set experiment.name=plain
expect_log unplanted "has no manifest.json"
for plant in crash hang; do
  start=$(date +%s)
  TESSERA_PROBE_CONTROL=$plant mpi "$plant" 2 200 train "$CFG" "${common[@]}" \
    --set experiment.name="$plant"
  rc=$? took=$(($(date +%s) - start))
  [ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "$plant: the job hung (killed after $took s)"
  [ $rc -ne 0 ] || fail "$plant: the job trained on a shard the probe could not parse"
  expect_log "$plant" "while parsing shard"
  expect_log "$plant" "data/train/shard-0000"
  expect_log "$plant" "which no checksum vouches for (the dataset has no manifest.json)"
  grep -a -q -E 'Segmentation fault|signal 11 \(Segmentation|core dumped' "$LOGS/$plant.log" &&
    fail "$plant: tessera itself crashed"
  echo "$plant: exit $rc after $took s"
done
expect_log crash "HDF5 crashed (signal 11 (SIGSEGV))"
expect_log hang "did not finish within 30 s (a hang; the probe was killed)"
echo "PASS: a damaged unverified shard ends the job with an error naming it"
