"""Tiled overlap-save FFT correlation of one output window.

The method is written against an array namespace ``xp`` (``numpy`` by default)
and an FFT module ``fft`` (``scipy.fft`` by default) so that the same code runs
with ``cupy`` + ``cupy.fft`` (or ``cupyx.scipy.fft``) on a GPU.

Algorithm (overlap-save)
------------------------
The output window is cut into tiles of ``T0 x T1`` output pixels.  The input
needed by one tile is an ``L0 x L1`` block with ``L = T + K - 1``; ``L`` is
chosen among FFT-friendly (2,3,5-smooth) lengths by a small cost model, so
that the tile stays cache-sized on the CPU (``L`` about 128-512).  The kernel
spectrum ``H`` is computed once per call.  Tiles are processed in batches: the
input blocks of a batch are copied (one strided copy per run of equally spaced
tiles, no per-tile Python loop) into one staging buffer of shape
``(b0, b1, L0, L1)``, transformed with one batched ``rfft2`` (real) or ``fft2``
(complex) over the last two axes (so the FFT workers parallelise over tiles),
multiplied by ``H`` and transformed back; the valid ``T0 x T1`` part of every
circular convolution is written straight into ``out`` through a strided view.
The last tile on an axis is shifted back so that it ends at the window edge
(all tiles have the same size; the overlap is written twice).  When the window
is thinner than a tile on an axis (e.g. a border strip two rows tall), that
axis uses a single tile of length ``next_fast_len(n + K - 1)``: the extra rows
of the staging buffer stay zero.

Correlation with ``W`` equals convolution with the reversed kernel, so the
kernel spectrum is built from ``w`` itself when ``flip`` is set and from the
reversed *view* ``w[::-1, ::-1]`` otherwise (both are zero-padded into the FFT
buffer, which has to be done anyway); ``conj`` conjugates that buffer.

Precision
---------
By default float32 / complex64 inputs are computed with float64 / complex128
FFTs (the staging buffer is float64; the result is cast back to ``out.dtype``).
Single-precision FFTs have an error of about ``1e-7 * sum|w| * max|x|`` that is
spread uniformly over the image, so pixels far below the image maximum lose
their *relative* accuracy (pixels at 1e-4 of the maximum had 1e-3..3e-2
relative error).  ``fast_float32=True`` computes float32 / complex64 inputs in
single precision instead (about 2x faster on the CPU, same absolute error
scale ``~1e-6 * sum|w| * max|x|``).  float64 / complex128 are always computed
in double precision.
"""

import functools
import importlib
import inspect
import os

import numpy as np

__all__ = ["fft_correlate_window", "fft_cost_estimate", "plan_tiles"]


# ----------------------------------------------------------------------------
# tuning constants (measured on the 2-core AVX-512 development machine,
# scipy.fft 1.17 / pocketfft, workers=2)
# ----------------------------------------------------------------------------

#: Largest FFT length per axis for the multi-tile (CPU) path; a tile of
#: ``L0 * L1`` work elements should stay within the per-core L2 cache.
CPU_MAX_L = 512
#: Largest FFT length per axis for non-NumPy namespaces (GPU): big tiles.
GPU_MAX_L = 4096
#: Target size in bytes of the (real-valued) staging buffer of one batch.
CPU_BATCH_BYTES = 4 << 20
GPU_BATCH_BYTES = 256 << 20

# Cost model (single-thread CPU seconds, fitted by NNLS to measured runs of
# this function with forced tile sizes, 2048^2 real / 1024^2 complex, K=3..31,
# L=48..768, workers=1; the machine was shared, so the fit is +-30%):
#
#   cpu = n_tiles * (F * (A * N * log2(N) + B * N + G * lines) + C)
#         + D * n0 * n1 + kernel
#   wall = cpu / PAR + E
#
# with N = L0 * L1 work elements per tile, lines = L0 + L1 the number of 1-D
# transforms per tile (penalises very thin tiles), and F = COMPLEX_FACTOR for
# complex data, 1 for real data (rfft2).  PAR is the parallel speed-up of the batched
# transforms with 2 workers, E the fixed per-call overhead (plan, kernel
# buffer, Python).
_COST = {
    # work itemsize (real part) -> (A, B, C, D)
    4: (0.12e-9, 1.5e-9, 6.0e-6, 5.0e-9),
    8: (0.38e-9, 3.0e-9, 10.0e-6, 3.0e-9),
}
LINE_COST = 50e-9  # G
COMPLEX_FACTOR = 2.5
PAR = 1.8
CALL_OVERHEAD = 60e-6
#: Same form, used only to *choose tiles* for non-NumPy namespaces (GPU):
#: transforms are cheap, the per-batch launch overhead dominates small tiles,
#: there is no cache limit.  Not calibrated (no GPU on the dev machine).
_COST_GPU = {
    4: (0.01e-9, 0.02e-9, 0.05e-6, 0.02e-9),
    8: (0.02e-9, 0.04e-9, 0.05e-6, 0.04e-9),
}


def _smooth_numbers(limit, primes=(2, 3, 5)):
    out = [1]
    for p in primes:
        new = []
        for v in out:
            while v <= limit:
                new.append(v)
                v *= p
        out = new
    return sorted(set(out))


_SMOOTH = np.array(_smooth_numbers(1 << 16), dtype=np.int64)


def _next_smooth(n, even=False):
    """Smallest 2,3,5-smooth integer >= n (even if asked, for rfft)."""
    cand = _SMOOTH[_SMOOTH >= n]
    if even:
        cand = cand[cand % 2 == 0]
    if cand.size:
        return int(cand[0])
    # beyond the table: power of two
    return 1 << (int(n) - 1).bit_length()


def _axis_candidates(n, K, max_l, even):
    """FFT lengths worth trying on one axis (each gives >= 1 output per tile)."""
    single = _next_smooth(n + K - 1, even)
    hi = max(max_l, 4 * K)
    c = _SMOOTH[(_SMOOTH >= K + 1) & (_SMOOTH < min(single, hi + 1))]
    if even:
        c = c[c % 2 == 0]
    c = np.append(c, single)
    return np.unique(c)


class _Axis:
    """Tiling of one axis: output tile ``tout``, FFT length ``L``, input
    extent ``lin`` copied per tile, ``count`` tiles, first ``nreg`` at
    ``i * tout``, the last (if ``nreg < count``) at ``n - tout``."""

    __slots__ = ("L", "tout", "lin", "count", "nreg", "n")

    def __init__(self, n, K, L):
        self.n, self.L = n, L
        T = L - K + 1
        if T >= n:
            self.tout, self.lin, self.count, self.nreg = n, n + K - 1, 1, 1
        else:
            self.tout, self.lin = T, L
            self.count = -(-n // T)
            self.nreg = self.count if n % T == 0 else self.count - 1

    def segments(self, a, b):
        """Runs of equally spaced tiles in tile range [a, b):
        yields (offset in batch, number, first start, step)."""
        r = min(b, self.nreg)
        if r > a:
            yield 0, r - a, a * self.tout, self.tout
        if b > self.nreg:
            yield max(self.nreg, a) - a, 1, self.n - self.tout, self.tout

    def __repr__(self):
        return "_Axis(L=%d, tout=%d, lin=%d, count=%d)" % (
            self.L, self.tout, self.lin, self.count)


def _model_total(nt, N, lines, n0, n1, consts, cplx, gpu=False):
    A, B, C, D = consts
    f = COMPLEX_FACTOR if cplx else 1.0
    logn = np.log2(np.maximum(N, 2))
    g = 0.0 if gpu else LINE_COST
    per_tile = f * (A * N * logn + B * N + g * lines) + C
    kernel = f * (A * N * logn + B * N)
    par = np.where(nt > 1, PAR, 1.0 + (PAR - 1.0) * 0.5)
    return (nt * per_tile + D * n0 * n1 + kernel) / par + CALL_OVERHEAD


@functools.lru_cache(maxsize=512)
def plan_tiles(n0, n1, K0, K1, cplx, itemsize, gpu=False):
    """Choose FFT lengths (L0, L1) for a window; returns (ax0, ax1, seconds)."""
    max_l = GPU_MAX_L if gpu else CPU_MAX_L
    consts = (_COST_GPU if gpu else _COST)[itemsize]
    c0 = _axis_candidates(n0, K0, max_l, even=False)
    c1 = _axis_candidates(n1, K1, max_l, even=not cplx)
    t0 = np.minimum(c0 - K0 + 1, n0)
    t1 = np.minimum(c1 - K1 + 1, n1)
    nt0 = -(-n0 // t0)
    nt1 = -(-n1 // t1)
    N = c0[:, None].astype(np.float64) * c1[None, :]
    nt = nt0[:, None].astype(np.float64) * nt1[None, :]
    lines = c0[:, None].astype(np.float64) + c1[None, :]
    tot = _model_total(nt, N, lines, n0, n1, consts, cplx, gpu)
    if not gpu:
        # out-of-cache penalty for multi-tile plans with huge tiles
        big = (N * itemsize * (2 if cplx else 1)) > (2 << 20)
        tot = np.where(big & (nt > 1), tot * 1.5, tot)
    i, j = np.unravel_index(int(np.argmin(tot)), tot.shape)
    ax0 = _Axis(n0, K0, int(c0[i]))
    ax1 = _Axis(n1, K1, int(c1[j]))
    return ax0, ax1, float(tot[i, j])


def fft_cost_estimate(n0, n1, K0, K1, dtype, fast_float32=False):
    """Estimated seconds for :func:`fft_correlate_window` on this machine
    (NumPy + scipy.fft, 2 workers) for an ``n0 x n1`` output window and a
    ``K0 x K1`` kernel of ``dtype``.  Pure function (no FFT is run)."""
    n0, n1, K0, K1 = int(n0), int(n1), int(K0), int(K1)
    if n0 <= 0 or n1 <= 0:
        return 0.0
    dt = np.dtype(dtype)
    cplx = dt.kind == "c"
    itemsize = _work_itemsize(dt, fast_float32)
    return plan_tiles(n0, n1, K0, K1, cplx, itemsize, False)[2]


def _work_itemsize(dt, fast_float32):
    real_size = dt.itemsize // (2 if dt.kind == "c" else 1)
    return 4 if (fast_float32 and real_size == 4) else 8


@functools.lru_cache(maxsize=32)
def _fft_kwargs(func):
    """Which optional keywords (workers, overwrite_x) an FFT function takes."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(k for k in ("workers", "overwrite_x") if k in params)


def _stride_tricks(xp):
    st = getattr(getattr(xp, "lib", None), "stride_tricks", None)
    if st is None:
        st = importlib.import_module(xp.__name__ + ".lib.stride_tricks")
    return st


def fft_correlate_window(x, xr0, xc0, w, flip, conj, out, or0, oc0, n0, n1, *,
                         xp=None, fft=None, fast_float32=False, workers=None):
    """Correlate a window of ``x`` with ``w`` by tiled overlap-save FFT.

    For ``0 <= i < n0``, ``0 <= j < n1``::

        out[or0+i, oc0+j] = sum_{p<K0, q<K1} x[xr0+i+p, xc0+j+q] * W(p, q)

    with ``(K0, K1) = w.shape``, ``W(p, q) = w[K0-1-p, K1-1-q]`` if ``flip``
    else ``w[p, q]``, complex-conjugated if ``conj``.  The caller guarantees
    that every index is in bounds.  ``x``, ``w`` and ``out`` are 2-D arrays of
    one dtype among float32, float64, complex64, complex128; the result is
    written into ``out`` (cast to ``out.dtype``).

    ``xp`` is the array namespace (default ``numpy``), ``fft`` the FFT module
    (default ``scipy.fft``); ``workers`` (default ``os.cpu_count()``) and
    ``overwrite_x`` are passed only to FFT functions that accept them
    (``cupy.fft`` does not).

    Precision: float32 / complex64 data are transformed in float64 /
    complex128 by default, because single-precision FFT errors are of the
    order ``1e-7 * sum|w| * max|x|`` everywhere and destroy the relative
    accuracy of dim pixels in high-dynamic-range images (pixels at 1e-4 of the
    maximum got 1e-3..3e-2 relative error).  ``fast_float32=True`` keeps the
    transforms in float32 / complex64 (about 2x faster on the CPU).
    """
    n0, n1 = int(n0), int(n1)
    if n0 <= 0 or n1 <= 0:
        return
    if xp is None:
        xp = np
    if fft is None:
        import scipy.fft as fft
    if workers is None:
        workers = os.cpu_count() or 1

    K0, K1 = (int(k) for k in w.shape)
    xr0, xc0, or0, oc0 = int(xr0), int(xc0), int(or0), int(oc0)
    # cheap insurance: the strided views below must never leave the arrays
    if (min(xr0, xc0, or0, oc0) < 0 or K0 < 1 or K1 < 1
            or xr0 + n0 + K0 - 1 > x.shape[0] or xc0 + n1 + K1 - 1 > x.shape[1]
            or or0 + n0 > out.shape[0] or oc0 + n1 > out.shape[1]):
        raise ValueError("fft_correlate_window: window out of bounds")
    dt = np.dtype(x.dtype)
    cplx = dt.kind == "c"
    itemsize = _work_itemsize(dt, fast_float32)
    rdt = np.dtype(np.float32 if itemsize == 4 else np.float64)
    wdt = np.dtype(np.complex64 if itemsize == 4 else np.complex128) if cplx else rdt
    is_numpy = xp is np

    ax0, ax1, _ = plan_tiles(n0, n1, K0, K1, cplx, itemsize, not is_numpy)
    L0, L1 = ax0.L, ax1.L

    if cplx:
        fwd, inv = fft.fft2, fft.ifft2
    else:
        fwd, inv = fft.rfft2, fft.irfft2
    kw_f = {}
    kw_i = {}
    if "workers" in _fft_kwargs(fwd):
        kw_f["workers"] = workers
    if "workers" in _fft_kwargs(inv):
        kw_i["workers"] = workers
    if "overwrite_x" in _fft_kwargs(inv):
        kw_i["overwrite_x"] = True
    axes = (-2, -1)

    # ---- kernel spectrum, once per call ----------------------------------
    # correlation with W == convolution with h, h[k] = W(K-1-k):
    # flip -> h = w, no flip -> h = w reversed (a view).
    hbuf = xp.zeros((L0, L1), dtype=wdt)
    hbuf[:K0, :K1] = w if flip else w[::-1, ::-1]
    if conj and cplx:
        hbuf = xp.conj(hbuf)
    H = fwd(hbuf, s=(L0, L1), axes=axes, **kw_f)
    del hbuf

    # ---- batching ----------------------------------------------------------
    batch_bytes = CPU_BATCH_BYTES if is_numpy else GPU_BATCH_BYTES
    tile_bytes = L0 * L1 * wdt.itemsize
    bmax = max(1, batch_bytes // tile_bytes)
    if is_numpy:
        bmax = max(bmax, min(int(workers) if workers > 0 else 1, 8))
    bt1 = min(ax1.count, bmax)
    bt0 = min(ax0.count, max(1, bmax // bt1))
    # staging buffer: only [:lin0, :lin1] of each tile is ever written, so the
    # zero padding of thin (single-tile) axes survives across batches.
    stage = xp.zeros((bt0 * bt1, L0, L1), dtype=wdt)

    st = _stride_tricks(xp)
    as_strided = st.as_strided
    sx0, sx1 = x.strides
    so0, so1 = out.strides
    lin0, lin1 = ax0.lin, ax1.lin
    to0, to1 = ax0.tout, ax1.tout
    k0, k1 = K0 - 1, K1 - 1

    for a0 in range(0, ax0.count, bt0):
        b0 = min(a0 + bt0, ax0.count)
        segs0 = list(ax0.segments(a0, b0))
        for a1 in range(0, ax1.count, bt1):
            b1 = min(a1 + bt1, ax1.count)
            segs1 = list(ax1.segments(a1, b1))
            nb0, nb1 = b0 - a0, b1 - a1
            buf = stage[: nb0 * nb1].reshape(nb0, nb1, L0, L1)
            # gather the input blocks: one strided copy per pair of runs
            for d0, m0, s0, p0 in segs0:
                for d1, m1, s1, p1 in segs1:
                    src = as_strided(
                        x[xr0 + s0:, xc0 + s1:], shape=(m0, m1, lin0, lin1),
                        strides=(p0 * sx0, p1 * sx1, sx0, sx1))
                    buf[d0:d0 + m0, d1:d1 + m1, :lin0, :lin1] = src
            X = fwd(buf, axes=axes, **kw_f)
            X *= H
            y = inv(X, s=(L0, L1), axes=axes, **kw_i)
            del X
            y = y[:, :, k0:k0 + to0, k1:k1 + to1]
            for d0, m0, s0, p0 in segs0:
                for d1, m1, s1, p1 in segs1:
                    dst = as_strided(
                        out[or0 + s0:, oc0 + s1:], shape=(m0, m1, to0, to1),
                        strides=(p0 * so0, p1 * so1, so0, so1))
                    dst[...] = y[d0:d0 + m0, d1:d1 + m1]
            del y
