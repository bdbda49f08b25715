#!/usr/bin/env bash
# data.normalize: dataset end to end (docs/config.md; models/model.h, trainer/input_normalization.h):
#   - `tessera train` on 2 ranks takes the train split's per-channel mean / std from its
#     manifest, says so, and saves them with the weights: the exported state dict's
#     input_mean / input_std equal the manifest's `stats.inputs` (float32);
#   - eval and predict of that checkpoint run; `tessera export --format torchscript` of it
#     matches tessera's own C++ model (tessera_export_compare) and its export-time parity check
#     passes (the Python twin normalises the same way); the ONNX export's graph, run by
#     tools/reference/onnx_eval.py, matches the C++ model's probe;
#   - a checkpoint is never run with other statistics than its own, nor without them: eval with
#     data.normalize: none is refused naming input_mean (control: the same eval with the
#     training config runs), and a checkpoint trained without normalisation evaluated with
#     data.normalize: dataset is refused naming the missing buffer; resuming with the key
#     changed is refused as a config change;
#   - a dataset whose manifest has no statistics (derived from the shards, as for h5py-written
#     data) is refused before training, naming the manifest and what to do.
# Every refusal must be a clean non-zero exit, not a time-out.
# Usage: normalize.sh PATH/TO/tessera_export_compare
source "$(dirname "$0")/lib.sh"
COMPARE=${1:?usage: normalize.sh PATH/TO/tessera_export_compare}
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml

synth roads data
base=(--set data.train=data/train --set data.val=data/val --set data.test=data/test
      --set experiment.output_dir=out --set train.eval_every=2 --set train.checkpoint_every=2
      --set train.max_steps=4)
norm=("${base[@]}" --set experiment.name=norm --set data.normalize=dataset)
plain=("${base[@]}" --set experiment.name=plain)

# refused NAME cmd...: a non-zero exit that is not a time-out (the log is checked after).
refused() {
  local name=$1; shift
  "$@"
  local rc=$?
  [ "$rc" -ne 0 ] || fail "$name: exit 0, expected a refusal"
  case $rc in 124 | 137) fail "$name: timed out instead of a clean error" ;; esac
}

expect_ok train-norm mpi train-norm 2 300 train "$CFG" "${norm[@]}"
expect_log train-norm "data.normalize: dataset, from data/train/manifest.json: 0: mean "
expect_ok export-norm run export-norm 120 "$TESSERA_BIN" export "$CFG" "${norm[@]}" \
  --checkpoint best --out norm-weights.pt
cat >check_stats.py <<'PYEOF'
import json, sys, torch
sd = torch.load(sys.argv[1], weights_only=True)
stats = json.load(open(sys.argv[2]))["stats"]["inputs"]
mean = torch.tensor(stats["mean"], dtype=torch.float32)
std = torch.tensor(stats["std"], dtype=torch.float32)
assert torch.equal(sd["input_mean"], mean), (sd["input_mean"], mean)
assert torch.equal(sd["input_std"], std), (sd["input_std"], std)
assert bool((std > 0.01).all()) and bool((mean > 0.01).all()), (mean, std)  # not 0 / 1
print("input_mean", mean.tolist(), "input_std", std.tolist())
PYEOF
expect_ok check-stats run check-stats 120 "$PY" check_stats.py norm-weights.pt data/train/manifest.json

expect_ok eval-norm run eval-norm 120 "$TESSERA_BIN" eval "$CFG" "${norm[@]}" --split test
expect_log eval-norm "summary in"
expect_ok predict-norm run predict-norm 120 "$TESSERA_BIN" predict "$CFG" "${norm[@]}" \
  --input data/test --out pred-norm
compgen -G 'pred-norm/*.png' >/dev/null || fail "predict wrote no PNG into pred-norm"

expect_ok export-ts run export-ts 300 "$TESSERA_BIN" export "$CFG" "${norm[@]}" \
  --format torchscript --checkpoint best --out norm.pt
expect_log export-ts "export: parity with the C++ model: {"
sets=()
for s in "${norm[@]}"; do [ "$s" = --set ] || sets+=(--set "$s"); done
run compare 120 "$COMPARE" "$CFG" best norm.pt ref.pt "${sets[@]}" ||
  fail "the TorchScript export of the normalising model does not match tessera"
expect_log compare MATCH
# ONNX: export_model.py runs the graph (tools/reference/onnx_eval.py) against the C++ model.
expect_ok export-onnx run export-onnx 300 "$TESSERA_BIN" export "$CFG" "${norm[@]}" \
  --format onnx --checkpoint best --out norm.onnx
expect_log export-onnx '"onnx_max_diff"'

# The checkpoint's statistics are never dropped nor made up.
refused eval-without run eval-without 120 "$TESSERA_BIN" eval "$CFG" "${norm[@]}" \
  --set data.normalize=none --split test
expect_log eval-without "tensor 'input_mean' is in the checkpoint but not in this model"
expect_log eval-without "trained with data.normalize: dataset"
expect_ok train-plain mpi train-plain 1 300 train "$CFG" "${plain[@]}"
expect_ok eval-plain run eval-plain 120 "$TESSERA_BIN" eval "$CFG" "${plain[@]}" --split test
refused eval-with run eval-with 120 "$TESSERA_BIN" eval "$CFG" "${plain[@]}" \
  --set data.normalize=dataset --split test
expect_log eval-with "buffer 'input_mean' is missing"
expect_log eval-with "the checkpoint was trained without it"
refused resume-changed mpi resume-changed 1 120 train "$CFG" "${norm[@]}" \
  --set data.normalize=none --set train.max_steps=6 --resume auto
expect_log resume-changed "data.normalize: dataset -> none"

# No statistics in the manifest: refused before any training step.
mkdir -p bare
cp data/train/*.h5 bare/
refused train-bare mpi train-bare 1 120 train "$CFG" "${norm[@]}" --set data.train=bare \
  --set experiment.name=bare
expect_log train-bare "data.normalize: dataset needs the per-channel statistics of data.train"
expect_log train-bare "bare has no manifest.json to hold"
[ ! -e out/bare/metrics.jsonl ] || fail "train-bare trained before refusing"
echo "PASS: data.normalize"
