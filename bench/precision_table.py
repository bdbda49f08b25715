#!/usr/bin/python3
"""bf16 vs fp32 training throughput from `train_compare.py --with-bf16 --json FILE`.

    /usr/bin/python3 bench/precision_table.py RESULTS.json [CPU_FLAGS_FILE]

Per case: tessera's img/s in fp32 and in bf16 (train.precision) and their ratio (median of the
per-repetition ratios, the four runs of a repetition being adjacent), the same for PyTorch DDP
(fp32, and torch.autocast("cpu", torch.bfloat16)), and tessera bf16 / DDP bf16. Issue 16's goal
(bf16 >= 1.5x fp32 on CPUs with bf16 instructions) is judged per case.
"""

import json
import statistics
import sys


def main():
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    results = json.load(open(sys.argv[1]))
    flags = open(sys.argv[2]).read().strip() if len(sys.argv) == 3 else ""
    print(f"CPU bf16 instructions (/proc/cpuinfo flags): {flags or 'none'}\n")
    print("| case | tessera fp32 img/s | tessera bf16 img/s | tessera bf16 / fp32 | goal >= 1.5x "
          "| DDP fp32 img/s | DDP bf16 img/s | DDP bf16 / fp32 | tessera / DDP, bf16 |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|")
    nan = float("nan")
    for r in results:
        if "tessera_bf16_ratio" not in r:
            continue
        t = r["tessera_bf16_ratio"]
        vs = statistics.median(x["tessera-bf16"]["images_per_s"] / x["ddp-bf16"]["images_per_s"]
                               for x in r["reps"] if "ddp-bf16" in x)
        print(f"| {r['case']} | {r['tessera']:.2f} | {r['tessera-bf16']:.2f} | {t:.2f}x | "
              f"{'met' if t >= 1.5 else 'NOT met'} | {r.get('ddp', nan):.2f} | "
              f"{r.get('ddp-bf16', nan):.2f} | {r.get('ddp_bf16_ratio', nan):.2f}x | {vs:.2f}x |")


if __name__ == "__main__":
    main()
