"""The N-D scipy.signal namespace (:mod:`corrconv_gpu.signal`) on Dask arrays.

``correlate``, ``convolve``, ``fftconvolve`` and ``oaconvolve`` take a Dask
array ``in1`` (other arrays are wrapped) and small weights ``in2`` and return
a lazy array that computes to the in-memory function's result: same shape
and dtype, values bit for bit for integers and up to the rounding of the
method each chunk picks for floats. The array is zero-extended lazily by
what the mode reads past its edges ('full': ``K - 1`` per side, 'same':
SciPy's centring), and every overlapped chunk runs the in-memory function in
'valid' mode. Where SciPy swaps the arguments ('valid' with ``in2`` the
larger) or broadcasts along an axis, the filtered axes go to one task.

Examples
--------
>>> import numpy as np, dask.array as da
>>> from corrconv_gpu.dask import signal
>>> x = da.from_array(np.arange(24.0).reshape(2, 3, 4), chunks=(1, 2, 2))
>>> signal.correlate(x, np.ones((1, 2, 2)), "valid").compute()[0]
array([[10., 14., 18.],
       [26., 30., 34.]])
"""

import functools

import numpy as np

from .. import signal as _signal
from .._frontend import validate
from ._overlap import _as_dask, _eager_empty, _overlap_apply, _weights, _whole

__all__ = ["correlate", "convolve", "fftconvolve", "oaconvolve"]


def _task(block, w, *, name, kwargs):
    """The in-memory function on one overlapped block, in 'valid' mode."""
    return getattr(_signal, name)(block, w, "valid", **kwargs)


def _whole_task(block, w, *, name, mode, kwargs):
    return getattr(_signal, name)(block, w, mode, **kwargs)


def _pads(mode, k):
    """Zeros the mode reads before and after an axis of a kernel of ``k``."""
    if mode == "full":
        return k - 1, k - 1
    if mode == "same":
        return k - 1 - (k - 1) // 2, (k - 1) // 2
    return 0, 0


def _out_shape(mode, s1, s2, filtered):
    """SciPy's result shape: per filtered axis the mode's length ('valid'
    after the swap), on a broadcast axis the larger length ('same': in1's)."""
    shape = []
    for a, (m, k) in enumerate(zip(s1, s2)):
        if mode == "same":
            shape.append(m)
        elif a in filtered and m != 1 and k != 1:
            shape.append(m + k - 1 if mode == "full" else abs(m - k) + 1)
        else:
            shape.append(max(m, k))
    return tuple(shape)


def _apply(name, in1, in2, mode, kwargs, axes=None):
    fn = getattr(_signal, name)
    x = _as_dask(in1)
    w = _weights(in2)
    # SciPy's checks and the result dtype on stand-ins of up to two elements
    # per axis (dimensionality, mode, method, axes, dtypes; an axis that is
    # transformed in the call is transformed in the probe), then 'valid' sizes
    probe = fn(np.zeros(tuple(min(m, 2) for m in x.shape), x.dtype),
               np.zeros(tuple(min(k, 2) for k in w.shape), w.dtype), mode, **kwargs)
    if x.size == 0 or w.size == 0 or x.ndim == 0:
        return _eager_empty(x, fn(np.zeros(x.shape, x.dtype), w, mode, **kwargs))
    out_dtype = probe.dtype
    filtered = range(x.ndim) if axes is None else {a % x.ndim for a in np.atleast_1d(axes)}
    # a 'valid' call SciPy answers by swapping (in2 the larger), or one that
    # broadcasts an axis (fftconvolve's unfiltered or unit axes): one task
    if axes is None:
        swap = validate.valid_swap_needed(mode, x.shape, w.shape)
    else:
        swap = validate.valid_swap_needed(mode, x.shape, w.shape, [
            a for a in sorted(filtered) if x.shape[a] != 1 and w.shape[a] != 1])
    broadcast = any(w.shape[a] != 1 and (a not in filtered or x.shape[a] == 1)
                    for a in range(x.ndim))
    if swap or broadcast:
        task = functools.partial(_whole_task, name=name, mode=mode, kwargs=kwargs)
        return _whole(x, w, tuple(range(x.ndim)), _out_shape(mode, x.shape, w.shape, filtered),
                      task, out_dtype)
    geometry = []
    for m, k in zip(x.shape, w.shape):
        lpad, rpad = _pads(mode, k)
        geometry.append((k, lpad, rpad, "constant") if k > 1 or lpad or rpad
                        else (1, 0, 0, None))
    task = functools.partial(_task, name=name, kwargs=kwargs)
    return _overlap_apply(x, w, geometry, task, out_dtype, fill=x.dtype.type(0))


def correlate(in1, in2, mode="full", method="auto"):
    """:func:`corrconv_gpu.signal.correlate` of a Dask array, chunk by chunk."""
    return _apply("correlate", in1, in2, mode, {"method": method})


def convolve(in1, in2, mode="full", method="auto"):
    """:func:`corrconv_gpu.signal.convolve` of a Dask array, chunk by chunk."""
    return _apply("convolve", in1, in2, mode, {"method": method})


def fftconvolve(in1, in2, mode="full", axes=None):
    """:func:`corrconv_gpu.signal.fftconvolve` of a Dask array, chunk by chunk."""
    return _apply("fftconvolve", in1, in2, mode, {"axes": axes}, axes)


def oaconvolve(in1, in2, mode="full", axes=None):
    """:func:`corrconv_gpu.signal.oaconvolve` of a Dask array, chunk by chunk."""
    return _apply("oaconvolve", in1, in2, mode, {"axes": axes}, axes)
