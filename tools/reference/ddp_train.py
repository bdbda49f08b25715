#!/usr/bin/python3
"""PyTorch DistributedDataParallel reference trainer: the baseline tessera is benchmarked against.

Trains the same network tessera builds (tools/reference/models.py: the article's U-Net or
convolutional autoencoder, identical layers and initialisation) on the same HDF5 shards
(docs/data-format.md, read with h5py through a torch DataLoader), with the same per-rank batch,
crop size, augmentations of the example configs (segmentation: random crop, flips, 90-degree
rotations, brightness/contrast/hue jitter as datasets/augment.cpp draws them; image targets:
random crop and horizontal flips), loss (bce_dice for segmentation, mse on the activated
output for image targets), optimizer (Adam) and rank count. Gradients are averaged by
torch.nn.parallel.DistributedDataParallel over gloo (default 25 MiB buckets, overlapped with
backward; BN buffers broadcast from rank 0 every forward, as DDP does by default).

Debian's python3-torch 1.13 has no working torchrun here, so ranks are started with mpirun; the
OpenMPI rank variables are mapped to RANK / WORLD_SIZE:

  mpirun -np 2 /usr/bin/python3 tools/reference/ddp_train.py --data DIR/train --image-size 64 \\
      --batch 8 --steps 30 --warmup-steps 10 --threads 1 --workers 2

Throughput is measured exactly as tessera's trainer reports it in metrics.jsonl: every
--log-every steps rank 0 records images/s = images of all ranks in the interval / wall time of
the interval; the summary figure is total images / total time over the intervals after the first
--warmup-steps steps (which must be a multiple of --log-every). Rank 0 prints one JSON object on
the last line of stdout (and writes it to --json when given).
"""

import argparse
import glob
import json
import math
import os
import sys
import time

import h5py
import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
from models import build_model  # noqa: E402


# ---- data ----------------------------------------------------------------------------------------

class ShardDataset(Dataset):
    """All samples of a tessera dataset directory (shard-*.h5), augmented like tessera's loader.

    Shards are opened lazily in each DataLoader worker (h5py handles do not survive fork)."""

    def __init__(self, directory, image_size, augment, jitter, seed):
        self.paths = sorted(glob.glob(os.path.join(directory, "shard-*.h5")))
        if not self.paths:
            raise SystemExit(f"ddp_train.py: no shard-*.h5 files in {directory}")
        self.index = []
        for s, p in enumerate(self.paths):
            with h5py.File(p, "r") as f:
                n = f["inputs"].shape[0]
                self.height, self.width = f["inputs"].shape[1:3]
                self.image_targets = f["targets"].ndim == 4
            self.index.extend((s, i) for i in range(n))
        if image_size > min(self.height, self.width):
            raise SystemExit(f"ddp_train.py: --image-size {image_size} is larger than the stored "
                             f"{self.height}x{self.width} images of {directory}")
        self.size, self.augment, self.jitter, self.seed = image_size, augment, jitter, seed
        self.calls = 0  # per worker process: draws differ from epoch to epoch
        self.files = {}

    def __len__(self):
        return len(self.index)

    def _file(self, s):
        f = self.files.get(s)
        if f is None:
            f = self.files[s] = h5py.File(self.paths[s], "r")
        return f

    def __getitem__(self, k):
        s, i = self.index[k]
        f = self._file(s)
        x = f["inputs"][i]   # H,W,C uint8
        y = f["targets"][i]  # H,W uint8 labels or H,W,C image
        self.calls += 1
        rng = np.random.default_rng((self.seed, k, self.calls, os.getpid()))
        c = self.size
        if self.augment:
            top = int(rng.integers(0, self.height - c + 1))
            left = int(rng.integers(0, self.width - c + 1))
        else:
            top, left = (self.height - c) // 2, (self.width - c) // 2
        x, y = x[top:top + c, left:left + c], y[top:top + c, left:left + c]
        if self.augment:
            # configs/base/segmentation.yaml: rot90 + hflip + vflip; translation.yaml: hflip only
            if not self.image_targets:
                k90 = int(rng.integers(0, 4))
                x, y = np.rot90(x, k90), np.rot90(y, k90)
            if rng.random() < 0.5:
                x, y = x[:, ::-1], y[:, ::-1]
            if not self.image_targets and rng.random() < 0.5:
                x, y = x[::-1], y[::-1]
        xf = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))).float().div_(255.0)
        if self.augment and self.jitter > 0:
            xf = color_jitter(xf, rng, self.jitter)
        if self.image_targets:
            yt = torch.from_numpy(np.ascontiguousarray(y.transpose(2, 0, 1))).float().div_(255.0)
        else:
            yt = torch.from_numpy(np.ascontiguousarray(y)).long()
        return xf, yt


_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_RGB = torch.tensor([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]])


def color_jitter(img, rng, j):
    """Brightness, contrast and YIQ hue rotation with tessera's parameter ranges."""
    brightness = rng.uniform(-j, j)
    contrast = rng.uniform(1 - j, 1 + j)
    hue = rng.uniform(-j, j) * 0.5
    mean = img.mean()
    if img.shape[0] == 3 and hue != 0:
        th = hue * 2 * math.pi
        rot = torch.tensor([[1, 0, 0], [0, math.cos(th), -math.sin(th)],
                            [0, math.sin(th), math.cos(th)]], dtype=torch.float32)
        m = _RGB @ rot @ _YIQ
        img = torch.einsum("ij,jhw->ihw", m, img)
    return ((img - mean) * contrast + mean + brightness).clamp_(0.0, 1.0)


# ---- optional: tessera's polyphase Conv2DTranspose (models/conv_transpose.h) ------------------

def _axis_plan(k, s, top):
    taps, offsets = [], []
    for r in range(s):
        c = r + top
        for u in range(c % s, k, s):
            off = c // s - (u - c % s) // s
            taps.append((r, off, u))
            offsets.append(off)
    lo, hi = min(offsets), max(offsets)
    d = hi - lo + 1
    table = [k] * (s * d)
    for r, off, u in taps:
        table[r * d + off - lo] = u
    return torch.tensor(table), d, -lo, hi


def polyphase_forward(self, x):
    """KerasConvTranspose2d.forward as one conv2d + pixel_shuffle (same result, faster on CPU)."""
    k, s = self.kernel, self.stride
    cin, cout = self.weight.shape[:2]
    ty, dy, pby, pay = _axis_plan(k, s, models.tf_same_padding(x.shape[2] * s, k, s)[0])
    tx, dx, pbx, pax = _axis_plan(k, s, models.tf_same_padding(x.shape[3] * s, k, s)[0])
    sub = (F.pad(self.weight, (0, 1, 0, 1)).index_select(2, ty).index_select(3, tx)
           .view(cin, cout, s, dy, s, dx).permute(1, 2, 4, 0, 3, 5)
           .reshape(cout * s * s, cin, dy, dx))
    y = F.conv2d(F.pad(x, (pbx, pax, pby, pay)), sub, self.bias.repeat_interleave(s * s))
    return F.pixel_shuffle(y, s)


# ---- losses (trainer/losses*.cpp) -----------------------------------------------------------------

def bce_dice(logits, labels, smooth=1.0):
    y = labels.clamp(max=1).to(logits.dtype).unsqueeze(1)
    bce = F.binary_cross_entropy_with_logits(logits, y)
    p = torch.sigmoid(logits)
    dice = 1 - (2 * (p * y).sum() + smooth) / (p.sum() + y.sum() + smooth)
    return bce + dice


def image_mse(logits, target, activation):
    out = {"relu": torch.relu, "sigmoid": torch.sigmoid, "none": lambda t: t}[activation](logits)
    return F.mse_loss(out, target)


# ---- main ---------------------------------------------------------------------------------------

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="a dataset directory (shards), e.g. DIR/train")
    ap.add_argument("--arch", default="unet", choices=["unet", "autoencoder"])
    ap.add_argument("--filters", type=int, default=16)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--dropout", type=float, default=None,
                    help="default: 0.1 for unet, 0 for autoencoder (the example configs)")
    ap.add_argument("--activation", default=None, help="default: sigmoid (unet), relu (autoencoder)")
    ap.add_argument("--image-size", type=int, default=64, help="crop size (data.image_size)")
    ap.add_argument("--batch", type=int, default=8, help="per rank (data.batch_size)")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup-steps", type=int, default=10)
    ap.add_argument("--log-every", type=int, default=5)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers per rank")
    ap.add_argument("--prefetch", type=int, default=2, help="batches prefetched per worker")
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--color-jitter", type=float, default=None,
                    help="default: 0.1 for segmentation data, 0 for image targets")
    ap.add_argument("--no-broadcast-buffers", action="store_true")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--polyphase-upsample", action="store_true",
                    help="compute the U-Net's Conv2DTranspose as tessera does (one conv2d + "
                         "pixel_shuffle) instead of F.conv_transpose2d: isolates the framework "
                         "difference from this layer's kernel choice")
    ap.add_argument("--bf16", action="store_true",
                    help="the forward under torch.autocast('cpu', torch.bfloat16), the loss in "
                         "float32 (what tessera's train.precision bf16 does)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--json", help="also write the result object to this file (rank 0)")
    args = ap.parse_args()
    if args.warmup_steps % args.log_every or args.steps % args.log_every:
        ap.error("--steps and --warmup-steps must be multiples of --log-every")
    if args.steps <= args.warmup_steps:
        ap.error("--steps must exceed --warmup-steps")
    return args


def init_distributed():
    env = os.environ
    rank = int(env.get("RANK", env.get("OMPI_COMM_WORLD_RANK", 0)))
    world = int(env.get("WORLD_SIZE", env.get("OMPI_COMM_WORLD_SIZE", 1)))
    env.setdefault("MASTER_ADDR", "127.0.0.1")
    env.setdefault("MASTER_PORT", "29517")
    dist.init_process_group("gloo", rank=rank, world_size=world)
    return rank, world


def main():
    args = parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    torch.set_num_threads(args.threads)
    rank, world = init_distributed()

    dataset = ShardDataset(args.data, args.image_size, not args.no_augment,
                           0.0 if args.color_jitter is None else args.color_jitter, args.seed)
    if args.color_jitter is None and not dataset.image_targets:
        dataset.jitter = 0.1
    in_ch = 3
    if dataset.image_targets:
        with h5py.File(dataset.paths[0], "r") as f:
            out_ch = f["targets"].shape[3]
    else:
        out_ch = 1
    dropout = args.dropout if args.dropout is not None else (0.1 if args.arch == "unet" else 0.0)
    activation = args.activation or ("sigmoid" if args.arch == "unet" else "relu")

    if args.polyphase_upsample:
        models.KerasConvTranspose2d.forward = polyphase_forward
    torch.manual_seed(args.seed)
    model = build_model(args.arch, in_ch, out_ch, args.filters, args.depth, dropout,
                        batch_norm=args.arch == "unet")
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    ddp = torch.nn.parallel.DistributedDataParallel(
        model, broadcast_buffers=not args.no_broadcast_buffers)
    optimizer = torch.optim.Adam(ddp.parameters(), lr=args.lr)

    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True,
                                 seed=args.seed, drop_last=True)
    loader_kw = dict(batch_size=args.batch, sampler=sampler, drop_last=True,
                     num_workers=args.workers, persistent_workers=args.workers > 0)
    if args.workers > 0:
        loader_kw["prefetch_factor"] = args.prefetch
    loader = DataLoader(dataset, **loader_kw)
    if len(loader) == 0:
        raise SystemExit(f"ddp_train.py: {len(dataset)} samples are too few for {world} ranks x "
                         f"batch {args.batch}")

    def batches():
        epoch = 0
        while True:
            sampler.set_epoch(epoch)
            yield from loader
            epoch += 1

    it = batches()
    ddp.train()
    phases = dict(data=0.0, forward=0.0, backward=0.0, optimizer=0.0)
    records = []
    t_interval = time.perf_counter()
    images = 0
    for step in range(1, args.steps + 1):
        t0 = time.perf_counter()
        x, y = next(it)
        x = x.contiguous(memory_format=memory_format)
        t1 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            out = ddp(x)
        out = out.float()
        loss = image_mse(out, y, activation) if dataset.image_targets else bce_dice(out, y)
        t2 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t3 = time.perf_counter()
        optimizer.step()
        t4 = time.perf_counter()
        phases["data"] += t1 - t0
        phases["forward"] += t2 - t1
        phases["backward"] += t3 - t2
        phases["optimizer"] += t4 - t3
        images += x.shape[0]
        if step % args.log_every == 0:
            loss_value = loss.item()
            now = time.perf_counter()
            elapsed = now - t_interval
            records.append(dict(step=step, loss=loss_value, seconds=elapsed,
                                images_per_s=images * world / elapsed,
                                data_wait_fraction=phases["data"] / elapsed,
                                time=dict(phases)))
            phases = {k: 0.0 for k in phases}
            images = 0
            t_interval = now

    dist.barrier()
    if rank == 0:
        steady = [r for r in records if r["step"] > args.warmup_steps]
        total_s = sum(r["seconds"] for r in steady)
        total_img = (args.steps - args.warmup_steps) * args.batch * world
        phase_sum = {k: sum(r["time"][k] for r in steady) for k in phases}
        result = dict(
            framework="pytorch-ddp", torch=torch.__version__, backend="gloo", ranks=world,
            threads_per_rank=torch.get_num_threads(), workers_per_rank=args.workers,
            arch=args.arch, polyphase_upsample=args.polyphase_upsample,
            channels_last=args.channels_last, image_size=args.image_size, batch_per_rank=args.batch,
            steps=args.steps, warmup_steps=args.warmup_steps,
            images_per_s=total_img / total_s, seconds=total_s,
            data_wait_fraction=phase_sum["data"] / total_s,
            phase_s_per_step={k: v / (args.steps - args.warmup_steps)
                              for k, v in phase_sum.items()},
            final_loss=records[-1]["loss"], records=records)
        text = json.dumps(result)
        if args.json:
            with open(args.json, "w") as f:
                f.write(text + "\n")
        print(text, flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
