"""Casts of a backend's result to the output dtype: the one home of the
float -> integer rule, shared by every backend and frontend.

C leaves the conversion of an out-of-range float to an integer undefined, and
NumPy's ``astype`` answers differently in its vectorized and scalar loops, so
one array could mix two answers. The rule here is explicit and independent of
size, layout and position: C's ``(type)value`` as SciPy's compiled loops run
it on x86-64 (``cvttsd2si``, whose out-of-range and NaN result is the most
negative integer), on every platform. Types narrower than 32 bits and int32
convert through a 32-bit signed integer and keep its low bits; uint32 and
int64 through a 64-bit one; uint64 shifts values from ``2**63`` up by
``2**63`` first (and, in scipy.ndimage's N-D loop, values below ``-2**63``
by ``+2**63``). Works on NumPy and CuPy arrays alike (no host copy).
"""

import numpy as np

from .arrays import array_namespace

_2_63 = 2.0 ** 63


def _trunc(v, bits, xp):
    """``cvttsd2si``: ``v`` truncated to a signed ``bits``-bit integer; the
    most negative one where the truncation does not fit (NaN included)."""
    lo = -(2.0 ** (bits - 1))
    fits = ((v > lo - 1.0) if bits == 32 else (v >= lo)) & (v < -lo)
    return xp.where(fits, v, lo).astype(np.int32 if bits == 32 else np.int64)


def c_integer(v, dtype, nd_loop=False):
    """The float array ``v`` converted to the integer ``dtype`` as ``(type)v``
    on x86-64 (see the module docstring); ``nd_loop``: the uint64 conversion
    of scipy.ndimage.correlate/convolve, which differs below ``-2**63``."""
    dtype = np.dtype(dtype)
    xp = array_namespace(v)
    if xp is not np:
        return _c_rule(v, dtype, nd_loop, xp)
    lo, hi = np.iinfo(dtype).min - 1.0, np.iinfo(dtype).max + 1.0
    with np.errstate(invalid="ignore"):
        out = v.astype(dtype)          # exact truncation where the value fits
    if v.size and not (lo < v.min() and v.max() < hi):   # NaN fails the test too
        bad = ~((v > lo) & (v < hi))
        out[bad] = _c_rule(v[bad], dtype, nd_loop, np)
    return out


def _c_rule(v, dtype, nd_loop, xp):
    if dtype.itemsize < 4 or dtype == np.int32:
        return _trunc(v, 32, xp).astype(dtype)   # the low bits of the 32-bit result
    if dtype != np.uint64:
        return _trunc(v, 64, xp).astype(dtype)
    shifted = v >= _2_63
    r = xp.where(shifted, v - _2_63, v)
    if nd_loop:
        low = v < -_2_63
        r = xp.where(low, v + _2_63, r)
        shifted = shifted | low
    t = _trunc(r, 64, xp)
    return xp.where(shifted, t ^ np.int64(-(2 ** 63)), t).astype(dtype)


def cast_result(acc, dtype):
    """The accumulator of a NumPy/scipy.signal call as its result dtype.

    Integers wrap (NumPy's cast); bool is ``acc != 0``; a float result cast to
    an integer ``output=`` follows :func:`c_integer`.
    """
    if acc.dtype == dtype:
        return acc
    if dtype.kind == "b":
        return acc != 0
    if dtype.kind in "iu" and acc.dtype.kind == "f":
        return c_integer(acc, dtype)
    return acc.astype(dtype)


def cast_c(acc, dtype, nd_loop=False):
    """A float64/complex128 scipy.ndimage sum stored as SciPy's C code stores
    it, ``(type)value``: integers by :func:`c_integer`; bool through the byte
    ``(npy_bool)value`` (SciPy writes that byte; here it is read as ``!= 0``)."""
    dtype = np.dtype(dtype)
    if acc.dtype == dtype:
        return acc
    if dtype.kind == "b":
        return c_integer(acc, np.uint8) != 0
    if dtype.kind in "iu":
        return c_integer(acc, dtype, nd_loop)
    return acc.astype(dtype)


def cast_c_nd(acc, dtype):
    """:func:`cast_c` of scipy.ndimage.correlate/convolve (the N-D loop)."""
    return cast_c(acc, dtype, nd_loop=True)
