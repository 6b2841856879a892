"""Accuracy of every CPU method on a high-dynamic-range image.

The image spans six decades (pixels from 1e-6 to 1 of the maximum, in
patches), the kind where a float32 FFT loses the faint pixels. For each method
we report, against the float64 reference:

* the global error ``max|got - ref| / (sum|w| * max|x|)`` (the test bound is
  1e-5 for float32);
* the local relative error ``|got - ref| / |ref|`` on the pixels whose exact
  value is below 1e-3 of the maximum (median and max).

Usage: ``python benchmarks/accuracy.py [--size 512] [--ks 7 15 31]``
"""

import argparse

import numpy as np

import corrconv_gpu as cc
from corrconv_gpu import reference


def hdr_image(n, seed=0):
    rng = np.random.default_rng(seed)
    # 16x16-pixel patches, each with a brightness from 1e-6 to 1, times texture
    patches = 10.0 ** rng.uniform(-6, 0, size=(n // 16 + 1, n // 16 + 1))
    level = np.kron(patches, np.ones((16, 16)))[:n, :n]
    return (level * rng.uniform(0.5, 1.0, size=(n, n))).astype(np.float32)


def gaussian(k):
    t = np.arange(k) - (k - 1) / 2
    g = np.exp(-0.5 * (t / (k / 5)) ** 2)
    return np.outer(g, g).astype(np.float32)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--ks", type=int, nargs="+", default=[7, 15, 31])
    args = ap.parse_args(argv)
    x = hdr_image(args.size)
    print(f"HDR image {args.size}x{args.size} float32, pixel range "
          f"{x.min():.1e}..{x.max():.1e}; mode 'same', boundary 'symm'\n")
    print("| K | method | global err / (sum|w| max|x|) | local rel err median | local rel err max |")
    print("|---|---|---|---|---|")
    for k in args.ks:
        w = gaussian(k)
        ref = reference.correlate2d(x.astype(np.float64), w.astype(np.float64),
                                    "same", "symm")
        faint = np.abs(ref) < 1e-3 * np.abs(ref).max()
        scale = np.abs(w).sum() * np.abs(x).max()
        with cc.use_backend("cpu"):
            for label, kw in [("direct", dict(method="direct")),
                              ("separable", dict(method="separable")),
                              ("fft (float64 inside, default)", dict(method="fft")),
                              ("fft fast_float32", dict(method="fft", fast_float32=True))]:
                got = cc.correlate2d(x, w, "same", "symm", **kw).astype(np.float64)
                err = np.abs(got - ref)
                rel = err[faint] / np.abs(ref[faint])
                print(f"| {k} | {label} | {err.max() / scale:.1e} | "
                      f"{np.median(rel):.1e} | {rel.max():.1e} |")


if __name__ == "__main__":
    main()
