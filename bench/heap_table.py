#!/usr/bin/python3
"""The heap policy's effect on training throughput, from `train_compare.py --with-heap --json FILE`.

    /usr/bin/python3 bench/heap_table.py RESULTS.json

Per case, four adjacent runs per repetition: tessera as shipped (freed memory reused,
common/heap_tuning.h), tessera with glibc's default heap (TESSERA_MALLOC=system), PyTorch DDP as
it comes (glibc's default heap) and PyTorch DDP with the same reuse through GLIBC_TUNABLES. Every
ratio is the median of the per-repetition ratios of adjacent runs.
"""

import json
import statistics
import sys


def ratio(reps, a, b):
    vals = [r[a]["images_per_s"] / r[b]["images_per_s"] for r in reps if a in r and b in r]
    return statistics.median(vals) if vals else float("nan")


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    results = json.load(open(sys.argv[1]))
    print("| case | tessera img/s (reuse, default) | tessera img/s (glibc default) | gain | "
          "DDP img/s (glibc default) | DDP img/s (reuse) | gain | tessera / DDP as shipped | "
          "tessera / DDP, both reuse |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    nan = float("nan")
    for r in results:
        reps = r["reps"]
        if not any("tessera-sysheap" in x for x in reps):
            continue
        print(f"| {r['case']} | {r.get('tessera', nan):.2f} | {r.get('tessera-sysheap', nan):.2f} | "
              f"{ratio(reps, 'tessera', 'tessera-sysheap'):.2f}x | {r.get('ddp', nan):.2f} | "
              f"{r.get('ddp-reuseheap', nan):.2f} | {ratio(reps, 'ddp-reuseheap', 'ddp'):.2f}x | "
              f"{ratio(reps, 'tessera', 'ddp'):.2f}x | {ratio(reps, 'tessera', 'ddp-reuseheap'):.2f}x |")


if __name__ == "__main__":
    main()
