"""CPU "direct" method: register-blocked, parallel Numba kernel for 2-D
windowed correlation.

    correlate_window(x, xr0, xc0, w, flip, conj, out, or0, oc0, n0, n1)

computes, for 0 <= i < n0, 0 <= j < n1::

    out[or0+i, oc0+j] = sum_{p<K0, q<K1} x[xr0+i+p, xc0+j+q] * W(p, q)

with W(p, q) = w[K0-1-p, K1-1-q] if flip else w[p, q], conjugated if conj.

Design
------
x and out are passed as flat 1-D views (no copies); the effective weights W
(flip / conj applied) are a tiny contiguous copy.  The output rows are
split into bands; each band (``_rows``) walks the columns in chunks of
``ch`` (as wide as the ``_ACC_BYTES`` budget allows, usually whole rows)
and, per chunk, sweeps its input rows top to bottom.  Input row r feeds
output rows k with 0 <= r - k < K0 (kernel row p = r - k); their
accumulators live in a ring of K0 rows (slot k % K0), and an output row is
written out (and its slot cleared) as soon as its last input row is done,
so each x element is read from memory about once.  The active output rows
go in groups of m <= 4 and the K1 taps in groups of T <= 4: one pass over
the columns loads the T shifted x vectors once and updates m accumulator
rows with m*T multiply-adds (weights held in registers), i.e. an x load is
shared by up to 4 output rows and an accumulator is loaded / stored once
per up-to-4 taps.  The inner loops (contiguous j, vectorized by LLVM with
zmm vmulps/vaddps) use uint64 indices so Numba emits no negative-index
wraparound (which would produce gathers).  All 16 (m, T) loops live in one
function (separate functions would be optimised again where inlined,
costing compile time).

Threads: bands are independent, so large windows run as 4 * threads bands
on a small Python thread pool (``nogil`` kernel), without ``parallel=True``
(whose gufunc would re-optimise the whole inlined kernel: ~2x compile
time).  Small windows (< ``_SERIAL_MACS`` multiply-adds) run inline.

Determinism: each output is accumulated in exactly the naive order (from 0,
kernel rows ascending, taps ascending within a row, one at a time,
fastmath=False, no FMA contraction), so the result is independent of the
band split, the chunking and the thread count (bitwise equal to a
sequential loop in the same order).
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit

__all__ = ["correlate_window", "warmup", "SUPPORTED_DTYPES"]

SUPPORTED_DTYPES = (
    np.dtype(np.float32),
    np.dtype(np.float64),
    np.dtype(np.complex64),
    np.dtype(np.complex128),
    np.dtype(np.int64),
)

_ACC_BYTES = 65536  # L2 budget of the accumulator ring (K0 rows of ch)
_CH_MIN = 64        # column chunk bounds (elements)
_CH_MAX = 8192
# below this many multiply-adds a window runs on one thread: waking the pool
# costs more than the work (and, on a loaded machine, a scheduler time slice)
_SERIAL_MACS = 1 << 22


# Unsigned index arithmetic in the inner loops: Numba emits no negative-index
# wraparound selects for unsigned indices (those would turn the contiguous
# loads into gathers and defeat vectorization).
_U1 = np.uint64(1)
_U2 = np.uint64(2)
_U3 = np.uint64(3)


@njit(cache=True, fastmath=False, nogil=True)
def _rows(xf, sx, xb, wf, K0, K1, of, so, ob, n1, ch, rlo, rhi):
    """Output rows rlo..rhi-1 of the window (a band); xb / ob are the flat
    indices of x[xr0, xc0] and out[or0, oc0]."""
    nb = rhi - rlo
    # ring of K0 accumulator rows: output row rlo + k lives in slot k % K0
    acc = np.empty(K0 * ch, dtype=of.dtype)
    zero = acc.dtype.type(0)
    for j0 in range(0, n1, ch):
        jn = np.uint64(min(ch, n1 - j0))
        for j in range(np.uint64(K0 * ch)):
            acc[j] = zero
        xbj = xb + rlo * sx + j0
        for r in range(nb + K0 - 1):
            # input row rlo + r feeds output rows rlo + k, ka <= k <= kb,
            # with kernel row r - k (ascending in r for each output row)
            ka = max(0, r - K0 + 1)
            kb = min(nb - 1, r)
            xr = np.uint64(xbj + r * sx)
            k = ka
            s = ka % K0
            while k <= kb:
                m = min(4, kb - k + 1)
                ptop = r - k
                a0 = np.uint64(s * ch)
                s = s + 1 if s + 1 < K0 else 0
                a1 = np.uint64(s * ch)
                s = s + 1 if s + 1 < K0 else 0
                a2 = np.uint64(s * ch)
                s = s + 1 if s + 1 < K0 else 0
                a3 = np.uint64(s * ch)
                s = (k + m) % K0
                for q in range(0, K1, 4):
                    p0 = ptop * K1 + q
                    p1 = p0 - K1
                    p2 = p1 - K1
                    p3 = p2 - K1
                    T = min(4, K1 - q)
                    b0 = xr + np.uint64(q)
                    b1 = b0 + _U1
                    b2 = b0 + _U2
                    b3 = b0 + _U3
                    if m == 4:
                        if T == 4:
                            w00 = wf[p0]; w01 = wf[p0 + 1]
                            w02 = wf[p0 + 2]; w03 = wf[p0 + 3]
                            w10 = wf[p1]; w11 = wf[p1 + 1]
                            w12 = wf[p1 + 2]; w13 = wf[p1 + 3]
                            w20 = wf[p2]; w21 = wf[p2 + 1]
                            w22 = wf[p2 + 2]; w23 = wf[p2 + 3]
                            w30 = wf[p3]; w31 = wf[p3 + 1]
                            w32 = wf[p3 + 2]; w33 = wf[p3 + 3]
                            for j in range(jn):
                                x0 = xf[b0 + j]
                                x1 = xf[b1 + j]
                                x2 = xf[b2 + j]
                                x3 = xf[b3 + j]
                                a = acc[a0 + j]
                                a += x0 * w00
                                a += x1 * w01
                                a += x2 * w02
                                a += x3 * w03
                                acc[a0 + j] = a
                                a = acc[a1 + j]
                                a += x0 * w10
                                a += x1 * w11
                                a += x2 * w12
                                a += x3 * w13
                                acc[a1 + j] = a
                                a = acc[a2 + j]
                                a += x0 * w20
                                a += x1 * w21
                                a += x2 * w22
                                a += x3 * w23
                                acc[a2 + j] = a
                                a = acc[a3 + j]
                                a += x0 * w30
                                a += x1 * w31
                                a += x2 * w32
                                a += x3 * w33
                                acc[a3 + j] = a
                        elif T == 3:
                            w00 = wf[p0]; w01 = wf[p0 + 1]; w02 = wf[p0 + 2]
                            w10 = wf[p1]; w11 = wf[p1 + 1]; w12 = wf[p1 + 2]
                            w20 = wf[p2]; w21 = wf[p2 + 1]; w22 = wf[p2 + 2]
                            w30 = wf[p3]; w31 = wf[p3 + 1]; w32 = wf[p3 + 2]
                            for j in range(jn):
                                x0 = xf[b0 + j]
                                x1 = xf[b1 + j]
                                x2 = xf[b2 + j]
                                a = acc[a0 + j]
                                a += x0 * w00
                                a += x1 * w01
                                a += x2 * w02
                                acc[a0 + j] = a
                                a = acc[a1 + j]
                                a += x0 * w10
                                a += x1 * w11
                                a += x2 * w12
                                acc[a1 + j] = a
                                a = acc[a2 + j]
                                a += x0 * w20
                                a += x1 * w21
                                a += x2 * w22
                                acc[a2 + j] = a
                                a = acc[a3 + j]
                                a += x0 * w30
                                a += x1 * w31
                                a += x2 * w32
                                acc[a3 + j] = a
                        elif T == 2:
                            w00 = wf[p0]; w01 = wf[p0 + 1]
                            w10 = wf[p1]; w11 = wf[p1 + 1]
                            w20 = wf[p2]; w21 = wf[p2 + 1]
                            w30 = wf[p3]; w31 = wf[p3 + 1]
                            for j in range(jn):
                                x0 = xf[b0 + j]
                                x1 = xf[b1 + j]
                                a = acc[a0 + j]
                                a += x0 * w00
                                a += x1 * w01
                                acc[a0 + j] = a
                                a = acc[a1 + j]
                                a += x0 * w10
                                a += x1 * w11
                                acc[a1 + j] = a
                                a = acc[a2 + j]
                                a += x0 * w20
                                a += x1 * w21
                                acc[a2 + j] = a
                                a = acc[a3 + j]
                                a += x0 * w30
                                a += x1 * w31
                                acc[a3 + j] = a
                        else:
                            w00 = wf[p0]
                            w10 = wf[p1]
                            w20 = wf[p2]
                            w30 = wf[p3]
                            for j in range(jn):
                                x0 = xf[b0 + j]
                                a = acc[a0 + j]
                                a += x0 * w00
                                acc[a0 + j] = a
                                a = acc[a1 + j]
                                a += x0 * w10
                                acc[a1 + j] = a
                                a = acc[a2 + j]
                                a += x0 * w20
                                acc[a2 + j] = a
                                a = acc[a3 + j]
                                a += x0 * w30
                                acc[a3 + j] = a
                    elif m == 3:
                        if T == 4:
                            w00 = wf[p0]; w01 = wf[p0 + 1]
                            w02 = wf[p0 + 2]; w03 = wf[p0 + 3]
                            w10 = wf[p1]; w11 = wf[p1 + 1]
                            w12 = wf[p1 + 2]; w13 = wf[p1 + 3]
                            w20 = wf[p2]; w21 = wf[p2 + 1]
                            w22 = wf[p2 + 2]; w23 = wf[p2 + 3]
                            for j in range(jn):
                                x0 = xf[b0 + j]
                                x1 = xf[b1 + j]
                                x2 = xf[b2 + j]
                                x3 = xf[b3 + j]
                                a = acc[a0 + j]
                                a += x0 * w00
                                a += x1 * w01
                                a += x2 * w02
                                a += x3 * w03
                                acc[a0 + j] = a
                                a = acc[a1 + j]
                                a += x0 * w10
                                a += x1 * w11
                                a += x2 * w12
                                a += x3 * w13
                                acc[a1 + j] = a
                                a = acc[a2 + j]
                                a += x0 * w20
                                a += x1 * w21
                                a += x2 * w22
                                a += x3 * w23
                                acc[a2 + j] = a
                        elif T == 3:
                            w00 = wf[p0]; w01 = wf[p0 + 1]; w02 = wf[p0 + 2]
                            w10 = wf[p1]; w11 = wf[p1 + 1]; w12 = wf[p1 + 2]
                            w20 = wf[p2]; w21 = wf[p2 + 1]; w22 = wf[p2 + 2]
                            for j in range(jn):
                                x0 = xf[b0 + j]
                                x1 = xf[b1 + j]
                                x2 = xf[b2 + j]
                                a = acc[a0 + j]
                                a += x0 * w00
                                a += x1 * w01
                                a += x2 * w02
                                acc[a0 + j] = a
                                a = acc[a1 + j]
                                a += x0 * w10
                                a += x1 * w11
                                a += x2 * w12
                                acc[a1 + j] = a
                                a = acc[a2 + j]
                                a += x0 * w20
                                a += x1 * w21
                                a += x2 * w22
                                acc[a2 + j] = a
                        elif T == 2:
                            w00 = wf[p0]; w01 = wf[p0 + 1]
                            w10 = wf[p1]; w11 = wf[p1 + 1]
                            w20 = wf[p2]; w21 = wf[p2 + 1]
                            for j in range(jn):
                                x0 = xf[b0 + j]
                                x1 = xf[b1 + j]
                                a = acc[a0 + j]
                                a += x0 * w00
                                a += x1 * w01
                                acc[a0 + j] = a
                                a = acc[a1 + j]
                                a += x0 * w10
                                a += x1 * w11
                                acc[a1 + j] = a
                                a = acc[a2 + j]
                                a += x0 * w20
                                a += x1 * w21
                                acc[a2 + j] = a
                        else:
                            w00 = wf[p0]
                            w10 = wf[p1]
                            w20 = wf[p2]
                            for j in range(jn):
                                x0 = xf[b0 + j]
                                a = acc[a0 + j]
                                a += x0 * w00
                                acc[a0 + j] = a
                                a = acc[a1 + j]
                                a += x0 * w10
                                acc[a1 + j] = a
                                a = acc[a2 + j]
                                a += x0 * w20
                                acc[a2 + j] = a
                    elif m == 2:
                        if T == 4:
                            w00 = wf[p0]; w01 = wf[p0 + 1]
                            w02 = wf[p0 + 2]; w03 = wf[p0 + 3]
                            w10 = wf[p1]; w11 = wf[p1 + 1]
                            w12 = wf[p1 + 2]; w13 = wf[p1 + 3]
                            for j in range(jn):
                                x0 = xf[b0 + j]
                                x1 = xf[b1 + j]
                                x2 = xf[b2 + j]
                                x3 = xf[b3 + j]
                                a = acc[a0 + j]
                                a += x0 * w00
                                a += x1 * w01
                                a += x2 * w02
                                a += x3 * w03
                                acc[a0 + j] = a
                                a = acc[a1 + j]
                                a += x0 * w10
                                a += x1 * w11
                                a += x2 * w12
                                a += x3 * w13
                                acc[a1 + j] = a
                        elif T == 3:
                            w00 = wf[p0]; w01 = wf[p0 + 1]; w02 = wf[p0 + 2]
                            w10 = wf[p1]; w11 = wf[p1 + 1]; w12 = wf[p1 + 2]
                            for j in range(jn):
                                x0 = xf[b0 + j]
                                x1 = xf[b1 + j]
                                x2 = xf[b2 + j]
                                a = acc[a0 + j]
                                a += x0 * w00
                                a += x1 * w01
                                a += x2 * w02
                                acc[a0 + j] = a
                                a = acc[a1 + j]
                                a += x0 * w10
                                a += x1 * w11
                                a += x2 * w12
                                acc[a1 + j] = a
                        elif T == 2:
                            w00 = wf[p0]; w01 = wf[p0 + 1]
                            w10 = wf[p1]; w11 = wf[p1 + 1]
                            for j in range(jn):
                                x0 = xf[b0 + j]
                                x1 = xf[b1 + j]
                                a = acc[a0 + j]
                                a += x0 * w00
                                a += x1 * w01
                                acc[a0 + j] = a
                                a = acc[a1 + j]
                                a += x0 * w10
                                a += x1 * w11
                                acc[a1 + j] = a
                        else:
                            w00 = wf[p0]
                            w10 = wf[p1]
                            for j in range(jn):
                                x0 = xf[b0 + j]
                                a = acc[a0 + j]
                                a += x0 * w00
                                acc[a0 + j] = a
                                a = acc[a1 + j]
                                a += x0 * w10
                                acc[a1 + j] = a
                    else:
                        if T == 4:
                            w00 = wf[p0]; w01 = wf[p0 + 1]
                            w02 = wf[p0 + 2]; w03 = wf[p0 + 3]
                            for j in range(jn):
                                x0 = xf[b0 + j]
                                x1 = xf[b1 + j]
                                x2 = xf[b2 + j]
                                x3 = xf[b3 + j]
                                a = acc[a0 + j]
                                a += x0 * w00
                                a += x1 * w01
                                a += x2 * w02
                                a += x3 * w03
                                acc[a0 + j] = a
                        elif T == 3:
                            w00 = wf[p0]; w01 = wf[p0 + 1]; w02 = wf[p0 + 2]
                            for j in range(jn):
                                x0 = xf[b0 + j]
                                x1 = xf[b1 + j]
                                x2 = xf[b2 + j]
                                a = acc[a0 + j]
                                a += x0 * w00
                                a += x1 * w01
                                a += x2 * w02
                                acc[a0 + j] = a
                        elif T == 2:
                            w00 = wf[p0]; w01 = wf[p0 + 1]
                            for j in range(jn):
                                x0 = xf[b0 + j]
                                x1 = xf[b1 + j]
                                a = acc[a0 + j]
                                a += x0 * w00
                                a += x1 * w01
                                acc[a0 + j] = a
                        else:
                            w00 = wf[p0]
                            for j in range(jn):
                                x0 = xf[b0 + j]
                                a = acc[a0 + j]
                                a += x0 * w00
                                acc[a0 + j] = a
                k += m
            if r >= K0 - 1:
                # output row rlo + ka is complete: write it out and clear
                # its slot for output row rlo + ka + K0
                ai = np.uint64((ka % K0) * ch)
                obi = np.uint64(ob + (rlo + ka) * so + j0)
                for j in range(jn):
                    of[obi + j] = acc[ai + j]
                    acc[ai + j] = zero


_POOLS = {}
_POOL_LOCK = threading.Lock()


def _pool(n):
    """A thread pool of exactly n workers (created once per n and process:
    a pool inherited through fork has no live threads)."""
    key = (os.getpid(), n)
    with _POOL_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = ThreadPoolExecutor(
                max_workers=n, thread_name_prefix="corrconv-direct")
        return pool


def correlate_window(x, xr0, xc0, w, flip, conj, out, or0, oc0, n0, n1):
    """out[or0+i, oc0+j] = sum_{p,q} x[xr0+i+p, xc0+j+q] * W(p, q)."""
    n0 = int(n0)
    n1 = int(n1)
    if n0 <= 0 or n1 <= 0:
        return
    sx = x.shape[1]
    so = out.shape[1]
    # Effective weights (tiny copy); flat (1-D) views of x and out: no copies.
    wk = w[::-1, ::-1] if flip else w
    if conj and wk.dtype.kind == "c":
        wk = np.conj(wk)
    wk = np.ascontiguousarray(wk, dtype=out.dtype).reshape(-1)
    K0 = int(w.shape[0])
    ch = _ACC_BYTES // (K0 * out.dtype.itemsize) // 16 * 16
    ch = min(_CH_MAX, max(_CH_MIN, ch))
    args = (x.reshape(-1), np.int64(sx), np.int64(int(xr0) * sx + int(xc0)),
            wk, np.int64(w.shape[0]), np.int64(w.shape[1]),
            out.reshape(-1), np.int64(so),
            np.int64(int(or0) * so + int(oc0)),
            np.int64(n1), np.int64(ch))
    threads = min(numba.get_num_threads(), n0)
    if threads <= 1 or n0 * n1 * w.size < _SERIAL_MACS:
        _rows(*args, np.int64(0), np.int64(n0))
        return
    # Bands are independent and every output's sum order is fixed, so the
    # split (and the thread count) does not affect the result.  Several
    # tasks per thread balance the load on a busy machine.
    ntask = min(n0, 4 * threads)
    bounds = [n0 * t // ntask for t in range(ntask + 1)]
    pool = _pool(threads)
    futs = [pool.submit(_rows, *args, np.int64(bounds[t]),
                        np.int64(bounds[t + 1]))
            for t in range(ntask) if bounds[t + 1] > bounds[t]]
    for f in futs:
        f.result()


def warmup(dtype):
    """Compile (or load from cache) the specialization for ``dtype``."""
    dt = np.dtype(dtype)
    x = np.zeros((6, 6), dtype=dt)
    w = np.ones((2, 2), dtype=dt)
    out = np.zeros((5, 5), dtype=dt)
    correlate_window(x, 0, 0, w, False, False, out, 0, 0, 5, 5)
