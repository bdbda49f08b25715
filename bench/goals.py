#!/usr/bin/python3
"""Checks the issue-8 goals against the results of one scripts/bench.sh run and prints a
Markdown table (met / NOT met, with the measured figures).

    /usr/bin/python3 bench/goals.py RESULTS_DIR

Reads RESULTS_DIR/train.json (bench/train_compare.py --json), grad.log (bench_grad_overhead)
and allreduce.log (bench_allreduce); a missing input makes its rows "not measured".
"""

import json
import os
import re
import sys


def table_rows(path):
    """Rows (lists of cell strings) of the Markdown tables in a log, header rows included."""
    rows = []
    for line in open(path):
        line = line.strip()
        if line.startswith("|") and not re.match(r"^\|[-:| ]+\|$", line):
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def pct(x):
    return f"{x * 100:.1f}%"


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    out = sys.argv[1]
    goals = []  # (goal, measured, met or None)

    train = os.path.join(out, "train.json")
    if os.path.exists(train):
        res = [r for r in json.load(open(train)) if "ratio" in r]
        two = [r for r in res if r["ranks"] == 2]
        if two:
            worst2 = min(two, key=lambda r: r["ratio"])
            goals.append(("tessera >= 1.2x PyTorch DDP at 2 ranks",
                          ", ".join(f"{r['case']} {r['ratio']:.2f}x" for r in two),
                          all(r["ratio"] >= 1.2 for r in two)))
            del worst2
        if res:
            worst = min(res, key=lambda r: r["ratio"])
            all_ratios = [x for r in res for x in r["ratios"]]
            goals.append(("never below 1.0x on any measured configuration",
                          f"lowest median {worst['case']} {worst['ratio']:.2f}x; lowest single "
                          f"repetition {min(all_ratios):.2f}x",
                          min(all_ratios) >= 1.0))
        waits = [(r["case"], rep["tessera"]["data_wait_fraction"]) for r in res
                 for rep in r["reps"] if "tessera" in rep]
        if waits:
            case, w = max(waits, key=lambda t: t[1])
            goals.append(("data wait under 2% of step time (training)",
                          f"highest {pct(w)} ({case}); all runs: "
                          + ", ".join(sorted({f'{c} {pct(x)}' for c, x in waits})),
                          w < 0.02))
    else:
        goals.append(("training throughput goals", "not measured", None))

    grad = os.path.join(out, "grad.log")
    if os.path.exists(grad):
        rows = [r for r in table_rows(grad) if r and r[0].startswith("overlap")]
        if rows:
            best = min(rows, key=lambda r: float(r[2].rstrip("%")))
            goals.append(("gradient-averaging overhead under 5% at 2 ranks with overlap",
                          "; ".join(f"{r[0]}: {r[2]}" for r in rows),
                          float(best[2].rstrip("%")) < 5.0))
    else:
        goals.append(("gradient-averaging overhead", "not measured", None))

    ar = os.path.join(out, "allreduce.log")
    if os.path.exists(ar):
        rows = table_rows(ar)
        big = []
        for r in rows[1:]:
            m = re.match(r"([\d.]+) (KiB|MiB)", r[0])
            if m and m.group(2) == "MiB" and float(m.group(1)) >= 1:
                big.append((r[0], float(r[6]), float(r[7])))
        if big:
            worst_sync = min(big, key=lambda t: t[1])
            worst_async = min(big, key=lambda t: t[2])
            goals.append(("our allreduce within 5% of raw MPI_Allreduce for >= 1 MiB",
                          f"time ratio raw/ours, lowest: sync {worst_sync[1]:.2f} at "
                          f"{worst_sync[0]}, async {worst_async[2]:.2f} at {worst_async[0]}",
                          worst_sync[1] >= 0.95 and worst_async[2] >= 0.95))
    else:
        goals.append(("allreduce bandwidth", "not measured", None))

    print("| goal | measured (this run) | status |\n|---|---|---|")
    for g, m, ok in goals:
        status = "not measured" if ok is None else ("met" if ok else "**NOT met**")
        print(f"| {g} | {m} | {status} |")


if __name__ == "__main__":
    main()
