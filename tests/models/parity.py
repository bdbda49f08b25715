#!/usr/bin/python3
"""C++ <-> Python parity of tessera's models.

Runs models_parity_export (C++) to write weights, inputs and C++ outputs, then builds the same
models from tools/reference/models.py, loads the exported state dicts with strict=True (module
and parameter names must match exactly), and checks max |C++ output - Python output| < 1e-5.
Training-mode cases also compare the BatchNorm running statistics after the forward pass.
Exit status 0 = parity.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "reference"))

import torch  # noqa: E402

import models  # noqa: E402

TOL = 1e-5


def check_case(case, workdir):
    base = os.path.join(workdir, case["name"])
    model = models.build_model(case["arch"], case["in_channels"], case["out_channels"],
                               case["filters"], case["depth"], case["dropout"],
                               case["batch_norm"], case["residual"])
    # torch.load of the C++ file: a plain dict name -> tensor, loadable with weights_only=True
    # (PyTorch >= 2.6's default; 1.13 already has the flag).
    state = torch.load(base + ".weights.pt", weights_only=True)
    assert isinstance(state, dict), f"{case['name']}: weights file holds {type(state)}"
    model.load_state_dict(state, strict=True)
    io = torch.load(base + ".io.pt", weights_only=True)
    x, y_cpp = io["input"], io["output"]
    assert list(x.shape) == case["input_shape"], (x.shape, case["input_shape"])
    model.train(case["train"])
    with torch.no_grad():
        y = model(x)
    problems = []
    if y.shape != y_cpp.shape:
        return [f"output shape {tuple(y.shape)} != C++ {tuple(y_cpp.shape)}"]
    diff = (y - y_cpp).abs().max().item()
    scale = y_cpp.abs().max().item()
    if not diff < TOL:
        problems.append(f"max |diff| {diff:.3g} >= {TOL} (max |output| {scale:.3g})")
    # A degenerate (all-zero, dead-ReLU) output would make the comparison meaningless.
    if not scale > 1e-3 or not torch.isfinite(y_cpp).all():
        problems.append(f"degenerate C++ output: max |output| {scale:.3g}")
    if case["train"]:
        after = torch.load(base + ".after.pt", weights_only=True)
        ours = model.state_dict()
        for key, value in after.items():
            if "running" in key or "num_batches" in key:
                d = (ours[key].double() - value.double()).abs().max().item()
                if not d < 1e-6:
                    problems.append(f"{key}: running statistic differs by {d:.3g}")
    print(f"{case['name']:<24} {tuple(x.shape)} -> {tuple(y.shape)}  max|diff| {diff:.2e}  "
          f"max|y| {scale:.3g}  {'OK' if not problems else 'FAIL'}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--export-exe", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    log_path = os.path.join(args.workdir, "export.log")
    with open(log_path, "w") as log:
        rc = subprocess.call([args.export_exe, args.workdir], stdout=log, stderr=subprocess.STDOUT,
                             timeout=240)
    with open(log_path) as log:
        print(log.read(), end="")
    if rc != 0:
        print(f"models_parity_export failed with status {rc}")
        return 1
    with open(os.path.join(args.workdir, "cases.json")) as f:
        cases = json.load(f)
    assert len(cases) >= 8, f"expected the full case list, got {len(cases)}"
    failures = 0
    for case in cases:
        for problem in check_case(case, args.workdir):
            print(f"  {case['name']}: {problem}")
            failures += 1
    # The other direction: a dict saved by Python is read by tessera's load_state_dict_file.
    first = cases[0]
    assert first["name"] == "unet_3to1_bn", first["name"]
    model = models.build_model(first["arch"], first["in_channels"], first["out_channels"],
                               first["filters"], first["depth"], first["dropout"],
                               first["batch_norm"], first["residual"])
    models.load_tessera_state_dict(model, os.path.join(args.workdir, "unet_3to1_bn.weights.pt"))
    doubled = {k: (v * 2 if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    torch.save(doubled, os.path.join(args.workdir, "unet_3to1_bn.python.pt"))
    rc = subprocess.call([args.export_exe, "--load-check", args.workdir], timeout=120)
    if rc != 0:
        print(f"C++ could not read the Python-saved state dict correctly (status {rc})")
        failures += 1
    print(f"{len(cases)} cases, {failures} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
