"""numpy.correlate / numpy.convolve (1-D): NumPy's checks, swaps, windows and dtypes."""

import numpy as np

from .._dispatch import run
from .._plan import plan_1d
from . import validate
from .docs import docfill

__all__ = ["correlate", "convolve"]


def _filter1d(a, v, mode, dtype, flip, method, fast_float32):
    if dtype.kind == "m":
        # NumPy's timedelta dot: the int64 counts multiplied and summed, wrapping;
        # the result is a timedelta64 of no unit
        a, v = (x.view(np.int64) if x.dtype.kind == "m" else x.astype(np.int64)
                for x in (a, v))
        return _filter1d(a, v, mode, np.dtype(np.int64), flip, method,
                         fast_float32).view("m8")
    plan = plan_1d(a.shape[0], v.shape[0], mode, flip, dtype)
    return run(plan, a[None, :], v[None, :], method, fast_float32)[0]


def correlate(a, v, mode="valid", *, method="auto", fast_float32=False):
    """Cross-correlation of two 1-dimensional sequences, as `numpy.correlate`.

    ``c[k] = sum_n a[n + k] * conj(v[n])``, with ``a`` and ``v`` zero outside
    their ends.

    Parameters
    ----------
    a, v : array_like
        Input sequences (1-D, non-empty). NumPy or CuPy arrays.
    mode : {'valid', 'same', 'full'} or {0, 1, 2}, optional
        Output length ``max(M, N) - min(M, N) + 1``, ``max(M, N)`` or
        ``M + N - 1``. When ``len(v) > len(a)`` NumPy swaps the inputs: the
        result is ``conj(reverse(correlate(v, a)))`` and 'same' starts one
        later; this function reproduces both.
    %(ext)s

    Returns
    -------
    out : ndarray
        NumPy's result dtype (the common type; integers wrap in it; float16
        accumulates in float32). Same array type as ``a``.

    Examples
    --------
    >>> import corrconv_gpu as cc
    >>> cc.correlate([2, 1, 3, 5, 4], [1, -1])
    array([ 1, -2, -2,  1])
    """
    return _filter1d(*validate.correlate_inputs(a, v, mode), False, method, fast_float32)


def convolve(a, v, mode="full", *, method="auto", fast_float32=False):
    """Discrete linear convolution of two 1-D sequences, as `numpy.convolve`.

    ``c[k] = sum_n a[n] * v[k - n]``; never conjugates. 0-d inputs are
    treated as length 1.

    Parameters
    ----------
    a, v : array_like
        Input sequences (non-empty). NumPy or CuPy arrays.
    mode : {'full', 'valid', 'same'} or {2, 0, 1}, optional
        Output length ``M + N - 1``, ``max(M, N) - min(M, N) + 1`` or
        ``max(M, N)``.
    %(ext)s

    Returns
    -------
    out : ndarray

    Examples
    --------
    >>> import corrconv_gpu as cc
    >>> cc.convolve([2, 1, 3, 5, 4], [1, -1], 'valid')
    array([-1,  2,  2, -1])
    """
    return _filter1d(*validate.convolve_inputs(a, v, mode), True, method, fast_float32)


docfill(correlate, convolve)
