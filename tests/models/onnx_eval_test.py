#!/usr/bin/python3
"""The ONNX numerics check of `tessera export --format onnx`, and its controls.

tools/reference/onnx_eval.py runs ONNX graphs with NumPy (Debian has no onnxruntime). This test
exports the Python twin (tools/reference/models.py, parity-tested against the C++ models) of
every architecture with torch.onnx.export, as export_model.py does, and requires the evaluated
graph to match the eager twin at several sizes and at opsets 13 and 17. The controls show that the
check can fail:
  - the twin's former "same" padding (-(-size // stride), which the exporter turns into a
    truncating ONNX Div) gives an autoencoder graph that does not match, although its eager
    outputs are identical to today's;
  - the first convolution's weights scaled by 1.01 inside the graph, and a Resize with
    another coordinate mapping, are seen;
  - an operator the evaluator does not implement is refused by name, never guessed;
  - export_model.py's own check exits 3 on the sabotaged graph, and reports a graph with an
    operator the evaluator does not know as "unchecked" (with a warning) rather than guess;
  - Div and Cast on integers truncate as the ONNX specification says.
Prints one line per case and ends with "PASS ..."; exit status 1 on the first failure.
"""

import argparse
import os
import subprocess
import sys
import warnings

import numpy as np
import onnx
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
import models  # noqa: E402
import onnx_eval  # noqa: E402
import export_model  # noqa: E402

TOL = export_model.TOL

# (arch, in, out, filters, depth, batch_norm, residual, activation, sizes (H, W))
CASES = [
    ("unet", 3, 1, 4, 2, True, False, "sigmoid", [(16, 16), (28, 20), (8, 36)]),
    ("unet", 4, 4, 4, 3, False, True, "softmax", [(16, 16), (40, 24)]),
    ("autoencoder", 3, 3, 4, 4, True, False, "sigmoid", [(16, 16), (48, 32), (32, 80)]),
    ("autoencoder_generic", 3, 3, 4, 2, True, True, "none", [(16, 16), (12, 20)]),
    ("autoencoder_generic", 1, 1, 4, 3, False, False, "relu", [(16, 16), (24, 40)]),
]


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def build(case, seed):
    arch, cin, cout, filters, depth, bn, res, act, _ = case
    torch.manual_seed(seed)
    net = models.build_model(arch, cin, cout, filters, depth, 0.1, bn, res)
    for m in net.modules():  # non-trivial statistics, so that BN folding is exercised
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return export_model.Activated(net, act).eval()


def export(model, cin, size, path, opset):
    axes = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.rand(2, cin, *size), path, opset_version=opset,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": axes, "output": axes})
    graph = onnx.load(path)
    onnx.checker.check_model(graph, full_check=True)
    return graph


def diff(graph, model, x):
    """max |onnx - eager| relative bound; inf when the graph does not run or has another shape."""
    with torch.no_grad():
        ref = model(x).double().numpy()
    try:
        (y,) = onnx_eval.run(graph, {"input": x.numpy()})
    except (ValueError, IndexError):
        return float("inf"), ref
    if y.shape != ref.shape:
        return float("inf"), ref
    return float(np.abs(y - ref).max()), ref


def check_matches(workdir):
    for i, case in enumerate(CASES):
        cin, sizes = case[1], case[8]
        model = build(case, seed=i)
        for opset in (13, 17):
            graph = export(model, cin, sizes[0], os.path.join(workdir, f"case{i}.onnx"), opset)
            for n, (h, w) in zip((2, 1, 3), sizes):
                x = torch.rand(n, cin, h, w, generator=torch.Generator().manual_seed(h * w))
                d, ref = diff(graph, model, x)
                bound = TOL * max(1.0, float(np.abs(ref).max()))
                print(f"{case[0]} in={cin} bn={case[5]} res={case[6]} {case[7]} opset {opset} "
                      f"{n}x{cin}x{h}x{w}: max |diff| {d:.3g} (bound {bound:.3g})")
                if not d <= bound:
                    fail(f"the evaluated ONNX graph differs from the eager twin: {d}")


def old_tf_same_padding(size, kernel, stride):
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def control_old_padding(workdir):
    case = CASES[2]  # the article's autoencoder: stride-2 'same' convolutions on odd sizes
    model = build(case, seed=7)
    x = torch.rand(2, 3, 48, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        today = model(x)
    saved = models.tf_same_padding
    models.tf_same_padding = old_tf_same_padding
    try:
        with torch.no_grad():
            eager_old = model(x)
        graph = export(model, 3, (16, 16), os.path.join(workdir, "old_padding.onnx"), 17)
        d, _ = diff(graph, model, x)
    finally:
        models.tf_same_padding = saved
    if not torch.equal(today, eager_old):
        fail("the twin's eager output changed with the padding formula")
    print(f"control, former padding formula: eager outputs identical, ONNX max |diff| {d:.3g} "
          "(inf: the graph does not even run at this size)")
    if d <= TOL:
        fail("the ONNX graph of the former padding formula matched: the check cannot fail")


def sabotaged(graph, how):
    g = onnx.ModelProto()
    g.CopyFrom(graph)
    if how == "weight":
        conv = next(n for n in g.graph.node if n.op_type == "Conv")
        t = next(t for t in g.graph.initializer if t.name == conv.input[1])
        w = onnx.numpy_helper.to_array(t) * np.float32(1.01)
        t.CopyFrom(onnx.numpy_helper.from_array(w, t.name))
    elif how == "resize":
        node = next(n for n in g.graph.node if n.op_type == "Resize")
        for a in node.attribute:
            if a.name == "coordinate_transformation_mode":
                a.s = b"half_pixel"
    elif how == "op":
        node = next(n for n in g.graph.node if n.op_type == "Relu")
        node.op_type = "LeakyRelu"
    return g


def control_sabotage(workdir):
    case = CASES[3]  # autoencoder_generic: Resize (nearest) and a residual
    model = build(case, seed=3)
    graph = export(model, 3, (16, 16), os.path.join(workdir, "generic.onnx"), 17)
    x = torch.rand(2, 3, 16, 24, generator=torch.Generator().manual_seed(5))
    for how in ("weight", "resize"):
        d, _ = diff(sabotaged(graph, how), model, x)
        print(f"control, sabotaged {how}: max |diff| {d:.3g}")
        if d <= TOL:
            fail(f"a sabotaged {how} was not seen")
    try:
        onnx_eval.run(sabotaged(graph, "op"), {"input": x.numpy()})
        fail("an unimplemented operator was evaluated")
    except onnx_eval.UnsupportedGraph as e:
        print(f"control, unknown operator refused: {e}")
        if "LeakyRelu" not in str(e) or "Relu" not in str(e):
            fail(f"the refusal does not name the operator: {e}")
    # export_model.py's check: exit status 3 on the sabotaged graph, none on the real one.
    with torch.no_grad():
        y = model(x)
    report = export_model.check_onnx_numerics(graph, x, y, x, y)
    if not report["onnx_numerics"].startswith("checked"):
        fail(f"the real graph was not checked: {report}")
    report = export_model.check_onnx_numerics(sabotaged(graph, "op"), x, y, x, y)
    if "unchecked" not in report["onnx_numerics"] or "LeakyRelu" not in report["onnx_numerics"]:
        fail(f"an unknown operator is not reported as unchecked: {report}")
    print(f"an unknown operator: exported unchecked, with a warning ({report['onnx_numerics']})")
    try:
        export_model.check_onnx_numerics(sabotaged(graph, "weight"), x, y, x, y)
        fail("export_model.check_onnx_numerics accepted a sabotaged graph")
    except SystemExit as e:
        if e.code != 3:
            fail(f"export_model.check_onnx_numerics exited {e.code}, expected 3")
        print("control, export_model.py refuses the sabotaged graph with exit status 3")


def check_integer_semantics(workdir):
    from onnx import TensorProto, helper
    nodes = [helper.make_node("Div", ["a", "b"], ["q"]), helper.make_node("Cast", ["f"], ["c"],
                                                                          to=TensorProto.INT64)]
    graph = helper.make_graph(
        nodes, "ints",
        [helper.make_tensor_value_info("a", TensorProto.INT64, [4]),
         helper.make_tensor_value_info("b", TensorProto.INT64, [4]),
         helper.make_tensor_value_info("f", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("q", TensorProto.INT64, [4]),
         helper.make_tensor_value_info("c", TensorProto.INT64, [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    q, c = onnx_eval.run(model, {"a": np.array([-7, 7, -8, 8]), "b": np.array([2, -2, 3, 3]),
                                 "f": np.array([-1.5, 1.5, -0.2, 2.9], dtype=np.float32)})
    if q.tolist() != [-3, -3, -2, 2] or c.tolist() != [-1, 1, 0, 2]:
        fail(f"integer Div/Cast do not truncate toward zero: {q.tolist()} {c.tolist()}")
    print("integer Div and float->int Cast truncate toward zero (the ONNX specification)")
    # Python's floor division as torch >= 2.0 exports it (pytorch PR #86146), and Mod both ways.
    i64 = TensorProto.INT64
    zero = helper.make_tensor("zero", i64, [], [0])
    one = helper.make_tensor("one", i64, [], [1])
    nodes = [helper.make_node("Div", ["a", "b"], ["div"]),
             helper.make_node("Less", ["a", "zero"], ["an"]),
             helper.make_node("Less", ["b", "zero"], ["bn"]),
             helper.make_node("Xor", ["an", "bn"], ["neg"]),
             helper.make_node("Mul", ["div", "b"], ["db"]),
             helper.make_node("Sub", ["a", "db"], ["rem"]),
             helper.make_node("Equal", ["rem", "zero"], ["exact"]),
             helper.make_node("Not", ["exact"], ["inexact"]),
             helper.make_node("And", ["neg", "inexact"], ["fix"]),
             helper.make_node("Sub", ["div", "one"], ["down"]),
             helper.make_node("Where", ["fix", "down", "div"], ["floor"]),
             helper.make_node("Mod", ["a", "b"], ["pymod"]),
             helper.make_node("Mod", ["a", "b"], ["cmod"], fmod=1)]
    outs = [helper.make_tensor_value_info(n, i64, [4]) for n in ("floor", "pymod", "cmod")]
    graph = helper.make_graph(nodes, "floordiv",
                              [helper.make_tensor_value_info(n, i64, [4]) for n in ("a", "b")],
                              outs, initializer=[zero, one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    a, b = np.array([-7, 7, -8, 8]), np.array([2, -2, 3, 3])
    floor, pymod, cmod = onnx_eval.run(model, {"a": a, "b": b})
    if floor.tolist() != (a // b).tolist() or pymod.tolist() != (a % b).tolist() or \
            cmod.tolist() != np.fmod(a, b).tolist():
        fail(f"floor division / Mod differ: {floor.tolist()} {pymod.tolist()} {cmod.tolist()}")
    print("floor division in torch >= 2.0's export form equals Python's //; Mod with fmod 0 and 1")


def check_command_line(workdir):
    model = build(CASES[0], seed=11)
    path = os.path.join(workdir, "cli.onnx")
    export(model, 3, (16, 16), path, 17)
    x = torch.rand(1, 3, 16, 24).numpy()
    np.save(os.path.join(workdir, "x.npy"), x)
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools/reference/onnx_eval.py"), path,
                        os.path.join(workdir, "x.npy"), os.path.join(workdir, "y.npy")],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        fail(f"onnx_eval.py exited {r.returncode}: {r.stderr}")
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    d = float(np.abs(np.load(os.path.join(workdir, "y.npy")) - ref).max())
    print(f"command line: max |diff| {d:.3g}")
    if not d <= TOL:
        fail("the command line's output differs")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    torch.set_num_threads(1)
    check_matches(args.workdir)
    control_old_padding(args.workdir)
    control_sabotage(args.workdir)
    check_integer_semantics(args.workdir)
    check_command_line(args.workdir)
    print("PASS onnx_eval: every architecture's ONNX graph matches the eager twin at opsets 13 and "
          "17; the controls (former padding, sabotaged weight and Resize, unknown operator, "
          "integer semantics) behave")
    return 0


if __name__ == "__main__":
    sys.exit(main())
