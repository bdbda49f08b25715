#!/usr/bin/env bash
# NIfTI volumes, kept as nnU-Net keeps them, through `tessera pack`, `inspect`, `train` and `eval`:
#  1. nibabel (python3-nibabel) writes 5 CT-like volumes (int16 with scl_inter -1024, so the
#     stored values are HU + 1024; sform with 0.7 x 0.7 x 3 mm voxels) as
#     imagesTr/case_NNN_0000.nii.gz and 3-class label volumes labelsTr/case_NNN.nii.gz, and 3
#     MR-like float32 volumes with their labels;
#  2. `tessera pack --intensity window:-160,240`: h5py reads back every sample equal to
#     round((clip(HU, -160, 240) + 160) / 400 * 65535) (half up) of its slice k (rows j, columns i) and the
#     labels of the same slice; each volume's slices lie in one split only (split by volume);
#     the manifest's `sources` carries each volume's affine (nibabel's), spacing, window and
#     sample range. Control: the same check on the raw stored values (scl_inter ignored) fails;
#  3. MR volumes with `--intensity percentile:0.5,99.5 --slice-axis j`: each volume's window is
#     numpy.percentile's, and the samples are its slices along j;
#  4. `tessera train` on 2 ranks (task.classes 3, task.in_channels 1) and `tessera eval`;
#  5. refusals, each exit 1 naming the file and what was expected, nothing written: a label
#     value beyond --classes (the voxel named), a label volume of another shape, a 4-D volume,
#     no --intensity, a second nnU-Net channel (case_000_0001), a truncated .nii.gz, the
#     NIfTI-2 header fuzz_nifti found (nifticlib alone crashes on it).
source "$(dirname "$0")/lib.sh"

"$PY" -c "import nibabel" >"$LOGS/nibabel-import.log" 2>&1 ||
  fail "nibabel is missing (apt-get install python3-nibabel)"

"$PY" - <<'PYEOF' || fail "writing the test volumes failed"
import os
import nibabel as nib, numpy as np
rng = np.random.default_rng(7)
aff = np.array([[-0.7, 0, 0, 100.0], [0, 0.7, 0, -80.0], [0, 0, 3.0, 20.0], [0, 0, 0, 1]])
def save(path, arr, dtype, inter=None, affine=aff):
    img = nib.Nifti1Image(arr.astype(dtype), affine)
    img.header.set_sform(affine, code=1)
    if inter is not None:
        img.header.set_slope_inter(1.0, inter)
    nib.save(img, path)
for d in ["ct/imagesTr", "ct/labelsTr", "mr/img", "mr/lab"]:
    os.makedirs(d, exist_ok=True)
yy, xx = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
for c in range(5):
    hu = rng.normal(40, 30, (32, 32, 6))           # soft tissue
    hu[:4] = -1000                                  # air at low i
    lab = np.zeros((32, 32, 6), np.uint8)
    for k in range(6):
        disc = ((xx - 16) ** 2 + (yy - 14 - c) ** 2 < (6 + k) ** 2).T  # indexed [i, j]
        lab[:, :, k][disc] = 1
        hu[:, :, k][disc] += 120
        lab[10:13, 10:13, k] = 2
        hu[10:13, 10:13, k] = 400                   # bright "lesion", clipped by the window
    raw = np.rint(hu).astype(np.int16) + 1024       # stored; scl_inter -1024 gives HU back
    save(f"ct/imagesTr/case_{c:03d}_0000.nii.gz", raw, np.int16, inter=-1024.0)
    save(f"ct/labelsTr/case_{c:03d}.nii.gz", lab, np.uint8)
for c in range(3):
    mr = rng.gamma(2.0, 150.0 * (c + 1), (24, 6, 24)).astype(np.float32)
    save(f"mr/img/m{c}.nii", mr, np.float32)
    save(f"mr/lab/m{c}.nii", (mr > 400).astype(np.uint8), np.uint8)
# Bad inputs, each beside one good case.
def bad(name):
    for d in ("img", "lab"):
        os.makedirs(f"bad/{name}/{d}", exist_ok=True)
    hu = np.zeros((32, 32, 6), np.int16)
    save(f"bad/{name}/img/a_0000.nii.gz", hu, np.int16)
    save(f"bad/{name}/lab/a.nii.gz", np.zeros((32, 32, 6), np.uint8), np.uint8)
    return hu
bad("label"); lab = np.zeros((32, 32, 6), np.uint8); lab[5, 7, 2] = 9
save("bad/label/lab/a.nii.gz", lab, np.uint8)
bad("shape"); save("bad/shape/lab/a.nii.gz", np.zeros((32, 30, 6), np.uint8), np.uint8)
bad("fourd"); save("bad/fourd/img/a_0000.nii.gz", np.zeros((32, 32, 6, 2), np.int16), np.int16)
bad("channel"); save("bad/channel/img/a_0001.nii.gz", np.zeros((32, 32, 6), np.int16), np.int16)
bad("truncated")  # random voxels, so half of the .gz is past the header
save("bad/truncated/img/a_0000.nii.gz", rng.integers(-1000, 1000, (32, 32, 6)), np.int16)
data = open("bad/truncated/img/a_0000.nii.gz", "rb").read()
open("bad/truncated/img/a_0000.nii.gz", "wb").write(data[: len(data) // 2])
# The NIfTI-2 header tests/fuzz/fuzz_nifti found (dim[0] 768, datatype 11024): nifticlib alone
# overflows a stack buffer on it (docs/RELIABILITY.md); tessera must refuse it first.
import gzip, struct
bad("hostile")
hdr = bytearray(546)
struct.pack_into("<i8shhqq", hdr, 0, 540, b"n+2\0\r\n\032\n", 11024, 0, 768, 768)
with gzip.open("bad/hostile/img/a_0000.nii.gz", "wb") as f:
    f.write(bytes(hdr))
PYEOF

pack() { run "$1" 120 "$TESSERA_BIN" pack --task segmentation --size 32 --classes 3 "${@:2}"; }

# 2. CT: pack through a window, read back exactly, split by volume, sources.
expect_ok pack pack pack --inputs ct/imagesTr --targets ct/labelsTr --out ct-data \
  --intensity window:-160,240 --val-fraction 0.2 --test-fraction 0.2 --shards 2
expect_log pack "segmentation 32x32x1 uint16"
check_ct() {  # $1 = 1: the control, which ignores scl_inter and must fail
"$PY" - "$1" <<'PYEOF'
import glob, json, sys
import h5py, nibabel as nib, numpy as np
control = sys.argv[1] == "1"
seen = {}
for split in ("train", "val", "test"):
    ins, tgs = [], []
    for f in sorted(glob.glob(f"ct-data/{split}/shard-*.h5")):
        with h5py.File(f, "r") as h:
            assert h["inputs"].dtype == np.uint16, h["inputs"].dtype
            ins.append(h["inputs"][()]); tgs.append(h["targets"][()])
    got, tg = np.concatenate(ins), np.concatenate(tgs)
    m = json.load(open(f"ct-data/{split}/manifest.json"))
    for s in m["sources"]:
        name = s["file"].split("/")[-1]
        assert name not in seen, f"{name} in {seen[name]} and {split}: split by slice"
        seen[name] = split
        img = nib.load(s["file"])
        hu = img.dataobj.get_unscaled().astype(np.float64) if control else img.get_fdata()
        lab = np.asarray(nib.load(s["target"]).dataobj)
        assert np.allclose(s["affine"], img.affine), (s["affine"], img.affine)
        # NIfTI-1 stores pixdim as float32: 0.7 reads back as 0.699999988.
        assert np.allclose(s["spacing"], [0.7, 0.7, 3.0]) and s["slice_axis"] == "k", s
        assert s["intensity"] == {"mapping": "window:-160,240", "lo": -160.0, "hi": 240.0}, s
        assert s["samples"] == 6 and s["samples_per_slice"] == 1, s
        for k in range(6):
            # tessera rounds half up (lround), numpy's rint half to even: floor(x + 0.5) here.
            want = np.floor((np.clip(hu[:, :, k], -160, 240) + 160) * (65535 / 400) + 0.5).T
            n = s["first_sample"] + k
            assert (got[n, :, :, 0] == want).all(), f"{name} slice {k}: {(got[n, :, :, 0] != want).sum()} values differ"
            assert (tg[n] == lab[:, :, k].T).all(), f"{name} slice {k}: labels differ"
assert sorted(seen) == [f"case_{c:03d}_0000.nii.gz" for c in range(5)], seen
assert sorted(set(seen.values())) == ["test", "train", "val"], seen
print("CT slices exact through the window; each volume in one split:", seen)
PYEOF
}
check_ct 0 >"$LOGS/check-ct.log" 2>&1 || fail "packed CT slices differ (log $LOGS/check-ct.log)"
rc=0; check_ct 1 >"$LOGS/check-ct-control.log" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "control: the check passed on the unscaled stored values"
expect_log check-ct-control "values differ"

expect_ok inspect run inspect 60 "$TESSERA_BIN" inspect ct-data/train
expect_log inspect "inputs: (N,32,32,1) uint16"

# 3. MR: per-volume percentile window, slices along j (rows k, columns i).
expect_ok pack-mr run pack-mr 120 "$TESSERA_BIN" pack --task segmentation --inputs mr/img \
  --targets mr/lab --out mr-data --split train --intensity percentile:0.5,99.5 --slice-axis j \
  --size 24
"$PY" - <<'PYEOF' || fail "MR percentile windows or j slices differ"
import glob, json
import h5py, nibabel as nib, numpy as np
m = json.load(open("mr-data/train/manifest.json"))
shards = [h5py.File(f, "r") for f in sorted(glob.glob("mr-data/train/shard-*.h5"))]
got = np.concatenate([h["inputs"][()] for h in shards])
tg = np.concatenate([h["targets"][()] for h in shards])
assert len(m["sources"]) == 3 and got.shape == (18, 24, 24, 1), (len(m["sources"]), got.shape)
for s in m["sources"]:
    v = nib.load(s["file"]).get_fdata()
    lab = np.asarray(nib.load(s["target"]).dataobj)
    lo, hi = np.percentile(v, 0.5), np.percentile(v, 99.5)
    assert abs(s["intensity"]["lo"] - lo) < 1e-6 * hi and abs(s["intensity"]["hi"] - hi) < 1e-6 * hi, (s["intensity"], lo, hi)
    assert s["samples"] == 6 and s["slices"] == 6 and s["slice_axis"] == "j", s
    for j in range(6):
        want = np.floor((np.clip(v[:, j, :], lo, hi) - lo) * (65535 / (hi - lo)) + 0.5).T
        n = s["first_sample"] + j
        diff = np.abs(got[n, :, :, 0].astype(np.int64) - want)
        assert diff.max() <= 1, f"{s['file']} slice j={j}: off by {diff.max()}"
        assert (tg[n] == lab[:, j, :].T).all(), f"{s['file']} slice j={j}: labels differ"
print("MR windows are each volume's 0.5 and 99.5 percentiles; slices along j exact")
PYEOF

# 4. Train on 2 ranks, eval on 2 ranks.
CFG=$TESSERA_SOURCE_DIR/configs/ci/multiclass.yaml
common=(--set data.train=ct-data/train --set data.val=ct-data/val --set data.test=ct-data/test
        --set task.classes=3 --set task.out_channels=3 --set task.in_channels=1
        --set data.augment.color_jitter=0
        --set experiment.output_dir=out --set experiment.name=ct
        --set train.max_steps=6 --set train.eval_every=3 --set train.checkpoint_every=3)
expect_ok train mpi train 2 300 train "$CFG" "${common[@]}"
expect_ok eval mpi eval 2 120 eval "$CFG" "${common[@]}" --checkpoint latest --split test
[ -s out/ct/eval/summary.json ] || fail "eval wrote no summary"

# 5. Refusals: exit 1, the file and what was expected named, nothing written.
refused() {  # NAME TEXT [extra pack args]
  local name=$1 text=$2 rc=0; shift 2
  pack "bad-$name" --inputs bad/$name/img --targets bad/$name/lab --out out-$name --split train \
    "$@" || rc=$?
  [ "$rc" = 1 ] || fail "$name: exit $rc, expected a clean error (1; 124 = hang)"
  expect_log "bad-$name" "$text"
  [ ! -e out-$name ] || fail "$name: a refused pack wrote output"
}
W=(--intensity window:-160,240)
refused label "bad/label/lab/a.nii.gz: 1 voxel(s) of slice k=2 hold label values outside 0..2 (first: 9 at voxel (i=5, j=7, k=2))" "${W[@]}"
refused shape "bad/shape/img/a_0000.nii.gz is 32x32x6 but its label volume bad/shape/lab/a.nii.gz is 32x30x6" "${W[@]}"
refused fourd "bad/fourd/img/a_0000.nii.gz: dimension 4 has extent 2: a time series" "${W[@]}"
refused channel "bad/channel/img/a_0001.nii.gz is channel 0001 of case 'a'" "${W[@]}"
refused truncated "bad/truncated/img/a_0000.nii.gz: reading its 6144 voxels failed" "${W[@]}"
refused hostile "bad/hostile/img/a_0000.nii.gz: NIfTI-2 header: dim[0] (the number of dimensions) is 768; expected 1..7" "${W[@]}"
rm bad/channel/img/a_0001.nii.gz
refused channel "the first input bad/channel/img/a_0000.nii.gz is a NIfTI volume: say how its intensities become inputs"
# Control: the same folder with the bad file removed and --intensity given packs.
expect_ok pack-control pack pack-control --inputs bad/channel/img --targets bad/channel/lab \
  --out data-ok --split train "${W[@]}"
echo "PASS: nifti: CT and MR volumes exact through pack (window, percentile, axes k and j), split by volume, sources kept, train/eval, refusals"
