"""Chunked correlation and convolution of Dask arrays (``corrconv_gpu.dask``).

Each function takes a ``dask.array.Array`` (other arrays are wrapped) and
returns a lazy one that computes to the in-memory function of the same name
applied to the whole array: same shape, dtype and values (bit for bit for
integers; for floats up to the rounding of the method each chunk picks).
``correlate2d``/``convolve2d`` follow scipy.signal, ``correlate``/``convolve``/
``correlate1d``/``convolve1d`` scipy.ndimage, and :mod:`corrconv_gpu.dask.signal`
the N-D scipy.signal namespace (:mod:`corrconv_gpu.signal`). The weights are small NumPy
arrays that enter the graph once. NumPy chunks run on the CPU backend, CuPy
chunks on the GPU (with ``dask-cuda``, one worker per GPU). Chunks borrow
their halos from their neighbours (``map_overlap``); the array's own edges
are extended lazily with the in-memory boundary rules.
"""

import functools
import operator

import numpy as np

from .. import ndimage
from .._boundary import NDIMAGE_MODES, SIGNAL_BOUNDARIES
from .._frontend import signal2d, validate
from .._plan import plan_2d
from ._overlap import _as_dask, _check_output, _eager_empty, _overlap_apply, _weights, _whole

__all__ = ["correlate2d", "convolve2d", "correlate", "convolve",
           "correlate1d", "convolve1d"]


# ------------------------------------------------------ tasks (picklable)

def _signal_task(block, w, *, name, mode, kwargs):
    """The in-memory scipy.signal function on one (overlapped) block."""
    fn = getattr(signal2d, name)
    return fn(block, w, mode, **kwargs)


def _ndimage_task(block, w, *, name, kwargs, halo, block_info=None):
    """The in-memory ndimage function on one overlapped block, less its halo.

    ``halo[axis] = (dl, extended)``: the block starts ``dl`` elements before
    its output chunk, except at the true start of an axis that is not
    extended (ndimage 'constant': the in-memory call supplies ``cval``).
    """
    fn = getattr(ndimage, name)
    res = fn(block, w, **kwargs)
    info = block_info[None]
    index = []
    for axis, (dl, extended) in enumerate(halo):
        start = dl if (extended or info["chunk-location"][axis] > 0) else 0
        index.append(slice(start, start + info["chunk-shape"][axis]))
    return res[tuple(index)]


# --------------------------------------------------------- scipy.signal

def _signal_axes(ndim, axes):
    if axes is None:
        return (ndim - 2, ndim - 1) if ndim >= 2 else None
    try:
        ax = tuple(operator.index(a) for a in axes)
    except TypeError:
        return None
    if len(ax) != 2 or not all(-ndim <= a < ndim for a in ax):
        return None
    ax = tuple(a % ndim for a in ax)
    return ax if ax[0] != ax[1] else None


def _signal(name, in1, in2, mode, boundary, fillvalue, kwargs):
    flip = name == "convolve2d"
    fn = getattr(signal2d, name)
    x = _as_dask(in1)
    w = _weights(in2)
    _check_output(kwargs.get("output"))
    axes_arg = kwargs.get("axes")
    fax = _signal_axes(x.ndim, axes_arg)
    dims_ok = w.ndim == 2 and fax is not None and (x.ndim == 2 or axes_arg is not None)
    swapped = False
    if dims_ok:  # SciPy's order: dimensions, then the 'valid' swap check
        swapped = validate.valid_swap_needed(
            mode, tuple(x.shape[a] for a in fax), w.shape)
    # validate everything else (mode, boundary, fillvalue, dtype, kwargs) and
    # learn the result dtype on a stand-in of one element per axis
    if x.size == 0:
        return _eager_empty(x, fn(np.empty(x.shape, x.dtype), w, mode, boundary,
                                  fillvalue, **kwargs))
    probe = fn(np.zeros((1,) * x.ndim, x.dtype), np.zeros((1,) * w.ndim, w.dtype),
               mode, boundary, fillvalue, **kwargs)
    out_dtype = probe.dtype
    ext = SIGNAL_BOUNDARIES[boundary]   # the probe refused the others
    if swapped or w.size == 0:
        shape = list(x.shape)
        for a, k in zip(fax, w.shape):
            m = x.shape[a]
            shape[a] = (m + k - 1 if mode == "full" else m if mode == "same"
                        else abs(m - k) + 1)
        task = functools.partial(_signal_task, name=name, mode=mode,
                                 kwargs=dict(kwargs, boundary=boundary,
                                             fillvalue=fillvalue))
        return _whole(x, w, fax, tuple(shape), task, out_dtype)
    rdt = np.result_type(x.dtype, w.dtype)
    plan = plan_2d(tuple(x.shape[a] for a in fax), w.shape, mode, flip,
                   "constant", None, rdt, False)
    fill = None
    if ext == "constant":
        fill = validate.fillvalue_2d(fillvalue, rdt)[()]
        x = x.astype(rdt)  # the fill value lives in the common type
    geometry = [(1, 0, 0, None)] * x.ndim
    for a, k, o, r in zip(fax, w.shape, plan.out_shape, plan.offset):
        if o == 0:  # nothing to compute on this axis
            shape = list(x.shape)
            for b, ob in zip(fax, plan.out_shape):
                shape[b] = ob
            task = functools.partial(_signal_task, name=name, mode=mode,
                                     kwargs=dict(kwargs, boundary=boundary,
                                                 fillvalue=fillvalue))
            return _whole(x, w, fax, tuple(shape), task, out_dtype)
        geometry[a] = (k, -r, r + o + k - 1 - x.shape[a], ext)
    task = functools.partial(_signal_task, name=name, mode="valid", kwargs=kwargs)
    return _overlap_apply(x, w, geometry, task, out_dtype, fill)


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0, **kwargs):
    """:func:`corrconv_gpu.correlate2d` of a Dask array, chunk by chunk.

    ``in1`` is a Dask array (2-D, or a stack with ``axes=`` where the
    in-memory function supports it); ``in2`` the (NumPy) weights. Further
    keywords (``method``, ``fast_float32``, ``axes``, ``output`` as a dtype)
    go to the in-memory function. Returns a lazy Dask array equal to the
    in-memory result; the chunks of 'same' are those of ``in1``.
    """
    return _signal("correlate2d", in1, in2, mode, boundary, fillvalue, kwargs)


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0, **kwargs):
    """:func:`corrconv_gpu.convolve2d` of a Dask array, chunk by chunk.

    See :func:`correlate2d`.
    """
    return _signal("convolve2d", in1, in2, mode, boundary, fillvalue, kwargs)


# --------------------------------------------------------- scipy.ndimage

def _ndimage(name, x, w, output, mode, cval, origin, kwargs):
    convolution = name.startswith("convolve")
    fn = getattr(ndimage, name)
    x = _as_dask(x)
    w = _weights(w)
    _check_output(output)
    call = dict(kwargs, output=output, mode=mode, cval=cval, origin=origin)
    if x.size == 0:
        return _eager_empty(x, fn(np.empty(x.shape, x.dtype), w, **call))
    # validation (mode, origin, axes, dtypes) and the result dtype, on a
    # stand-in of one element per axis
    probe = fn(np.zeros((1,) * x.ndim, x.dtype), w, **call)
    out_dtype = probe.dtype
    ndim = x.ndim
    if name.endswith("1d"):
        axes = (operator.index(kwargs.get("axis", -1)) % ndim,)
        ksize = {axes[0]: w.shape[0]}
        origins = {axes[0]: operator.index(origin)}
    else:
        # the in-memory frontend's normalisers (the probe has validated both)
        axes = validate.ndimage_axes(kwargs.get("axes"), ndim)
        org = validate.normalize_sequence(origin, len(axes))
        if len(axes) < ndim:  # SciPy: weights fill the sorted axes, origins follow axes
            ksize = dict(zip(sorted(axes), w.shape))
            origins = dict(zip(axes, org))
        else:
            ksize = dict(enumerate(w.shape))
            origins = dict(enumerate(org))
    if not isinstance(mode, str):   # the in-memory functions take one mode
        raise NotImplementedError("corrconv_gpu.dask: one mode for every axis")
    geometry, halo = [], []
    for a in range(ndim):
        k = ksize.get(a, 1)
        o = operator.index(origins.get(a, 0))
        lpad = k // 2 + o
        if convolution:
            lpad = k - 1 - lpad
        rpad = k - 1 - lpad
        # 'constant' is not extended: the in-memory call in the task supplies cval
        ext = NDIMAGE_MODES[mode] if k > 1 else None
        ext = None if ext == "constant" else ext
        geometry.append((k, lpad, rpad, ext))
        halo.append((min(lpad, k - 1) if ext is not None else lpad, ext is not None))
    task = functools.partial(_ndimage_task, name=name, kwargs=call, halo=tuple(halo))
    return _overlap_apply(x, w, geometry, task, out_dtype)


def correlate(input, weights, output=None, mode="reflect", cval=0.0, origin=0,
              **kwargs):
    """:func:`corrconv_gpu.ndimage.correlate` of a Dask array, chunk by chunk.

    scipy.ndimage semantics (``mode`` 'reflect', 'constant', 'nearest',
    'mirror', 'wrap'; ``cval``; ``origin``; ``axes=``); ``output`` may be
    None or a dtype. The result keeps the input's chunks where they are at
    least as large as the kernel's halo.
    """
    return _ndimage("correlate", input, weights, output, mode, cval, origin, kwargs)


def convolve(input, weights, output=None, mode="reflect", cval=0.0, origin=0,
             **kwargs):
    """:func:`corrconv_gpu.ndimage.convolve` of a Dask array; see :func:`correlate`."""
    return _ndimage("convolve", input, weights, output, mode, cval, origin, kwargs)


def correlate1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0,
                origin=0, **kwargs):
    """:func:`corrconv_gpu.ndimage.correlate1d` of a Dask array; see :func:`correlate`."""
    return _ndimage("correlate1d", input, weights, output, mode, cval, origin,
                    dict(kwargs, axis=axis))


def convolve1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0,
               origin=0, **kwargs):
    """:func:`corrconv_gpu.ndimage.convolve1d` of a Dask array; see :func:`correlate`."""
    return _ndimage("convolve1d", input, weights, output, mode, cval, origin,
                    dict(kwargs, axis=axis))



from . import signal  # noqa: E402,F401  (corrconv_gpu.dask.signal: the N-D scipy.signal namespace)
