#!/usr/bin/env bash
# Best-checkpoint selection on the losses: checkpoint.metric val/loss (the loss over the
# validation split, logged as val/loss) and train/loss (mean training loss since the previous
# validation, carried across a resume). Each picks the step with the lowest value, and a run
# stopped and resumed between validations selects exactly as an uninterrupted one.
source "$(dirname "$0")/lib.sh"
synth roads data
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
common=(--set data.train=data/train --set data.val=data/val --set data.test=data/test
        --set experiment.output_dir=out --set train.max_steps=8 --set train.log_every=1
        --set train.eval_every=2 --set train.checkpoint_every=100 --set checkpoint.mode=min
        --set checkpoint.keep_best=1)
for metric in val/loss train/loss; do
  tag=${metric%%/*}
  expect_ok "$tag" mpi "$tag" 2 300 train "$CFG" "${common[@]}" --set checkpoint.metric=$metric \
    --set experiment.name=$tag
  TESSERA_TEST_STOP_AT_STEP=3 expect_ok "$tag-part1" mpi "$tag-part1" 2 300 train "$CFG" \
    "${common[@]}" --set checkpoint.metric=$metric --set experiment.name=$tag-part
  expect_ok "$tag-part2" mpi "$tag-part2" 2 300 train "$CFG" "${common[@]}" \
    --set checkpoint.metric=$metric --set experiment.name=$tag-part --resume auto
  expect_log "$tag-part2" "resumed from step 3"
done
"$PY" - <<'PYEOF' >"$LOGS/check.log" 2>&1 || fail "selection: $(cat "$LOGS/check.log")"
import json, os
def records(run):
    return [json.loads(l) for l in open(f"out/{run}/metrics.jsonl")]
for tag, key in (("val", "val/loss"), ("train", "train/loss")):
    recs = records(tag)
    vals = [r for r in recs if r.get("split") == "val"]
    assert len(vals) == 4, vals
    assert all(key in r and r[key] == r[key] for r in vals), vals   # present, not NaN
    if tag == "train":
        # the mean of the logged per-step losses since the previous validation
        losses = {r["step"]: r["loss"] for r in recs if "loss" in r and r.get("split") != "val"}
        for v in vals:
            steps = range(v["step"] - 1, v["step"] + 1)
            expect = sum(losses[s] for s in steps) / 2
            assert abs(v[key] - expect) < 1e-9 * max(1, abs(expect)), (v, expect)
    sel = [r["selected/loss"] for r in vals]
    # the selected value is the metric it claims to be (checkpoint.ema 0: no smoothing)
    assert sel == [r[key] for r in vals], (sel, [r[key] for r in vals])
    best_step = vals[sel.index(min(sel))]["step"]
    # the best checkpoint records that value
    meta = json.load(open(f"out/{tag}/checkpoints/step-{best_step:07d}/meta.json"))
    assert meta["metric"] == min(sel), (meta.get("metric"), min(sel))
    names = [d for d in os.listdir(f"out/{tag}/checkpoints") if d.startswith("step-")]
    # the resumed run logged the same selection values
    part = [r for r in records(f"{tag}-part") if r.get("split") == "val"]
    assert [r["selected/loss"] for r in part] == sel, (part, sel)
    print(tag, "selection", sel, "best step", best_step, "checkpoints", sorted(names))
    assert f"step-{best_step:07d}" in names, (best_step, names)
PYEOF
echo "PASS: best checkpoint selected on val/loss and train/loss, same after a resume"
