#!/usr/bin/env python3
"""Independent reader of tessera's TensorBoard event files (tests/e2e/tensorboard.sh).

  tensorboard_check.py PB_DIR decode FILE
      parses FILE as TFRecords (its own parser), checks both masked CRC-32Cs of every record and
      decodes each as an Event (PB_DIR holds tensorboard_pb2.py, `protoc --python_out` of
      trainer/tensorboard.proto); exit 1 naming the record on any damage.
  tensorboard_check.py PB_DIR check RUN_DIR STARTS [--no-purge]
      every event file of RUN_DIR/tb, in name order (TensorBoard's order): each must start with
      file_version "brain.Event:2" then a SessionLog START; STARTS (comma-separated) are the
      expected START steps in file order. Applies TensorBoard's rule (a START after the first
      one read discards what was read with step >= its step; --no-purge skips it, the control),
      then requires that every scalar of RUN_DIR/metrics.jsonl appears exactly once at its step
      with its value as float32 (null = NaN) under the documented tag mapping, and nothing else;
      that each validation step has one PNG image "val/images" whose decoded size is the
      declared height x width; and that the input column (the fixed samples) is the same in all.
"""
import glob
import io
import json
import math
import os
import struct
import sys


def crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = crc_table()


def masked_crc(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_events(path, pb):
    data = open(path, "rb").read()
    events, pos, n = [], 0, 0
    while pos < len(data):
        if pos + 12 > len(data):
            raise SystemExit(f"{path}: record {n}: truncated header at byte {pos}")
        head = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", head)
        (head_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        if head_crc != masked_crc(head):
            raise SystemExit(f"{path}: record {n} at byte {pos}: length CRC mismatch")
        body = data[pos + 12:pos + 12 + length]
        if len(body) != length or pos + 16 + length > len(data):
            raise SystemExit(f"{path}: record {n}: truncated data")
        (body_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        if body_crc != masked_crc(body):
            raise SystemExit(f"{path}: record {n} at byte {pos}: data CRC mismatch")
        event = pb.Event()
        event.ParseFromString(body)
        events.append(event)
        pos += 16 + length
        n += 1
    return events


def f32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]


def expected_scalars(record):
    """The documented mapping (docs/run-dir.md, "TensorBoard"), written again here."""
    split = record.get("split")
    prefix = split + "/" if isinstance(split, str) else ""
    out = {}

    def add(tag, v):
        if isinstance(v, dict):
            for k, x in v.items():
                add(tag + "/" + k, x)
        elif isinstance(v, bool) or isinstance(v, str):
            return
        elif v is None:
            out[tag] = math.nan
        elif isinstance(v, (int, float)):
            out[tag] = f32(float(v))

    for k, v in record.items():
        if k not in ("step", "split"):
            add(k if "/" in k else prefix + k, v)
    return out


def check(pb, run_dir, starts, purge):
    files = sorted(glob.glob(os.path.join(run_dir, "tb", "*tfevents*")))
    if not files:
        raise SystemExit(f"no event files in {run_dir}/tb")
    scalars, images, seen_start, records = [], [], False, 0
    start_steps = []
    for path in files:
        events = read_events(path, pb)
        records += len(events)
        name = os.path.basename(path)
        if len(events) < 2 or events[0].file_version != "brain.Event:2":
            raise SystemExit(f"{name}: first record is not file_version brain.Event:2")
        if events[1].WhichOneof("what") != "session_log" or \
                events[1].session_log.status != pb.SessionLog.START:
            raise SystemExit(f"{name}: second record is not a SessionLog START")
        for e in events[1:]:
            what = e.WhichOneof("what")
            if what == "session_log" and e.session_log.status == pb.SessionLog.START:
                start_steps.append(e.step)
                if seen_start and purge:
                    scalars = [s for s in scalars if s[0] < e.step]
                    images = [s for s in images if s[0] < e.step]
                seen_start = True
            elif what == "summary":
                for v in e.summary.value:
                    if v.WhichOneof("value") == "simple_value":
                        scalars.append((e.step, v.tag, v.simple_value))
                    elif v.WhichOneof("value") == "image":
                        images.append((e.step, v.tag, v.image))
                    else:
                        raise SystemExit(f"{name}: value {v.tag} at step {e.step} has no value")
            else:
                raise SystemExit(f"{name}: unexpected event {what} at step {e.step}")
    if start_steps != starts:
        raise SystemExit(f"SessionLog START steps {start_steps}, expected {starts}")

    expected, val_steps = {}, []
    with open(os.path.join(run_dir, "metrics.jsonl"), encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            for tag, v in expected_scalars(rec).items():
                key = (rec["step"], tag)
                if key in expected:
                    raise SystemExit(f"metrics.jsonl has {key} twice: the mapping is ambiguous")
                expected[key] = v
            if rec.get("split") == "val":
                val_steps.append(rec["step"])
    got = {}
    for step, tag, v in scalars:
        if (step, tag) in got:
            raise SystemExit(f"scalar {tag} appears twice at step {step} (values {got[(step, tag)]}, {v})")
        got[(step, tag)] = v
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    if missing or extra:
        raise SystemExit(f"scalars missing from the events: {missing[:8]}; not in metrics.jsonl: {extra[:8]}")
    for key, v in expected.items():
        g = got[key]
        if not ((math.isnan(v) and math.isnan(g)) or v == g):
            raise SystemExit(f"{key}: metrics.jsonl {v!r} (float32) but the event has {g!r}")

    from PIL import Image  # python3-pil
    if sorted(s for s, _, _ in images) != sorted(val_steps) or any(t != "val/images" for _, t, _ in images):
        raise SystemExit(f"images at {[(s, t) for s, t, _ in images]}, validations at {val_steps}")
    columns = set()
    for step, _, im in images:
        pic = Image.open(io.BytesIO(im.encoded_image_string))
        if pic.format != "PNG" or pic.size != (im.width, im.height) or im.colorspace != 3 or pic.mode != "RGB":
            raise SystemExit(f"image at step {step}: {pic.format} {pic.mode} {pic.size}, declared "
                             f"{im.width}x{im.height} colorspace {im.colorspace}")
        panel = (im.width - 8) // 3  # input | target | prediction, 4 px between
        columns.add(pic.crop((0, 0, panel, im.height)).tobytes())
    if len(columns) != 1:
        raise SystemExit(f"the input column differs between validations: not the same samples")
    print(f"{len(files)} event files, {records} records (CRCs checked), {len(expected)} scalars "
          f"matched at {len({s for s, _ in expected})} steps, {len(images)} PNG images "
          f"({images[0][2].width}x{images[0][2].height}), START steps {start_steps}")


def main():
    sys.path.insert(0, sys.argv[1])
    import tensorboard_pb2 as pb  # generated by protoc --python_out
    if sys.argv[2] == "decode":
        events = read_events(sys.argv[3], pb)
        print(f"{sys.argv[3]}: {len(events)} records, CRCs good")
    elif sys.argv[2] == "check":
        starts = [int(s) for s in sys.argv[4].split(",")]
        check(pb, sys.argv[3], starts, "--no-purge" not in sys.argv[5:])
    else:
        raise SystemExit(f"unknown command {sys.argv[2]}")


if __name__ == "__main__":
    main()
