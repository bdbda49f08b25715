#!/usr/bin/python3
"""PyTorch reference of tessera's models (models/*.h), for parity tests and for using weights
trained by tessera from Python.

The module and parameter names are those of the C++ modules, so a state dict exported by
tessera (models/export.h: a plain dict of tensors written with torch::pickle_save) loads with
``model.load_state_dict(torch.load(path), strict=True)``; see ``load_tessera_state_dict``.

Models (all return PRE-activation outputs, "logits"; apply the config's model.activation with
``apply_activation``):
  UNet               the article's GiveMeUnet (Keras), generalised in depth/width
  ArticleAutoencoder the article's myTransformer (Keras Sequential), layer for layer
  GenericAutoencoder configurable width/depth encoder-decoder without skips

Keras conventions reproduced: he_normal = truncated normal (2 std) with variance 2/fan_in;
glorot_uniform default kernels; zero biases; BatchNormalization(momentum 0.99, eps 1e-3) ->
torch BatchNorm2d(momentum=0.01, eps=1e-3); TensorFlow 'same' padding (asymmetric when odd) for
the stride-2 convolution; Conv2DTranspose(3, strides 2, 'same') = full transposed convolution
cropped to its first 2*H x 2*W (TF pads the equivalent forward conv (0, 1)).

Runs with Debian's python3-torch (1.13): /usr/bin/python3 tools/reference/models.py --help
"""

import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "ConvBlock", "KerasConvTranspose2d", "UNet", "ArticleAutoencoder", "GenericAutoencoder",
    "build_model", "apply_activation", "load_tessera_state_dict", "tf_same_padding",
    "tf_same_pad", "count_parameters",
]


# ---- Keras-compatible initialisers and padding ---------------------------------------------------

def he_normal_(weight, fan_in):
    std = math.sqrt(2.0 / fan_in) / 0.87962566103423978
    with torch.no_grad():
        nn.init.trunc_normal_(weight, mean=0.0, std=std, a=-2.0 * std, b=2.0 * std)


def glorot_uniform_(weight, fan_in, fan_out):
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        weight.uniform_(-limit, limit)


def keras_conv2d(cin, cout, kernel, stride=1, padding=0, he=False):
    conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=True)
    if he:
        he_normal_(conv.weight, cin * kernel * kernel)
    else:
        glorot_uniform_(conv.weight, cin * kernel * kernel, cout * kernel * kernel)
    with torch.no_grad():
        conv.bias.zero_()
    return conv


def keras_batch_norm(channels):
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


def tf_same_padding(size, kernel, stride):
    """(before, after) zero padding of TensorFlow's 'same' along one dimension."""
    # Every operand stays non-negative: the ONNX export of `//` truncates where Python floors
    # (pytorch/pytorch#78442), so the ceil idiom -(-size // stride) exported as a different
    # padding (tools/reference/onnx_eval.py found it; tests/models/onnx_eval_test.py guards it).
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def tf_same_pad(x, kernel, stride):
    top, bottom = tf_same_padding(x.shape[2], kernel, stride)
    left, right = tf_same_padding(x.shape[3], kernel, stride)
    # The all-zero shortcut only in eager mode: a traced export (TorchScript, ONNX) would bake
    # the branch taken at the tracing size, and a stride-2 conv's padding depends on parity.
    if not torch.jit.is_tracing() and top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom))


class KerasConvTranspose2d(nn.Module):
    """Keras Conv2DTranspose(cout, kernel, strides=stride, padding='same'): output = input*stride."""

    def __init__(self, cin, cout, kernel=3, stride=2):
        super().__init__()
        if kernel < stride:
            raise ValueError(f"KerasConvTranspose2d needs kernel >= stride, got {kernel} < {stride}")
        self.kernel, self.stride = kernel, stride
        self.weight = nn.Parameter(torch.empty(cin, cout, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout))
        glorot_uniform_(self.weight, cout * kernel * kernel, cin * kernel * kernel)

    def forward(self, x):
        h, w = x.shape[2] * self.stride, x.shape[3] * self.stride
        top = tf_same_padding(h, self.kernel, self.stride)[0]
        left = tf_same_padding(w, self.kernel, self.stride)[0]
        full = F.conv_transpose2d(x, self.weight, self.bias, stride=self.stride)
        return full[:, :, top:top + h, left:left + w]


class ConvBlock(nn.Module):
    """The article's Conv2dBlock: [3x3 same conv (he_normal) -> BN (optional) -> ReLU] x 2."""

    def __init__(self, cin, cout, batch_norm=True):
        super().__init__()
        self.conv1 = keras_conv2d(cin, cout, 3, padding=1, he=True)
        if batch_norm:
            self.bn1 = keras_batch_norm(cout)
        self.conv2 = keras_conv2d(cout, cout, 3, padding=1, he=True)
        if batch_norm:
            self.bn2 = keras_batch_norm(cout)
        self.batch_norm = batch_norm

    def forward(self, x):
        x = self.conv1(x)
        if self.batch_norm:
            x = self.bn1(x)
        x = F.relu(x)
        x = self.conv2(x)
        if self.batch_norm:
            x = self.bn2(x)
        return F.relu(x)


class _ImageModel(nn.Module):
    def __init__(self, in_channels, out_channels, residual):
        super().__init__()
        if residual and in_channels != out_channels:
            raise ValueError("residual needs in_channels == out_channels, got "
                             f"{in_channels} and {out_channels}")
        self.in_channels, self.out_channels, self.residual = in_channels, out_channels, residual
        self.normalize_input = False

    def enable_input_normalization(self):
        """data.normalize: dataset -- buffers input_mean / input_std (filled by the state dict);
        the network sees (x - mean) / std per channel, the residual adds the raw x."""
        self.register_buffer("input_mean", torch.zeros(self.in_channels))
        self.register_buffer("input_std", torch.ones(self.in_channels))
        self.normalize_input = True

    def forward(self, x):
        self.check_input(x.shape[1], x.shape[2], x.shape[3])
        z = x
        if self.normalize_input:
            z = (x - self.input_mean.view(1, -1, 1, 1)) / self.input_std.view(1, -1, 1, 1)
        y = self.forward_net(z)
        return x + y if self.residual else y


class UNet(_ImageModel):
    def __init__(self, in_channels=3, out_channels=1, filters=16, depth=4, dropout=0.1,
                 batch_norm=True, residual=False):
        super().__init__(in_channels, out_channels, residual)
        self.depth, self.dropout = depth, dropout
        self.encoder = nn.ModuleList()
        ch = in_channels
        for i in range(depth):
            self.encoder.append(ConvBlock(ch, filters << i, batch_norm))
            ch = filters << i
        self.bottleneck = ConvBlock(ch, filters << depth, batch_norm)
        ch = filters << depth
        self.up = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for level in reversed(range(depth)):
            width = filters << level
            self.up.append(KerasConvTranspose2d(ch, width, 3, 2))
            self.decoder.append(ConvBlock(2 * width, width, batch_norm))
            ch = width
        self.head = keras_conv2d(ch, out_channels, 1)

    def check_input(self, c, h, w):
        m = 1 << self.depth
        if c != self.in_channels or h % m or w % m:
            raise ValueError(f"U-Net of depth {self.depth} needs {self.in_channels} channels and "
                             f"H, W divisible by {m}; got {c} x {h}x{w}")

    def forward_net(self, x):
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
            x = F.dropout(F.max_pool2d(x, 2), self.dropout, self.training)
        x = self.bottleneck(x)
        for up, block, skip in zip(self.up, self.decoder, reversed(skips)):
            x = torch.cat([up(x), skip], dim=1)
            x = block(F.dropout(x, self.dropout, self.training))
        return self.head(x)


# conv1..conv15 widths in units of `filters` (conv16 -> out_channels)
_ARTICLE_WIDTHS = [1, 2, 4, 4, 8, 8, 16, 32, 16, 8, 8, 8, 4, 2, 1]


class ArticleAutoencoder(_ImageModel):
    def __init__(self, in_channels=3, out_channels=3, filters=16, residual=False):
        super().__init__(in_channels, out_channels, residual)
        ch = in_channels
        for i in range(16):
            width = filters * _ARTICLE_WIDTHS[i] if i < 15 else out_channels
            strided = i in (1, 2)  # conv2: stride 2 'valid'; conv3: stride 2 'same' (TF padding)
            setattr(self, f"conv{i + 1}",
                    keras_conv2d(ch, width, 3, stride=2 if strided else 1,
                                 padding=0 if strided else 1))
            ch = width

    def check_input(self, c, h, w):
        if c != self.in_channels or h < 16 or w < 16 or h % 16 or w % 16:
            raise ValueError(f"autoencoder needs {self.in_channels} channels and H, W multiples "
                             f"of 16; got {c} x {h}x{w}")

    def forward_net(self, x):
        def conv(i, t):
            t = getattr(self, f"conv{i}")(t)
            return t if i == 16 else F.relu(t)

        def up(t):
            return F.interpolate(t, scale_factor=2, mode="nearest")

        x = F.max_pool2d(conv(1, x), 2)
        x = conv(2, x)
        x = conv(3, tf_same_pad(x, 3, 2))
        x = F.max_pool2d(x, 2)
        for i in range(4, 9):
            x = conv(i, x)
        x = up(x)
        for i in range(9, 13):
            x = conv(i, x)
        x = conv(13, up(x))
        x = conv(14, up(x))
        x = conv(15, up(x))
        return conv(16, x)


class GenericAutoencoder(_ImageModel):
    def __init__(self, in_channels=3, out_channels=3, filters=16, depth=4, dropout=0.1,
                 batch_norm=True, residual=False):
        super().__init__(in_channels, out_channels, residual)
        self.depth, self.dropout = depth, dropout
        self.encoder = nn.ModuleList()
        ch = in_channels
        for i in range(depth):
            self.encoder.append(ConvBlock(ch, filters << i, batch_norm))
            ch = filters << i
        self.bottleneck = ConvBlock(ch, filters << depth, batch_norm)
        ch = filters << depth
        self.decoder = nn.ModuleList()
        for level in reversed(range(depth)):
            self.decoder.append(ConvBlock(ch, filters << level, batch_norm))
            ch = filters << level
        self.head = keras_conv2d(ch, out_channels, 1)

    def check_input(self, c, h, w):
        m = 1 << self.depth
        if c != self.in_channels or h % m or w % m:
            raise ValueError(f"autoencoder_generic of depth {self.depth} needs "
                             f"{self.in_channels} channels and H, W divisible by {m}; "
                             f"got {c} x {h}x{w}")

    def forward_net(self, x):
        for block in self.encoder:
            x = F.dropout(F.max_pool2d(block(x), 2), self.dropout, self.training)
        x = self.bottleneck(x)
        for block in self.decoder:
            x = block(F.interpolate(x, scale_factor=2, mode="nearest"))
        return self.head(x)


def build_model(arch, in_channels=3, out_channels=1, filters=16, depth=4, dropout=0.1,
                batch_norm=True, residual=False, normalize_input=False):
    """The model tessera's make_model builds for the same settings (model.* and the task's
    channel counts; normalize_input for data.normalize: dataset)."""
    if arch == "unet":
        model = UNet(in_channels, out_channels, filters, depth, dropout, batch_norm, residual)
    elif arch == "autoencoder":
        if depth != 4:
            raise ValueError("arch autoencoder is the article's network: depth must be 4")
        model = ArticleAutoencoder(in_channels, out_channels, filters, residual)
    elif arch == "autoencoder_generic":
        model = GenericAutoencoder(in_channels, out_channels, filters, depth, dropout,
                                   batch_norm, residual)
    else:
        raise ValueError(f"unknown arch {arch!r}; expected unet, autoencoder, "
                         "autoencoder_generic")
    if normalize_input:
        model.enable_input_normalization()
    return model


def apply_activation(name, raw):
    if name == "sigmoid":
        return torch.sigmoid(raw)
    if name == "softmax":
        return torch.softmax(raw, dim=1)
    if name == "relu":
        return torch.relu(raw)
    if name == "none":
        return raw
    raise ValueError(f"unknown activation {name!r}; expected sigmoid, softmax, relu, none")


def load_tessera_state_dict(model, path, strict=True):
    """Loads a state dict written by tessera (export_state_dict) into `model`.

    weights_only=True (PyTorch >= 2.6's default, available since 1.13): the file holds tensors
    only, so the restricted unpickler suffices and nothing in it can run code."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=strict)
    return model


def count_parameters(model):
    """(trainable, non_trainable) in Keras' sense: BN moving mean/variance are non-trainable."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    buffers = sum(b.numel() for b in model.buffers() if b.is_floating_point())
    return trainable, frozen + buffers


def _main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", default="unet", choices=["unet", "autoencoder", "autoencoder_generic"])
    ap.add_argument("--in-channels", type=int, default=3)
    ap.add_argument("--out-channels", type=int, default=1)
    ap.add_argument("--filters", type=int, default=16)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--no-batch-norm", action="store_true")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--weights", help="a state dict exported by tessera")
    args = ap.parse_args()
    model = build_model(args.arch, args.in_channels, args.out_channels, args.filters, args.depth,
                        batch_norm=not args.no_batch_norm)
    if args.weights:
        load_tessera_state_dict(model, args.weights)
    model.eval()
    with torch.no_grad():
        y = model(torch.zeros(1, args.in_channels, args.size, args.size))
    trainable, non_trainable = count_parameters(model)
    print(f"{args.arch}: output {tuple(y.shape[1:])}, trainable {trainable:,}, "
          f"non-trainable {non_trainable:,}, total {trainable + non_trainable:,}")


if __name__ == "__main__":
    _main()
