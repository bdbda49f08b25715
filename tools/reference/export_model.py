#!/usr/bin/python3
"""Turns a tessera state dict into a TorchScript module or an ONNX graph (tessera export --format).

Run by `tessera export --format torchscript|onnx` (launcher/export_formats.cpp), which passes the
model hyper-parameters of the resolved config, the checkpoint's weights (a plain state dict,
models/export.h) and a probe: an input batch with the C++ model's activated output on it. This
script builds the same network from models.py (identical state-dict names), loads the weights
with strict=True, and refuses to write anything unless the Python twin reproduces the C++ output
on the probe (max |diff| <= TOL * max(1, max |output|), the parity test's tolerance).

What the exported model computes: activation(network(x)) for x float32 N x C x H x W in [0, 1],
the network including model.residual (x + net(x)), and activation = model.activation (sigmoid,
softmax over channels, relu or none). That is the prediction `tessera predict` computes for an
image of an accepted size (H, W multiples of --multiple) before it thresholds, takes the argmax or
quantises to 8-bit PNG; super-resolution's bicubic up-scaling of the low-resolution input is not
part of the model (feed the up-scaled image).

torchscript: the network is traced in eval mode (sizes are traced, so other N, H, W work; checked
  here at a second size against the eager twin) inside a scripted wrapper that checks the input
  (4-D, C channels, H and W multiples of --multiple) and applies the activation. The file holds
  `tessera.json` (extra file) with the hyper-parameters. Loads with torch.jit.load (Python) and
  torch::jit::load (C++); re-loaded here and checked against the probe again.
onnx: torch.onnx.export (TorchScript-based exporter; opset --opset) of the eager twin plus the
  activation, dynamic batch/height/width axes, checked with onnx.checker.check_model(full_check),
  then run by onnx_eval.py (a NumPy interpreter of the ONNX operators, written from the ONNX
  specification; Debian has no onnxruntime) on the probe, against the C++ output, and at the
  second size, against the eager twin (unless it uses an operator onnx_eval.py does not know:
  then a warning). The ONNX graph has no input check.

Exit status: 0 written, 2 bad arguments, 3 parity failure (the twin, the saved TorchScript module
or the ONNX graph differs from the C++ model, or the graph does not run), 4 missing package, 1
other errors. An ONNX graph with an operator onnx_eval.py does not implement is written with a
warning, its report saying "onnx_numerics": "unchecked: ...".
"""

import argparse
import inspect
import json
import os
import sys
import warnings

TOL = 1e-5  # tests/models/parity.py


def fail(code, message):
    print(f"export_model.py: {message}", file=sys.stderr)
    sys.exit(code)


try:
    import torch
except ImportError as e:  # pragma: no cover - depends on the machine
    fail(4, f"cannot import torch ({e}); install PyTorch for this interpreter "
            f"({sys.executable}): Debian's python3-torch (apt-get install python3-torch)")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

from typing import Final  # noqa: E402


class ExportedModel(torch.nn.Module):
    """Input check + traced network + output activation (scripted)."""

    in_channels: Final[int]
    multiple: Final[int]
    min_size: Final[int]
    activation: Final[str]

    def __init__(self, net, in_channels, multiple, min_size, activation):
        super().__init__()
        self.net = net
        self.in_channels = in_channels
        self.multiple = multiple
        self.min_size = min_size
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.size(1) != self.in_channels:
            raise RuntimeError("tessera model: expected an N x " + str(self.in_channels) +
                               " x H x W input, got shape " + str(x.size()))
        h = x.size(2)
        w = x.size(3)
        if h % self.multiple != 0 or w % self.multiple != 0 or h < self.min_size or \
                w < self.min_size:
            raise RuntimeError("tessera model: H and W must be multiples of " +
                               str(self.multiple) + " (at least " + str(self.min_size) +
                               "); got " + str(h) + "x" + str(w))
        y = self.net(x)
        if self.activation == "sigmoid":
            return torch.sigmoid(y)
        if self.activation == "softmax":
            return torch.softmax(y, dim=1)
        if self.activation == "relu":
            return torch.relu(y)
        return y


class Activated(torch.nn.Module):
    """The eager twin plus the activation (what ONNX exports)."""

    def __init__(self, net, activation):
        super().__init__()
        self.net = net
        self.activation = activation

    def forward(self, x):
        return models.apply_activation(self.activation, self.net(x))


def max_diff(a, b):
    if a.shape != b.shape:
        return float("inf")
    return (a.double() - b.double()).abs().max().item()


def check(what, y, reference):
    diff = max_diff(y, reference)
    bound = TOL * max(1.0, reference.abs().max().item())
    if not diff <= bound:
        fail(3, f"{what} differs from tessera's C++ model on the probe: max |diff| {diff:.3g} > "
                f"{bound:.3g} (shapes {tuple(y.shape)} / {tuple(reference.shape)})")
    return diff


def check_onnx_numerics(graph, x, y_cpp, x2, y2):
    """Runs the ONNX graph with onnx_eval.py on the probe (against the C++ model's output) and at
    the second size (against the eager twin); fails with exit status 3 on a difference or a graph
    that does not run. A graph with an operator onnx_eval.py does not implement (another torch's
    exporter) is written unchecked, with a warning and "onnx_numerics": "unchecked: ..." in the
    report."""
    import onnx_eval
    name = graph.graph.input[0].name
    out = {"onnx_numerics": "checked by tools/reference/onnx_eval.py"}
    for key, what, xi, ref in (("onnx_max_diff", "the ONNX graph", x, y_cpp),
                               ("onnx_second_size_max_diff", "the ONNX graph at a second size",
                                x2, y2)):
        try:
            (y,) = onnx_eval.run(graph, {name: xi.numpy()})
        except onnx_eval.UnsupportedGraph as e:
            print(f"export_model.py: warning: the ONNX graph's numerics are NOT checked: {e} "
                  f"(tools/reference/onnx_eval.py; torch {torch.__version__}); check the file "
                  "with your runtime before you rely on it", file=sys.stderr)
            return {"onnx_numerics": f"unchecked: {e}"}
        except (ValueError, IndexError) as e:  # shapes that do not fit: a broken graph
            fail(3, f"{what} does not run on a {tuple(xi.shape)} input: {type(e).__name__}: {e}")
        out[key] = check(f"{what} (run by tools/reference/onnx_eval.py)", torch.from_numpy(y),
                         ref)
    out["second_size"] = list(x2.shape)
    return out


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--format", required=True, choices=["torchscript", "onnx"])
    ap.add_argument("--arch", required=True, choices=["unet", "autoencoder", "autoencoder_generic"])
    ap.add_argument("--in-channels", type=int, required=True)
    ap.add_argument("--out-channels", type=int, required=True)
    ap.add_argument("--filters", type=int, required=True)
    ap.add_argument("--depth", type=int, required=True)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--batch-norm", type=int, choices=[0, 1], required=True)
    ap.add_argument("--residual", type=int, choices=[0, 1], required=True)
    ap.add_argument("--normalize-input", type=int, choices=[0, 1], default=0,
                    help="data.normalize: dataset (input_mean / input_std in the weights)")
    ap.add_argument("--activation", required=True, choices=["sigmoid", "softmax", "relu", "none"])
    ap.add_argument("--multiple", type=int, required=True, help="H and W must be multiples")
    ap.add_argument("--weights", required=True, help="state dict written by tessera export")
    ap.add_argument("--probe", required=True, help="{input, output} of the C++ model")
    ap.add_argument("--out", required=True)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--meta", default="{}", help="JSON merged into tessera.json")
    return ap.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    warnings.filterwarnings("ignore")  # TracerWarnings about the baked-in Python checks
    if args.format == "onnx":
        try:
            import onnx
        except ImportError as e:
            fail(4, f"cannot import onnx ({e}); install it for {sys.executable}: Debian's "
                    "python3-onnx (apt-get install python3-onnx)")
    net = models.build_model(args.arch, args.in_channels, args.out_channels, args.filters,
                             args.depth, args.dropout, bool(args.batch_norm), bool(args.residual),
                             bool(args.normalize_input))
    models.load_tessera_state_dict(net, args.weights, strict=True)
    net.eval()
    probe = torch.load(args.probe, map_location="cpu", weights_only=True)
    x, y_cpp = probe["input"], probe["output"]
    min_size = 16 if args.arch == "autoencoder" else args.multiple
    report = {"format": args.format, "probe_shape": list(x.shape), "tolerance": TOL}
    with torch.no_grad():
        eager = Activated(net, args.activation).eval()
        report["twin_max_diff"] = check("the Python twin (tools/reference/models.py)", eager(x),
                                        y_cpp)
        # A second size (H != W, other batch) for the size-independence of the trace.
        m = args.multiple
        x2 = torch.rand(1, args.in_channels, x.shape[2] + 2 * m, x.shape[3] + m,
                        generator=torch.Generator().manual_seed(1))
        y2 = eager(x2)
        if args.format == "torchscript":
            traced = torch.jit.trace(net, x, check_trace=False)
            module = torch.jit.script(
                ExportedModel(traced, args.in_channels, args.multiple, min_size, args.activation))
            meta = {"arch": args.arch, "in_channels": args.in_channels,
                    "out_channels": args.out_channels, "filters": args.filters,
                    "depth": args.depth, "batch_norm": bool(args.batch_norm),
                    "residual": bool(args.residual), "activation": args.activation,
                    "size_multiple": args.multiple, "min_size": min_size,
                    "returns": f"{args.activation}(network(x))", "torch": torch.__version__}
            meta.update(json.loads(args.meta))
            torch.jit.save(module, args.out, _extra_files={"tessera.json": json.dumps(meta)})
            loaded = torch.jit.load(args.out, map_location="cpu")
            report["torchscript_max_diff"] = check("the saved TorchScript module", loaded(x), y_cpp)
            report["second_size"] = list(x2.shape)
            report["second_size_max_diff"] = check("the TorchScript module at a second size",
                                                   loaded(x2), y2)
        else:
            kwargs = {}
            if "dynamo" in inspect.signature(torch.onnx.export).parameters:
                kwargs["dynamo"] = False  # the TorchScript exporter (default up to 2.8)
            axes = {0: "batch", 2: "height", 3: "width"}
            torch.onnx.export(eager, x, args.out, opset_version=args.opset,
                              input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": axes, "output": axes}, **kwargs)
            graph = onnx.load(args.out)
            onnx.checker.check_model(graph, full_check=True)
            report["onnx_opset"] = args.opset
            report["onnx_checker"] = "ok"
            report["onnx_nodes"] = len(graph.graph.node)
            report.update(check_onnx_numerics(graph, x, y_cpp, x2, y2))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
