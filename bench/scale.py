#!/usr/bin/python3
"""Scale of the work (issue 16, section 4): img/s and peak RSS of `tessera train` as the training
set grows 1x, 10x, 100x and as the ranks go 1, 2, 4 (docs/PERFORMANCE.md).

    /usr/bin/python3 bench/scale.py [--samples 200] [--mults 1,10,100] [--ranks 1,2,4]
                                    [--steps 30] [--work DIR] [--cold]

Config: configs/roads.yaml (the article's U-Net) at 64x64 crops of 64x64 synthetic tiles, batch
8 per rank, 1 compute thread and 1 loader thread per rank, no validation, a constant learning
rate. Each run is `mpirun -np N` with every rank under `/usr/bin/time -f %M` (peak RSS from
wait4). img/s is the steady rate after the first quarter of the steps (from metrics.jsonl), and
the per-step time each rank spends in the gradient allreduce ("reduce", waiting for the slowest
rank included) shows what the collectives cost per rank: on 2 cores, 4 ranks are
oversubscribed, so no speed-up is expected from them. --cold drops the page cache before each
run (root; `echo 3 > /proc/sys/vm/drop_caches`), so the shards are read from disk.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import memory  # noqa: E402
import train_compare as tc  # noqa: E402


def train(work, data, ranks, steps, name, cold):
    if cold:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    out_dir = os.path.join(work, "runs")
    prefix = os.path.join(work, f"{name}.rss")
    cmd = tc.MPIRUN + ["-np", str(ranks), "sh", "-c",
                       '/usr/bin/time -f %M -o "$0.$OMPI_COMM_WORLD_RANK" "$@"', prefix,
                       tc.TESSERA, "train", os.path.join(tc.ROOT, "configs/roads.yaml")]
    log_every = max(1, steps // 10)
    for s in [f"experiment.name={name}", f"experiment.output_dir={out_dir}", f"data.train={data}",
              "data.val=", "data.test=", "data.image_size=64", "data.batch_size=8",
              "data.loader_threads=1", "train.threads_per_rank=1",
              "schedule.name=constant", "schedule.warmup_steps=0", f"train.max_steps={steps}",
              "train.eval_every=0", f"train.checkpoint_every={steps}",
              f"train.log_every={log_every}", "logging.progress=off"]:
        cmd += ["--set", s]
    env = dict(tc.ENV, OMP_NUM_THREADS="1")
    tc.run(cmd, os.path.join(work, f"{name}.log"), 1800, env)
    with open(os.path.join(out_dir, name, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    ips, wait, phases = tc.steady_ips(records, steps // 4, 8, ranks, log_every)
    rss = [int(open(f"{prefix}.{r}").read().split()[-1]) / 1024 for r in range(ranks)]
    return ips, wait, phases, rss


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=200, help="the 1x training set")
    ap.add_argument("--mults", default="1,10,100")
    ap.add_argument("--ranks", default="1,2,4")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--work", default="/tmp/tessera-bench-scale")
    ap.add_argument("--cold", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    mults = [int(m) for m in args.mults.split(",")]
    ranks = [int(r) for r in args.ranks.split(",")]
    print(f"configs/roads.yaml (U-Net), 64x64, batch 8 per rank, {args.steps} steps, 1 thread per "
          f"rank; page cache {'dropped before each run' if args.cold else 'warm'}; peak RSS per "
          "rank in MiB (rank 0 / rank 1 ...)\n")
    print("| dataset | on disk | ranks | img/s (all ranks) | data wait | reduce ms/step | "
          "peak RSS (MiB) |\n|---:|---:|---:|---:|---:|---:|---|")
    for m in mults:
        n = args.samples * m
        data = memory.make_data(args.work, "roads", 64, n)
        for r in ranks:
            ips, wait, phases, rss = train(args.work, data, r, args.steps, f"scale-x{m}-np{r}",
                                           args.cold)
            print(f"| {m}x = {n} samples | {memory.dir_mb(data):.0f} MB | {r} | {ips:.1f} | "
                  f"{100 * wait:.1f}% | {1e3 * phases.get('reduce', 0.0):.1f} | "
                  f"{' / '.join(f'{v:.0f}' for v in rss)} |", flush=True)


if __name__ == "__main__":
    main()
