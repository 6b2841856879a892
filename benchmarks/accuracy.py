"""Accuracy of every method on a high-dynamic-range image, on the CPU or the GPU path.

The image spans six decades (pixels from 1e-6 to 1 of the maximum, in
patches), the kind where a float32 FFT loses the faint pixels. For each method
we report, against the float64 reference:

* the global error ``max|got - ref| / (sum|w| * max|x|)`` (the test bound is
  1e-5 for float32);
* the local relative error ``|got - ref| / |ref|`` on the pixels whose exact
  value is below 1e-3 of the maximum (median and max).

Usage: ``python benchmarks/accuracy.py [--size 512] [--ks 7 15 31]
[--backend cpu|emulated|cuda]``. ``emulated`` runs the GPU path (the CUDA
kernels on the CPU emulator, the whole-frame FFT with scipy.fft in place of
cupy.fft: the same code and precisions), ``cuda`` a GPU; both add float16
rows (the image and weights rounded to half; the error is against the
reference of the rounded data, the local error on the faint pixels that
half still represents).
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
    ap.add_argument("--backend", default="cpu", choices=("cpu", "emulated", "cuda"))
    args = ap.parse_args(argv)
    x = hdr_image(args.size)
    print(f"HDR image {args.size}x{args.size} float32, pixel range "
          f"{x.min():.1e}..{x.max():.1e}; mode 'same', boundary 'symm'; "
          f"backend {args.backend}\n")
    print("| K | method | global err / (sum|w| max|x|) | local rel err median | local rel err max |")
    print("|---|---|---|---|---|")
    rows = [("float32", "direct", dict(method="direct")),
            ("float32", "separable", dict(method="separable")),
            ("float32", "fft (float64 inside, default)", dict(method="fft")),
            ("float32", "fft fast_float32", dict(method="fft", fast_float32=True))]
    if args.backend != "cpu":
        rows += [("float16", "direct", dict(method="direct")),
                 ("float16", "fft (float32 inside)", dict(method="fft"))]
    xp = np
    if args.backend == "cuda":
        try:
            import cupy as xp
            ok = xp.cuda.is_available()
        except Exception as e:      # no CuPy, no driver
            ok = False
            print(f"accuracy: CuPy unusable ({type(e).__name__}: {e})")
        if not ok:
            print("accuracy: --backend cuda needs a CUDA device; none here")
            return 2
    for k in args.ks:
        for dt in dict.fromkeys(r[0] for r in rows):
            xs, w = x.astype(dt), gaussian(k).astype(dt)
            ref = reference.correlate2d(xs.astype(np.float64), w.astype(np.float64),
                                        "same", "symm")
            # faint pixels: below 1e-3 of the maximum (and, in float16, above
            # its smallest normal number, 6.1e-5)
            faint = np.abs(ref) < 1e-3 * np.abs(ref).max()
            if dt == "float16":
                faint &= np.abs(ref) > 6.1e-5
            scale = np.abs(w.astype(np.float64)).sum() * np.abs(xs.astype(np.float64)).max()
            with cc.use_backend(args.backend):
                for _, label, kw in (r for r in rows if r[0] == dt):
                    got = cc.correlate2d(xp.asarray(xs), xp.asarray(w), "same", "symm", **kw)
                    got = (got.get() if xp is not np else got).astype(np.float64)
                    err = np.abs(got - ref)
                    rel = err[faint] / np.abs(ref[faint])
                    name = label if dt == "float32" else f"{dt} {label}"
                    print(f"| {k} | {name} | {err.max() / scale:.1e} | "
                          f"{np.median(rel):.1e} | {rel.max():.1e} |", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
