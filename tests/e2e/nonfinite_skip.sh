#!/usr/bin/env bash
# A step skipped as non-finite changes no state on any rank (issue 13, finding 6): through
# `mpirun -np 2 tessera train` with batch norm and dist.nonfinite skip, rank 0's batch of step 2
# is poisoned with NaN (TESSERA_TEST_FAULT=nan:0:data:2): every rank skips the step, and the
# checkpoint after it (step 3) holds exactly the weights, batch-norm running statistics and
# optimizer state of the one before (step 2). Without the buffer restore, rank 0's running
# statistics would be NaN and saved. Control: two consecutive ordinary steps (1 -> 2) differ.
source "$(dirname "$0")/lib.sh"
synth roads data
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
common=(--set data.train=data/train --set data.val= --set data.test=data/test
        --set experiment.output_dir=out --set experiment.name=nan --set train.max_steps=4
        --set train.log_every=1 --set train.eval_every=0 --set train.checkpoint_every=1
        --set checkpoint.keep_last=10 --set model.batch_norm=true --set dist.nonfinite=skip)
TESSERA_TEST_FAULT=nan:0:data:2 expect_ok train mpi train 2 300 train "$CFG" "${common[@]}"
expect_log train "step 2: non-finite loss or gradient on rank(s) 0"
expect_log train "skipping the step on every rank"
for s in 1 2 3; do
  expect_ok "export-$s" run "export-$s" 120 "$TESSERA_BIN" export "$CFG" "${common[@]}" \
    --checkpoint "out/nan/checkpoints/step-000000$s" --out "s$s.pt"
done
same_weights s2.pt s3.pt >"$LOGS/compare.log" 2>&1 ||
  fail "the skipped step changed the model: $(cat "$LOGS/compare.log")"
# Optimizer state: every tensor (moments) and every pickled value identical, except the param
# group's learning rate, which the schedule sets from the step number.
"$PY" - out/nan/checkpoints/step-000000{2,3}/optim.pt <<'PYEOF' >"$LOGS/optim.log" 2>&1 ||
import pickletools, sys, zipfile
za, zb = (zipfile.ZipFile(p) for p in sys.argv[1:3])
# data.pkl is compared op by op below; LibTorch 2.x writes a per-save .data/serialization_id.
skip = lambda n: n.endswith("data.pkl") or n.endswith(".data/serialization_id")
names = sorted(n for n in za.namelist() if not skip(n))
assert names == sorted(n for n in zb.namelist() if not skip(n)), "different entries"
bad = [n for n in names if za.read(n) != zb.read(n)]
assert not bad, f"tensors differ: {bad}"
def ops(z):
    pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
    return [arg for _, arg, _ in pickletools.genops(z.read(pkl)) if arg is not None]
oa, ob = ops(za), ops(zb)
assert len(oa) == len(ob), "different structure"
diff = [(x, y) for x, y in zip(oa, ob) if x != y]
assert len(diff) <= 1 and all(isinstance(x, float) for d in diff for x in d), diff
print(f"{len(names)} tensor entries identical; differing values: {diff} (the scheduled lr)")
PYEOF
  fail "the skipped step changed the optimizer state: $(cat "$LOGS/optim.log")"
same_weights s1.pt s2.pt >"$LOGS/control.log" 2>&1 &&
  fail "control: an ordinary step left the model unchanged (the comparison cannot fail)"
"$PY" -c "
import torch; d = torch.load('s3.pt')
bn = [k for k in d if k.endswith('running_mean') or k.endswith('running_var')]
assert bn and all(torch.isfinite(d[k]).all() for k in bn), bn
print(len(bn), 'finite batch-norm statistics')" >"$LOGS/finite.log" 2>&1 || fail "$(cat "$LOGS/finite.log")"
echo "PASS: a non-finite step is skipped on every rank and changes no state"
