#!/usr/bin/env bash
# tessera export --format torchscript|onnx (launcher/export_formats.h) end to end: a few training
# steps of a U-Net (ci/roads) and an autoencoder (ci/monet_style: autoencoder_generic), then
#   torchscript: tessera_export_compare (torch::jit::load in C++) must match tessera's own model
#     of the trained checkpoint on fresh random inputs at two sizes, and the module must refuse a
#     bad size; Python's torch.jit.load must match the same reference; control: the export of
#     `--checkpoint init` must NOT match the trained checkpoint (the comparison can fail);
#   from initial weights: the article's autoencoder (configs/monet_style.yaml), softmax
#     (ci/multiclass), residual without batch norm (ci/superres);
#   onnx: the file passes onnx.checker (full_check), names its input/output, dynamic N/H/W, and
#     --opset is honoured; export_model.py ran the graph (tools/reference/onnx_eval.py) against
#     the C++ model's probe and the eager twin at a second size, for all five models above;
#     control: the twin's former "same" padding gives an article-autoencoder graph that fails it;
#   refusals, each leaving a pre-existing --out byte-identical and no temporary directory: a bad
#     --format (CLI error), --opset without onnx, a missing onnx package (exit 4 -> python3-onnx
#     hint), a sabotaged Python twin (exit 3, parity failure), that ONNX control (exit 3),
#     --timeout with state-dict, and a
#     hung exporter killed at --timeout 3 (a clean error, not a hang);
#   a temporary directory left by a SIGKILLed export (its pid gone) is removed by the next
#     export; one of a live process is kept (the control).
# Usage: export_formats.sh PATH/TO/tessera_export_compare
source "$(dirname "$0")/lib.sh"
COMPARE=${1:?usage: export_formats.sh PATH/TO/tessera_export_compare}

# train NAME SYNTH_TASK: 4 steps on one rank; sets the array `common` to the run's overrides.
train() {
  local name=$1 task=$2
  synth "$task" "data-$name"
  common=(--set "data.train=data-$name/train" --set "data.val=data-$name/val"
          --set "data.test=data-$name/test" --set experiment.output_dir=out
          --set "experiment.name=$name" --set train.eval_every=2 --set train.checkpoint_every=2)
  expect_ok "train-$name" mpi "train-$name" 1 300 train \
    "$TESSERA_SOURCE_DIR/configs/ci/$name.yaml" "${common[@]}" --set train.max_steps=4
}

# export NAME CONFIG FORMAT CHECKPOINT OUT [more args]
export_as() {
  local name=$1 cfg=$2 format=$3 ckpt=$4 out=$5; shift 5
  expect_ok "export-$name" run "export-$name" 300 "$TESSERA_BIN" export "$cfg" "${common[@]}" \
    --format "$format" --checkpoint "$ckpt" --out "$out" "$@"
  [ -s "$out" ] || fail "export $name wrote no $out"
  expect_log "export-$name" "export: parity with the C++ model: {"
}

# compare NAME CONFIG CHECKPOINT MODULE: tessera_export_compare; returns its exit status.
compare() {
  local name=$1 cfg=$2 ckpt=$3 module=$4
  local sets=()
  for s in "${common[@]}"; do [ "$s" = --set ] || sets+=(--set "$s"); done
  run "compare-$name" 120 "$COMPARE" "$cfg" "$ckpt" "$module" "ref-$name.pt" "${sets[@]}"
}

# Python: torch.jit.load of MODULE reproduces tessera's output saved by the compare step, has
# tessera.json naming ARCH, and refuses a bad size. (Scripts go to files: run's stdin is
# /dev/null.)
cat >check_ts.py <<'PYEOF'
import json, sys, torch
extra = {"tessera.json": ""}
m = torch.jit.load(sys.argv[1], map_location="cpu", _extra_files=extra)
meta = json.loads(extra["tessera.json"])
assert meta["arch"] == sys.argv[3] and meta["checkpoint"], meta
ref = torch.load(sys.argv[2])
with torch.no_grad():
    y = m(ref["input"])
diff = (y.double() - ref["output"].double()).abs().max().item()
bound = 1e-5 * max(1.0, ref["output"].abs().max().item())
assert y.shape == ref["output"].shape and diff <= bound, (y.shape, diff, bound)
x = ref["input"]
try:
    m(x[:, :, 1:, :])
    raise SystemExit("a bad size was accepted")
except (RuntimeError, torch.jit.Error) as e:  # 1.13: jit.Error is no RuntimeError
    assert "tessera model" in str(e), e
print(f"torch.jit.load: max |diff| {diff:.3g} <= {bound:.3g}; {meta['returns']}")
PYEOF
py_torchscript() { run "py-ts-$1" 120 "$PY" check_ts.py "$2" "ref-$1.pt" "$3"; }

# Python: onnx.checker (full_check) passes; input/output names; dynamic N, H, W; the opset.
cat >check_onnx.py <<'PYEOF'
import sys, onnx
g = onnx.load(sys.argv[1])
onnx.checker.check_model(g, full_check=True)
assert [i.name for i in g.graph.input] == ["input"], g.graph.input
assert [o.name for o in g.graph.output] == ["output"], g.graph.output
dims = g.graph.input[0].type.tensor_type.shape.dim
assert [d.dim_param for d in dims] == ["batch", "", "height", "width"], dims
assert dims[1].dim_value == int(sys.argv[2]), dims
opset = [o.version for o in g.opset_import if o.domain in ("", "ai.onnx")]
assert opset == [int(sys.argv[3])], opset
print(f"onnx ok: opset {opset[0]}, {len(g.graph.node)} nodes")
PYEOF
py_onnx() { run "py-onnx-$1" 120 "$PY" check_onnx.py "$2" "$3" "$4"; }

for spec in roads:roads:unet monet_style:style:autoencoder_generic; do
  IFS=: read -r name task arch <<<"$spec"
  CFG=$TESSERA_SOURCE_DIR/configs/ci/$name.yaml
  train "$name" "$task"
  export_as "$name-ts" "$CFG" torchscript best "$name.pt"
  compare "$name" "$CFG" best "$name.pt" || fail "$name: the TorchScript export does not match tessera"
  expect_log "compare-$name" MATCH
  expect_log "compare-$name" "bad size refused by the input check"
  py_torchscript "$name" "$name.pt" "$arch" || fail "$name: Python torch.jit.load check failed"
  expect_log "py-ts-$name" "torch.jit.load: max |diff|"
  # Control: the initial weights' module against the trained checkpoint must differ.
  export_as "$name-init" "$CFG" torchscript init "$name-init.pt"
  compare "$name-init" "$CFG" best "$name-init.pt"
  rc=$?
  [ "$rc" = 1 ] || fail "$name: the init export vs the trained checkpoint gave $rc, expected 1"
  expect_log "compare-$name-init" MISMATCH
  export_as "$name-onnx" "$CFG" onnx best "$name.onnx"
  expect_log "export-$name-onnx" '"onnx_max_diff"'  # the graph run by onnx_eval.py matched
  py_onnx "$name" "$name.onnx" 3 17 || fail "$name: onnx check failed"
  expect_log "py-onnx-$name" "onnx ok: opset 17"
done
common=(--set experiment.output_dir=out --set experiment.name=roads)
export_as roads-onnx13 "$TESSERA_SOURCE_DIR/configs/ci/roads.yaml" onnx best roads13.onnx --opset 13
py_onnx roads13 roads13.onnx 3 13 || fail "onnx --opset 13 check failed"
expect_log py-onnx-roads13 "onnx ok: opset 13"

# From the initial weights: the article's autoencoder (fixed depth 4, sizes multiples of 16),
# softmax over 5 classes (ci/multiclass), residual without batch norm (ci/superres).
common=()
for cfg in monet_style ci/multiclass ci/superres; do
  n=init-${cfg//\//-}
  export_as "$n" "$TESSERA_SOURCE_DIR/configs/$cfg.yaml" torchscript init "$n.pt"
  compare "$n" "$TESSERA_SOURCE_DIR/configs/$cfg.yaml" init "$n.pt" ||
    fail "$cfg: the TorchScript export of the initial weights does not match tessera"
  expect_log "compare-$n" MATCH
  # ONNX: export_model.py runs the graph (tools/reference/onnx_eval.py) on the C++ model's probe.
  export_as "$n-onnx" "$TESSERA_SOURCE_DIR/configs/$cfg.yaml" onnx init "$n.onnx"
  expect_log "export-$n-onnx" '"onnx_second_size_max_diff"'
done

# Refusals: exit non-zero with a message, --out untouched, no temporary directory left.
common=(--set experiment.output_dir=out --set experiment.name=roads)
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
echo sentinel >kept.pt
# Every export wrote into this directory: none may leave its `.OUT.export-XXXXXX` behind.
no_temp_dirs() {
  if compgen -G '.*.export-*' >/dev/null; then
    fail "$1: a temporary directory was left: $(compgen -G '.*.export-*')"
  fi
}
no_temp_dirs "the exports"
# refuse NAME TEXT [VAR=value...] -- EXPORT ARGS: expects a non-zero exit (not a time-out) and
# TEXT in the output.
refuse() {
  local name=$1 text=$2; shift 2
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  run "refuse-$name" 300 env "${envs[@]}" "$TESSERA_BIN" export "$CFG" "${common[@]}" \
    --out kept.pt "$@"
  local rc=$?
  [ "$rc" -ne 0 ] || fail "refuse-$name: exit 0"
  case $rc in 124 | 137) fail "refuse-$name: timed out" ;; esac
  expect_log "refuse-$name" "$text"
  [ "$(cat kept.pt)" = sentinel ] || fail "refuse-$name: --out was modified"
  no_temp_dirs "refuse-$name"
}
refuse bad-format "--format: bogus not in {state-dict,torchscript,onnx}" -- --format bogus
refuse opset "--opset applies to --format onnx only" -- --format torchscript --opset 13
mkdir -p fakepy/onnx
echo 'raise ImportError("no onnx in this test")' >fakepy/onnx/__init__.py
refuse no-onnx "python3-onnx" "PYTHONPATH=$WORK/fakepy" -- --format onnx
expect_log refuse-no-onnx "exited with 4"
cp -r "$TESSERA_SOURCE_DIR/tools/reference" badtools
sed -i 's/return torch.sigmoid(raw)$/return torch.sigmoid(raw * 1.01)/' badtools/models.py
grep -q 'raw \* 1.01' badtools/models.py || fail "could not sabotage badtools/models.py"
refuse parity "parity failure" "TESSERA_TOOLS_DIR=$WORK/badtools" -- --format torchscript
expect_log refuse-parity "exited with 3"
# The article autoencoder's graph with the twin's former "same" padding (-(-size // stride), which
# the ONNX exporter turns into a truncating Div): the numerics check refuses it.
cp -r "$TESSERA_SOURCE_DIR/tools/reference" padtools
sed -i 's|out = (size + stride - 1) // stride$|out = -(-size // stride)|' padtools/models.py
grep -q 'out = -(-size // stride)$' padtools/models.py || fail "could not sabotage padtools/models.py"
CFG=$TESSERA_SOURCE_DIR/configs/monet_style.yaml
refuse onnx-numerics "the ONNX graph" "TESSERA_TOOLS_DIR=$WORK/padtools" -- --format onnx \
  --checkpoint init
expect_log refuse-onnx-numerics "exited with 3"
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
refuse no-tools "export_model.py not found" "TESSERA_TOOLS_DIR=$WORK/nowhere" -- --format onnx
refuse timeout-state-dict "--timeout applies to --format torchscript and onnx" -- \
  --format state-dict --timeout 5
# A hung exporter is killed at --timeout: a clean error well inside the test's bound (not a hang),
# --out untouched, no temporary directory left.
mkdir -p hungtools
printf 'import time\ntime.sleep(3600)\n' >hungtools/export_model.py
t_hung=$(date +%s)
refuse hung "ran past 3 s (--timeout) and was killed" "TESSERA_TOOLS_DIR=$WORK/hungtools" -- \
  --format torchscript --timeout 3
took=$(( $(date +%s) - t_hung ))
[ "$took" -lt 60 ] || fail "the hung exporter was killed after $took s, not ~3 s"
# A temporary directory left by an export killed outright (its pid gone) is removed by the next
# export to the same --out; one whose process still runs (this shell's) is left alone (control).
bash -c 'exit 0' & dead=$!
wait "$dead"
kill -0 "$dead" 2>/dev/null && fail "pid $dead still runs"
mkdir -p ".kept.pt.export-$dead-AbCdEf" ".kept.pt.export-$$-GhIjKl"
touch ".kept.pt.export-$dead-AbCdEf/model.pt"
expect_ok stale run stale 300 "$TESSERA_BIN" export "$CFG" "${common[@]}" --out kept.pt \
  --format torchscript --checkpoint init
expect_log stale "left by export process $dead that no longer runs"
[ ! -e ".kept.pt.export-$dead-AbCdEf" ] || fail "the stale temporary directory of pid $dead stayed"
[ -d ".kept.pt.export-$$-GhIjKl" ] || fail "the temporary directory of a live process was removed"
rmdir ".kept.pt.export-$$-GhIjKl"
no_temp_dirs stale
echo "hung exporter killed after $took s (--timeout 3); stale temporary directory of dead pid $dead removed, a live one kept"
echo "PASS: export --format torchscript|onnx: C++ and Python loads match tessera, init control" \
  "differs, onnx graphs run and match, refusals leave --out untouched"
