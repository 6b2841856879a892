"""The NumPy reference: 2-D correlation written straight from the definition.

This module is the oracle every backend is tested against. It is deliberately
simple and independent of the rest of the package: it does not use the plan,
the validators or any backend. It pads the input explicitly with
:func:`numpy.pad`, takes every window with
:func:`numpy.lib.stride_tricks.sliding_window_view` and sums ``window * weight``
in a wide accumulator (int64 / float64 / complex128), then casts to the result
dtype with NumPy's wrap-around.

Only the definitions are here::

    correlate:  c[i, j] = sum_{p, q} xpad[i + p, j + q] * conj(w[p, q])
    convolve:   c[i, j] = sum_{p, q} xpad[i + p, j + q] * w[K0-1-p, K1-1-q]

with ``xpad`` the input extended by ``K - 1`` on each side ("full" output);
the other modes are windows of the full output, the same windows that SciPy
and NumPy document.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["correlate2d", "convolve2d", "correlate", "convolve", "full2d"]

_PAD_MODE = {"fill": "constant", "wrap": "wrap", "symm": "symmetric"}
_ALIASES = {"pad": "fill", "circular": "wrap", "symmetric": "symm"}


def _accumulator(dtype):
    if dtype.kind == "b":
        return np.dtype(np.int64)
    if dtype.kind == "i":
        return np.dtype(np.int64)
    if dtype.kind == "u":
        return np.dtype(np.uint64)
    if dtype.kind == "f":
        return np.dtype(np.float64)
    if dtype.kind == "c":
        return np.dtype(np.complex128)
    return np.dtype(object)


def _cast(acc, dtype):
    if dtype.kind == "b":
        return acc != 0
    with np.errstate(all="ignore"):
        return acc.astype(dtype)


def full2d(x, w, *, conj=False, flip=False, boundary="fill", fillvalue=0, dtype=None):
    """The full 2-D correlation of ``x`` with ``w`` (flipped for convolution).

    ``dtype`` is the result dtype (default: the common type).
    """
    x = np.asarray(x)
    w = np.asarray(w)
    dtype = np.result_type(x, w) if dtype is None else np.dtype(dtype)
    acc = _accumulator(dtype)
    # unsigned accumulation wraps mod 2**64 exactly like the int64 one
    xa = x.astype(dtype).astype(acc)
    wa = w.astype(dtype).astype(acc)
    if flip:
        wa = wa[::-1, ::-1]
    if conj and acc.kind == "c":
        wa = np.conj(wa)
    k0, k1 = wa.shape
    if wa.size == 0:  # a sum over no taps
        return _cast(np.zeros((x.shape[0] + k0 - 1, x.shape[1] + k1 - 1), acc), dtype)
    boundary = _ALIASES.get(boundary, boundary)
    pad = ((k0 - 1, k0 - 1), (k1 - 1, k1 - 1))
    if boundary == "fill":
        fv = np.asarray(fillvalue).astype(dtype).astype(acc)
        xp = np.pad(xa, pad, mode="constant", constant_values=fv[()])
    else:
        xp = np.pad(xa, pad, mode=_PAD_MODE[boundary])
    windows = sliding_window_view(xp, (k0, k1))
    out = np.zeros(windows.shape[:2], dtype=acc)
    with np.errstate(over="ignore"):
        for p in range(k0):
            for q in range(k1):
                out = out + windows[:, :, p, q] * wa[p, q]
    return _cast(out, dtype)


def _window2d(full, start, length):
    return full[start[0]:start[0] + length[0], start[1]:start[1] + length[1]]


def _check2d(in1, in2, mode):
    if in1.ndim != 2 or in2.ndim != 2:
        raise ValueError("reference: inputs must be 2-D")
    if mode not in ("full", "same", "valid"):
        raise ValueError("reference: bad mode")


def _correlate2d_impl(in1, in2, mode, boundary, fillvalue, flip):
    in1 = np.asarray(in1)
    in2 = np.asarray(in2)
    _check2d(in1, in2, mode)
    dtype = np.result_type(in1, in2)
    reverse = False
    # SciPy swaps in 'valid' mode when in1 is not at least as large as in2
    if mode == "valid" and not all(a >= b for a, b in zip(in1.shape, in2.shape)):
        in1, in2 = in2, in1
        reverse = not flip  # convolution is commutative; correlation reverses
    m = np.array(in1.shape)
    k = np.array(in2.shape)
    if in2.size == 0:  # a sum over no taps: zeros of the mode's shape
        shape = {"full": m + k - 1, "valid": m - k + 1, "same": m}[mode]
        return _cast(np.zeros(tuple(shape), np.int64), dtype)
    full = full2d(in1, in2, conj=not flip, flip=flip, boundary=boundary,
                  fillvalue=fillvalue, dtype=dtype)
    if mode == "full":
        out = full
    elif mode == "valid":
        out = _window2d(full, k - 1, m - k + 1)
    else:
        anchor = (k - 1) // 2 if flip else k // 2
        out = _window2d(full, anchor, m)
    if reverse:
        out = out[::-1, ::-1]
    return np.ascontiguousarray(out)


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    """scipy.signal.correlate2d from the definition."""
    return _correlate2d_impl(in1, in2, mode, boundary, fillvalue, flip=False)


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    """scipy.signal.convolve2d from the definition."""
    return _correlate2d_impl(in1, in2, mode, boundary, fillvalue, flip=True)


def _full1d(a, v, conj, flip):
    return full2d(np.asarray(a)[None, :], np.asarray(v)[None, :], conj=conj,
                  flip=flip)[0]


def correlate(a, v, mode="valid"):
    """numpy.correlate from the definition c_k = sum_n a[n+k] conj(v[n])."""
    a = np.asarray(a)
    v = np.asarray(v)
    n, k = len(a), len(v)
    full = _full1d(a, v, conj=True, flip=False)   # index i <-> lag i - (k-1)
    lo, hi = min(n, k), max(n, k)
    if mode == "full":
        return full
    if mode == "valid":
        start = k - 1 if k <= n else n - 1
        return full[start:start + hi - lo + 1]
    # numpy's swap (len(v) > len(a)) moves the 'same' window one later
    start = (lo - 1) // 2 if k <= n else lo // 2
    return full[start:start + hi]


def convolve(a, v, mode="full"):
    """numpy.convolve from the definition c_k = sum_n a[n] v[k-n]."""
    a = np.atleast_1d(np.asarray(a))
    v = np.atleast_1d(np.asarray(v))
    n, k = len(a), len(v)
    full = _full1d(a, v, conj=False, flip=True)
    lo, hi = min(n, k), max(n, k)
    if mode == "full":
        return full
    if mode == "valid":
        return full[lo - 1:hi]
    start = (lo - 1) // 2
    return full[start:start + hi]
