"""Separable and low-rank kernels: a 2-D window as ``r`` pairs of 1-D passes.

When the weights are, within a tight tolerance, a sum of ``r <= MAX_RANK``
outer products ``w[p, q] = sum_k u_k[p] * v_k[q]`` (:func:`decompose`: a
truncated SVD for floats, an exact integer rank-1 factorization for int64),
each pair is a ``1 x K1`` pass over the rows into a temporary and a
``K0 x 1`` pass into the output window: ``(n0+K0-1)*n1*K1 + n0*n1*K0``
multiply-adds instead of ``n0*n1*K0*K1``. Both passes call the backend's
direct window function with ``flip`` and ``conj`` unchanged (they apply to
the factors as they do to ``w``), so no flipped copy is made; int64 passes
wrap modulo ``2**64`` and equal the direct method bit for bit.
"""

import math

import numpy as np

from .._util.arrays import array_namespace, to_numpy
from .._util.memo import memoize

__all__ = ["decompose", "separable_correlate_window", "separable_cost_estimate",
           "RTOL", "MAX_RANK", "MAX_GROWTH", "SEPARABLE_DTYPES"]

#: Compute dtypes this method handles.
SEPARABLE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64),
                    np.dtype(np.complex64), np.dtype(np.complex128),
                    np.dtype(np.int64))

#: Default relative tolerance of the truncation residual, per compute dtype:
#: ``sum|w - w_r| <= RTOL * sum|w|``.
RTOL = {
    np.dtype(np.float32): 1e-7,
    np.dtype(np.complex64): 1e-7,
    np.dtype(np.float64): 1e-13,
    np.dtype(np.complex128): 1e-13,
}
#: Largest rank decomposed by default (rank 3 rarely beats the direct method
#: except for very large kernels; pass ``max_rank=3`` to allow it).
MAX_RANK = 2
#: Largest allowed ``sum_k sum|u_k| sum|v_k| / sum|w|`` (rounding growth).
MAX_GROWTH = 4.0


# --------------------------------------------------------------- decomposition

def decompose(w, rtol=None, max_rank=MAX_RANK, *, dtype=None,
              max_growth=MAX_GROWTH):
    """Low-rank factors of the weights ``w`` (K0, K1), or ``None``.

    Returns a tuple of ``r`` pairs ``(u, v)``, ``u`` of shape ``(K0,)`` and
    ``v`` of shape ``(K1,)``, read-only NumPy arrays of the compute dtype
    (``dtype``, default ``w.dtype``), with ``w ~= sum_k outer(u, v)`` (exactly
    for int64).  These are the factors of ``w`` itself: flip and conj are
    applied by :func:`separable_correlate_window`, so one decomposition serves
    correlation and convolution.  ``None`` when ``w`` is zero, not of rank
    ``<= max_rank`` within ``rtol`` (``sum|w - w_r| <= rtol * sum|w|``),
    int64 and not exactly rank 1 with integer factors, or of an unsupported
    dtype.

    Memoized on the weights' bytes, dtype and shape and on the parameters
    (an LRU cache): the executor may call it for every piece of a call.
    ``w`` may be a CuPy array (it is copied to the host once per call).
    """
    w = to_numpy(w)
    dt = np.dtype(w.dtype if dtype is None else dtype)
    if dt not in SEPARABLE_DTYPES or w.ndim != 2 or w.size == 0:
        return None
    w = np.ascontiguousarray(w, dtype=dt)
    if rtol is None:
        rtol = RTOL.get(dt, 0.0)
    return _decompose_cached(w.tobytes(), dt.str, w.shape, float(rtol),
                             int(max_rank), float(max_growth))


@memoize(256)
def _decompose_cached(buf, dtstr, shape, rtol, max_rank, max_growth):
    dt = np.dtype(dtstr)
    w = np.frombuffer(buf, dtype=dt).reshape(shape)
    if max_rank < 1:
        return None
    if dt.kind == "i":
        res = _decompose_int(w)
    else:
        res = _decompose_float(w, dt, rtol, max_rank, max_growth)
    if res is None:
        return None
    for u, v in res:
        u.flags.writeable = False
        v.flags.writeable = False
    return tuple(res)


def _decompose_float(w, dt, rtol, max_rank, max_growth):
    wide = np.complex128 if dt.kind == "c" else np.float64
    a = w.astype(wide)
    if not np.isfinite(a).all():
        return None
    total = float(np.abs(a).sum())
    if total == 0.0:
        return None
    K0, K1 = a.shape
    if K0 == 1 or K1 == 1:
        # trivially rank 1, exact: u = 1 or v = 1
        if K0 == 1:
            pair = (np.ones(1, dt), np.ascontiguousarray(a[0].astype(dt)))
        else:
            pair = (np.ascontiguousarray(a[:, 0].astype(dt)), np.ones(1, dt))
        return [pair]
    U, s, Vh = np.linalg.svd(a, full_matrices=False)
    for r in range(1, min(max_rank, s.size) + 1):
        if s[r - 1] == 0.0:
            break
        sq = np.sqrt(s[:r])
        us = U[:, :r] * sq            # (K0, r)
        vs = Vh[:r, :] * sq[:, None]  # (r, K1)
        resid = float(np.abs(a - us @ vs).sum())
        if resid <= rtol * total:
            growth = sum(float(np.abs(us[:, k]).sum() * np.abs(vs[k]).sum())
                         for k in range(r))
            if growth > max_growth * total:
                return None
            return [(np.ascontiguousarray(us[:, k].astype(dt)),
                     np.ascontiguousarray(vs[k].astype(dt))) for k in range(r)]
    return None


def _decompose_int(w):
    """Exact integer rank-1 factorization ``w == outer(u, v)`` or ``None``."""
    rows = [[int(t) for t in row] for row in w.tolist()]
    ref = next((row for row in rows if any(row)), None)
    if ref is None:
        return None                       # zero kernel
    g = 0
    for t in ref:
        g = math.gcd(g, t)
    v = [t // g for t in ref]
    j = next(i for i, t in enumerate(v) if t)
    if v[j] < 0:
        v = [-t for t in v]
    u = []
    for row in rows:
        c, rem = divmod(row[j], v[j])
        if rem or any(c * vq != t for vq, t in zip(v, row)):
            return None
        u.append(c)
    # |u|, |v| <= 2**63; stored modulo 2**64 (the passes wrap modulo 2**64,
    # so outer(u, v) == w still holds there)
    m = (1 << 64) - 1
    return [(np.array([t & m for t in u], np.uint64).view(np.int64),
             np.array([t & m for t in v], np.uint64).view(np.int64))]


# --------------------------------------------------------------------- method

def separable_correlate_window(x, xr0, xc0, w, flip, conj, out, or0, oc0, n0, n1,
                               *, direct, factors=None):
    """Window contract of the CPU methods, computed with 1-D passes.

    ``factors``: the result of :func:`decompose` (computed, memoized, from
    ``w`` when omitted; a ``ValueError`` if ``w`` does not decompose).  Their
    arrays may be NumPy or of ``x``'s namespace; each call copies them with
    ``xp.array`` (K0 + K1 elements per pair; a small host-to-device copy on
    a GPU).  ``direct``: the backend's direct window function (the passes).
    """
    n0 = int(n0)
    n1 = int(n1)
    if n0 <= 0 or n1 <= 0:
        return
    if factors is None:
        factors = decompose(w)
        if factors is None:
            raise ValueError("separable: the weights are not of low rank")
    K0, K1 = w.shape
    if len(factors) == 1 and (K0 == 1 or K1 == 1):
        # one pass is the whole correlation
        direct(x, xr0, xc0, w, flip, conj, out, or0, oc0, n0, n1)
        return
    xp = array_namespace(x, out)
    m0 = n0 + K0 - 1
    tmp = xp.empty((m0, n1), dtype=out.dtype)
    scratch = None
    for k, (u, v) in enumerate(factors):
        # small writable copies (the cached factors are read-only, and Numba
        # would compile a separate read-only specialization of the kernel)
        u2 = xp.array(u, dtype=out.dtype).reshape(K0, 1)
        v2 = xp.array(v, dtype=out.dtype).reshape(1, K1)
        # pass 1: rows of x with v (1 x K1) -> tmp
        direct(x, xr0, xc0, v2, flip, conj, tmp, 0, 0, m0, n1)
        # pass 2: columns of tmp with u (K0 x 1) -> output window
        if k == 0:
            direct(tmp, 0, 0, u2, flip, conj, out, or0, oc0, n0, n1)
        else:
            if scratch is None:
                scratch = xp.empty((n0, n1), dtype=out.dtype)
            direct(tmp, 0, 0, u2, flip, conj, scratch, 0, 0, n0, n1)
            view = out[or0:or0 + n0, oc0:oc0 + n1]
            view += scratch


# ----------------------------------------------------------------------- cost

# Seconds on the CPU backend (the Numba direct kernel, 2 threads). One 1-D
# pass of K taps over n outputs costs n * (A + B * K): A, the pass streaming
# its input and output, dominates up to K ~ 15; B is per multiply-add.  Each
# pair after the first adds a scratch window (ADD per output); each pass is
# one direct call (PASS_OVERHEAD_S).
# fitted by timing the CPU backend (benchmarks/results/fitted_constants.md)
SEP_PASS_COST = {
    # compute dtype -> (A: s per output, B: s per output per tap)
    np.dtype(np.float32): (2.4e-9, 0.105e-9),
    np.dtype(np.float64): (4.5e-9, 0.135e-9),
    np.dtype(np.complex64): (2.8e-9, 0.68e-9),
    np.dtype(np.complex128): (5.0e-9, 1.35e-9),
    np.dtype(np.int64): (4.4e-9, 0.14e-9),
}
SEP_ADD_COST = {   # s per output of each pair after the first
    np.dtype(np.float32): 1.0e-9,
    np.dtype(np.float64): 2.0e-9,
    np.dtype(np.complex64): 2.0e-9,
    np.dtype(np.complex128): 4.0e-9,
    np.dtype(np.int64): 2.0e-9,
}
PASS_OVERHEAD_S = 6e-6
CALL_OVERHEAD_S = 5e-6


def separable_cost_estimate(n0, n1, K0, K1, rank, dtype):
    """Estimated seconds of :func:`separable_correlate_window` on the CPU for
    an ``n0 x n1`` window, a ``K0 x K1`` kernel of rank ``rank``.

    ``rank * [(n0+K0-1)*n1*(A + B*K1) + n0*n1*(A + B*K0) + 2*PASS_OVERHEAD_S]
    + (rank-1)*n0*n1*ADD + CALL_OVERHEAD_S``; a 1 x K or K x 1 kernel (one
    pass, the direct method itself) costs ``n0*n1*(A + B*K0*K1)`` plus one
    pass overhead.  Compare with ``_dispatch.cost.direct_cost`` and
    ``fft_cost_estimate``.  CPU only (GPU: not calibrated).
    """
    dt = np.dtype(dtype)
    A, B = SEP_PASS_COST.get(dt, SEP_PASS_COST[np.dtype(np.complex128)])
    n0, n1, K0, K1, rank = int(n0), int(n1), int(K0), int(K1), int(rank)
    if n0 <= 0 or n1 <= 0:
        return 0.0
    if rank == 1 and (K0 == 1 or K1 == 1):
        return n0 * n1 * (A + B * K0 * K1) + PASS_OVERHEAD_S + CALL_OVERHEAD_S
    per_pair = ((n0 + K0 - 1) * n1 * (A + B * K1) + n0 * n1 * (A + B * K0)
                + 2 * PASS_OVERHEAD_S)
    add = SEP_ADD_COST.get(dt, 4.0e-9) * n0 * n1
    return rank * per_pair + (rank - 1) * add + CALL_OVERHEAD_S
