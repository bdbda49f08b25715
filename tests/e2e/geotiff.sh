#!/usr/bin/env bash
# Multi-band 16-bit GeoTIFF tiles through `tessera pack`, `train`, `eval` and `predict`:
#  1. Python GDAL (python3-gdal) writes 4-band (B, G, R, NIR order irrelevant: bands 1..4) UInt16
#     GeoTIFFs with a UTM geotransform and EPSG:32633, and 1-band Byte GeoTIFF masks, in the
#     user's own train/ test/ folders;
#  2. `tessera pack --fit tile` stores them as uint16 (N,32,32,4) shards: h5py reads back every
#     sample equal to the source tile exactly, and the manifest's `sources` carries each file's
#     geotransform, EPSG code and the geotransform of every tile. Control: the values exceed 255
#     and v/257 differs from v, so an 8-bit truncation would fail the comparison;
#     `tessera inspect` shows the uint16 inputs and a statistic per band;
#  3. `tessera train` on 2 ranks with task.in_channels 4 (colour jitter off; with it on, the
#     config is refused naming the key: exit 1; task.in_channels 3 on this data is refused
#     naming both counts: exit 1), `tessera eval` on 2 ranks;
#  4. `tessera predict --rgb-bands 4,3,2` on the GeoTIFF files: the input panel of the grid is
#     bands 4, 3, 2 as R, G, B, each value round(v / 65535 * 255). Control: the default view
#     (bands 1, 2, 3) differs from it. The same on a packed split as input;
#  5. refusals, each exit 1 with a message naming the file and what was expected: a 3-band tile
#     among 4-band ones, a mask of another size, Float32 samples, a PNG named .tif, a band beyond
#     the model's inputs in --rgb-bands; nothing is written by a refused pack;
#  6. a 5-page 8-bit stack with a 5-page mask stack (ISBI 2012 EM style, written by PIL): every
#     page tiled and stored exactly, paired page by page, `sources` naming each page.
source "$(dirname "$0")/lib.sh"

"$PY" -c "from osgeo import gdal" >"$LOGS/gdal-import.log" 2>&1 ||
  fail "Python GDAL is missing (apt-get install python3-gdal)"

"$PY" - <<'PYEOF' || fail "writing the test GeoTIFFs failed"
import os
import numpy as np
from osgeo import gdal, osr
gdal.UseExceptions()
rng = np.random.default_rng(5)
srs = osr.SpatialReference(); srs.ImportFromEPSG(32633)
def write(path, arr, dtype, gt=(500000.0, 10.0, 0.0, 4100000.0, 0.0, -10.0)):
    bands = 1 if arr.ndim == 2 else arr.shape[2]
    ds = gdal.GetDriverByName("GTiff").Create(path, arr.shape[1], arr.shape[0], bands, dtype)
    ds.SetGeoTransform(gt); ds.SetProjection(srs.ExportToWkt())
    for b in range(bands):
        ds.GetRasterBand(b + 1).WriteArray(arr if arr.ndim == 2 else arr[:, :, b])
    ds = None
for d in ["tiles/train", "tiles/test", "masks/train", "masks/test", "bad"]:
    os.makedirs(d, exist_ok=True)
for split, n in (("train", 8), ("test", 2)):
    for i in range(n):
        img = rng.integers(0, 65536, (64, 64, 4), dtype=np.uint16)
        mask = np.zeros((64, 64), np.uint8)
        mask[10 + i:30 + i, 5:50] = 255
        img[..., 3][mask > 0] = np.maximum(img[..., 3][mask > 0], 50000)  # NIR bright on the mask
        gt = (500000.0 + 640.0 * i, 10.0, 0.0, 4100000.0, 0.0, -10.0)
        write(f"tiles/{split}/t{i}.tif", img, gdal.GDT_UInt16, gt)
        write(f"masks/{split}/t{i}.tif", mask, gdal.GDT_Byte, gt)
        np.save(f"tiles/{split}/t{i}.npy", img)
# Bad inputs: a 3-band tile, a mask of another size, Float32 samples, a PNG named .tif.
for name in ("bands", "size", "float", "png"):
    os.makedirs(f"bad/{name}/img", exist_ok=True); os.makedirs(f"bad/{name}/mask", exist_ok=True)
    for i in range(2):
        write(f"bad/{name}/img/t{i}.tif", rng.integers(0, 65536, (64, 64, 4), dtype=np.uint16), gdal.GDT_UInt16)
        write(f"bad/{name}/mask/t{i}.tif", np.zeros((64, 64), np.uint8), gdal.GDT_Byte)
write("bad/bands/img/t1.tif", rng.integers(0, 65536, (64, 64, 3), dtype=np.uint16), gdal.GDT_UInt16)
write("bad/size/mask/t1.tif", np.zeros((60, 64), np.uint8), gdal.GDT_Byte)
write("bad/float/img/t1.tif", rng.random((64, 64, 4)).astype(np.float32), gdal.GDT_Float32)
gdal.GetDriverByName("PNG").CreateCopy("bad/png/img/t1.tif", gdal.GetDriverByName("MEM").Create("", 64, 64, 3, gdal.GDT_Byte))
PYEOF

pack() { run "$1" 120 "$TESSERA_BIN" pack --task segmentation --size 32 --fit tile --shards 2 "${@:2}"; }

# 2. Pack, read back exactly, georeferencing in the manifest.
expect_ok pack pack pack --inputs tiles --targets masks --out data
expect_log pack "segmentation 32x32x4 uint16"
"$PY" - <<'PYEOF' || fail "packed GeoTIFF values or georeferencing differ"
import glob, json
import h5py, numpy as np
for split, n in (("train", 8), ("test", 2)):
    ins, tgs = [], []
    for f in sorted(glob.glob(f"data/{split}/shard-*.h5")):
        with h5py.File(f, "r") as h:
            assert h["inputs"].dtype == np.uint16, h["inputs"].dtype
            ins.append(h["inputs"][()]); tgs.append(h["targets"][()])
    got, tg = np.concatenate(ins), np.concatenate(tgs)
    want, wmask = [], []
    for i in range(n):
        img = np.load(f"tiles/{split}/t{i}.npy")
        for y in (0, 32):
            for x in (0, 32):
                want.append(img[y:y + 32, x:x + 32])
    want = np.stack(want)
    assert got.shape == want.shape == (4 * n, 32, 32, 4), (got.shape, want.shape)
    assert (got == want).all(), f"{split}: {(got != want).sum()} values differ"
    # Control: the data use the 16-bit range, so an 8-bit truncation could not pass.
    assert want.max() > 255 and ((want // 257).astype(np.uint16) != want).any()
    m = json.load(open(f"data/{split}/manifest.json"))
    assert m["inputs"]["dtype"] == "uint16" and m["inputs"]["shape"] == [32, 32, 4], m["inputs"]
    assert len(m["stats"]["inputs"]["mean"]) == 4, m["stats"]
    src = m["sources"]
    assert [s["file"].split("/")[-1] for s in src] == [f"t{i}.tif" for i in range(n)], src
    for i, s in enumerate(src):
        g = s["georeference"]
        assert s["first_sample"] == 4 * i and s["samples"] == 4 and s["sample_type"] == "UInt16"
        assert g["epsg"] == 32633 and "UTM zone 33N" in g["crs_wkt"], g.get("epsg")
        assert g["geotransform"] == [500000.0 + 640.0 * i, 10.0, 0.0, 4100000.0, 0.0, -10.0], g
        # Tile 3 (row 1, column 1) starts 32 pixels = 320 m east and south of the file's origin.
        assert g["sample_geotransforms"][3] == [500320.0 + 640.0 * i, 10.0, 0.0, 4099680.0, 0.0, -10.0], g
print("uint16 tiles exact; georeferencing per file and per tile in the manifest")
PYEOF

expect_ok inspect run inspect 60 "$TESSERA_BIN" inspect data/train
expect_log inspect "inputs: (N,32,32,4) uint16"
expect_log inspect "c3: "

# 3. Train (4 input channels) on 2 ranks, eval on 2 ranks.
CFG=$TESSERA_SOURCE_DIR/configs/ci/roads.yaml
common=(--set data.train=data/train --set data.val=data/test --set data.test=data/test
        --set task.in_channels=4 --set experiment.output_dir=out --set experiment.name=geo
        --set train.max_steps=6 --set train.eval_every=3 --set train.checkpoint_every=3)
rc=0; mpi train-jitter 2 120 train "$CFG" "${common[@]}" --set data.augment.color_jitter=0.1 || rc=$?
[ "$rc" = 1 ] || fail "train with colour jitter on 4 channels: exit $rc, expected 1"
expect_log train-jitter "data.augment.color_jitter"
common+=(--set data.augment.color_jitter=0)
# The model must take the dataset's channel count: task.in_channels 3 is refused before training.
rc=0; mpi train-3ch 2 120 train "$CFG" "${common[@]}" --set task.in_channels=3 || rc=$?
[ "$rc" = 1 ] || fail "train with task.in_channels 3 on 4-band data: exit $rc, expected 1"
expect_log train-3ch "data.train data/train has 4 input channels but task.in_channels is 3"
expect_ok train mpi train 2 300 train "$CFG" "${common[@]}"
expect_ok eval mpi eval 2 120 eval "$CFG" "${common[@]}" --checkpoint latest --split test
[ -s out/geo/eval/summary.json ] || fail "eval wrote no summary"

# 4. Predict on the GeoTIFF files, false colour from bands 4, 3, 2; control: default bands.
expect_ok predict run predict 120 "$TESSERA_BIN" predict "$CFG" "${common[@]}" --checkpoint latest \
  --input tiles/test --targets masks/test --out pred432 --rgb-bands 4,3,2
expect_ok predict-default run predict-default 120 "$TESSERA_BIN" predict "$CFG" "${common[@]}" \
  --checkpoint latest --input tiles/test --out pred123
"$PY" - <<'PYEOF' || fail "predict overlays do not show the chosen bands"
import numpy as np
from PIL import Image
img = np.load("tiles/test/t0.npy").astype(np.float64)
want = np.rint(img[..., [3, 2, 1]] / 65535 * 255)
for name in ("t0_grid.png", "t0_overlay.png", "t0_mask.png"):
    Image.open(f"pred432/{name}")
panel = np.array(Image.open("pred432/t0_grid.png").convert("RGB"))[:64, :64].astype(np.float64)
assert np.abs(panel - want).max() <= 1, np.abs(panel - want).max()
default = np.array(Image.open("pred123/t0_grid.png").convert("RGB"))[:64, :64].astype(np.float64)
assert np.abs(default - np.rint(img[..., :3] / 65535 * 255)).max() <= 1, "default view is not bands 1-3"
assert np.abs(default - want).max() > 50, "control: the default view equals the 4,3,2 view"
print("grid input panel = bands 4,3,2 scaled by 255/65535")
PYEOF
# A dataset split as input: the loader's 4-channel samples, drawn through the same bands.
expect_ok predict-data run predict-data 120 "$TESSERA_BIN" predict "$CFG" "${common[@]}" \
  --checkpoint latest --input data/test --out pred-data --rgb-bands 4,3,2 --limit 2
[ -s pred-data/sample-000001_overlay.png ] || fail "predict on the dataset wrote no overlay"
rc=0; run predict-band5 60 "$TESSERA_BIN" predict "$CFG" "${common[@]}" --checkpoint latest \
  --input tiles/test --out pred5 --rgb-bands 5,3,2 || rc=$?
[ "$rc" = 1 ] || fail "predict --rgb-bands 5,3,2: exit $rc, expected 1"
expect_log predict-band5 "band 5 does not exist; the model's inputs have task.in_channels 4 bands"

# 5. Refusals: exit 1, the file and what was expected named, nothing written.
refused() {  # NAME TEXT
  local rc=0; pack "$1" --inputs bad/$1/img --targets bad/$1/mask --out data-$1 --split train || rc=$?
  [ "$rc" = 1 ] || fail "$1: exit $rc, expected a clean error (1; 124 = hang)"
  expect_log "$1" "$2"
  [ ! -e data-$1 ] || fail "$1: a refused pack wrote output"
}
refused bands "bad/bands/img/t1.tif has 3 band(s), expected 4 (the band count of the first input"
refused size "bad/size/img/t1.tif is 64x64 but its target bad/size/mask/t1.tif is 64x60"
refused float "bad/float/img/t1.tif: samples are Float32; supported: Byte (8-bit) and UInt16"
refused png "bad/png/img/t1.tif: not a TIFF GDAL's GTiff driver can open"
# Control: the same folders with the bad file removed pack.
rm bad/bands/img/t1.tif bad/bands/mask/t1.tif
expect_ok pack-control pack pack-control --inputs bad/bands/img --targets bad/bands/mask --out data-ok --split train

# 6. A multi-page stack (ISBI 2012 EM style: one file of sections, one file of their masks),
#    written by PIL: every page an image of its own, paired page by page, exact.
"$PY" - <<'PYEOF' || fail "writing the TIFF stacks failed"
import os
import numpy as np
from PIL import Image
rng = np.random.default_rng(11)
os.makedirs("em/img", exist_ok=True); os.makedirs("em/lab", exist_ok=True)
secs = rng.integers(0, 256, (5, 64, 64), dtype=np.uint8)
labs = np.where(rng.random((5, 64, 64)) < 0.3, 255, 0).astype(np.uint8)
np.save("em/secs.npy", secs); np.save("em/labs.npy", labs)
def stack(path, arr):
    pages = [Image.fromarray(a) for a in arr]
    pages[0].save(path, save_all=True, append_images=pages[1:])
stack("em/img/train-volume.tif", secs); stack("em/lab/train-volume.tif", labs)
PYEOF
expect_ok pack-em pack pack-em --inputs em/img --targets em/lab --out em-data --split train
"$PY" - <<'PYEOF' || fail "packed stack pages differ"
import glob, json
import h5py, numpy as np
secs, labs = np.load("em/secs.npy"), np.load("em/labs.npy")
shards = [h5py.File(f, "r") for f in sorted(glob.glob("em-data/train/shard-*.h5"))]
got = np.concatenate([h["inputs"][()] for h in shards])
tg = np.concatenate([h["targets"][()] for h in shards])
m = json.load(open("em-data/train/manifest.json"))
assert [s["page"] for s in m["sources"]] == [1, 2, 3, 4, 5], m["sources"]
assert got.shape == (20, 32, 32, 1), got.shape
for p in range(5):
    for t, (y, x) in enumerate([(0, 0), (0, 32), (32, 0), (32, 32)]):
        n = m["sources"][p]["first_sample"] + t
        assert (got[n, :, :, 0] == secs[p, y:y + 32, x:x + 32]).all(), f"page {p + 1} tile {t}"
        assert (tg[n] == labs[p, y:y + 32, x:x + 32] // 255).all(), f"page {p + 1} tile {t} mask"
print("5 pages x 4 tiles exact, paired page by page")
PYEOF
echo "PASS: geotiff: 4-band uint16 GeoTIFFs exact through pack, georeferencing kept, train/eval/predict on 4 channels, refusals; a multi-page stack packed page by page"
