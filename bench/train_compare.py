#!/usr/bin/python3
"""Training throughput, tessera vs PyTorch DDP, side by side in one run (docs/PERFORMANCE.md).

    /usr/bin/python3 bench/train_compare.py [--reps 2] [--cases unet64x1,unet64x2,...]
        [--steps 20] [--warmup-steps 10] [--threads 1] [--work DIR] [--json FILE]

Each case trains the same network on the same shards with the same per-rank batch, crop,
optimizer (Adam, lr 1e-3), rank count and threads per rank, once with
`mpirun -np N build/bin/tessera train CONFIG --set ...` and once with
`mpirun -np N /usr/bin/python3 tools/reference/ddp_train.py ...` (gloo DDP). The two runs of a
case are adjacent and their order alternates from one repetition to the next, so the drift of a
shared machine hits both alike. Both sides are measured the same way: images/s over the log
intervals after the first --warmup-steps steps (tessera: metrics.jsonl `images_per_s`; DDP: the
same computation in ddp_train.py), i.e. total images / total wall time of the steady-state
steps. Reported: the median over repetitions of each side, and the median of the per-repetition
ratios tessera / DDP.

Cases (name = arch + size + 'x' + ranks): unet64x1 unet64x2 unet128x1 unet128x2 (the article's
U-Net on `tessera synth --task roads` 128x128 tiles, random crops), ae64x1 ae64x2 (the
article's autoencoder, translation task, `tessera synth --task style` 64x64 pairs), and at the
article's 256x256: unet256xN (roads 256x256 tiles), ae256xN (style 256x256 pairs).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TESSERA = os.path.join(ROOT, "build", "bin", "tessera")
DDP = os.path.join(ROOT, "tools", "reference", "ddp_train.py")
MPIRUN = ["mpirun", "--oversubscribe", "--bind-to", "none"]
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")

CASES = {
    # name: (arch, config, dataset, crop)
    "unet64": ("unet", "configs/roads.yaml", "roads", 64),
    "unet128": ("unet", "configs/roads.yaml", "roads", 128),
    "ae64": ("autoencoder", "configs/monet_style.yaml", "style", 64),
    # the article's own input size
    "unet256": ("unet", "configs/roads.yaml", "roads256", 256),
    "ae256": ("autoencoder", "configs/monet_style.yaml", "style256", 256),
}
# --with-heap: the same runs with the other heap policy on each side. tessera reuses freed memory by
# default (common/heap_tuning.h); TESSERA_MALLOC=system gives it glibc's defaults. PyTorch gets
# the same reuse from glibc's tunables (the equivalent of tessera's mallopt calls).
HEAP_ENV = {"-sysheap": {"TESSERA_MALLOC": "system"},
            "-reuseheap": {"GLIBC_TUNABLES": "glibc.malloc.mmap_max=0:"
                                             "glibc.malloc.trim_threshold=2147483647"}}
DATASETS = {"roads": ("roads", 128), "style": ("style", 64), "roads256": ("roads", 256),
            "style256": ("style", 256)}


def run(cmd, log, timeout, env=None):
    """Runs cmd with output to a file (never a pipe a stray rank could hold open)."""
    with open(log, "w") as f:
        t0 = time.time()
        try:
            p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               env=env or ENV, timeout=timeout, cwd=ROOT)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = 124
        wall = time.time() - t0
    if rc != 0:
        tail = open(log).read()[-3000:]
        raise SystemExit(f"train_compare: {' '.join(cmd)} failed (rc {rc}); log {log}:\n{tail}")
    return wall


def write_h5_dataset(out, task, samples, size, shards=4):
    """Fallback when this build's `tessera synth` is not wired yet: shards in the documented
    layout (docs/data-format.md) with smooth random images; throughput does not depend on the
    pixels."""
    import h5py
    import numpy as np
    rng = np.random.default_rng(42)
    os.makedirs(out, exist_ok=True)
    per = -(-samples // shards)
    for s in range(shards):
        n = min(per, samples - s * per)
        low = rng.integers(0, 256, (n, size // 8, size // 8, 3), dtype=np.uint8)
        x = low.repeat(8, axis=1).repeat(8, axis=2)
        with h5py.File(os.path.join(out, f"shard-{s:05d}.h5"), "w") as f:
            f.attrs["format_version"] = 1
            f.attrs["task"] = "segmentation" if task == "roads" else "translation"
            f.attrs["target_kind"] = "labels" if task == "roads" else "image"
            f.attrs["in_channels"] = 3
            f.create_dataset("inputs", data=x, chunks=(1, size, size, 3))
            if task == "roads":
                y = (x.mean(axis=3) > 127).astype(np.uint8)
                f.attrs["classes"] = 1
                f.create_dataset("targets", data=y, chunks=(1, size, size))
            else:
                f.create_dataset("targets", data=255 - x, chunks=(1, size, size, 3))


def make_datasets(work, samples, needed):
    for name in needed:
        task, size = DATASETS[name]
        out = os.path.join(work, "data", name)
        if os.path.isdir(os.path.join(out, "train")):
            continue
        shutil.rmtree(out, ignore_errors=True)
        cmd = [TESSERA, "synth", "--task", task, "--out", out, "--samples", str(samples),
               "--size", str(size), "--shards", "4", "--val-fraction", "0", "--test-fraction",
               "0"]
        log = os.path.join(work, f"synth-{name}.log")
        with open(log, "w") as f:
            rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT).returncode
        if rc != 0 and "not implemented" in open(log).read():
            print(f"note: `tessera synth` is not available in this build; writing {name} "
                  "shards with h5py instead", flush=True)
            write_h5_dataset(os.path.join(out, "train"), task, samples, size)
        elif rc != 0:
            raise SystemExit(f"train_compare: {' '.join(cmd)} failed; see {log}")


def steady_ips(records, warmup, batch, world, log_every):
    """total images / total seconds over the intervals after `warmup` steps."""
    recs = [r for r in records if "images_per_s" in r and r["step"] > warmup]
    if not recs:
        raise SystemExit("train_compare: no log records after the warm-up steps")
    images = log_every * batch * world
    seconds = sum(images / r["images_per_s"] for r in recs)
    phases = {}
    for r in recs:
        for k, v in r.get("time", {}).items():
            phases[k] = phases.get(k, 0.0) + v
    steps = len(recs) * log_every
    return (len(recs) * images / seconds, phases.get("data", 0.0) / seconds,
            {k: v / steps for k, v in phases.items()})


def run_tessera(case, ranks, args, work, tag, extra_env=None):
    arch, config, data, crop = CASES[case]
    name = f"{case}x{ranks}-{tag}"
    out_dir = os.path.join(work, "runs")
    shutil.rmtree(os.path.join(out_dir, name), ignore_errors=True)
    sets = [f"experiment.name={name}", f"experiment.output_dir={out_dir}",
            f"data.train={os.path.join(work, 'data', data, 'train')}", "data.val=", "data.test=",
            f"data.image_size={crop}", f"data.batch_size={args.batch}",
            f"train.max_steps={args.steps}", f"train.log_every={args.log_every}",
            "train.eval_every=0", f"train.checkpoint_every={args.steps}",
            f"train.threads_per_rank={args.threads}", "optim.lr=1e-3", "optim.name=adam",
            "schedule.name=constant", "schedule.warmup_steps=0",
            "logging.progress=off"] + args.tessera_set
    cmd = MPIRUN + ["-np", str(ranks), TESSERA, "train", os.path.join(ROOT, config)]
    for s in sets:
        cmd += ["--set", s]
    env = dict(ENV, OMP_NUM_THREADS=str(args.threads), **(extra_env or {}))
    wall = run(cmd, os.path.join(work, f"{name}.log"), args.timeout, env)
    with open(os.path.join(out_dir, name, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    ips, wait, phases = steady_ips(records, args.warmup_steps, args.batch, ranks, args.log_every)
    return dict(images_per_s=ips, data_wait_fraction=wait, phase_s_per_step=phases, wall_s=wall)


def run_ddp(case, ranks, args, work, tag, port, extra_env=None):
    arch, _, data, crop = CASES[case]
    name = f"{case}x{ranks}-{tag}-ddp"
    js = os.path.join(work, f"{name}.json")
    cmd = MPIRUN + ["-np", str(ranks), "-x", "MASTER_ADDR=127.0.0.1", "-x", f"MASTER_PORT={port}",
                    "-x", f"OMP_NUM_THREADS={args.threads}", "/usr/bin/python3", DDP,
                    "--data", os.path.join(work, "data", data, "train"), "--arch", arch,
                    "--image-size", str(crop), "--batch", str(args.batch),
                    "--steps", str(args.steps), "--warmup-steps", str(args.warmup_steps),
                    "--log-every", str(args.log_every), "--threads", str(args.threads),
                    "--workers", str(args.workers), "--json", js] + args.ddp_arg
    wall = run(cmd, os.path.join(work, f"{name}.log"), args.timeout,
               dict(ENV, **(extra_env or {})))
    with open(js) as f:
        r = json.load(f)
    return dict(images_per_s=r["images_per_s"], data_wait_fraction=r["data_wait_fraction"],
                phase_s_per_step=r["phase_s_per_step"], wall_s=wall)


def run_side(side, base, ranks, args, rep, port):
    """side: tessera, ddp, tessera-bf16, ddp-bf16, tessera-sysheap or ddp-reuseheap."""
    for suffix, env in HEAP_ENV.items():
        if side.endswith(suffix):
            tag = f"r{rep}{suffix}"
            if side.startswith("tessera"):
                return run_tessera(base, ranks, args, args.work, tag, env)
            return run_ddp(base, ranks, args, args.work, tag, port, env)
    if side.endswith("-bf16"):
        args = argparse.Namespace(**vars(args))
        args.tessera_set = args.tessera_set + ["train.precision=bf16"]
        args.ddp_arg = args.ddp_arg + ["--bf16"]
    tag = f"r{rep}" + ("-bf16" if side.endswith("-bf16") else "")
    if side.startswith("tessera"):
        return run_tessera(base, ranks, args, args.work, tag)
    return run_ddp(base, ranks, args, args.work, tag, port)


def fmt_phases(p):
    keys = ["data", "forward", "backward", "reduce", "optimizer"]
    return " / ".join(f"{p[k] * 1e3:.0f}" if k in p else "-" for k in keys)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default="unet64x1,unet64x2,unet128x1,unet128x2,ae64x1,ae64x2")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup-steps", type=int, default=10)
    ap.add_argument("--log-every", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2,
                    help="DDP DataLoader workers per rank (= tessera data.loader_threads)")
    ap.add_argument("--samples", type=int, default=320, help="samples per synthetic dataset")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per run")
    ap.add_argument("--work", default="/tmp/tessera-bench-train")
    ap.add_argument("--tessera-set", action="append", default=[],
                    help="extra --set for tessera (e.g. train.channels_last=true)")
    ap.add_argument("--ddp-arg", action="append", default=[], help="extra ddp_train.py argument")
    ap.add_argument("--only", choices=["tessera", "ddp"], help="run one side only")
    ap.add_argument("--with-bf16", action="store_true",
                    help="also run each side in bf16 (tessera train.precision=bf16, DDP --bf16) "
                         "adjacent to its fp32 runs: four runs per case and repetition")
    ap.add_argument("--with-heap", action="store_true",
                    help="also run tessera with glibc's default heap (TESSERA_MALLOC=system) and "
                         "DDP with freed memory reused (GLIBC_TUNABLES), adjacent to the default "
                         "runs: four runs per case and repetition")
    ap.add_argument("--json", help="write all results here")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    cases = []
    for c in args.cases.split(","):
        base, _, ranks = c.partition("x")
        if base not in CASES or not ranks.isdigit():
            ap.error(f"unknown case {c!r}; expected e.g. unet64x2 ({', '.join(CASES)})")
        cases.append((base, int(ranks)))
    make_datasets(args.work, args.samples, sorted({CASES[b][2] for b, _ in cases}))

    print(f"threads per rank {args.threads} (torch.set_num_threads / train.threads_per_rank, "
          f"OMP_NUM_THREADS), batch {args.batch} per rank, {args.steps} steps of which "
          f"{args.warmup_steps} warm-up, loader threads / DataLoader workers {args.workers} per "
          f"rank, {args.reps} repetitions alternating the order\n", flush=True)
    results = []
    port = 29600
    for base, ranks in cases:
        reps = []
        for rep in range(args.reps):
            order = ["tessera", "ddp"] if rep % 2 == 0 else ["ddp", "tessera"]
            if args.only:
                order = [args.only]
            if args.with_bf16:
                order = [s + v for v in (["", "-bf16"] if rep % 2 == 0 else ["-bf16", ""])
                         for s in order]
            if args.with_heap:
                order = ["tessera", "tessera-sysheap", "ddp", "ddp-reuseheap"]
                if rep % 2:
                    order.reverse()
            r = {}
            for side in order:
                port += 1
                r[side] = run_side(side, base, ranks, args, rep, port)
            reps.append(r)
            print(f"  {base}x{ranks} rep {rep}: " + ", ".join(
                f"{s} {r[s]['images_per_s']:.2f} img/s" for s in order), flush=True)
        res = dict(case=f"{base}x{ranks}", arch=CASES[base][0], size=CASES[base][3], ranks=ranks,
                   reps=reps)
        for side in ("tessera", "ddp", "tessera-bf16", "ddp-bf16", "tessera-sysheap",
                     "ddp-reuseheap"):
            vals = [r[side]["images_per_s"] for r in reps if side in r]
            if vals:
                res[side] = statistics.median(vals)
        if not args.only:
            res["ratios"] = [r["tessera"]["images_per_s"] / r["ddp"]["images_per_s"] for r in reps]
            res["ratio"] = statistics.median(res["ratios"])
        if args.with_bf16:  # per repetition, bf16 over fp32 of the same side
            for side in ("tessera", "ddp"):
                rs = [r[side + "-bf16"]["images_per_s"] / r[side]["images_per_s"]
                      for r in reps if side in r]
                if rs:
                    res[side + "_bf16_ratios"] = rs
                    res[side + "_bf16_ratio"] = statistics.median(rs)
        results.append(res)

    print("\n| case | arch | crop | ranks | tessera img/s | DDP img/s | tessera / DDP | per-rep "
          "ratios | tessera data wait | tessera ms/step data/fwd/bwd/reduce/opt | DDP ms/step "
          "data/fwd/bwd+allreduce/opt |")
    print("|---|---|---:|---:|---:|---:|---:|---|---:|---|---|")
    for r in results:
        last = r["reps"][-1]
        t = last.get("tessera")
        d = last.get("ddp")
        print(f"| {r['case']} | {r['arch']} | {r['size']} | {r['ranks']} | "
              f"{r.get('tessera', float('nan')):.2f} | {r.get('ddp', float('nan')):.2f} | "
              f"{r.get('ratio', float('nan')):.2f}x | "
              f"{', '.join(f'{x:.2f}' for x in r.get('ratios', []))} | "
              f"{t['data_wait_fraction'] * 100 if t else float('nan'):.2f}% | "
              f"{fmt_phases(t['phase_s_per_step']) if t else '-'} | "
              f"{fmt_phases(d['phase_s_per_step']) if d else '-'} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
