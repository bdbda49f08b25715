#!/usr/bin/env python3
"""Helpers of config_keys_reach_test.sh (docs/config.md, "No key is ignored").

  config_keys_reach.py yaml BASE OUT KEY=VALUE...   writes OUT: `base: BASE` plus the settings
                                                     (VALUE is YAML text) as nested mappings
  config_keys_reach.py digest CWD LOG RC           prints what a run observably did (below)

The digest is what a user can see of a run, with everything that varies between identical runs
taken out: the exit status; every file under CWD by path; the bytes (SHA-256) of weights,
optimizer state, checkpoint pointers and images; metrics.jsonl and eval summaries without their
timing fields; the log without timestamps, throughput, durations and the run's own directory.
The store's "checkpoint ... saved" lines come from the background writer (checkpoint.async), so
their place among the training thread's lines varies: they are compared as a sorted set.
The resolved config files are listed by name only: their content always differs and proves
nothing about whether a key was read. TensorBoard event files (tb/) are listed by name only, with
the creation time and host in the name replaced: their bytes hold wall times, and every scalar
in them is a metrics.jsonl value, which the digest has.
"""
import hashlib
import json
import os
import re
import sys

TIMING_FIELDS = {"images_per_s", "data_wait_fraction", "time", "seconds", "elapsed_s",
                 "seconds_per_image", "wall_s"}
HASHED = ("model.pt", ".png", ".csv", ".npy")
# optim.pt: its bytes differ between identical runs (the optimizer's parameter state is keyed
# by a per-process id), so only its name counts; the weights show what the optimizer did.
BACKGROUND_LINE = re.compile(r"\bdebug checkpoint \S+ saved \(")
NAME_ONLY = {"config.yaml", "config.resolved.yaml", "meta.json", "job.sbatch", "optim.pt"}


def write_yaml(base, out, settings):
    tree = {}
    for s in settings:
        key, value = s.split("=", 1)
        node = tree
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value

    def emit(node, indent):
        lines = []
        for k, v in node.items():
            if isinstance(v, dict):
                lines.append(" " * indent + k + ":")
                lines += emit(v, indent + 2)
            else:
                lines.append(" " * indent + f"{k}: {v}")
        return lines

    with open(out, "w", encoding="utf-8") as f:
        f.write(f"base: {base}\n" + "\n".join(emit(tree, 0)) + "\n")


def strip_timing(obj):
    if isinstance(obj, dict):
        return {k: strip_timing(v) for k, v in obj.items() if k not in TIMING_FIELDS}
    if isinstance(obj, list):
        return [strip_timing(v) for v in obj]
    return obj


def without_event_time(text):
    """events.out.tfevents.<unix seconds>.<host> (trainer/tensorboard.h) -> the same for any run."""
    return re.sub(r"tfevents\.\d+\.[^/\s]+", "tfevents.<time>.<host>", text)


def normalize_log(line, cwd):
    line = without_event_time(line.replace(cwd, "<run>"))
    line = re.sub(r"^\[(\d+)/(\d+)\] \d\d:\d\d:\d\d ", r"[\1/\2] ", line)
    line = re.sub(r"\d+(\.\d+)? img/s", "<n> img/s", line)
    line = re.sub(r"ETA \S+", "ETA <t>", line)
    line = re.sub(r"\(\d+(\.\d+)? s\)", "(<t> s)", line)
    line = re.sub(r"\d+\.\d+ s\)", "<t> s)", line)
    line = re.sub(r"\bin \d+(\.\d+)? ?s\b", "in <t> s", line)
    line = re.sub(r"/tmp/tessera-mpi-\w+", "<tmp>", line)
    return line


def digest(cwd, log, rc):
    cwd = os.path.realpath(cwd)
    out = [f"exit status {rc}"]
    for root, dirs, files in os.walk(cwd):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, cwd)
            if os.path.realpath(path) == os.path.realpath(log):
                continue
            if name == "metrics.jsonl":
                with open(path, encoding="utf-8") as f:
                    for line in f:
                        out.append(f"{rel}: {json.dumps(strip_timing(json.loads(line)), sort_keys=True)}")
            elif name.endswith(".json") and name not in NAME_ONLY:
                with open(path, encoding="utf-8") as f:
                    record = strip_timing(json.load(f))
                if name == "state.json":
                    record.pop("rng", None)  # echoes experiment.seed; not evidence of a read
                out.append(f"{rel}: {json.dumps(record, sort_keys=True)}")
            elif name in NAME_ONLY:
                out.append(f"{rel}")
            elif name.endswith(HASHED) or name in ("latest", "best"):
                with open(path, "rb") as f:
                    out.append(f"{rel}: sha256 {hashlib.sha256(f.read()).hexdigest()}")
            else:
                out.append(without_event_time(rel))
    background = []
    with open(log, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = normalize_log(line.rstrip("\n"), cwd)
            if BACKGROUND_LINE.search(line):
                background.append("log (background writer): " + line)
            else:
                out.append("log: " + line)
    return out + sorted(background)


def main():
    if sys.argv[1] == "yaml":
        write_yaml(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif sys.argv[1] == "digest":
        print("\n".join(digest(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        raise SystemExit(f"unknown command {sys.argv[1]}")


if __name__ == "__main__":
    main()
