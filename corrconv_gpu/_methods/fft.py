"""Tiled overlap-save FFT correlation of one output window.

Written against an array namespace ``xp`` and an FFT module ``fft`` (NumPy
and scipy.fft by default; CuPy and cupy.fft on a GPU). The window is cut into
equal ``T0 x T1`` output tiles whose FFT lengths ``L = T + K - 1`` a cost
model chooses (:func:`plan_tiles`); the kernel spectrum is computed once per
call (memoized for NumPy). Transforms are complex-to-complex, in place, in a
reused staging buffer; real data packs two tiles per complex slot, and border
tiles are gathered through the boundary extension, so no padded copy of the
image is made. Every output is written once, so the result does not depend
on the thread count. float32/complex64 are transformed in double precision
unless ``fast_float32=True``.
"""

import collections
import inspect
import math
import os
import threading

import numpy as np

from .._boundary import extended_block
from .._util.arrays import is_cupy_array, to_numpy
from .._util.memo import memoize

__all__ = ["fft_correlate_window", "fft_cost_estimate", "plan_tiles", "frame_spectrum",
           "fft_correlate_frame", "frame_work_dtype", "whole_frame_fits", "fast_len"]


# ----------------------------------------------------------------------------
# tuning constants (CPU: scipy.fft / pocketfft, workers=2)
# ----------------------------------------------------------------------------

#: Largest FFT length per axis for the multi-tile (CPU) path.
CPU_MAX_L = 1100
#: Largest FFT length per axis for non-NumPy namespaces (GPU): big tiles.
GPU_MAX_L = 4096
#: Target size in bytes of the complex staging buffer of one batch.
CPU_BATCH_BYTES = 8 << 20
GPU_BATCH_BYTES = 256 << 20

# Cost model (wall seconds, 2 threads; see _model_total and plan_tiles):
#   total = slots * N * E(N) [* ALIAS_FACTOR] + tiles * (COPY * (L0*L1 + T0*T1)
#           + TILE_OVERHEAD) + batches * BATCH_OVERHEAD + N * E(N) / 2 + CALL_OVERHEAD
# E(N): seconds per complex element, higher once a slot leaves the L2 cache;
# ALIAS: rows of a multiple of 8 KiB put the column transforms in the same cache sets.
# fitted by timing this method (benchmarks/results/fitted_constants.md)
#: complex itemsize -> (E in cache, E out of cache, cache bytes, COPY)
_COST = {
    8: (5.0e-9, 7.5e-9, 1 << 19, 1.0e-9),
    16: (11.0e-9, 15.0e-9, 5 << 19, 1.3e-9),
}
ALIAS_BYTES = 8192
ALIAS_FACTOR = 1.8
TILE_OVERHEAD = 8e-6
#: One minor page fault (first touch of a fresh 4 KiB page), 2 threads.
PAGE_FAULT_S = 2e-6
BATCH_OVERHEAD = 40e-6
CALL_OVERHEAD = 60e-6
#: Same form, used only to *choose tiles* for non-NumPy namespaces (GPU):
#: transforms are cheap, the per-batch launch overhead dominates small tiles,
#: there is no cache limit.
_COST_GPU = {
    8: (0.02e-9, 0.02e-9, 1 << 62, 0.01e-9),
    16: (0.04e-9, 0.04e-9, 1 << 62, 0.02e-9),
}
#: Host time of one tile on the GPU: its gather and scatter are a few CuPy
#: launches; without it the model picks tiles too small for the GPU.
#: set from benchmarks/gpu_probe.py (benchmarks/results/fitted_constants.md)
GPU_TILE_OVERHEAD = 50e-6


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


def _next_smooth(n, table=_SMOOTH):
    """Smallest integer >= n in ``table`` (default: the 2,3,5-smooth ones)."""
    cand = table[table >= n]
    if cand.size:
        return int(cand[0])
    # beyond the table: power of two
    return 1 << (int(n) - 1).bit_length()


def _axis_candidates(n, K, max_l):
    """FFT lengths worth trying on one axis (each gives >= 1 output per tile)."""
    single = _next_smooth(n + K - 1)
    hi = max(max_l, 4 * K)
    c = _SMOOTH[(_SMOOTH >= K + 1) & (_SMOOTH < min(single, hi + 1))]
    return np.unique(np.append(c, single))


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

    def starts(self):
        """``(offset, skip)`` of every tile, in order: the tile covers outputs
        ``offset .. offset + tout - 1`` and writes those from ``offset + skip``
        on, so that every output is written once (the last tile, shifted back
        to end at the window edge, skips the outputs of the one before)."""
        return [(i * self.tout, 0) for i in range(self.nreg)] + (
            [(self.n - self.tout, self.nreg * self.tout - (self.n - self.tout))]
            if self.nreg < self.count else [])

    def __repr__(self):
        return "_Axis(L=%d, tout=%d, lin=%d, count=%d)" % (
            self.L, self.tout, self.lin, self.count)


def _model_total(L0, L1, t0, t1, n0, n1, citem, gpu=False):
    """The parts of the modelled wall time of tile plans (arrays of L0 x L1
    with output tiles t0 x t1, broadcast) for an ``n0 x n1`` window and
    complex itemsize ``citem``: (tiles, seconds per slot, seconds per tile)."""
    e_in, e_out, cache, copy = (_COST_GPU if gpu else _COST)[citem]
    N = L0 * L1
    e = np.where(N * citem <= cache, e_in, e_out)
    if not gpu:
        e = np.where((L1 * citem) % ALIAS_BYTES == 0, e * ALIAS_FACTOR, e)
    nt = np.ceil(n0 / t0) * np.ceil(n1 / t1)
    return nt, N * e, copy * (N + t0 * t1) + (GPU_TILE_OVERHEAD if gpu else TILE_OVERHEAD)


@memoize(512)
def plan_tiles(n0, n1, K0, K1, cplx, itemsize, gpu=False):
    """Choose FFT lengths (L0, L1) for a window; returns (ax0, ax1, seconds).

    ``itemsize`` is the real itemsize of the transforms (4 or 8); real data
    puts two tiles in each complex slot."""
    max_l = GPU_MAX_L if gpu else CPU_MAX_L
    citem = 2 * itemsize
    c0 = _axis_candidates(n0, K0, max_l)
    c1 = _axis_candidates(n1, K1, max_l)
    t0 = np.minimum(c0 - K0 + 1, n0)[:, None].astype(np.float64)
    t1 = np.minimum(c1 - K1 + 1, n1)[None, :].astype(np.float64)
    L0 = c0[:, None].astype(np.float64)
    L1 = c1[None, :].astype(np.float64)
    nt, slot, tile = _model_total(L0, L1, t0, t1, n0, n1, citem, gpu)
    per = 1 if cplx else 2
    nslots = np.ceil(nt / per)
    bs = np.minimum(nslots, np.maximum(
        1, (CPU_BATCH_BYTES if not gpu else GPU_BATCH_BYTES) // (L0 * L1 * citem)))
    nbatch = np.ceil(nslots / bs)
    tot = (nslots * slot + nt * tile + nbatch * BATCH_OVERHEAD
           + slot / 2 + CALL_OVERHEAD)
    if not gpu:
        # a batch too large for the reused workspace is a new array each
        # time: a page fault per 4 KiB on first touch
        batch_bytes = bs * L0 * L1 * citem
        tot = tot + np.where(batch_bytes > WORKSPACE_MAX_BYTES,
                             nbatch * batch_bytes / 4096 * PAGE_FAULT_S, 0.0)
    i, j = np.unravel_index(int(np.argmin(tot)), tot.shape)
    ax0 = _Axis(n0, K0, int(c0[i]))
    ax1 = _Axis(n1, K1, int(c1[j]))
    return ax0, ax1, float(tot[i, j])


def fft_cost_estimate(n0, n1, K0, K1, dtype, fast_float32=False):
    """Estimated seconds for :func:`fft_correlate_window` on the CPU
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


@memoize(32)
def _fft_kwargs(func):
    """Which optional keywords (workers, overwrite_x) an FFT function takes."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(k for k in ("workers", "overwrite_x") if k in params)


#: Largest staging buffer kept for reuse per thread (bytes); larger ones are
#: allocated per call.
WORKSPACE_MAX_BYTES = 2 * CPU_BATCH_BYTES
_TLS = threading.local()


def _workspace(shape, dtype):
    """An uninitialised NumPy buffer of ``shape``, reused across calls of one
    thread.  A fresh multi-megabyte array per call costs a page fault per 4 KiB
    when the allocator has returned the memory to the system."""
    n = math.prod(shape)
    if n * dtype.itemsize > WORKSPACE_MAX_BYTES:
        return np.empty(shape, dtype)
    buf = getattr(_TLS, "buf", None)
    if buf is None or buf.dtype != dtype or buf.size < n:
        buf = np.empty(n, dtype)
        _TLS.buf = buf
    return buf[:n].reshape(shape)


#: Kernel spectra kept: the last few. A host spectrum is kept if at most
#: SPECTRUM_CACHE_MAX_BYTES; device spectra (whole-frame transforms, as
#: costly as the image's) are kept up to DEVICE_SPECTRUM_CACHE_BYTES in all.
SPECTRUM_CACHE_ENTRIES = 4
SPECTRUM_CACHE_MAX_BYTES = 8 << 20
DEVICE_SPECTRUM_CACHE_BYTES = 1 << 30
_SPECTRA = collections.OrderedDict()
_SPECTRA_LOCK = threading.Lock()


def _spectrum_cached(key, compute, device=False):
    """The kernel spectrum for ``key`` (the weights' bytes, dtype, shape,
    flip, conj, FFT lengths, work dtype and, for ``device`` spectra, the
    device), computed by ``compute()`` on a miss.  A stack of frames, or a
    video filtered frame by frame with one kernel, transforms the kernel
    once.  Never written to."""
    with _SPECTRA_LOCK:
        hit = _SPECTRA.get(key)
        if hit is not None:
            _SPECTRA.move_to_end(key)
            return hit[0]
    H = compute()
    if not device:
        H.flags.writeable = False
    if H.nbytes <= (DEVICE_SPECTRUM_CACHE_BYTES if device else SPECTRUM_CACHE_MAX_BYTES):
        with _SPECTRA_LOCK:
            _SPECTRA[key] = (H, device)
            while len(_SPECTRA) > SPECTRUM_CACHE_ENTRIES or sum(
                    h.nbytes for h, d in _SPECTRA.values() if d) > DEVICE_SPECTRUM_CACHE_BYTES:
                _SPECTRA.popitem(last=False)
    return H


def fft_correlate_window(x, xr0, xc0, w, flip, conj, out, or0, oc0, n0, n1, *,
                         xp=None, fft=None, fast_float32=False, workers=None,
                         boundary=None, fill=0):
    """Correlate a window of ``x`` with ``w`` by tiled overlap-save FFT.

    For ``0 <= i < n0``, ``0 <= j < n1``::

        out[or0+i, oc0+j] = sum_{p<K0, q<K1} x[xr0+i+p, xc0+j+q] * W(p, q)

    with ``(K0, K1) = w.shape``, ``W(p, q) = w[K0-1-p, K1-1-q]`` if ``flip``
    else ``w[p, q]``, complex-conjugated if ``conj``.  With ``boundary=None``
    the caller guarantees that every index of ``x`` is in bounds; with a
    boundary mode of :func:`~corrconv_gpu._boundary.extend_index` (and
    ``fill`` for ``'constant'``) ``x`` is read through that extension, so the
    window may reach outside it: tiles inside ``x`` are sliced, the others
    gathered by :func:`~corrconv_gpu._boundary.extended_block` straight into
    the staging buffer.  ``x``, ``w`` and ``out`` are 2-D arrays of one dtype
    among float32, float64, complex64, complex128; the result is written into
    ``out`` (cast to ``out.dtype``).

    ``xp`` is the array namespace (default ``numpy``), ``fft`` the FFT module
    (default ``scipy.fft``); ``workers`` (default ``os.cpu_count()``) and
    ``overwrite_x`` are passed only to FFT functions that accept them
    (``cupy.fft`` does not).

    Precision: float32 / complex64 data are transformed in float64 /
    complex128 by default, because single-precision FFT errors are of the
    order ``1e-7 * sum|w| * max|x|`` everywhere and destroy the relative
    accuracy of dim pixels in high-dynamic-range images.  ``fast_float32=True``
    keeps the transforms in float32 / complex64 (faster; see
    benchmarks/results/fitted_constants.md).
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
    M0, M1 = (int(m) for m in x.shape)
    # cheap insurance: the slices below must never leave the arrays
    if (min(or0, oc0) < 0 or K0 < 1 or K1 < 1
            or or0 + n0 > out.shape[0] or oc0 + n1 > out.shape[1]
            or (boundary is None and (
                min(xr0, xc0) < 0 or xr0 + n0 + K0 - 1 > M0
                or xc0 + n1 + K1 - 1 > M1))):
        raise ValueError("fft_correlate_window: window out of bounds")
    dt = np.dtype(x.dtype)
    cplx = dt.kind == "c"
    itemsize = _work_itemsize(dt, fast_float32)
    wdt = np.dtype(np.complex64 if itemsize == 4 else np.complex128)
    is_numpy = xp is np

    ax0, ax1, _ = plan_tiles(n0, n1, K0, K1, cplx, itemsize, not is_numpy)
    L0, L1 = ax0.L, ax1.L
    fwd, inv = fft.fft2, fft.ifft2
    kw_f, kw_i = {}, {}
    for f, kw in ((fwd, kw_f), (inv, kw_i)):
        if "workers" in _fft_kwargs(f):
            kw["workers"] = workers
        if "overwrite_x" in _fft_kwargs(f):
            kw["overwrite_x"] = True      # complex in, complex out: in place
    axes = (-2, -1)

    # ---- kernel spectrum, once per call (NumPy: memoized) ----------------
    # correlation with W == convolution with h, h[k] = W(K-1-k):
    # flip -> h = w, no flip -> h = w reversed (a view).
    def spectrum():
        hbuf = xp.zeros((L0, L1), dtype=wdt)
        hbuf[:K0, :K1] = w if flip else w[::-1, ::-1]
        if conj and cplx:
            hbuf = xp.conj(hbuf)
        return fwd(hbuf, axes=axes, **kw_f)

    if is_numpy:
        H = _spectrum_cached((np.ascontiguousarray(w).tobytes(), w.dtype.str, w.shape,
                              bool(flip), bool(conj and cplx), L0, L1, wdt.str),
                             spectrum)
    else:
        H = spectrum()

    # ---- tiles, slots and batches -----------------------------------------
    # real data: two tiles per complex slot (real and imaginary part); the
    # kernel is real, so the two circular convolutions stay apart.
    tiles = [(s0, s1) for s0 in ax0.starts() for s1 in ax1.starts()]
    per = 1 if cplx else 2
    nslots = -(-len(tiles) // per)
    slot_bytes = L0 * L1 * wdt.itemsize
    if is_numpy:
        # batches of slots run on threads, one FFT worker each (copies and
        # the product run in parallel too); a single slot gets all workers
        from .._util.threads import num_threads, run_shared
        threads = max(1, min(num_threads(), nslots))
        bs = max(1, min(-(-nslots // threads),
                        CPU_BATCH_BYTES // (threads * slot_bytes)))
        if threads > 1:
            for kw in (kw_f, kw_i):
                if "workers" in kw:
                    kw["workers"] = 1
    else:
        threads, bs = 1, max(1, min(nslots, GPU_BATCH_BYTES // slot_bytes))
    nbatch = -(-nslots // bs)
    lin0, lin1 = ax0.lin, ax1.lin
    to0, to1 = ax0.tout, ax1.tout
    k0, k1 = K0 - 1, K1 - 1

    def batch(b):
        first = b * bs
        nb = min(bs, nslots - first)
        Z = (_workspace((nb, L0, L1), wdt) if is_numpy
             else xp.empty((nb, L0, L1), dtype=wdt))
        # only [:lin0, :lin1] of a slot is written below; the rest is the
        # zero padding of thin (single-tile) axes
        if lin0 < L0:
            Z[:, lin0:] = 0
        if lin1 < L1:
            Z[:, :lin0, lin1:] = 0
        parts = (Z,) if cplx else (Z.real, Z.imag)
        for j in range(nb):
            for k, part in enumerate(parts):
                i = (first + j) * per + k
                if i >= len(tiles):       # the odd tile's partner
                    part[j, :lin0, :lin1] = 0
                    continue
                a0, a1 = xr0 + tiles[i][0][0], xc0 + tiles[i][1][0]
                if 0 <= a0 and a0 + lin0 <= M0 and 0 <= a1 and a1 + lin1 <= M1:
                    part[j, :lin0, :lin1] = x[a0:a0 + lin0, a1:a1 + lin1]
                else:
                    extended_block(x, (a0, a0 + lin0), (a1, a1 + lin1), boundary,
                                   fill, xp=xp, out=part[j, :lin0, :lin1])
        Z = fwd(Z, axes=axes, **kw_f)
        Z *= H
        Z = inv(Z, axes=axes, **kw_i)
        parts = (Z,) if cplx else (Z.real, Z.imag)
        for j in range(nb):
            for k, part in enumerate(parts):
                i = (first + j) * per + k
                if i < len(tiles):
                    (s0, u0), (s1, u1) = tiles[i]
                    out[or0 + s0 + u0:or0 + s0 + to0, oc0 + s1 + u1:oc0 + s1 + to1] = \
                        part[j, k0 + u0:k0 + to0, k1 + u1:k1 + to1]

    if threads > 1:
        run_shared(nbatch, batch, threads)
    else:
        for b in range(nbatch):
            batch(b)


# ------------------------------------------------------- whole frame (GPU)

#: Frames whose FFT lengths multiply to at most this many elements are
#: transformed whole on the GPU (one real-to-complex transform per frame and
#: its inverse); larger ones are tiled (:func:`fft_correlate_window`).
WHOLE_FRAME_MAX_ELEMS = 1 << 28
_SMOOTH7 = np.array(_smooth_numbers(1 << 20, primes=(2, 3, 5, 7)), dtype=np.int64)


def fast_len(n):
    """Smallest 2,3,5,7-smooth length >= n: the sizes cuFFT transforms with
    its fast kernels (and pocketfft too)."""
    return _next_smooth(n, _SMOOTH7)


def frame_work_dtype(dtype, fast_float32):
    """The transforms' dtype for results of ``dtype``: float16 in float32;
    float32/complex64 in double precision unless ``fast_float32`` (the rule
    of the tiled method, :func:`_work_itemsize`); real data take real
    transforms."""
    dtype = np.dtype(dtype)
    size = 4 if dtype == np.float16 else _work_itemsize(dtype, fast_float32)
    return np.dtype(f"c{2 * size}" if dtype.kind == "c" else f"f{size}")


def whole_frame_fits(ext_shape):
    return math.prod(fast_len(n) for n in ext_shape) <= WHOLE_FRAME_MAX_ELEMS


def frame_spectrum(w, ext_shape, flip, conj, work, *, xp, fft):
    """``(lengths, spectrum, real)`` of the weights for whole-frame correlation of
    extended frames of ``ext_shape``: the kernel of the linear convolution
    that gives the correlation (``w`` reversed unless ``flip``, conjugated
    when ``conj``), shared by every frame and kept for later calls with the
    same weights (:func:`_spectrum_cached`; device weights are read back for
    the key: a copy of K0*K1 values, on a path that reads the image's
    values anyway -- its finiteness)."""
    lengths = tuple(fast_len(n) for n in ext_shape)
    real = work.kind == "f"
    conj = bool(conj) and np.dtype(w.dtype).kind == "c"

    def compute():
        v = w if flip else w[::-1, ::-1]
        if conj:
            v = xp.conj(v)
        v = v.astype(work, copy=False)
        return fft.rfft2(v, lengths) if real else fft.fft2(v, lengths)

    device = is_cupy_array(w)
    host = np.ascontiguousarray(to_numpy(w))
    key = (host.tobytes(), host.dtype.str, host.shape, bool(flip), conj, lengths, work.str,
           w.device.id if device else None)
    return lengths, _spectrum_cached(key, compute, device), real


def fft_correlate_frame(ext, spectrum, out, *, fft):
    """``out[i, j] = sum_{p,q} ext[i + p, j + q] * W[p, q]`` for the weights of
    :func:`frame_spectrum`: one forward transform of the extended frame
    (zero-padded to ``lengths``: the circular wrap lands in the rows and
    columns that are cropped), the product formed in place, one inverse
    transform, and the crop written into ``out`` (cast to its dtype) in one
    pass."""
    lengths, H, real = spectrum
    k0 = ext.shape[0] - out.shape[0] + 1
    k1 = ext.shape[1] - out.shape[1] + 1
    e = ext.astype(H.real.dtype if real else H.dtype, copy=False)
    X = fft.rfft2(e, lengths) if real else fft.fft2(e, lengths)
    X *= H
    full = fft.irfft2(X, lengths) if real else fft.ifft2(X, lengths)
    out[...] = full[k0 - 1:k0 - 1 + out.shape[0], k1 - 1:k1 - 1 + out.shape[1]]
    return out


# ------------------------------------------------------- whole-array (N-D)

def fftn_correlate_valid(xe, w, axes, flip, conj, *, xp=None, workers=None):
    """The 'valid' correlation of an extended array ``xe`` with the weights
    ``w`` (same ndim; length 1 off ``axes``), by whole-array transforms over
    ``axes``: ``out[i] = sum_p xe[i + p] * W[p]`` with ``W = w`` (conjugated
    when ``conj``) read reversed when ``flip``. Real data take real
    transforms; the lengths are padded to fast sizes (the circular wrap
    stays in the cropped part). Returns float64/complex128."""
    xp = np if xp is None else xp
    if xp is np:
        import scipy.fft as fft
    else:
        import cupyx.scipy.fft as fft
    axes = tuple(axes)
    # the kernel of the linear convolution that gives the correlation
    v = w if flip else w[tuple(slice(None, None, -1) if a in axes else slice(None)
                               for a in range(w.ndim))]
    if conj:
        v = xp.conj(v)
    real = xe.dtype.kind != "c" and v.dtype.kind != "c"
    lengths = [fft.next_fast_len(int(xe.shape[a]), real) for a in axes]
    kw = {"workers": workers or os.cpu_count() or 1} if "workers" in _fft_kwargs(
        fft.rfftn) else {}
    if real:
        prod = _times(fft.rfftn(xe, lengths, axes=axes, **kw),
                      fft.rfftn(v, lengths, axes=axes, **kw))
        full = fft.irfftn(prod, lengths, axes=axes, **kw)
    else:
        prod = _times(fft.fftn(xe, lengths, axes=axes, **kw),
                      fft.fftn(v, lengths, axes=axes, **kw))
        full = fft.ifftn(prod, lengths, axes=axes, **kw)
    crop = [slice(None)] * xe.ndim
    for a in axes:
        crop[a] = slice(w.shape[a] - 1, xe.shape[a])
    return full[tuple(crop)]


def _times(a, b):
    """``a * b``, in place where ``b`` does not broadcast ``a`` larger."""
    if a.shape == np.broadcast_shapes(a.shape, b.shape):
        a *= b
        return a
    return a * b
