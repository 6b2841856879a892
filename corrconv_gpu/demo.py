"""A self-contained demonstration: ``python -m corrconv_gpu.demo`` (or the
``corrconv-gpu-demo`` console script).

Filters a deterministic synthetic 4096 x 4096 float32 image with a 7 x 7
Gaussian x-derivative (:func:`corrconv_gpu.correlate2d`) and its transpose
(:func:`corrconv_gpu.convolve2d`), ``'same'``, ``'symm'``; prints the
backends, the time against scipy.signal and scipy.ndimage and the error
against :mod:`corrconv_gpu.reference` (on a crop when the full image would
take too long), and writes a side-by-side PNG with a built-in writer. Needs
only NumPy, SciPy and Numba.
"""

import argparse
import os
import statistics
import struct
import sys
import time
import zlib

import numpy as np

import corrconv_gpu
from corrconv_gpu import reference
from corrconv_gpu._dispatch import backend as _backends

__all__ = ["main", "test_image", "gaussian_derivative", "write_png"]

REF_FULL_MAX_S = 20.0   # compute the reference on the full image below this estimate
REF_CROP = 1024         # else on this top-left crop


# ------------------------------------------------------------------- data

def test_image(n=4096, seed=0):
    """A deterministic ``n x n`` float32 image with values roughly in [0, 1]."""
    rng = np.random.default_rng(seed)
    u = (np.arange(n, dtype=np.float32) / np.float32(n))[None, :]   # x, columns
    v = (np.arange(n, dtype=np.float32) / np.float32(n))[:, None]   # y, rows
    two_pi = np.float32(2 * np.pi)
    img = np.float32(0.25) + np.float32(0.2) * u + np.float32(0.1) * v
    # gratings: a diagonal one everywhere, a finer vertical one on the right half
    img = img + np.float32(0.08) * np.sin(two_pi * (9 * u + 4 * v))
    img[:, n // 2:] += np.float32(0.06) * np.sin(two_pi * 48 * u[:, n // 2:])
    # a zone plate (chirp) in the lower-left quadrant
    h = n // 4
    yy = (np.arange(2 * h, dtype=np.float32) - h)[:, None] / np.float32(h)
    xx = (np.arange(2 * h, dtype=np.float32) - h)[None, :] / np.float32(h)
    r2 = xx * xx + yy * yy
    zp = np.float32(0.15) * np.cos(np.float32(np.pi * 40) * r2) * (r2 < 1)
    img[n - 2 * h:, :2 * h] += zp.astype(np.float32)
    # rectangles (sharp straight edges)
    for (y0, x0, y1, x1, val) in [(0.06, 0.55, 0.30, 0.95, 0.35), (0.35, 0.08, 0.45, 0.45, -0.2),
                                  (0.62, 0.62, 0.92, 0.70, 0.3)]:
        img[int(y0 * n):int(y1 * n), int(x0 * n):int(x1 * n)] += np.float32(val)
    # disks of random sizes and contrasts (sharp round edges)
    for _ in range(24):
        cy, cx = rng.uniform(0.05, 0.95, 2) * n
        rad = rng.uniform(0.015, 0.09) * n
        val = np.float32(rng.choice([-1, 1]) * rng.uniform(0.15, 0.4))
        y0, y1 = int(max(0, cy - rad)), int(min(n, cy + rad + 1))
        x0, x1 = int(max(0, cx - rad)), int(min(n, cx + rad + 1))
        yy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(cy)
        xx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(cx)
        img[y0:y1, x0:x1] += val * (yy * yy + xx * xx <= np.float32(rad * rad))
    img += rng.standard_normal((n, n), dtype=np.float32) * np.float32(0.02)
    return np.ascontiguousarray(img, dtype=np.float32)


def gaussian_derivative(k=7, sigma=None):
    """The ``k x k`` x-derivative-of-Gaussian kernel (float32, sum |w| = 1).

    Correlating with it gives ``d/dx``; its transpose gives ``d/dy``.
    """
    sigma = k / 6.0 if sigma is None else sigma
    c = (k - 1) / 2.0
    t = np.arange(k) - c
    g = np.exp(-0.5 * (t / sigma) ** 2)
    w = np.outer(g, t * g)            # rows: Gaussian, columns: t * Gaussian
    return (w / np.abs(w).sum()).astype(np.float32)


# -------------------------------------------------------------------- PNG

def _chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def write_png(path, gray):
    """Write a 2-D uint8 array as an 8-bit grayscale PNG (filter 'Sub' on every row)."""
    a = np.ascontiguousarray(gray, dtype=np.uint8)
    if a.ndim != 2:
        raise ValueError("write_png: a 2-D uint8 array is needed")
    h, w = a.shape
    sub = np.empty((h, w + 1), dtype=np.uint8)
    sub[:, 0] = 1                                  # filter type 1 (Sub)
    sub[:, 1] = a[:, 0]
    sub[:, 2:] = a[:, 1:] - a[:, :-1]              # uint8 arithmetic wraps mod 256
    png = (b"\x89PNG\r\n\x1a\n"
           + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
           + _chunk(b"IDAT", zlib.compress(sub.tobytes(), 9))
           + _chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)
    return path


def _downsample(a, width):
    """Block-average ``a`` by an integer factor so that it is about ``width`` wide."""
    f = max(1, a.shape[1] // width)
    h, w = (a.shape[0] // f) * f, (a.shape[1] // f) * f
    a = a[:h, :w].astype(np.float32)
    return a.reshape(h // f, f, w // f, f).mean(axis=(1, 3))


def _to_uint8(a, signed):
    if signed:           # 0 is mid-gray, symmetric range
        hi = float(np.percentile(np.abs(a), 99.5)) or 1.0
        lo = -hi
    else:
        lo, hi = (float(v) for v in np.percentile(a, (0.5, 99.5)))
        hi = hi if hi > lo else lo + 1.0
    return np.clip((a - lo) * (255.0 / (hi - lo)) + 0.5, 0, 255).astype(np.uint8)


def side_by_side(panels, width, gap=8):
    """``panels``: [(array, signed)]; each downsampled to ~``width`` px wide."""
    tiles = [_to_uint8(_downsample(a, width), s) for a, s in panels]
    h = max(t.shape[0] for t in tiles)
    total = sum(t.shape[1] for t in tiles) + gap * (len(tiles) - 1)
    out = np.full((h, total), 255, dtype=np.uint8)
    x = 0
    for t in tiles:
        out[:t.shape[0], x:x + t.shape[1]] = t
        x += t.shape[1] + gap
    return out


# ----------------------------------------------------------------- timing

def _time(fn, runs):
    ts, r = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        r = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), r


def _max_err(a, b):
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


def main(argv=None):
    ap = argparse.ArgumentParser(prog="corrconv-gpu-demo",
                                 description="Filter a synthetic image with corrconv_gpu, "
                                             "compare with SciPy, write a PNG.")
    ap.add_argument("--size", type=int, default=4096, help="image size N (N x N), default 4096")
    ap.add_argument("--kernel-size", type=int, default=7, help="kernel size K (K x K), default 7")
    ap.add_argument("--out", default="corrconv_demo.png", help="PNG path (default ./corrconv_demo.png)")
    ap.add_argument("--png-width", type=int, default=512,
                    help="approximate width of each of the 3 PNG panels (default 512)")
    ap.add_argument("--backend", default="auto", choices=("auto", "cpu", "cuda"),
                    help="corrconv_gpu backend (default auto)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs of corrconv_gpu (median)")
    args = ap.parse_args(argv)
    n, k = args.size, args.kernel_size
    if n < 8 or k < 1 or k > n:
        ap.error("need --size >= 8 and 1 <= --kernel-size <= --size")
    t_all = time.perf_counter()
    import numba
    import scipy
    import scipy.ndimage
    import scipy.signal

    print(f"corrconv_gpu {corrconv_gpu.__version__}, numpy {np.__version__}, scipy "
          f"{scipy.__version__}, numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} "
          f"threads), {os.cpu_count()} CPUs")
    print("backends:")
    for name, info in corrconv_gpu.backends().items():
        print(f"  {name:<5} {'available' if info.available else 'unavailable: ' + info.reason}")

    t0 = time.perf_counter()
    x = test_image(n)
    wx = gaussian_derivative(k)
    wy = np.ascontiguousarray(wx.T)
    print(f"\nimage: synthetic {n}x{n} float32 ({time.perf_counter() - t0:.1f} s to build); "
          f"kernel: {k}x{k} Gaussian derivative (sigma {k / 6:.2f}), mode 'same', boundary 'symm'")
    macs = float(n * n * k * k)
    with corrconv_gpu.use_backend(args.backend):
        chosen = _backends.select(False, macs, 2.0 * n * n * x.itemsize)
    print(f"backend requested: {args.backend!r} -> used for this problem: {chosen!r} "
          f"({macs:.2e} multiply-adds per call)")

    def ours_corr(img=x):
        with corrconv_gpu.use_backend(args.backend):
            return corrconv_gpu.correlate2d(img, wx, "same", "symm")

    def ours_conv(img=x):
        with corrconv_gpu.use_backend(args.backend):
            return corrconv_gpu.convolve2d(img, wy, "same", "symm")

    # first calls: Numba compiles (or loads its cache) here
    t0 = time.perf_counter()
    ours_corr(x[:64, :64])
    ours_conv(x[:64, :64])
    t_first = time.perf_counter() - t0
    print(f"first calls (JIT compile / cache load, 64x64): {t_first:.1f} s")

    t_c, cx = _time(ours_corr, args.runs)
    t_v, cy = _time(ours_conv, args.runs)
    t_sc, sc = _time(lambda: scipy.signal.correlate2d(x, wx, "same", "symm"), 1)
    t_sv, sv = _time(lambda: scipy.signal.convolve2d(x, wy, "same", "symm"), 1)
    # ndimage: 'reflect' is scipy.signal's 'symm'; origin 0 for odd K and -1 for even K
    # gives scipy.signal's 'same' windows (for correlate and convolve alike)
    org = k - 1 - 2 * (k // 2)
    t_nc, nc = _time(lambda: scipy.ndimage.correlate(x, wx, mode="reflect", origin=org), 1)
    t_nv, nv = _time(lambda: scipy.ndimage.convolve(x, wy, mode="reflect", origin=org), 1)

    print(f"\ntimes (s; corrconv_gpu median of {args.runs}, SciPy 1 run)")
    print(f"  {'':<12} {'corrconv_gpu':>13} {'scipy.signal':>13} {'ndimage':>10}  "
          f"{'x signal':>9} {'x ndimage':>9}")
    for name, t, ts, tn in (("correlate2d", t_c, t_sc, t_nc), ("convolve2d", t_v, t_sv, t_nv)):
        print(f"  {name:<12} {t:>13.3f} {ts:>13.3f} {tn:>10.3f}  {ts / t:>8.1f}x {tn / t:>8.1f}x")
    print("  (x = SciPy's time / ours: > 1 means corrconv_gpu is faster)")
    scale = float(np.abs(wx).sum() * np.abs(x).max())
    print(f"max |ours - scipy.signal|: correlate {_max_err(cx, sc):.2e}, convolve "
          f"{_max_err(cy, sv):.2e}; |ours - ndimage|: {_max_err(cx, nc):.2e}, "
          f"{_max_err(cy, nv):.2e}  (sum|w| max|x| = {scale:.3g})")
    del sc, sv, nc, nv

    # the reference: estimate its time from a small run, then full image or crop
    m = min(n, 256)
    t0 = time.perf_counter()
    reference.correlate2d(x[:m, :m], wx, "same", "symm")
    est = (time.perf_counter() - t0) * (n / m) ** 2
    if est <= REF_FULL_MAX_S:
        where = f"the full {n}x{n} image"
        xr, rc, rv = x, cx, cy
    else:
        c = min(n, REF_CROP)
        where = (f"a {c}x{c} top-left crop x[:{c}, :{c}] (sub-problem: ours and the reference "
                 f"both run on the crop; full image estimated at {est:.0f} s)")
        xr = np.ascontiguousarray(x[:c, :c])
        rc, rv = ours_corr(xr), ours_conv(xr)
    t0 = time.perf_counter()
    ref_c = reference.correlate2d(xr, wx, "same", "symm")
    ref_v = reference.convolve2d(xr, wy, "same", "symm")
    t_ref = time.perf_counter() - t0
    ec, ev = _max_err(rc, ref_c), _max_err(rv, ref_v)
    peak = float(np.abs(ref_c).max()) or 1.0
    print(f"\nreference (corrconv_gpu.reference, pure NumPy, float64 accumulation) on {where}, "
          f"{t_ref:.1f} s for both:")
    print(f"  max |error| correlate2d {ec:.2e}, convolve2d {ev:.2e} "
          f"(max |reference| {peak:.3g}; float32 result)")
    del ref_c, ref_v

    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    img = side_by_side([(x, False), (cx, True), (cy, True)], args.png_width)
    write_png(out, img)
    print(f"\nPNG ({img.shape[1]}x{img.shape[0]}, input | correlate2d d/dx | convolve2d d/dy, "
          f"downsampled, mid-gray = 0): {out}")
    print(f"total demo time {time.perf_counter() - t_all:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
