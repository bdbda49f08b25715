#!/usr/bin/env bash
# Segmentation masks as datasets ship them, through `tessera pack`, `train`, `eval`, `inspect`:
#  1. VOC-style palette PNGs (8-bit, void = index 255) with --ignore-value 255, and 4-bit palette
#     PNGs: the stored labels are the palette indices, exactly (h5py reads the shards back);
#  2. RGB colour masks with a class table (--palette, CamVid-style CSV with a class column and an
#     `ignore` row): exact labels, class names in the manifest and in `inspect`;
#  3. refusals, each a clean error (exit 1, not a timeout) naming the file and pixel: an unknown
#     colour, a palette index beyond --classes; nothing is written;
#  4. `tessera train` on the ignore-value dataset refuses a config without loss.ignore_index 255
#     (naming the key), and trains with it;
#  4b. the manifest's statistics (per-channel mean/std/min/max, class pixel counts) equal numpy's
#     over the source files, and loss.class_weighting median_frequency logs median(n)/n_c;
#  5. ignored pixels are left out of the metrics: with three copies of the test set in which the
#     void band is labelled 0, 1 and 2 instead (no ignore), each band pixel is counted correct in
#     exactly one copy, so sum_k pixel_acc(B_k) * N = 3 C + N_band, where C is the correct count
#     outside the band; `eval` on the ignored set must give C / (N - N_band). Control: the value
#     that counts the band as wrong, C / N, differs from it.
source "$(dirname "$0")/lib.sh"

"$PY" - <<'PYEOF' || fail "writing the test masks failed"
import csv, os
import numpy as np
from PIL import Image

rng = np.random.default_rng(7)
voc = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (3 * 252) + [224, 224, 192]
colours = {0: (20, 20, 20), 1: (200, 40, 40), 2: (40, 200, 40), 255: (255, 255, 255)}
for d in ["img/train", "img/test", "voc/train", "voc/test", "bad/colour", "bad/index", "p4", "rgb", "img4"] + \
         [f"band{k}" for k in range(3)]:
    os.makedirs(d, exist_ok=True)
expected = {}
for split, n in (("train", 12), ("test", 6)):
    for i in range(n):
        stem = f"{split}_{i:02d}"
        lab = np.zeros((32, 32), np.uint8)
        lab[8 + i % 5:20 + i % 5, 4:16] = 1
        lab[18:28, 14 + i % 7:30] = 2
        band = np.zeros((32, 32), bool)
        band[:, 30:] = True          # a void band (VOC's object borders are index 255)
        band[0:2, :] = True
        lab[band] = 255
        img = np.zeros((32, 32, 3), np.uint8)
        for k, c in colours.items():
            img[lab == k] = c
        img = np.clip(img.astype(int) + rng.integers(-30, 30, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(f"img/{split}/{stem}.png")
        p = Image.fromarray(lab, "P")
        p.putpalette(voc)
        p.save(f"voc/{split}/{stem}.png")
        np.save(f"voc/{split}/{stem}.npy", lab)
        if split == "test":
            for k in range(3):  # the band labelled k, no ignore
                q = lab.copy()
                q[band] = k
                Image.fromarray(q).save(f"band{k}/{stem}.png")
        if split == "train" and i < 4:
            Image.fromarray(img).save(f"img4/{stem}.png")
            q = lab.copy()
            q[band] = 0
            p4 = Image.fromarray(q, "P")
            p4.putpalette(voc[:9] + [0] * 39)
            p4.save(f"p4/{stem}.png", bits=4)
            rgbm = np.zeros((32, 32, 3), np.uint8)
            table = {0: (0, 0, 0), 1: (128, 64, 128), 2: (64, 0, 128), 255: (0, 0, 192)}
            for k, c in table.items():
                rgbm[lab == k] = c
            rgbm[lab == 2] = (64, 0, 128) if i % 2 else (60, 40, 128)  # two colours for class 2
            Image.fromarray(rgbm).save(f"rgb/{stem}.png")
            np.save(f"rgb/{stem}.npy", lab)
with open("classes.csv", "w") as f:
    f.write("name,r,g,b,class\nsky,0,0,0,0\nroad,128,64,128,1\ncar,64,0,128,2\n"
            "van,60,40,128,2\nvoid,0,0,192,ignore\n")
# A bad colour mask (one unknown colour pixel) and a palette mask with index 3.
bad = np.array(Image.open("rgb/train_00.png"))
bad[5, 7] = (1, 2, 3)
Image.fromarray(bad).save("bad/colour/train_00.png")
q = np.array(Image.open("voc/train/train_00.png"))
q[9, 4] = 3
p = Image.fromarray(q, "P"); p.putpalette(voc); p.save("bad/index/voc3.png")
with open("p4/train_00.png", "rb") as f:
    head = f.read(32)
assert head[24] == 4, f"PIL wrote bit depth {head[24]}, not 4"
PYEOF

pack() { run "$1" 120 "$TESSERA_BIN" pack --task segmentation --size 32 --classes 3 --shards 1 "${@:2}"; }

# 1. Palette PNGs, void as ignore.
for s in train test; do
  expect_ok pack-voc-$s pack pack-voc-$s --inputs img/$s --targets voc/$s --ignore-value 255 \
    --split $s --out data/voc
done
pack pack-p4 --inputs img4 --targets p4 --out data/p4 --split train ||
  fail "pack of 4-bit palette PNGs failed"
"$PY" - <<'PYEOF' || fail "stored labels differ from the palette indices"
import glob, json
import h5py, numpy as np
def targets(d):
    with h5py.File(glob.glob(d + "/shard-*.h5")[0], "r") as f:
        return f["targets"][()], dict(f.attrs)
for split in ("train", "test"):
    t, attrs = targets(f"data/voc/{split}")
    want = np.stack([np.load(p) for p in sorted(glob.glob(f"voc/{split}/*.npy"))])
    assert t.shape == want.shape and (t == want).all(), f"{split}: labels differ"
    assert attrs["ignore_index"] == 255, attrs
    m = json.load(open(f"data/voc/{split}/manifest.json"))
    assert m["targets"]["ignore_index"] == 255 and m["shards"][0]["target_max"] == 2, m
t, _ = targets("data/p4/train")
w = np.stack([np.load(p) for p in sorted(glob.glob("voc/train/*.npy"))[:4]])
w[w == 255] = 0
assert (t == w).all(), "4-bit palette labels differ"
print("palette labels exact")
PYEOF

# 2. RGB colour masks through a class table.
expect_ok pack-rgb pack pack-rgb --inputs img4 --targets rgb --palette classes.csv --split train --out data/rgb
"$PY" - <<'PYEOF' || fail "colour-mask labels or names wrong"
import glob, json
import h5py, numpy as np
with h5py.File(glob.glob("data/rgb/train/shard-*.h5")[0], "r") as f:
    t = f["targets"][()]
want = np.stack([np.load(p) for p in sorted(glob.glob("rgb/*.npy"))])
assert (t == want).all(), "labels differ"
m = json.load(open("data/rgb/train/manifest.json"))["targets"]
assert m["class_names"] == ["sky", "road", "car"] and m["ignore_index"] == 255, m
PYEOF
expect_ok inspect run inspect 60 "$TESSERA_BIN" inspect data/rgb/train
expect_log inspect "0 sky:"
expect_log inspect "ignored (255):"

# 3. Refusals: a clean exit 1 naming the file and pixel, nothing written.
refused() {  # NAME TEXT
  local rc=0; pack "$1" "${@:3}" || rc=$?
  [ "$rc" = 1 ] || fail "$1: exit $rc, expected a clean error (1; 124 = hang)"
  expect_log "$1" "$2"
}
mkdir -p one/img && cp img/train/train_00.png one/img/
refused bad-colour "bad/colour/train_00.png has colour (1, 2, 3) at (x=7, y=5), which is not in the class table" \
  --inputs one/img --targets bad/colour --palette classes.csv --split train --out data/bad1
mkdir -p two/img && cp img/train/train_00.png two/img/voc3.png
refused bad-index "voc3.png (palette indices) has value 3 at (x=4, y=9)" \
  --inputs two/img --targets bad/index --ignore-value 255 --split train --out data/bad2
[ ! -e data/bad1 ] && [ ! -e data/bad2 ] || fail "a refused pack wrote output"

# 4. Training needs loss.ignore_index to match the dataset's.
CFG=$TESSERA_SOURCE_DIR/configs/ci/multiclass.yaml
common=(--set data.train=data/voc/train --set data.val=data/voc/test --set data.test=data/voc/test
        --set task.classes=3 --set task.out_channels=3 --set experiment.output_dir=out
        --set experiment.name=voc --set train.max_steps=12 --set train.eval_every=6
        --set train.checkpoint_every=6 --set "eval.metrics=[miou,accuracy]" --set optim.lr=3e-3)
rc=0; mpi train-noignore 2 120 train "$CFG" "${common[@]}" || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$rc" != 137 ] || fail "train without loss.ignore_index: exit $rc"
expect_log train-noignore "set loss.ignore_index: 255"
common+=(--set loss.ignore_index=255)
expect_ok train mpi train 2 300 train "$CFG" "${common[@]}"

# 4b. The manifest's statistics (pack time) and loss.class_weighting from them.
expect_ok train-weighted mpi train-weighted 2 120 train "$CFG" "${common[@]}" \
  --set experiment.name=voc-weighted --set train.max_steps=2 --set loss.class_weighting=median_frequency
"$PY" - "$LOGS/train-weighted.log" <<'PYEOF' || fail "manifest stats or class weights wrong"
import glob, json, re, sys
import numpy as np
from PIL import Image
m = json.load(open("data/voc/train/manifest.json"))["stats"]
labels = np.stack([np.load(p) for p in sorted(glob.glob("voc/train/*.npy"))])
counts = [int((labels == c).sum()) for c in range(3)]
assert m["class_pixels"] == counts and m["ignored_pixels"] == int((labels == 255).sum()), m
imgs = np.stack([np.array(Image.open(p)) for p in sorted(glob.glob("img/train/*.png"))]) / 255.0
for k in range(3):
    ch = imgs[..., k]
    assert abs(m["inputs"]["mean"][k] - ch.mean()) < 1e-9 and abs(m["inputs"]["std"][k] - ch.std()) < 1e-9, k
    assert m["inputs"]["min"][k] == ch.min() and m["inputs"]["max"][k] == ch.max(), k
med = float(np.median(counts))
want = [med / n for n in counts]
line = next(l for l in open(sys.argv[1]) if "loss.class_weighting median_frequency" in l)
got = [float(x) for x in re.findall(r"px -> ([0-9.e+-]+)", line)]
print("class weights", got, "expected", want)
assert len(got) == 3 and all(abs(g - w) < 1e-3 * w for g, w in zip(got, want)), line
assert max(abs(w - 1) for w in want) > 0.1, "control: weights of 1 would not show the counts"
PYEOF

# 5. Ignored pixels are not counted by the metrics.
for k in 0 1 2; do
  expect_ok pack-band$k pack pack-band$k --inputs img/test --targets band$k --split test --out data/band$k
  expect_ok eval-band$k mpi eval-band$k 2 120 eval "$CFG" "${common[@]}" --checkpoint latest \
    --split test --set data.test=data/band$k/test --set experiment.name=voc
  cp out/voc/eval/summary.json band$k.json
done
expect_ok eval mpi eval 2 120 eval "$CFG" "${common[@]}" --checkpoint latest --split test
"$PY" - <<'PYEOF' || fail "eval counted ignored pixels"
import glob, json
import numpy as np
def pixel_acc(path):
    m = json.load(open(path))["metrics"]
    return m["pixel_acc"] if "pixel_acc" in m else m["accuracy"]
acc = [pixel_acc(f"band{k}.json") for k in range(3)]
got = pixel_acc("out/voc/eval/summary.json")
labels = np.stack([np.load(p) for p in sorted(glob.glob("voc/test/*.npy"))])
n, n_band = labels.size, int((labels == 255).sum())
correct = (n * sum(acc) - n_band) / 3
want, wrong = correct / (n - n_band), correct / n
print(f"pixel_acc with ignore {got:.9f}; from the band copies {want:.9f}; counting the band as wrong {wrong:.9f}")
assert abs(got - want) < 1e-6, "ignored pixels were counted"
assert abs(got - wrong) > 1e-3, "control: the test cannot tell the two apart"
PYEOF
echo "PASS: masks: palette PNGs, colour masks with a class table, ignore value through pack, train, eval"
