#!/usr/bin/env bash
# tessera sweep through the CLI, 2 ranks per run:
#  1. a 2-point grid runs both points under readable names; the table at the end shows both
#     finished; each run's config holds its own value;
#  2. the same sweep again skips both (already finished): no new steps;
#  3. a failing point does not stop the sweep: the other point trains, exit status 1, the failed
#     one is named;
#  4. a bad value is refused before any run starts (control of 1: nothing is created);
#  5. --dry-run prints one launch command per point.
source "$(dirname "$0")/lib.sh"
synth roads data
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
common=(--set data.train=data/train --set data.val=data/val --set data.test=data/test
        --set experiment.output_dir=out --set experiment.name=sw --set train.max_steps=4
        --set train.log_every=1 --set train.eval_every=4 --set train.checkpoint_every=4)

# 1.
expect_ok sweep run sweep 600 "$TESSERA_BIN" sweep "$CFG" "${common[@]}" --np 2 \
  --grid optim.lr=1e-3,3e-4
for n in sw-lr_1e-3 sw-lr_3e-4; do
  grep -a -qE "^$n .*4/4 .*finished" "$LOGS/sweep.log" || fail "sweep table lacks $n finished: $(cat "$LOGS/sweep.log")"
  grep -a -q '"outcome": "finished"' "out/$n/outcome.json" || fail "$n: no finished outcome.json"
done
grep -a -qE '^  lr: 0.001$|^  lr: 1e-03$|^  lr: 0\.001' out/sw-lr_1e-3/config.resolved.yaml ||
  fail "sw-lr_1e-3 was not trained with lr 1e-3: $(grep -a 'lr:' out/sw-lr_1e-3/config.resolved.yaml)"
grep -a -qE '^  lr: 0.0003$|^  lr: 3e-04$|^  lr: 0\.0003' out/sw-lr_3e-4/config.resolved.yaml ||
  fail "sw-lr_3e-4 was not trained with lr 3e-4: $(grep -a 'lr:' out/sw-lr_3e-4/config.resolved.yaml)"
expect_log sweep "[1/2] sw-lr_1e-3: "
expect_log sweep "[2/2] sw-lr_3e-4: "

# 2.
lines=$(wc -l <out/sw-lr_1e-3/metrics.jsonl)
expect_ok again run again 120 "$TESSERA_BIN" sweep "$CFG" "${common[@]}" --np 2 \
  --grid optim.lr=1e-3,3e-4
expect_log again "[1/2] sw-lr_1e-3: already finished at step 4"
expect_log again "[2/2] sw-lr_3e-4: already finished at step 4"
[ "$(wc -l <out/sw-lr_1e-3/metrics.jsonl)" = "$lines" ] || fail "the second sweep trained again"

# 3. The first point's data does not exist: it fails, the second trains.
run failing 600 "$TESSERA_BIN" sweep "$CFG" "${common[@]}" --set experiment.name=fl --np 2 \
  --grid data.train=no-such-dir,data/train && fail "a sweep with a failed run exited 0"
expect_log failing "[1/2] fl-train_no-such-dir: FAILED"
expect_log failing "1 of 2 run(s) did not finish: fl-train_no-such-dir"
grep -a -qE "^fl-train_data_train .*finished" "$LOGS/failing.log" ||
  fail "the point after a failed one did not finish: $(cat "$LOGS/failing.log")"

# 4. model.filters_abc is refused while the points are checked: no run directory is made.
run bad 120 "$TESSERA_BIN" sweep "$CFG" "${common[@]}" --set experiment.name=bad --np 2 \
  --grid model.filters=8,abc && fail "a sweep with a bad value exited 0"
expect_log bad "sweep point 2 of 2 (bad-filters_abc)"
expect_log bad "model.filters"
[ ! -e out/bad-filters_8 ] || fail "a run started before every point was checked"

# 5.
expect_ok dry run dry 60 "$TESSERA_BIN" sweep "$CFG" "${common[@]}" --np 2 --dry-run \
  --grid optim.lr=1e-3,3e-4 --seeds 2
[ "$(grep -a -c '^mpirun .* train ' "$LOGS/dry.log")" = 4 ] || fail "dry run: $(cat "$LOGS/dry.log")"
expect_log dry "experiment.name=sw-lr_3e-4-s1"
expect_log dry "experiment.seed=43"
echo "PASS: sweep grid, skip finished, failed point, bad value, dry run"
