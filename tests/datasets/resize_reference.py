#!/usr/bin/python3
"""Reference resampling for tests/datasets/resize_test.cpp, computed by PIL (not by tessera).

usage: resize_reference.py MODE IN.raw H W C OUT_H OUT_W OUT.raw

IN.raw holds H*W*C uint8 values (row-major, channels last); OUT.raw receives OUT_H*OUT_W*C.
Each channel is resized on its own as a PIL 'L' image with Image.BICUBIC (a = -0.5, the kernel
widened by the shrink factor, pixel-centre aligned; PIL drops taps beyond the border and
renormalises the rest).

MODE
  pil            PIL's resize as it is.
  pil_symmetric  MATLAB imresize's edges: the image is first padded by 4*s pixels on every side
                 with mirror reflection (numpy 'symmetric': -1 -> 0), resized by PIL to
                 (H + 8s) / s x (W + 8s) / s and the 4-pixel frame cropped off; the kept pixels'
                 taps all lie inside the padded image, so PIL's border rule never applies to them.
                 Needs an integer factor s = H / OUT_H = W / OUT_W.
"""
import sys

import numpy as np
from PIL import Image


def resize(channel, out_h, out_w):
    return np.asarray(Image.fromarray(channel, mode="L").resize((out_w, out_h), Image.BICUBIC))


def main():
    mode, src, h, w, c, oh, ow, dst = sys.argv[1:9]
    h, w, c, oh, ow = int(h), int(w), int(c), int(oh), int(ow)
    img = np.fromfile(src, dtype=np.uint8).reshape(h, w, c)
    out = np.zeros((oh, ow, c), dtype=np.uint8)
    for k in range(c):
        ch = np.ascontiguousarray(img[:, :, k])
        if mode == "pil":
            out[:, :, k] = resize(ch, oh, ow)
        elif mode == "pil_symmetric":
            s = h // oh
            assert h == s * oh and w == s * ow, "pil_symmetric needs an integer factor"
            big = np.pad(ch, 4 * s, mode="symmetric")
            out[:, :, k] = resize(big, oh + 8, ow + 8)[4:-4, 4:-4]
        else:
            sys.exit(f"unknown mode {mode}")
    out.tofile(dst)


if __name__ == "__main__":
    main()
