#!/usr/bin/python3
"""Weak-scaling model for data-parallel training of the article's U-Net (docs/PERFORMANCE.md).

    /usr/bin/python3 bench/scaling_model.py [--cpu-s-per-image S --cpu-size 128] [--markdown]

Per step, every rank computes on its own batch (T_c) and the gradients (P float32 values,
B = 4P bytes) are averaged with a ring allreduce:

    T_ar(N) = 2 (N-1)/N * B / BW  +  2 (N-1) * alpha

(reduce-scatter then allgather: 2(N-1) steps, each moving B/N bytes per link). Weak scaling
keeps the per-rank batch fixed, so efficiency(N) = T_c / (T_c + exposed(T_ar)), where
  no overlap:   exposed = T_ar                      (one bucket, reduced after backward:
                                                     tessera/DDP's 25 MiB default > 8.6 MB)
  overlap:      exposed = max(T_ar - W, T_ar / k)    (k buckets; communication can hide behind
                                                     the backward pass after the first bucket
                                                     is ready, W = (1 - 1/k) * T_backward, and
                                                     the last bucket is always exposed)
T_backward = 2/3 T_c (a backward pass costs about twice the forward).

T_c per image on a GPU is not measured here (this machine has none): it is the U-Net's
training FLOPs per image (3 x forward, counted from the reference model's convolutions with
forward hooks) divided by an assumed sustained throughput (--gpu-tflops, default 20 TFLOPS: a
V100/A100 on this small-channel network; see the assumptions table). The measured CPU figure
(--cpu-s-per-image, from the training benchmark) is shown for scale, with the same model.
Horovod's ResNet-101 setup (44.5 M parameters, 25 Gb/s RoCE, P100-class GPUs, batch 64) is run
through the same formula as a sanity check against its published 90% at 512 GPUs.
"""

import argparse
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools",
                                "reference"))
from models import KerasConvTranspose2d, UNet  # noqa: E402


def forward_flops(model, size):
    """Multiply-adds x 2 of every convolution for one size x size image."""
    total = 0

    def conv_hook(m, inp, out):
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1]
        total += 2 * m.in_channels * k * out.shape[1] * out.shape[2] * out.shape[3]

    def tconv_hook(m, inp, out):
        nonlocal total
        cin, cout, k, _ = m.weight.shape
        total += 2 * cin * cout * k * k * inp[0].shape[2] * inp[0].shape[3]

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, KerasConvTranspose2d):
            hooks.append(m.register_forward_hook(tconv_hook))
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in hooks:
        h.remove()
    return total


def t_allreduce(n, nbytes, bw_bytes, alpha):
    if n == 1:
        return 0.0
    return 2 * (n - 1) / n * nbytes / bw_bytes + 2 * (n - 1) * alpha


def efficiency(t_c, t_ar, overlap, buckets):
    if overlap:
        window = (1 - 1 / buckets) * (2.0 / 3.0) * t_c
        exposed = max(t_ar - window, t_ar / buckets)
    else:
        exposed = t_ar
    return t_c / (t_c + exposed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gbps", type=float, default=100.0, help="link bandwidth, Gb/s")
    ap.add_argument("--alpha-us", type=float, default=5.0,
                    help="per-step latency of the ring (us): message + software overhead")
    ap.add_argument("--gpu-tflops", type=float, default=20.0,
                    help="assumed sustained training throughput of one GPU on this network")
    ap.add_argument("--batch", type=int, default=8, help="images per rank per step")
    ap.add_argument("--sizes", default="128,256,512")
    ap.add_argument("--buckets", type=int, default=4, help="buckets when overlapping")
    ap.add_argument("--ranks", default="2,8,64,512")
    ap.add_argument("--cpu-s-per-image", type=float, default=None,
                    help="measured training seconds per image on one CPU rank (this machine)")
    ap.add_argument("--cpu-size", type=int, default=128)
    args = ap.parse_args()

    torch.manual_seed(0)
    model = UNet(3, 1, 16, 4, 0.1, True)
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    nbytes = 4 * params
    bw = args.gbps * 1e9 / 8
    alpha = args.alpha_us * 1e-6
    ranks = [int(r) for r in args.ranks.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]

    print(f"article U-Net (filters 16, depth 4): {params:,} trainable parameters = "
          f"{nbytes / 1e6:.2f} MB of float32 gradients per step\n")
    print("| assumption | value |\n|---|---|")
    print(f"| link bandwidth (every ring link) | {args.gbps:g} Gb/s = {bw / 1e9:.2f} GB/s |")
    print(f"| ring step latency alpha | {args.alpha_us:g} us |")
    print(f"| GPU sustained throughput on this network | {args.gpu_tflops:g} TFLOPS "
          "(assumed; small channel counts keep GPUs far below peak) |")
    print(f"| batch per rank (weak scaling) | {args.batch} |")
    print("| training FLOPs | 3 x forward convolution FLOPs (counted) |")
    print("| backward share of step | 2/3 (window for overlap) |")
    print(f"| buckets when overlapping | {args.buckets} (e.g. --bucket-mb 2 for 8.6 MB) |")
    print("| topology | flat ring over all ranks, no NVLink/hierarchy (pessimistic for 8 "
          "GPUs/node) |\n")

    rows = []
    for size in sizes:
        f = 3 * forward_flops(model, size)
        t_c = args.batch * f / (args.gpu_tflops * 1e12)
        rows.append((f"GPU, {size}x{size}", f, t_c))
    if args.cpu_s_per_image:
        f = 3 * forward_flops(model, args.cpu_size)
        t_c = args.batch * args.cpu_s_per_image
        rows.append((f"this CPU core (measured), {args.cpu_size}x{args.cpu_size}", f, t_c))
        print(f"measured CPU: {args.cpu_s_per_image * 1e3:.1f} ms per image at "
              f"{args.cpu_size}x{args.cpu_size} = {f / args.cpu_s_per_image / 1e9:.1f} GFLOP/s "
              "sustained\n")

    head = " | ".join(f"N={n} no overlap / overlap" for n in ranks)
    print(f"| case | train GFLOP/image | compute ms/step | T_ar ms at N={ranks[-1]} | {head} |")
    print("|---|---:|---:|---:|" + "---:|" * len(ranks))
    for name, f, t_c in rows:
        cells = []
        for n in ranks:
            t_ar = t_allreduce(n, nbytes, bw, alpha)
            cells.append(f"{efficiency(t_c, t_ar, False, 1) * 100:.0f}% / "
                         f"{efficiency(t_c, t_ar, True, args.buckets) * 100:.0f}%")
        t_last = t_allreduce(ranks[-1], nbytes, bw, alpha)
        print(f"| {name} | {f / 1e9:.2f} | {t_c * 1e3:.1f} | {t_last * 1e3:.2f} | "
              + " | ".join(cells) + " |")

    # Sanity check on a published result: Horovod, ResNet-101, 512 GPUs, 90% efficiency.
    hv_params, hv_bw, hv_batch, hv_ips = 44.5e6, 25e9 / 8, 64, 130.0
    t_c = hv_batch / hv_ips
    t_ar = t_allreduce(512, 4 * hv_params, hv_bw, alpha)
    print(f"\nsanity check, Horovod ResNet-101 (44.5 M params = 178 MB, 25 Gb/s RoCE, batch "
          f"{hv_batch} at ~{hv_ips:g} img/s per P100 -> {t_c * 1e3:.0f} ms compute/step): "
          f"T_ar(512) = {t_ar * 1e3:.0f} ms; model {efficiency(t_c, t_ar, False, 1) * 100:.0f}% "
          f"without overlap, {efficiency(t_c, t_ar, True, 16) * 100:.0f}% with overlap "
          "(16 fusion buffers); published: 90%.")
    print("NVIDIA DeepLearningExamples UNet (8x A100, weak scaling): 7.1-7.4x = 89-93%; the "
          "model's N=8 column above is the comparable figure.")


if __name__ == "__main__":
    main()
