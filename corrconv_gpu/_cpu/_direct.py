"""CPU "direct" method: register-blocked, parallel Numba kernel for 2-D
windowed correlation.

    correlate_window(x, xr0, xc0, w, flip, conj, out, or0, oc0, n0, n1)

computes, for 0 <= i < n0, 0 <= j < n1::

    out[or0+i, oc0+j] = sum_{p<K0, q<K1} x[xr0+i+p, xc0+j+q] * W(p, q)

with W(p, q) = w[K0-1-p, K1-1-q] if flip else w[p, q], conjugated if conj.

Design
------
x, w and out are passed as flat 1-D views (no copies); a tap t = p*K1 + q
(lexicographic order) is just a flat x offset p*sx + q, and flip is index
arithmetic on the flat weights (W(t) = w.flat[K0*K1-1-t]).  prange runs
over blocks of ``_R`` = 4 output rows; each iteration owns an L1-resident
accumulator ``acc[_R * _CH]`` and walks the columns in chunks of ``_CH``.
The inner loop (contiguous j, vectorized by LLVM) updates all 4 rows with
``_T`` = 4 consecutive taps each (16 multiply-adds per element, weights
hoisted into scalars); groups of taps cross kernel-row boundaries, and the
< 4 leftover taps use a 1-tap loop.  A partial last block duplicates its
last row (in bounds) and writes only the valid rows.  Inner indices are
uint64 so Numba emits no negative-index wraparound (which would produce
gathers).  Every output is accumulated in exactly the naive order (from 0,
taps ascending, one at a time, no FMA contraction), so the result is
independent of blocking and thread count (bitwise equal to a sequential
float64 loop in the same order).
"""
import numba
import numpy as np
from numba import njit, prange

__all__ = ["correlate_window", "warmup", "SUPPORTED_DTYPES"]

SUPPORTED_DTYPES = (
    np.dtype(np.float32),
    np.dtype(np.float64),
    np.dtype(np.complex64),
    np.dtype(np.complex128),
    np.dtype(np.int64),
)

_R = 4      # output rows per block (register blocking over rows)
_T = 4      # taps per inner iteration (register blocking over taps)
_CH = 512   # output columns per chunk (accumulators stay in L1)
# below this many multiply-adds a window runs on one thread: waking the pool
# costs more than the work (and, on a loaded machine, a scheduler time slice)
_SERIAL_MACS = 1 << 22

# Unsigned index arithmetic in the inner loops: Numba emits no negative-index
# wraparound selects for unsigned indices (those would turn the contiguous
# loads into gathers and defeat vectorization).
_U1 = np.uint64(1)
_U2 = np.uint64(2)
_U3 = np.uint64(3)
_UCH = np.uint64(_CH)
_UCH2 = np.uint64(2 * _CH)
_UCH3 = np.uint64(3 * _CH)


@njit(cache=True)
def _tap(wf, t, KK, K1, sx, flip, conj):
    """Weight and flat x-offset of tap t (lexicographic (p, q) order)."""
    p = t // K1
    q = t - p * K1
    v = wf[KK - 1 - t] if flip else wf[t]
    if conj:
        v = v.conjugate()
    return v, np.uint64(p * sx + q)


@njit(cache=True, fastmath=False, nogil=True)
def _block(xf, sx, xb, wf, K0, K1, flip, conj, of, so, ob, nr, n1, acc):
    """Rows i0..i0+nr-1 of the window; xb / ob are the flat indices of
    x[xr0+i0, xc0] and out[or0+i0, oc0]."""
    KK = K0 * K1
    nfull = KK - KK % _T
    # Row offsets of the block's rows; rows past nr (partial last block)
    # duplicate row nr-1 (always in bounds) and are simply not written out.
    usx = np.uint64(min(1, nr - 1) * sx)
    usx2 = np.uint64(min(2, nr - 1) * sx)
    usx3 = np.uint64(min(3, nr - 1) * sx)
    zero = acc.dtype.type(0)
    for j0 in range(0, n1, _CH):
        jn = np.uint64(min(_CH, n1 - j0))
        for j in range(np.uint64(_R * _CH)):
            acc[j] = zero
        xbj = np.uint64(xb + j0)
        for t in range(0, nfull, _T):
            w0, o0 = _tap(wf, t, KK, K1, sx, flip, conj)
            w1, o1 = _tap(wf, t + 1, KK, K1, sx, flip, conj)
            w2, o2 = _tap(wf, t + 2, KK, K1, sx, flip, conj)
            w3, o3 = _tap(wf, t + 3, KK, K1, sx, flip, conj)
            b0 = xbj + o0
            b1 = xbj + o1
            b2 = xbj + o2
            b3 = xbj + o3
            for j in range(jn):
                a = acc[j]
                a += xf[b0 + j] * w0
                a += xf[b1 + j] * w1
                a += xf[b2 + j] * w2
                a += xf[b3 + j] * w3
                acc[j] = a
                a = acc[_UCH + j]
                a += xf[b0 + usx + j] * w0
                a += xf[b1 + usx + j] * w1
                a += xf[b2 + usx + j] * w2
                a += xf[b3 + usx + j] * w3
                acc[_UCH + j] = a
                a = acc[_UCH2 + j]
                a += xf[b0 + usx2 + j] * w0
                a += xf[b1 + usx2 + j] * w1
                a += xf[b2 + usx2 + j] * w2
                a += xf[b3 + usx2 + j] * w3
                acc[_UCH2 + j] = a
                a = acc[_UCH3 + j]
                a += xf[b0 + usx3 + j] * w0
                a += xf[b1 + usx3 + j] * w1
                a += xf[b2 + usx3 + j] * w2
                a += xf[b3 + usx3 + j] * w3
                acc[_UCH3 + j] = a
        for t in range(nfull, KK):
            w0, o0 = _tap(wf, t, KK, K1, sx, flip, conj)
            b0 = xbj + o0
            for j in range(jn):
                acc[j] += xf[b0 + j] * w0
                acc[_UCH + j] += xf[b0 + usx + j] * w0
                acc[_UCH2 + j] += xf[b0 + usx2 + j] * w0
                acc[_UCH3 + j] += xf[b0 + usx3 + j] * w0
        for ii in range(nr):
            ai = np.uint64(ii * _CH)
            obi = np.uint64(ob + ii * so + j0)
            for j in range(jn):
                of[obi + j] = acc[ai + j]


@njit(parallel=True, cache=True, fastmath=False, nogil=True)
def _kernel(xf, sx, xb, wf, K0, K1, flip, conj, of, so, ob, n0, n1):
    nblk = (n0 + _R - 1) // _R
    for b in prange(nblk):
        acc = np.empty(_R * _CH, dtype=of.dtype)
        i0 = b * _R
        nr = min(_R, n0 - i0)
        _block(xf, sx, xb + i0 * sx, wf, K0, K1, flip, conj,
               of, so, ob + i0 * so, nr, n1, acc)


def correlate_window(x, xr0, xc0, w, flip, conj, out, or0, oc0, n0, n1):
    """out[or0+i, oc0+j] = sum_{p,q} x[xr0+i+p, xc0+j+q] * W(p, q)."""
    n0 = int(n0)
    n1 = int(n1)
    if n0 <= 0 or n1 <= 0:
        return
    sx = x.shape[1]
    so = out.shape[1]
    threads = numba.get_num_threads()
    if n0 * n1 * w.size < _SERIAL_MACS:
        numba.set_num_threads(1)
    try:
        _launch(x, sx, xr0, xc0, w, flip, conj, out, so, or0, oc0, n0, n1)
    finally:
        numba.set_num_threads(threads)


def _launch(x, sx, xr0, xc0, w, flip, conj, out, so, or0, oc0, n0, n1):
    # Flat (1-D) views of the C-contiguous arrays: no copies.
    _kernel(x.reshape(-1), np.int64(sx), np.int64(int(xr0) * sx + int(xc0)),
            w.reshape(-1), np.int64(w.shape[0]), np.int64(w.shape[1]),
            bool(flip), bool(conj),
            out.reshape(-1), np.int64(so), np.int64(int(or0) * so + int(oc0)),
            np.int64(n0), np.int64(n1))


def warmup(dtype):
    """Compile (or load from cache) the specialization for ``dtype``."""
    dt = np.dtype(dtype)
    x = np.zeros((6, 6), dtype=dt)
    w = np.ones((2, 2), dtype=dt)
    out = np.zeros((5, 5), dtype=dt)
    correlate_window(x, 0, 0, w, False, False, out, 0, 0, 5, 5)
