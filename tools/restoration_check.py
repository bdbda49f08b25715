#!/usr/bin/python3
"""Scores a restoration model on whole photographs the way the field does, through `tessera predict`.

super-resolution (sr): each high-resolution photograph is cropped to a multiple of the scale and
down-scaled by PIL's antialiased BICUBIC (the degradation of MATLAB's imresize, BasicSR and the
Set5/Set14/DIV2K protocols); `tessera predict` up-scales the low-resolution file; the baseline is
PIL's bicubic up-scaling of the same file.

denoising (denoise): Gaussian noise of std SIGMA/255 is added to each photograph (seeded, clipped,
rounded to uint8 and saved as PNG, i.e. what a user would hand to `tessera predict`); baselines
are the noisy image itself and, with --nlm, OpenCV's non-local means (cv::fastNlMeansDenoisingColored
through build/bin/bench_nlm_baseline) at each h of --nlm-h; the best h over the photographs is
reported (chosen on these photographs: generous to the baseline).

Metrics as BasicSR computes them: PSNR and SSIM on Y (ITU-R BT.601, Y in [16, 235], float, from
uint8 images), border crop (default: the scale for sr, 0 for denoise), the mean over photographs;
PSNR on RGB too. PSNR is cross-checked against scikit-image's peak_signal_noise_ratio.

  tools/restoration_check.py sr --tessera BIN --config C [--set K=V ...] --photos DIR --out DIR
  tools/restoration_check.py denoise --tessera BIN --config C ... --sigma 25 --nlm BIN
  tools/restoration_check.py sr --predictions DIR ...   (score files made elsewhere, e.g. the twin)

Prints one table row per photograph and the means; writes OUT/summary.json.
"""

import argparse
import glob
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def y_channel(rgb_u8):
    """BT.601 luma of a uint8 RGB image, as BasicSR's rgb2ycbcr(y_only=True) * 255 (float)."""
    x = rgb_u8.astype(np.float64) / 255.0
    return x @ np.array([65.481, 128.553, 24.966]) + 16.0


def psnr(a, b, peak=255.0):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10.0 * np.log10(peak * peak / mse)


def crop(img, border):
    return img[border:-border, border:-border] if border > 0 else img


def scores(out_u8, ref_u8, border):
    """PSNR/SSIM on Y and PSNR on RGB between two uint8 RGB images of one size."""
    yo, yr = crop(y_channel(out_u8), border), crop(y_channel(ref_u8), border)
    p_y = psnr(yo, yr)
    check = peak_signal_noise_ratio(yr, yo, data_range=255.0)
    if abs(check - p_y) > 1e-6:
        raise SystemExit(f"restoration_check: PSNR {p_y} differs from scikit-image's {check}")
    return {"psnr_y": p_y,
            "ssim_y": float(structural_similarity(yr, yo, data_range=255.0, gaussian_weights=True,
                                                  sigma=1.5, use_sample_covariance=False)),
            "psnr": psnr(crop(out_u8, border), crop(ref_u8, border))}


def load_rgb(path):
    return np.asarray(Image.open(path).convert("RGB"))


def predict(args, inputs, out):
    """`tessera predict` of every file of `inputs` into `out`; returns where STEM_pred.png are."""
    if args.predictions:  # made elsewhere (tools/reference/restoration_train.py --predict-in)
        return args.predictions
    if not (args.tessera and args.config):
        raise SystemExit("restoration_check: --tessera and --config, or --predictions, are needed")
    cmd = [args.tessera, "predict", args.config, "--input", inputs, "--out", out,
           "--checkpoint", args.checkpoint]
    for s in args.set:
        cmd += ["--set", s]
    with open(os.path.join(args.out, "predict.log"), "w") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=1800).returncode
    if rc != 0:
        raise SystemExit(f"restoration_check: tessera predict exited {rc}: see {args.out}/predict.log")
    return out


def photos(directory):
    files = sorted(f for f in glob.glob(os.path.join(directory, "*"))
                   if f.lower().endswith((".png", ".jpg", ".jpeg", ".tif", ".tiff")))
    if not files:
        raise SystemExit(f"restoration_check: no images in {directory}")
    return files


def run_sr(args):
    lr_dir, pred_dir = os.path.join(args.out, "lr"), os.path.join(args.out, "pred")
    os.makedirs(lr_dir, exist_ok=True)
    refs = {}
    for f in photos(args.photos):
        hr = Image.open(f).convert("RGB")
        w, h = hr.size[0] - hr.size[0] % args.scale, hr.size[1] - hr.size[1] % args.scale
        hr = hr.crop((0, 0, w, h))
        stem = os.path.splitext(os.path.basename(f))[0]
        hr.resize((w // args.scale, h // args.scale), Image.BICUBIC).save(
            os.path.join(lr_dir, stem + ".png"))
        refs[stem] = np.asarray(hr)
    pred_dir = predict(args, lr_dir, pred_dir)
    border = args.scale if args.border is None else args.border
    rows = {}
    for stem, ref in refs.items():
        lr = Image.open(os.path.join(lr_dir, stem + ".png"))
        bic = np.asarray(lr.resize((ref.shape[1], ref.shape[0]), Image.BICUBIC))
        out = load_rgb(os.path.join(pred_dir, stem + "_pred.png"))
        if out.shape != ref.shape:
            raise SystemExit(f"restoration_check: {stem}: prediction {out.shape} vs {ref.shape}")
        rows[stem] = {"model": scores(out, ref, border), "bicubic": scores(bic, ref, border)}
    return rows, ["bicubic"], border


def run_denoise(args):
    noisy_dir, pred_dir = os.path.join(args.out, "noisy"), os.path.join(args.out, "pred")
    os.makedirs(noisy_dir, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    refs = {}
    for f in photos(args.photos):
        clean = load_rgb(f)
        stem = os.path.splitext(os.path.basename(f))[0]
        noisy = clean + rng.normal(0.0, args.sigma, clean.shape)
        Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8)).save(
            os.path.join(noisy_dir, stem + ".png"))
        refs[stem] = clean
    pred_dir = predict(args, noisy_dir, pred_dir)
    border = args.border or 0
    rows = {s: {"model": scores(load_rgb(os.path.join(pred_dir, s + "_pred.png")), ref, border),
                "noisy": scores(load_rgb(os.path.join(noisy_dir, s + ".png")), ref, border)}
            for s, ref in refs.items()}
    baselines = ["noisy"]
    if args.nlm:
        best = None
        for h in args.nlm_h:
            d = os.path.join(args.out, f"nlm-h{h:g}")
            subprocess.run([args.nlm, noisy_dir, d, f"{h:g}"], check=True, timeout=1800,
                           stdout=subprocess.DEVNULL)
            s = {st: scores(load_rgb(os.path.join(d, st + ".png")), ref, border)
                 for st, ref in refs.items()}
            mean = np.mean([v["psnr_y"] for v in s.values()])
            print(f"nlm h={h:g}: mean PSNR on Y {mean:.2f} dB")
            if best is None or mean > best[0]:
                best = (mean, h, s)
        for st in refs:
            rows[st][f"nlm (h={best[1]:g})"] = best[2][st]
        baselines.append(f"nlm (h={best[1]:g})")
    return rows, baselines, border


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["sr", "denoise"])
    ap.add_argument("--tessera", help="the tessera binary (with --config)")
    ap.add_argument("--config")
    ap.add_argument("--predictions", help="score STEM_pred.png files of this directory instead of "
                    "running tessera predict (e.g. the PyTorch twin's)")
    ap.add_argument("--set", action="append", default=[], help="a config override for predict")
    ap.add_argument("--checkpoint", default="best")
    ap.add_argument("--photos", required=True, help="directory of clean high-resolution photos")
    ap.add_argument("--out", required=True)
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--border", type=int, default=None, help="pixels cropped from each side")
    ap.add_argument("--sigma", type=float, default=25.0, help="denoise: noise std on 0..255")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nlm", help="denoise: build/bin/bench_nlm_baseline")
    ap.add_argument("--nlm-h", type=float, nargs="+", default=[6, 8, 10, 12, 14, 16])
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rows, baselines, border = run_sr(args) if args.mode == "sr" else run_denoise(args)
    cols = ["model"] + baselines
    print(f"\nPSNR on Y (dB), border {border}; the gain is the model's over {baselines[0]}")
    print("| photo | " + " | ".join(cols) + " | gain |")
    print("|---" * (len(cols) + 2) + "|")
    for stem, r in rows.items():
        vals = " | ".join(f"{r[c]['psnr_y']:.2f}" for c in cols)
        print(f"| {stem} | {vals} | {r['model']['psnr_y'] - r[baselines[0]]['psnr_y']:+.2f} |")
    mean = {c: {k: float(np.mean([r[c][k] for r in rows.values()])) for k in
                ("psnr_y", "ssim_y", "psnr")} for c in cols}
    vals = " | ".join(f"{mean[c]['psnr_y']:.2f}" for c in cols)
    print(f"| **mean** | {vals} | {mean['model']['psnr_y'] - mean[baselines[0]]['psnr_y']:+.2f} |")
    print("SSIM on Y (mean): " + ", ".join(f"{c} {mean[c]['ssim_y']:.4f}" for c in cols))
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump({"mode": args.mode, "border": border, "photos": rows, "mean": mean,
                   "baselines": baselines}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
