#!/usr/bin/python3
"""Peak resident memory (VmHWM / ru_maxrss) of every rank of `tessera train` for the example
configs, with the training set at 1x and 10x its size (docs/PERFORMANCE.md).

    /usr/bin/python3 bench/memory.py [--ranks 2] [--steps 6] [--samples 200] [--work DIR]

Each rank runs under `/usr/bin/time -f %M` (peak RSS in KiB, from wait4), started by
`mpirun -np N`. Configs: configs/roads.yaml (article U-Net, 128x128 crops, batch 8) and
configs/monet_style.yaml (article autoencoder, 256x256, batch 4), each with its example
loader settings (2 loader threads, 4 prefetched batches), no validation during the run.
The loader's memory is bounded by data.prefetch_batches, so the peak must not grow with the
dataset: the table shows the 10x / 1x ratio.
"""

import argparse
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_compare as tc  # noqa: E402

CONFIGS = [
    # label, config, dataset kind (train_compare.DATASETS key), stored size, 1x samples
    ("roads.yaml (U-Net, 128x128, batch 8)", "configs/roads.yaml", "roads", 128, 200),
    ("monet_style.yaml (autoencoder, 256x256, batch 4)", "configs/monet_style.yaml", "style", 256,
     50),
]


def make_data(work, kind, size, samples):
    out = os.path.join(work, "data", f"{kind}{size}-{samples}")
    if os.path.isdir(os.path.join(out, "train")):
        return os.path.join(out, "train")
    task = tc.DATASETS[kind][0]
    cmd = [tc.TESSERA, "synth", "--task", task, "--out", out, "--samples", str(samples),
           "--size", str(size), "--shards", "4", "--val-fraction", "0", "--test-fraction", "0"]
    log = out + ".log"
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(log, "w") as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=tc.ROOT).returncode
    if rc != 0 and "not implemented" in open(log).read():
        tc.write_h5_dataset(os.path.join(out, "train"), task, samples, size)
    elif rc != 0:
        raise SystemExit(f"memory.py: {' '.join(cmd)} failed; see {log}")
    return os.path.join(out, "train")


def dir_mb(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)) / 1e6


def peak_rss(config, data, ranks, steps, work, name):
    out_dir = os.path.join(work, "runs")
    shutil.rmtree(os.path.join(out_dir, name), ignore_errors=True)
    prefix = os.path.join(work, f"{name}.rss")
    for f in os.listdir(work):
        if f.startswith(f"{name}.rss."):
            os.remove(os.path.join(work, f))
    cmd = tc.MPIRUN + ["-np", str(ranks), "sh", "-c",
                       '/usr/bin/time -f %M -o "$0.$OMPI_COMM_WORLD_RANK" "$@"', prefix,
                       tc.TESSERA, "train", os.path.join(tc.ROOT, config)]
    for s in [f"experiment.name={name}", f"experiment.output_dir={out_dir}", f"data.train={data}",
              "schedule.name=constant", "schedule.warmup_steps=0",
              "data.val=", "data.test=", f"train.max_steps={steps}", "train.eval_every=0",
              f"train.checkpoint_every={steps}", f"train.log_every={steps}",
              "logging.progress=off"]:
        cmd += ["--set", s]
    tc.run(cmd, os.path.join(work, f"{name}.log"), 1200)
    return [int(open(f"{prefix}.{r}").read().split()[-1]) / 1024 for r in range(ranks)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies the 1x dataset sizes")
    ap.add_argument("--work", default="/tmp/tessera-bench-memory")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    print(f"ranks {args.ranks}, {args.steps} steps, threads per rank 1; peak RSS per rank in MiB "
          "(rank 0 / rank 1 ...)\n")
    print("| config | dataset 1x | peak RSS 1x (MiB) | dataset 10x | peak RSS 10x (MiB) | "
          "10x / 1x |\n|---|---:|---|---:|---|---:|")
    for label, config, kind, size, samples in CONFIGS:
        row = []
        samples = max(16, int(samples * args.scale))
        for mult in (1, 10):
            data = make_data(args.work, kind, size, samples * mult)
            rss = peak_rss(config, data, args.ranks, args.steps, args.work,
                           f"mem-{kind}{size}-x{mult}")
            row.append((samples * mult, dir_mb(data), rss))
        ratio = max(row[1][2]) / max(row[0][2])
        print(f"| {label} | {row[0][0]} samples, {row[0][1]:.0f} MB | "
              f"{' / '.join(f'{v:.0f}' for v in row[0][2])} | {row[1][0]} samples, "
              f"{row[1][1]:.0f} MB | {' / '.join(f'{v:.0f}' for v in row[1][2])} | "
              f"{ratio:.2f} |", flush=True)


if __name__ == "__main__":
    main()
