#!/usr/bin/python3
"""h5py interoperability of the tessera shard format, both directions.

Usage: h5py_interop.py PATH/TO/datasets_interop_tool

1. h5py -> tessera: writes shards in the layout of docs/data-format.md with h5py (with and
   without the optional attributes, chunked+gzip and h5py's contiguous default, uint8 and
   float32, label maps and images, super-resolution, image-level labels) and NO manifest; the
   tool reads them with DatasetReader and the eval Loader; every value is compared.
   Bad files (float64 inputs, 0/255 masks) must fail with a message naming file and sample.
2. tessera -> h5py: the tool writes datasets with DatasetWriter; h5py reads them and checks
   shapes, dtypes, chunking, compression, attributes, values and the manifest (sample counts,
   sizes and CRC32C checksums recomputed here).
"""
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

TOOL = sys.argv[1]
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)


def run_tool(*args, expect_ok=True):
    p = subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=120)
    if expect_ok and p.returncode != 0:
        raise SystemExit(f"tool {args} failed ({p.returncode}): {p.stderr}")
    return p


# ---- CRC32C (Castagnoli, reflected 0x82F63B78) --------------------------------------------
_TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _TABLE.append(c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ _TABLE[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


# ---- 1. h5py -> tessera -------------------------------------------------------------------
def write_shard(path, inputs, targets, labels=None, attrs=None, chunked=True, gzip=None):
    with h5py.File(path, "w") as f:
        kw = {}
        if chunked:
            kw["chunks"] = (1,) + inputs.shape[1:]
            if gzip is not None:
                kw["compression"] = "gzip"
                kw["compression_opts"] = gzip
        f.create_dataset("inputs", data=inputs, **kw)
        kw2 = dict(kw)
        if chunked:
            kw2["chunks"] = (1,) + targets.shape[1:]
        f.create_dataset("targets", data=targets, **kw2)
        if labels is not None:
            f.create_dataset("labels", data=labels)
        for k, v in (attrs or {}).items():
            f.attrs[k] = v


def compare_dump(name, d, shards, derived_info):
    """shards: list of (inputs, targets, labels) arrays in file order."""
    out = os.path.join(d, "dump.json")
    run_tool("dump", d, out)
    with open(out) as fh:
        j = json.load(fh)
    check(j["derived"], f"{name}: manifest should be derived")
    m = j["manifest"]
    for k, v in derived_info.items():
        got = m
        for part in k.split("."):
            got = got[part]
        check(got == v, f"{name}: manifest {k} = {got!r}, expected {v!r}")
    inputs = np.concatenate([s[0] for s in shards])
    targets = np.concatenate([s[1] for s in shards])
    labels = (np.concatenate([s[2] for s in shards]) if shards[0][2] is not None
              else np.zeros(len(inputs), np.int64))
    check(len(j["samples"]) == len(inputs), f"{name}: sample count {len(j['samples'])}")
    for i, s in enumerate(j["samples"]):
        check(np.array_equal(np.array(s["input"], np.float64),
                             inputs[i].astype(np.float64).ravel()), f"{name}: input {i} differs")
        check(np.array_equal(np.array(s["target"], np.float64),
                             targets[i].astype(np.float64).ravel()), f"{name}: target {i} differs")
        check(s["label"] == int(labels[i]), f"{name}: label {i}")
    scale_in = 255.0 if inputs.dtype == np.uint8 else 1.0
    img_t = targets.ndim == 4
    scale_t = (255.0 if targets.dtype == np.uint8 else 1.0) if img_t else 1.0
    for e in j["loader"]:
        i = e["index"]
        want_in = inputs[i].astype(np.float64).sum() / scale_in
        want_t = targets[i].astype(np.float64).sum() / scale_t
        check(abs(e["input_sum"] - want_in) < 1e-3 * max(1.0, want_in),
              f"{name}: loader input sum {i}: {e['input_sum']} vs {want_in}")
        check(abs(e["target_sum"] - want_t) < 1e-3 * max(1.0, want_t),
              f"{name}: loader target sum {i}: {e['target_sum']} vs {want_t}")
    check(len(j["loader"]) == len(inputs), f"{name}: loader saw {len(j['loader'])} samples")


rng = np.random.default_rng(7)
with tempfile.TemporaryDirectory() as tmp:
    # A: documented layout with attributes, one-sample chunks + gzip, 2 shards, 3 classes.
    d = os.path.join(tmp, "a")
    os.makedirs(d)
    shards = []
    for k, n in enumerate([5, 3]):
        x = rng.integers(0, 256, (n, 10, 12, 3), dtype=np.uint8)
        y = rng.integers(0, 3, (n, 10, 12), dtype=np.uint8)
        write_shard(os.path.join(d, f"part-{k}.h5"), x, y, chunked=True, gzip=4,
                    attrs={"format_version": 1, "task": "segmentation", "classes": 3,
                           "target_kind": "labels"})
        shards.append((x, y, None))
    compare_dump("A(seg,gzip,attrs)", d, shards,
                 {"task": "segmentation", "samples": 8, "targets.classes": 3,
                  "inputs.shape": [10, 12, 3]})

    # B: h5py defaults (contiguous), float32 images, no attributes at all.
    d = os.path.join(tmp, "b")
    os.makedirs(d)
    x = rng.random((4, 8, 8, 3), dtype=np.float32)
    y = rng.random((4, 8, 8, 3), dtype=np.float32)
    write_shard(os.path.join(d, "data.hdf5"), x, y, chunked=False)
    compare_dump("B(float,contiguous,no attrs)", d, [(x, y, None)],
                 {"task": "translation", "targets.kind": "image", "inputs.dtype": "float32"})

    # C: super-resolution (input = target / 2) with string attribute as numpy bytes (fixed
    # length), and image-level labels written as h5py's default int64.
    d = os.path.join(tmp, "c")
    os.makedirs(d)
    y = rng.integers(0, 256, (6, 8, 8, 1), dtype=np.uint8)
    x = y[:, ::2, ::2, :].copy()
    lab = np.array([0, 1, 0, 0, 1, 1], dtype=np.int64)
    write_shard(os.path.join(d, "s.h5"), x, y, labels=lab, chunked=True,
                attrs={"task": np.bytes_("super_resolution")})
    compare_dump("C(sr,labels)", d, [(x, y, lab)],
                 {"task": "super_resolution", "labels": True, "inputs.shape": [4, 4, 1]})

    # D: bad data written by h5py must fail clearly.
    d = os.path.join(tmp, "d")
    os.makedirs(d)
    write_shard(os.path.join(d, "f64.h5"), rng.random((2, 4, 4, 3)),
                np.zeros((2, 4, 4), np.uint8))
    p = run_tool("dump", d, os.path.join(tmp, "x.json"), expect_ok=False)
    check(p.returncode != 0 and "f64.h5" in p.stderr and "float64" in p.stderr,
          f"D(float64): expected a clear error, got rc={p.returncode}: {p.stderr}")
    d = os.path.join(tmp, "e")
    os.makedirs(d)
    m = np.zeros((3, 4, 4), np.uint8)
    m[1, 2, 3] = 255
    write_shard(os.path.join(d, "m.h5"), np.zeros((3, 4, 4, 3), np.uint8), m)
    p = run_tool("dump", d, os.path.join(tmp, "x.json"), expect_ok=False)
    check(p.returncode != 0 and "m.h5 #1" in p.stderr and "label 255" in p.stderr,
          f"E(0/255 mask): expected a clear error, got rc={p.returncode}: {p.stderr}")


# ---- 2. tessera -> h5py -------------------------------------------------------------------
def formula_in(s, h, w, c):
    yy, xx, cc = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    return (s * 31 + yy * 7 + xx * 3 + cc) % 256


def formula_t(s, h, w, c):
    yy, xx, cc = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    return (s * 5 + yy * 11 + xx + 2 * cc) % 256


with tempfile.TemporaryDirectory() as tmp:
    for kind in ["seg", "float", "sr", "anomaly"]:
        d = os.path.join(tmp, kind)
        run_tool("write", d, kind)
        with open(os.path.join(d, "manifest.json")) as fh:
            man = json.load(fh)
        check(man["format"] == "tessera-dataset" and man["format_version"] == 1,
              f"{kind}: manifest header")
        check(man["samples"] == 10 and [s["samples"] for s in man["shards"]] == [4, 4, 2],
              f"{kind}: manifest counts {man['shards']}")
        s_global = 0
        for entry in man["shards"]:
            path = os.path.join(d, entry["file"])
            data = open(path, "rb").read()
            check(len(data) == entry["bytes"], f"{kind}: {entry['file']} size")
            check(f"{crc32c(data):08x}" == entry["crc32c"], f"{kind}: {entry['file']} crc32c")
            with h5py.File(path, "r") as f:
                x, y = f["inputs"], f["targets"]
                check(f.attrs["format_version"] == 1, f"{kind}: format_version attr")
                check(f.attrs["task"] == man["task"], f"{kind}: task attr {f.attrs['task']!r}")
                check(x.chunks == (1,) + x.shape[1:], f"{kind}: inputs chunks {x.chunks}")
                check(y.chunks == (1,) + y.shape[1:], f"{kind}: targets chunks {y.chunks}")
                check((x.compression == "gzip") == (kind == "seg"), f"{kind}: compression")
                n = x.shape[0]
                check(n == entry["samples"], f"{kind}: shard samples")
                for k in range(n):
                    s = s_global + k
                    h, w, c = x.shape[1:]
                    want = formula_in(s, h, w, c)
                    if x.dtype == np.float32:
                        check(np.allclose(x[k], want / 255.0, atol=1e-7), f"{kind}: input {s}")
                    else:
                        check(x.dtype == np.uint8 and np.array_equal(x[k], want),
                              f"{kind}: input {s}")
                    if y.ndim == 3:
                        yy, xx = np.meshgrid(np.arange(y.shape[1]), np.arange(y.shape[2]),
                                             indexing="ij")
                        check(np.array_equal(y[k], (s + yy + 2 * xx) % 4), f"{kind}: target {s}")
                        check(f.attrs["classes"] == 4, f"{kind}: classes attr")
                    else:
                        wt = formula_t(s, *y.shape[1:])
                        if y.dtype == np.float32:
                            check(np.allclose(y[k], wt / 255.0, atol=1e-7), f"{kind}: target {s}")
                        else:
                            check(np.array_equal(y[k], wt), f"{kind}: target {s}")
                    if kind == "anomaly":
                        check(f["labels"].dtype == np.int32 and f["labels"][k] == s % 2,
                              f"{kind}: label {s}")
                if kind == "sr":
                    check(x.shape[1:3] == (3, 3) and y.shape[1:3] == (6, 6), f"sr shapes")
                s_global += n
        check(s_global == 10, f"{kind}: total samples")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("h5py interop: all checks passed")
