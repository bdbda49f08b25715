#!/usr/bin/python3
"""Runs an ONNX graph with NumPy, so that the numerics of `tessera export --format onnx` are checked.

Debian has no onnxruntime, and its python3-onnx (1.12) predates onnx.reference. This module is a
small interpreter for the operators that torch.onnx.export (TorchScript exporter, opsets 13-17)
emits for tessera's three architectures: the convolutions and pools of the networks, the nearest
up-sampling, and the integer shape arithmetic of the "same" padding (also in the form newer
exporters give Python's floor division: Div, Less, Xor, Equal, Not, And, Where). It is written from the ONNX
operator specification (https://onnx.ai/onnx/operators/), not from PyTorch: a graph that computes
something else than the model it was exported from gives other numbers here.

Contract: run(model, {name: array}) -> list of output arrays, in float64 for float tensors (the
graph's float32 weights are promoted, so the result is the exact value up to float64 rounding).
An operator, attribute value or input form not implemented here raises UnsupportedGraph naming
the node; nothing is guessed. Used by tools/reference/export_model.py on every ONNX export and by
tests/models/onnx_eval_test.py (which checks it against PyTorch, with sabotaged graphs as
controls).

Command line: onnx_eval.py MODEL.onnx INPUT.npy OUTPUT.npy (runs the graph's single input).
"""

import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import onnx
from onnx import numpy_helper


class UnsupportedGraph(Exception):
    pass


# TensorProto data types -> NumPy (the ones a Cast in these graphs may name).
DTYPES = {1: np.float64, 6: np.int32, 7: np.int64, 9: np.bool_, 10: np.float64, 11: np.float64}


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def as_float(t):
    return t.astype(np.float64) if t.dtype.kind == "f" else t


def spatial_pads(node, a, rank):
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise UnsupportedGraph(f"{node.name}: auto_pad {a['auto_pad']!r} (only explicit pads)")
    pads = list(a.get("pads", [0] * (2 * rank)))
    return pads[:rank], pads[rank:]


def conv(node, x, w, b=None):
    a = attrs(node)
    group = a.get("group", 1)
    strides = a.get("strides", [1, 1])
    dil = a.get("dilations", [1, 1])
    if x.ndim != 4:
        raise UnsupportedGraph(f"{node.name}: Conv on a {x.ndim}-D input (only N x C x H x W)")
    begin, end = spatial_pads(node, a, 2)
    x = np.pad(x, ((0, 0), (0, 0), (begin[0], end[0]), (begin[1], end[1])))
    cout, cin_g, kh, kw = w.shape
    win = sliding_window_view(x, ((kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1), axis=(2, 3))
    win = win[:, :, ::strides[0], ::strides[1], ::dil[0], ::dil[1]]  # N C OH OW KH KW
    outs = []
    cout_g = cout // group
    for g in range(group):
        xs = win[:, g * cin_g:(g + 1) * cin_g]
        ws = w[g * cout_g:(g + 1) * cout_g]
        outs.append(np.einsum("ncijkl,ockl->noij", xs, ws, optimize=True))
    y = np.concatenate(outs, axis=1)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def conv_transpose(node, x, w, b=None):
    a = attrs(node)
    if a.get("group", 1) != 1 or "output_shape" in a:
        raise UnsupportedGraph(f"{node.name}: ConvTranspose with group/output_shape")
    s = a.get("strides", [1, 1])
    d = a.get("dilations", [1, 1])
    op = a.get("output_padding", [0, 0])
    begin, end = spatial_pads(node, a, 2)
    n, _, h, wd = x.shape
    _, cout, kh, kw = w.shape
    full = [(h - 1) * s[0] + (kh - 1) * d[0] + 1 + op[0],
            (wd - 1) * s[1] + (kw - 1) * d[1] + 1 + op[1]]
    y = np.zeros((n, cout, full[0], full[1]))
    for i in range(kh):
        for j in range(kw):
            contrib = np.einsum("nchw,co->nohw", x, w[:, :, i, j], optimize=True)
            y[:, :, i * d[0]:i * d[0] + (h - 1) * s[0] + 1:s[0],
              j * d[1]:j * d[1] + (wd - 1) * s[1] + 1:s[1]] += contrib
    y = y[:, :, begin[0]:full[0] - end[0], begin[1]:full[1] - end[1]]
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def max_pool(node, x):
    a = attrs(node)
    if a.get("ceil_mode", 0) or a.get("storage_order", 0) or len(node.output) > 1:
        raise UnsupportedGraph(f"{node.name}: MaxPool with ceil_mode/storage_order/indices")
    k = a["kernel_shape"]
    s = a.get("strides", [1, 1])
    d = a.get("dilations", [1, 1])
    begin, end = spatial_pads(node, a, 2)
    x = np.pad(x, ((0, 0), (0, 0), (begin[0], end[0]), (begin[1], end[1])),
               constant_values=-np.inf)
    win = sliding_window_view(x, ((k[0] - 1) * d[0] + 1, (k[1] - 1) * d[1] + 1), axis=(2, 3))
    return win[:, :, ::s[0], ::s[1], ::d[0], ::d[1]].max(axis=(4, 5))


def nearest_index(node, out_size, in_size, scale, a):
    mode = a.get("coordinate_transformation_mode", b"half_pixel").decode()
    o = np.arange(out_size, dtype=np.float64)
    if mode == "asymmetric":
        src = o / scale
    elif mode == "half_pixel":
        src = (o + 0.5) / scale - 0.5
    elif mode == "pytorch_half_pixel":
        src = (o + 0.5) / scale - 0.5 if out_size > 1 else np.zeros_like(o)
    elif mode == "align_corners":
        src = o * (in_size - 1) / (out_size - 1) if out_size > 1 else np.zeros_like(o)
    else:
        raise UnsupportedGraph(f"{node.name}: Resize coordinate_transformation_mode {mode}")
    nm = a.get("nearest_mode", b"round_prefer_floor").decode()
    if nm == "floor":
        idx = np.floor(src)
    elif nm == "ceil":
        idx = np.ceil(src)
    elif nm == "round_prefer_floor":
        idx = np.where(src - np.floor(src) == 0.5, np.floor(src), np.round(src))
    elif nm == "round_prefer_ceil":
        idx = np.floor(src + 0.5)
    else:
        raise UnsupportedGraph(f"{node.name}: Resize nearest_mode {nm}")
    return np.clip(idx, 0, in_size - 1).astype(np.int64)


def resize(node, x, roi=None, scales=None, sizes=None):
    a = attrs(node)
    if a.get("mode", b"nearest").decode() != "nearest":
        raise UnsupportedGraph(f"{node.name}: Resize mode {a['mode'].decode()} (only nearest)")
    if sizes is not None and sizes.size:
        sizes = [int(v) for v in sizes]
        scales = [sizes[i] / x.shape[i] for i in range(x.ndim)]
    elif scales is not None and scales.size:
        scales = [float(v) for v in scales]
        sizes = [int(np.floor(x.shape[i] * scales[i])) for i in range(x.ndim)]
    else:
        raise UnsupportedGraph(f"{node.name}: Resize without scales or sizes")
    for axis in range(x.ndim):
        if sizes[axis] != x.shape[axis] or scales[axis] != 1.0:
            idx = nearest_index(node, sizes[axis], x.shape[axis], scales[axis], a)
            x = np.take(x, idx, axis=axis)
    return x


def slice_(node, data, starts, ends, axes=None, steps=None):
    axes = list(range(len(starts))) if axes is None else [int(v) for v in axes]
    steps = [1] * len(starts) if steps is None else [int(v) for v in steps]
    index = [slice(None)] * data.ndim
    for st, en, ax, sp in zip(starts, ends, axes, steps):
        dim = data.shape[ax]
        st, en = int(st), int(en)
        st = max(-dim - 1, min(dim, st))  # numpy clamps the rest the way the spec does
        en = max(-dim - 1, min(dim, en))
        index[ax] = slice(st, en, sp)
    return data[tuple(index)]


def pad(node, x, pads, value=None):
    mode = attrs(node).get("mode", b"constant").decode()
    if mode != "constant" or len(node.input) > 3:
        raise UnsupportedGraph(f"{node.name}: Pad mode {mode} / axes input (only constant)")
    n = x.ndim
    pads = [int(v) for v in pads]
    if min(pads) < 0:
        raise UnsupportedGraph(f"{node.name}: negative pads")
    fill = 0 if value is None or value.size == 0 else value.item()
    return np.pad(x, [(pads[i], pads[i + n]) for i in range(n)], constant_values=fill)


def reshape(node, x, shape):
    if attrs(node).get("allowzero", 0):
        raise UnsupportedGraph(f"{node.name}: Reshape allowzero=1")
    shape = [x.shape[i] if v == 0 else int(v) for i, v in enumerate(shape)]
    return x.reshape(shape)


def softmax(node, x):
    axis = attrs(node).get("axis", -1)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def div(node, a, b):
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        return np.trunc(a / b).astype(np.result_type(a, b))  # C-style, as in onnxruntime
    return a / b


def mod(node, a, b):
    if attrs(node).get("fmod", 0):
        return np.fmod(a, b)  # the sign of the dividend (C)
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        raise UnsupportedGraph(f"{node.name}: Mod of floats needs fmod=1 (the specification)")
    return np.mod(a, b)  # the sign of the divisor (Python)


def cast(node, x):
    to = attrs(node)["to"]
    if to not in DTYPES:
        raise UnsupportedGraph(f"{node.name}: Cast to data type {to}")
    dt = DTYPES[to]
    if np.dtype(dt).kind in "iu" and x.dtype.kind == "f":
        return np.trunc(x).astype(dt)  # float -> integer truncates toward zero
    return x.astype(dt)


def constant(node):
    a = attrs(node)
    if "value" in a:
        return as_float(numpy_helper.to_array(a["value"]))
    for key, conv_ in (("value_float", np.float64), ("value_int", np.int64),
                       ("value_floats", np.float64), ("value_ints", np.int64)):
        if key in a:
            return np.array(a[key], dtype=conv_)
    raise UnsupportedGraph(f"{node.name}: Constant without a value")


def constant_of_shape(node, shape):
    a = attrs(node)
    v = as_float(numpy_helper.to_array(a["value"])) if "value" in a else np.zeros(1)
    return np.full([int(s) for s in shape], v.reshape(-1)[0], dtype=v.dtype)


def shape_(node, x):
    a = attrs(node)
    dims = np.array(x.shape, dtype=np.int64)
    return dims[a.get("start", 0):a.get("end", len(dims))]


OPS = {
    "Conv": conv, "ConvTranspose": conv_transpose, "MaxPool": max_pool, "Resize": resize,
    "Relu": lambda n, x: np.maximum(x, 0),
    "Sigmoid": lambda n, x: 1.0 / (1.0 + np.exp(-x)),
    "Softmax": softmax,
    "Identity": lambda n, x: x,
    "Add": lambda n, a, b: a + b, "Sub": lambda n, a, b: a - b, "Mul": lambda n, a, b: a * b,
    "Div": div, "Neg": lambda n, x: -x, "Cast": cast,
    "Shape": shape_, "Gather": lambda n, x, i: np.take(x, i, axis=attrs(n).get("axis", 0)),
    "Unsqueeze": lambda n, x, axes: np.expand_dims(x, tuple(int(v) if v >= 0 else int(v) + x.ndim + len(axes) for v in axes)),
    "Concat": lambda n, *xs: np.concatenate(xs, axis=attrs(n)["axis"]),
    "Slice": slice_, "Pad": pad, "Reshape": reshape,
    "Transpose": lambda n, x: np.transpose(x, attrs(n).get("perm")),
    "Constant": constant, "ConstantOfShape": constant_of_shape,
    # Emitted by newer exporters (torch >= 2.0) for Python's floor division of sizes (pytorch
    # PR #86146: Div, then a Where that subtracts 1 for negative quotients with a remainder).
    "Less": lambda n, a, b: np.less(a, b), "Greater": lambda n, a, b: np.greater(a, b),
    "Equal": lambda n, a, b: np.equal(a, b), "Not": lambda n, x: np.logical_not(x),
    "And": lambda n, a, b: np.logical_and(a, b), "Or": lambda n, a, b: np.logical_or(a, b),
    "Xor": lambda n, a, b: np.logical_xor(a, b), "Where": lambda n, c, a, b: np.where(c, a, b),
    "Floor": lambda n, x: np.floor(x), "Ceil": lambda n, x: np.ceil(x), "Mod": mod,
    "Max": lambda n, *xs: np.maximum.reduce(np.broadcast_arrays(*xs)),
    "Min": lambda n, *xs: np.minimum.reduce(np.broadcast_arrays(*xs)),
}


def run(model, feeds):
    """Evaluates `model` (a path or onnx.ModelProto) on `feeds` {input name: array}."""
    if isinstance(model, str):
        model = onnx.load(model)
    for o in model.opset_import:
        if o.domain not in ("", "ai.onnx") or not 13 <= o.version <= 17:
            raise UnsupportedGraph(f"opset {o.domain or 'ai.onnx'} {o.version} (only 13-17)")
    env = {t.name: as_float(numpy_helper.to_array(t)) for t in model.graph.initializer}
    for name, value in feeds.items():
        env[name] = as_float(np.asarray(value))
    for i, node in enumerate(model.graph.node):
        node.name = node.name or f"node {i} ({node.op_type})"
        if node.domain not in ("", "ai.onnx") or node.op_type not in OPS:
            raise UnsupportedGraph(f"{node.name}: operator {node.domain or 'ai.onnx'}."
                                   f"{node.op_type} is not implemented by onnx_eval.py")
        args = [env[n] if n else None for n in node.input]
        while args and args[-1] is None:
            args.pop()
        out = OPS[node.op_type](node, *args)
        outs = out if isinstance(out, tuple) else (out,)
        for name, value in zip(node.output, outs):
            env[name] = value
    return [env[o.name] for o in model.graph.output]


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    model = onnx.load(argv[1])
    (y,) = run(model, {model.graph.input[0].name: np.load(argv[2])})
    np.save(argv[3], y)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
