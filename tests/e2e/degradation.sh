#!/usr/bin/env bash
# The super-resolution degradation through the CLI (datasets/degradation.h):
#  1. `tessera synth --task superres` records manifest key `degradation` (default bicubic_aa,
#     --degradation opencv_cubic), and `tessera pack --task super_resolution` likewise (default,
#     --degradation area); `tessera inspect` prints it;
#  2. `tessera train` refuses a run whose val or test dataset was made with another degradation
#     than its train dataset: exit 1 (an error, not a timeout), the message naming both datasets
#     and the key. A manifest without the key (older datasets) counts as opencv_cubic.
#  Control: matching datasets train (2 steps); an old manifest and an opencv_cubic train agree.
source "$(dirname "$0")/lib.sh"
synth superres aa
synth superres cv --degradation opencv_cubic
"$PY" - <<'PYEOF' || fail "writing the pack images failed"
import os
import numpy as np
from PIL import Image
os.makedirs("photos", exist_ok=True)
rng = np.random.default_rng(5)
for i in range(6):
    Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(f"photos/p{i}.png")
PYEOF
expect_ok pack run pack 120 "$TESSERA_BIN" pack --task super_resolution --inputs photos --out packed \
  --size 32 --scale 2 --val-fraction 0.2 --test-fraction 0.2
expect_ok pack-area run pack-area 120 "$TESSERA_BIN" pack --task super_resolution --inputs photos \
  --out packed_area --size 32 --scale 2 --degradation area --val-fraction 0.2 --test-fraction 0.2
"$PY" - <<'PYEOF' >"$LOGS/manifests.log" 2>&1 || fail "manifests: $(cat "$LOGS/manifests.log")"
import json
want = {"aa": "bicubic_aa", "cv": "opencv_cubic", "packed": "bicubic_aa", "packed_area": "area"}
for root, value in want.items():
    for split in ("train", "val", "test"):
        m = json.load(open(f"{root}/{split}/manifest.json"))
        assert m.get("degradation") == value, (root, split, m.get("degradation"))
# An old dataset: the same opencv_cubic data, its manifest written before the key existed.
import shutil
shutil.copytree("cv/test", "old_test")
m = json.load(open("old_test/manifest.json"))
del m["degradation"]
json.dump(m, open("old_test/manifest.json", "w"), indent=2)
print("manifests ok")
PYEOF
expect_ok inspect run inspect 60 "$TESSERA_BIN" inspect old_test
expect_log inspect "degradation: opencv_cubic (not recorded: made before the key existed)"

CFG=$TESSERA_SOURCE_DIR/configs/ci/superres.yaml
common=(--set experiment.output_dir=out --set train.max_steps=2 --set train.eval_every=0
        --set train.checkpoint_every=0)
# Control: one degradation throughout trains.
expect_ok same mpi same 1 200 train "$CFG" "${common[@]}" --set experiment.name=same \
  --set data.train=aa/train --set data.val=aa/val --set data.test=aa/test
# Control: an old manifest (no key) agrees with opencv_cubic data.
expect_ok old mpi old 1 200 train "$CFG" "${common[@]}" --set experiment.name=old \
  --set data.train=cv/train --set data.val=cv/val --set data.test=old_test
refused() {  # NAME VAL TEST OTHER_NAME OTHER_VALUE
  local name=$1 start rc took
  start=$(date +%s)
  mpi "$name" 1 200 train "$CFG" "${common[@]}" --set experiment.name="$name" \
    --set data.train=aa/train --set data.val="$2" --set data.test="$3"
  rc=$? took=$(($(date +%s) - start))
  [ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "$name: train hung (killed after $took s)"
  [ $rc -eq 1 ] || fail "$name: train exited $rc, expected 1 (log $LOGS/$name.log)"
  expect_log "$name" "manifest key 'degradation'"
  expect_log "$name" "data.train (aa/train) has bicubic_aa"
  expect_log "$name" "$4 has $5"
  echo "$name: refused with exit 1 after $took s"
}
refused val-mismatch cv/val aa/test "data.val (cv/val)" opencv_cubic
refused test-mismatch aa/val old_test "data.test (old_test)" "opencv_cubic (no 'degradation' key"
echo "PASS: degradation recorded by synth and pack, mismatched datasets refused by train"
