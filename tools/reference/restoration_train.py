#!/usr/bin/python3
"""PyTorch twin of tessera's restoration training (super-resolution, denoising): the yardstick for
docs/RESULTS.md's sample-efficiency goal ("the twin, same data, same budget, does no better").

Same network (tools/reference/models.py: the article's U-Net, parity-tested against tessera's),
same HDF5 shards (read whole with h5py; they are small), same recipe as configs/superres.yaml and
configs/denoise_photos.yaml: per-rank batch of random crops (super-resolution: a high-resolution
window at multiples of the scale and the matching low-resolution window), flips and 90-degree
rotations applied to both, the low-resolution crop up-scaled by bicubic (align_corners=False,
clamped to [0, 1]) before the residual network, the last convolution zero-initialised with
--zero-head (model.head_init: zero), MSE, Adam, linear warmup then cosine to a floor,
DistributedDataParallel over gloo with ranks started by mpirun (Debian's python3-torch has no
working torchrun here):

  mpirun -np 2 /usr/bin/python3 tools/reference/restoration_train.py --task sr \\
      --train DIR/train --val DIR/val --steps 3000 --lr 2e-3 --out runs/twin

Every --eval-every steps rank 0 logs validation PSNR (RGB, whole tiles, computed as tessera's
val/psnr: clamped, 8-bit levels, border crop) to OUT/curve.jsonl; at the end it writes OUT/model.pt (state dict) and, with
--predict-in DIR, up-scales (or denoises) every PNG of DIR into --predict-out as STEM_pred.png
(uint8, rounded), the files tools/restoration_check.py --predictions scores.
"""

import argparse
import glob
import json
import math
import os
import sys

import h5py
import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import build_model  # noqa: E402


def load_split(directory):
    """inputs (N,h,w,C) and targets (N,H,W,C) uint8 of every shard of a dataset directory."""
    paths = sorted(glob.glob(os.path.join(directory, "shard-*.h5")))
    if not paths:
        raise SystemExit(f"restoration_train.py: no shard-*.h5 in {directory}")
    xs, ys = [], []
    for p in paths:
        with h5py.File(p, "r") as f:
            if f["inputs"].dtype != np.uint8 or f["targets"].ndim != 4:
                raise SystemExit(f"restoration_train.py: {p}: expected uint8 image pairs")
            xs.append(f["inputs"][...])
            ys.append(f["targets"][...])
    return np.concatenate(xs), np.concatenate(ys)


def crop_pair(x, y, size, scale, rng, augment):
    """A random size x size target window (at multiples of scale) and its input window."""
    H, W = y.shape[:2]
    if augment:
        top = int(rng.integers(0, (H - size) // scale + 1)) * scale
        left = int(rng.integers(0, (W - size) // scale + 1)) * scale
    else:
        top, left = (H - size) // 2 // scale * scale, (W - size) // 2 // scale * scale
    y = y[top:top + size, left:left + size]
    x = x[top // scale:(top + size) // scale, left // scale:(left + size) // scale]
    if augment:
        k = int(rng.integers(0, 4))
        x, y = np.rot90(x, k), np.rot90(y, k)
        if rng.random() < 0.5:
            x, y = x[:, ::-1], y[:, ::-1]
        if rng.random() < 0.5:
            x, y = x[::-1], y[::-1]
    return x, y


def to_tensor(batch):
    return torch.from_numpy(np.ascontiguousarray(np.stack(batch).transpose(0, 3, 1, 2))).float() / 255


def model_input(x, hw):
    if x.shape[-2:] == hw:
        return x
    return F.interpolate(x, size=hw, mode="bicubic", align_corners=False).clamp(0, 1)


def batches(data, args, rank, world):
    """Epochs of a seeded permutation split across ranks (each rank its own slice), as tessera's
    sampler does; yields (inputs, targets) tensors of --batch crops."""
    xs, ys = data
    epoch = 0
    while True:
        perm = np.random.default_rng((args.seed, epoch)).permutation(len(xs))
        mine = perm[rank::world]
        rng = np.random.default_rng((args.seed, epoch, rank, 1))
        for i in range(0, len(mine) - args.batch + 1, args.batch):
            pairs = [crop_pair(xs[k], ys[k], args.image_size, args.scale, rng, True)
                     for k in mine[i:i + args.batch]]
            yield to_tensor([p[0] for p in pairs]), to_tensor([p[1] for p in pairs])
        epoch += 1


def lr_at(step, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    t = min(max((step - args.warmup) / max(args.steps - args.warmup, 1), 0.0), 1.0)
    return args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * t))


@torch.no_grad()
def validate(model, val, border):
    xs, ys = val
    model.eval()
    total = 0.0
    for i in range(0, len(xs), 8):
        x, y = to_tensor(list(xs[i:i + 8])), to_tensor(list(ys[i:i + 8]))
        out = model(model_input(x, y.shape[-2:]))
        # As tessera's val/psnr: clamped to [0, 1], rounded to 8-bit levels, border crop b.
        o, t = (out.clamp(0, 1) * 255).round(), (y * 255).round()
        if border > 0:
            o, t = o[..., border:-border, border:-border], t[..., border:-border, border:-border]
        mse = ((o.double() - t.double()) ** 2).flatten(1).mean(1).clamp_min(1e-12)
        total += float((10 * torch.log10(255.0 ** 2 / mse)).sum())
    model.train()
    return total / len(xs)


@torch.no_grad()
def predict(model, args):
    os.makedirs(args.predict_out, exist_ok=True)
    model.eval()
    for f in sorted(glob.glob(os.path.join(args.predict_in, "*.png"))):
        img = np.asarray(Image.open(f).convert("RGB"))
        x = to_tensor([img])
        hw = (img.shape[0] * args.scale, img.shape[1] * args.scale)
        x = model_input(x, hw)
        m = 16  # the U-Net of depth 4 needs sides divisible by 2^4: reflect-pad, then crop
        ph, pw = (-hw[0]) % m, (-hw[1]) % m
        out = model(F.pad(x, (0, pw, 0, ph), mode="reflect"))[..., :hw[0], :hw[1]]
        u8 = (out[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
        stem = os.path.splitext(os.path.basename(f))[0]
        Image.fromarray(u8).save(os.path.join(args.predict_out, stem + "_pred.png"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", choices=["sr", "denoise"], required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--val", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--scale", type=int, default=2, help="sr: the dataset's scale")
    ap.add_argument("--image-size", type=int, default=64, help="target crop (data.image_size)")
    ap.add_argument("--batch", type=int, default=8, help="per rank (data.batch_size)")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr", type=float, default=1e-5)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--filters", type=int, default=16)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--border", type=int, default=None,
                    help="validation border crop (default: the scale for sr, 0 for denoise)")
    ap.add_argument("--stop-at", type=int, default=0,
                    help="end after this many steps (the schedule still spans --steps): the "
                    "start of a longer run's curve, for ablations")
    ap.add_argument("--loss", choices=["mse", "l1"], default="mse")
    ap.add_argument("--noise-std", type=float, default=0.0,
                    help="denoise: fresh Gaussian noise (images in [0, 1]) on the clean targets "
                    "every step, clipped and rounded to 8-bit levels, as task.noise_std")
    ap.add_argument("--zero-head", action="store_true",
                    help="initialise the last 1x1 convolution to zero (the network starts as "
                    "the identity on its input: bicubic, or the noisy image), as "
                    "model.head_init: zero")
    ap.add_argument("--predict-in")
    ap.add_argument("--predict-out")
    args = ap.parse_args()
    if args.task == "denoise":
        args.scale = 1
    if args.border is None:
        args.border = args.scale if args.task == "sr" else 0
    torch.set_num_threads(1)
    rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", 0))
    world = int(os.environ.get("OMPI_COMM_WORLD_SIZE", 1))
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29533")
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(args.seed)  # same initial weights on every rank (DDP also broadcasts)
    model = build_model("unet", 3, 3, args.filters, args.depth, dropout=0.0, batch_norm=False,
                        residual=True)
    if args.zero_head:
        torch.nn.init.zeros_(model.head.weight)
        torch.nn.init.zeros_(model.head.bias)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.Adam(ddp.parameters(), lr=args.lr)
    torch.manual_seed(args.seed * 1000 + rank + 1)  # each rank its own noise draws
    train, val = load_split(args.train), load_split(args.val)
    os.makedirs(args.out, exist_ok=True)
    curve = open(os.path.join(args.out, "curve.jsonl"), "w") if rank == 0 else None
    it = batches(train, args, rank, world)
    for step in range(args.stop_at or args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        x, y = next(it)
        if args.noise_std > 0:
            x = ((y + torch.randn_like(y) * args.noise_std).clamp(0, 1) * 255).round() / 255
        out = ddp(model_input(x, y.shape[-2:]))
        loss = F.mse_loss(out, y) if args.loss == "mse" else F.l1_loss(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if rank == 0 and ((step + 1) % args.eval_every == 0 or step + 1 == args.steps or
                          step + 1 == args.stop_at):
            p = validate(model, val, args.border)
            curve.write(json.dumps({"step": step + 1, "loss": float(loss), "val_psnr": p}) + "\n")
            curve.flush()
            print(f"step {step + 1} loss {float(loss):.5f} val psnr {p:.4f}", flush=True)
    if rank == 0:
        torch.save(model.state_dict(), os.path.join(args.out, "model.pt"))
        if args.predict_in:
            predict(model, args)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
