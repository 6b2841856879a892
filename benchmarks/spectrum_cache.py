"""What the FFT method's kernel-spectrum memo saves: the same call with the
same weights (the spectrum is reused) against new weights every call (one
kernel transform more), interleaved, medians.

Usage: ``python benchmarks/spectrum_cache.py [--sizes 512,2048] [--ks 31,63]``
"""

import argparse
import time

import numpy as np

import corrconv_gpu as cc

from _cli import int_list


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int_list, default=[512, 2048])
    ap.add_argument("--ks", type=int_list, default=[31, 63])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    print("| size | dtype | K | same weights (s) | new weights (s) | difference (s) |")
    print("|---|---|---|---|---|---|")
    for n in args.sizes:
        for dtype in ("float32", "float64"):
            for k in args.ks:
                x = rng.random((n, n)).astype(dtype)
                w = rng.standard_normal((k, k)).astype(dtype)
                fresh = [rng.standard_normal((k, k)).astype(dtype)
                         for _ in range(args.repeat + 1)]
                with cc.use_backend("cpu"):
                    cc.correlate2d(x, w, "same", method="fft")
                    same, new = [], []
                    for i in range(args.repeat):
                        t = time.perf_counter()
                        cc.correlate2d(x, w, "same", method="fft")
                        same.append(time.perf_counter() - t)
                        t = time.perf_counter()
                        cc.correlate2d(x, fresh[i], "same", method="fft")
                        new.append(time.perf_counter() - t)
                a, b = np.median(same), np.median(new)
                print(f"| {n}² | {dtype} | {k} | {a:.4g} | {b:.4g} | {b - a:.2g} |")


if __name__ == "__main__":
    main()
