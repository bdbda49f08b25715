#!/usr/bin/python3
"""Reference values for tessera's losses and image metrics (tests/trainer/*_test.cpp).

Run with Debian's python3 (python3-torch 1.13, python3-skimage):
    /usr/bin/python3 tools/reference/losses_metrics.py > /tmp/ref.txt
and paste the printed constants into tests/trainer/losses_reference_test.cpp and
tests/trainer/metrics_image_test.cpp when a definition changes.
    /usr/bin/python3 tools/reference/losses_metrics.py --check TEST.cpp...
recomputes everything and checks that the constants pasted in the test files are the current
ones (ctest runs this as trainer_reference_values_py).

The inputs are closed-form and rebuilt bit-for-bit by tests/trainer/reference_inputs.h:
    logit(i, a, b) = float32(((i*a + b) % 101) / 100 * 8 - 4)
    image(i)       = float32(((i*29 + 3) % 256) / 255)
Every reference is computed independently of tessera's C++ code: torch.nn.functional for
BCE/CE, the published formulas for Dice/focal, and scikit-image's structural_similarity /
peak_signal_noise_ratio (Gaussian weights, sigma 1.5, population covariance, i.e. Wang et al.
and BasicSR's settings) for SSIM and PSNR.
"""
import re
import sys

import numpy as np
import torch
import torch.nn.functional as F
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

torch.set_default_dtype(torch.float32)


def logits(shape, a, b):
    n = int(np.prod(shape))
    v = np.array([((i * a + b) % 101) / 100.0 * 8.0 - 4.0 for i in range(n)], dtype=np.float64)
    return torch.from_numpy(v.astype(np.float32)).reshape(shape)


def image(shape):
    n = int(np.prod(shape))
    v = np.array([((i * 29 + 3) % 256) / 255.0 for i in range(n)], dtype=np.float64)
    return torch.from_numpy(v.astype(np.float32)).reshape(shape)


def near_image(shape):
    """target + a deterministic perturbation of up to +-30/255 (activation 'none' outputs)."""
    n = int(np.prod(shape))
    d = np.array([(((i * 17 + 1) % 21) - 10) * 3.0 / 255.0 for i in range(n)], dtype=np.float64)
    return image(shape) + torch.from_numpy(d.astype(np.float32)).reshape(shape)


def binary_labels(shape, ignore=None):
    n = int(np.prod(shape))
    v = [1 if ((i * 13 + 5) % 7) < 3 else 0 for i in range(n)]
    if ignore is not None:
        v = [ignore if i % 9 == 4 else x for i, x in enumerate(v)]
    return torch.tensor(v, dtype=torch.int64).reshape(shape)


def mc_labels(shape, k, ignore=None):
    n = int(np.prod(shape))
    v = [(i * 13 + 5) % k for i in range(n)]
    if ignore is not None:
        v = [ignore if i % 9 == 4 else x for i, x in enumerate(v)]
    return torch.tensor(v, dtype=torch.int64).reshape(shape)


LINES = []


def out(name, value):
    LINES.append(f"constexpr double k{name} = {float(value):.17g};")


# ---- binary segmentation: logits [2,1,4,5], labels [2,4,5] -------------------------------------
x = logits((2, 1, 4, 5), 37, 11).double()
y = binary_labels((2, 4, 5))
yi = binary_labels((2, 4, 5), ignore=255)


def bce(x, y, mask):
    per = F.binary_cross_entropy_with_logits(x[:, 0], y.double().clamp(max=1), reduction="none")
    return (per * mask).sum() / mask.sum()


def dice(x, y, mask, s=1.0):
    p = torch.sigmoid(x[:, 0]) * mask
    t = y.double().clamp(max=1) * mask
    return 1 - (2 * (p * t).sum() + s) / (p.sum() + t.sum() + s)


def focal_bin(x, y, mask, alpha, gamma):
    p = torch.sigmoid(x[:, 0])
    t = y.double().clamp(max=1)
    p_t = p * t + (1 - p) * (1 - t)
    a_t = alpha * t + (1 - alpha) * (1 - t)
    per = -a_t * (1 - p_t) ** gamma * torch.log(p_t)
    return (per * mask).sum() / mask.sum()


ones = torch.ones_like(y, dtype=torch.float64)
m = (yi != 255).double()
out("Bce", bce(x, y, ones))
out("BceIgnore", bce(x, yi, m))
out("Dice", dice(x, y, ones))
out("DiceIgnore", dice(x, yi, m))
out("BceDice07_13", 0.7 * bce(x, y, ones) + 1.3 * dice(x, y, ones))
out("FocalBin", focal_bin(x, y, ones, 0.25, 2.0))
out("FocalBinG05Ignore", focal_bin(x, yi, m, 0.25, 0.5))

# ---- multi-class: logits [2,3,4,5], labels [2,4,5] in 0..2 -------------------------------------
K = 3
xm = logits((2, K, 4, 5), 53, 7).double()
ym = mc_labels((2, 4, 5), K)
ymi = mc_labels((2, 4, 5), K, ignore=255)
w = torch.tensor([0.2, 1.0, 2.5], dtype=torch.float64)


def ce(x, y, weight=None, ignore=-100):
    return F.cross_entropy(x, y, weight=weight, ignore_index=ignore)


def mc_dice(x, y, ignore=None, s=1.0):
    p = torch.softmax(x, 1)
    valid = torch.ones_like(y, dtype=torch.bool) if ignore is None else (y != ignore)
    yy = torch.where(valid, y, torch.zeros_like(y))
    t = F.one_hot(yy, K).permute(0, 3, 1, 2).double()
    mk = valid.unsqueeze(1).double()
    p, t = p * mk, t * mk
    d = (2 * (p * t).sum((0, 2, 3)) + s) / (p.sum((0, 2, 3)) + t.sum((0, 2, 3)) + s)
    return 1 - d.mean()


def focal_mc(x, y, gamma, weight=None, ignore=None):
    valid = torch.ones_like(y, dtype=torch.bool) if ignore is None else (y != ignore)
    yy = torch.where(valid, y, torch.zeros_like(y))
    logp = torch.log_softmax(x, 1).gather(1, yy.unsqueeze(1))[:, 0]
    per = -(1 - logp.exp()) ** gamma * logp
    wt = torch.ones_like(per) if weight is None else weight[yy]
    wt = wt * valid.double()
    return (per * wt).sum() / wt.sum()


out("Ce", ce(xm, ym))
out("CeWeighted", ce(xm, ym, w))
out("CeWeightedIgnore", ce(xm, ymi, w, 255))
out("McDice", mc_dice(xm, ym))
out("McDiceIgnore", mc_dice(xm, ymi, 255))
out("CeDice06_04", 0.6 * ce(xm, ymi, w, 255) + 0.4 * mc_dice(xm, ymi, 255))
out("FocalMc", focal_mc(xm, ym, 2.0))
out("FocalMcWeightedIgnore", focal_mc(xm, ymi, 2.0, w, 255))
assert abs(focal_mc(xm, ymi, 0.0, w, 255) - ce(xm, ymi, w, 255)) < 1e-14  # gamma 0 == ce

# ---- image losses: logits [2,3,16,16], target image ---------------------------------------------
xi = logits((2, 3, 16, 16), 41, 3)
ti = image((2, 3, 16, 16))
pi = torch.sigmoid(xi.double())


def ssim_skimage(a, b, data_range):
    """mean over images of skimage's SSIM (channels first; mean over channels)."""
    vals = [structural_similarity(a[i], b[i], data_range=data_range, gaussian_weights=True,
                                  sigma=1.5, use_sample_covariance=False, channel_axis=0)
            for i in range(a.shape[0])]
    return float(np.mean(vals))


out("Mse", F.mse_loss(pi, ti.double()))
out("L1", F.l1_loss(pi, ti.double()))
out("MseNone", F.mse_loss(xi.double(), ti.double()))
out("L1Relu", F.l1_loss(torch.relu(xi.double()), ti.double()))
s = ssim_skimage(pi.numpy(), ti.double().numpy(), 1.0)
out("Ssim", 1 - s)
out("SsimL1_084", 0.84 * (1 - s) + 0.16 * F.l1_loss(pi, ti.double()))
pn = near_image((2, 3, 16, 16)).double()  # activation none: not clamped
out("SsimNear", 1 - ssim_skimage(pn.numpy(), ti.double().numpy(), 1.0))


# ---- image metrics (BasicSR conventions), per image ---------------------------------------------
def to255(v, quantize):
    v = v.double().clamp(0, 1).numpy() * 255.0
    return np.round(v) if quantize else v


def y255(img):  # C,H,W RGB in [0,255]
    return ((65.481 * img[0] + 128.553 * img[1] + 24.966 * img[2]) / 255.0 + 16.0)[None]


def image_metrics(name, outputs, targets, crop, quantize):
    a_all, t_all = to255(outputs, quantize), to255(targets, quantize)
    h, w_ = a_all.shape[2], a_all.shape[3]
    a_all = a_all[:, :, crop:h - crop, crop:w_ - crop]
    t_all = t_all[:, :, crop:h - crop, crop:w_ - crop]
    for i in range(a_all.shape[0]):
        a, t = a_all[i], t_all[i]
        ay, ty = (y255(a), y255(t)) if a.shape[0] == 3 else (a, t)
        vals = [peak_signal_noise_ratio(t, a, data_range=255),
                structural_similarity(t, a, data_range=255, gaussian_weights=True, sigma=1.5,
                                      use_sample_covariance=False, channel_axis=0),
                peak_signal_noise_ratio(ty, ay, data_range=255),
                structural_similarity(ty, ay, data_range=255, gaussian_weights=True, sigma=1.5,
                                      use_sample_covariance=False, channel_axis=0),
                np.mean(np.abs(a - t)) / 255.0, np.mean((a - t) ** 2) / 255.0 ** 2]
        LINES.append(f"constexpr double k{name}Image{i}[6] = {{" +
                     ", ".join(f"{v:.17g}" for v in vals) + "};  // psnr ssim psnr_y ssim_y mae mse")


image_metrics("RgbSigmoidCrop2", torch.sigmoid(logits((2, 3, 24, 20), 41, 3)),
              image((2, 3, 24, 20)), 2, True)
image_metrics("RgbNearCrop3", near_image((2, 3, 24, 20)), image((2, 3, 24, 20)), 3, True)
image_metrics("RgbNearNoQuant", near_image((2, 3, 24, 20)), image((2, 3, 24, 20)), 0, False)
image_metrics("GrayNear", near_image((2, 1, 16, 16)), image((2, 1, 16, 16)), 0, True)


CONST = re.compile(r"constexpr double (k\w+)(?:\[\d+\])? = \{?([^;}]*)\}?;")


def parse(text):
    return {m.group(1): [float(v) for v in m.group(2).split(",")] for m in CONST.finditer(text)}


if len(sys.argv) > 1 and sys.argv[1] == "--check":
    want = parse("\n".join(LINES))
    have = {}
    for path in sys.argv[2:]:
        with open(path) as f:
            have.update(parse(f.read()))
    bad = []
    for name, values in want.items():
        if name not in have:
            bad.append(f"{name}: missing from the test files")
        elif len(have[name]) != len(values) or any(
                abs(a - b) > 1e-12 * max(1.0, abs(b)) for a, b in zip(have[name], values)):
            bad.append(f"{name}: test has {have[name]}, reference gives {values}")
    for line in bad:
        print("MISMATCH", line)
    print(f"{len(want) - len(bad)} of {len(want)} reference constants match")
    sys.exit(1 if bad else 0)
else:
    print("\n".join(LINES))
