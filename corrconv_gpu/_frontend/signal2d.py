"""scipy.signal.correlate2d / convolve2d: SciPy's checks, swaps, windows and
dtypes, stacks of frames (``axes=``) and ``output=``."""

import math

import numpy as np

from .._dispatch import run, run_prepared, sizes
from .._plan import plan_2d, plan_2d_valid_swapped
from .._util.arrays import array_namespace, is_cupy_array
from .._util.cast import cast_result
from .._util.memo import Memo
from . import output as _output
from . import validate
from .docs import docfill

__all__ = ["correlate2d", "convolve2d"]


# Plans of single 2-D frames by call signature: a call repeating the array
# types, shapes and dtypes, mode, boundary and scalar fillvalue of an earlier
# successful one reuses its plan and skips the validators (which gave that
# plan; they depend on nothing else), so only the backend's own work is
# repeated.  Only successful calls are stored: every error still comes from
# the validators.  Cleared when full (a few hundred signatures).
# An entry is ``(plan, swapped, sizes)``; the key is also the signature under
# which the dispatcher keeps the CPU launch it prepares for the call.
# ``sizes`` is :func:`~corrconv_gpu._dispatch.sizes` of the problem when NumPy
# arrays go in and the CPU launch's result is the call's (no cast, no
# reversal), else None; with it a repeated call takes
# :func:`~corrconv_gpu._dispatch.run_prepared` (the short path: each Python
# layer costs microseconds on a cold cache).
_FRAME_PLANS_MAX = 256
_FRAME_PLANS = Memo(_FRAME_PLANS_MAX)
_SCALAR_TYPES = (int, float, complex, bool)


def _frame_key(in1, in2, mode, boundary, fillvalue, flip):
    """The signature of a one-frame call (see ``_FRAME_PLANS``), or None."""
    t1, t2 = type(in1), type(in2)
    if not ((t1 is np.ndarray or is_cupy_array(in1))
            and (t2 is np.ndarray or is_cupy_array(in2))
            and in1.ndim == 2 and in2.ndim == 2):
        return None
    tf = type(fillvalue)
    if not (tf in _SCALAR_TYPES or isinstance(fillvalue, np.generic)):
        return None
    key = (flip, t1, t2, in1.shape, in1.dtype, in2.shape, in2.dtype, mode, boundary,
           tf, repr(fillvalue))   # repr: -0.0 and 0.0 are different fills
    try:
        hash(key)
    except TypeError:             # an unhashable mode or boundary: the validators say why
        return None
    return key


def _filter2d(in1, in2, mode, boundary, fillvalue, flip, method, fast_float32,
              axes=None, output=None):
    key = None
    if output is None and axes is None:
        key = _frame_key(in1, in2, mode, boundary, fillvalue, flip)
        hit = _FRAME_PLANS.peek(key) if key is not None else None
        if hit is not None:
            plan, swapped, sizes_ = hit
            if swapped:
                in1, in2 = in2, in1
            if sizes_ is not None or type(in1) is not np.ndarray:
                out = run_prepared(key, sizes_, in1, in2, method, fast_float32)
                if out is not None:
                    return out
            return run(plan, in1, in2, method, fast_float32, key)
    name = "convolve2d" if flip else "correlate2d"
    # without axes= both inputs are 2-D, as in SciPy: an (H, W, 3) image is
    # never taken for a stack of H frames
    in1, in2 = validate.as_stack_pair(in1, in2, name, axes is not None)
    validate.same_array_kind(in1, in2)
    axes = (0, 1) if axes is None else validate.axes_pair(axes, in1.ndim, name)
    if in1.ndim == 2 and axes == (0, 1) and output is None:
        return _filter2d_frame(in1, in2, mode, boundary, fillvalue, flip, method,
                               fast_float32, key)
    xp = array_namespace(in1)
    moved = axes != (in1.ndim - 2, in1.ndim - 1)
    x = xp.moveaxis(in1, axes, (-2, -1)) if moved else in1
    frame, batch = tuple(x.shape[-2:]), tuple(x.shape[:-2])
    swapped, mode, bnd, dtype, fill = validate.signal_2d(
        in1, in2, frame, mode, boundary, fillvalue, flip)
    x = x.reshape((math.prod(batch),) + frame)      # a view when possible
    if swapped:   # the kernel is larger than every frame: SciPy swaps them
        plan = plan_2d_valid_swapped(frame, in2.shape, flip, dtype)
        if not flip and dtype.kind == "c":
            x = xp.conj(x)
    else:
        plan = plan_2d(frame, in2.shape, mode, flip, bnd, fill, dtype, False)
    shape = list(in1.shape)
    shape[axes[0]], shape[axes[1]] = plan.out_shape
    array, out_dtype = _output.resolve(output, shape, dtype, dtype.kind == "c", like=in1)
    out = run(plan, x, in2, method, fast_float32)
    out = out.reshape(batch + tuple(plan.out_shape))
    if moved:
        out = xp.ascontiguousarray(xp.moveaxis(out, (-2, -1), axes))
    return _output.deliver(out, array, out_dtype, cast_result)


def _filter2d_frame(in1, in2, mode, boundary, fillvalue, flip, method, fast_float32,
                    key=None):
    """One 2-D frame: SciPy's checks in SciPy's order (``in1``, ``in2`` 2-D);
    the plan is stored in ``_FRAME_PLANS`` under ``key`` (the call's
    :func:`_frame_key`, None: not stored)."""
    swapped, mode, bnd, dtype, fill = validate.signal_2d(
        in1, in2, in1.shape, mode, boundary, fillvalue, flip)
    if swapped:
        in1, in2 = in2, in1
    plan = plan_2d(in1.shape, in2.shape, mode, flip, bnd, fill, dtype, swapped)
    if key is not None:
        if plan.fillvalue is not None:
            plan.fillvalue.flags.writeable = False   # shared by later calls
        sizes_ = None
        if (type(in1) is np.ndarray and type(in2) is np.ndarray
                and plan.dtype == plan.compute_dtype and not plan.reverse_output):
            sizes_ = sizes(plan, in1, in2)
        _FRAME_PLANS.put(key, (plan, swapped, sizes_))
    return run(plan, in1, in2, method, fast_float32)


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *,
                axes=None, output=None, method="auto", fast_float32=False):
    """Cross-correlate two 2-D arrays, as `scipy.signal.correlate2d`.

    ``out[i, j] = sum_{p, q} in1e[i + p - K0 + 1, j + q - K1 + 1] * conj(in2[p, q])``
    for the 'full' output, ``in1e`` being ``in1`` extended by `boundary`.

    Parameters
    ----------
    in1 : array_like
        First input (2-D, or a stack of 2-D frames with `axes`). NumPy or
        CuPy array.
    in2 : array_like
        Second input (2-D), conjugated. A NumPy ``in2`` with a CuPy ``in1``
        is accepted.
    mode : str {'full', 'valid', 'same'}, optional
        'full': ``M + K - 1``. 'valid': ``M - K + 1``; when ``in2`` is larger
        in every dimension the inputs are swapped and the output is reversed
        on both axes (and ``in1`` is conjugated instead, SciPy's complex
        quirk). 'same': ``in1.shape``, the window ``full[K//2 : K//2 + M]``
        per axis.
    %(boundary)s
    fillvalue : scalar, optional
        Value outside ``in1`` for 'fill'; cast to the result dtype. Default 0.
    %(stack)s
    %(ext)s

    Returns
    -------
    out : ndarray
        The common dtype of the inputs (integers wrap in it); float16 is
        accepted (an extension: SciPy refuses it) and accumulates in float32.

    Examples
    --------
    >>> import numpy as np, corrconv_gpu as cc
    >>> cc.correlate2d([[0, 0, 0], [0, 1, 0], [0, 0, 0]], [[1, 2], [3, 4]], 'valid')
    array([[4, 3],
           [2, 1]])

    A stack of frames (here along the first axis), one kernel:

    >>> frames = np.arange(18).reshape(2, 3, 3)
    >>> cc.correlate2d(frames, [[1, 1]], 'valid', axes=(-2, -1)).shape
    (2, 3, 2)
    >>> cc.correlate2d(frames, [[1, 1]], 'valid', axes=(0, 1)).shape
    (2, 2, 3)
    """
    return _filter2d(in1, in2, mode, boundary, fillvalue, False, method, fast_float32,
                     axes, output)


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0, *,
               axes=None, output=None, method="auto", fast_float32=False):
    """Convolve two 2-D arrays, as `scipy.signal.convolve2d`.

    ``out[i, j] = sum_{p, q} in1e[i - p, j - q] * in2[p, q]`` ('full' output),
    ``in1e`` being ``in1`` extended by `boundary`. The same kernel as
    :func:`correlate2d` reading ``in2`` with flipped indices.

    Parameters
    ----------
    in1 : array_like
        First input (2-D, or a stack of 2-D frames with `axes`). NumPy or
        CuPy array.
    in2 : array_like
        Second input (2-D).
    mode : str {'full', 'valid', 'same'}, optional
        'full': ``M + K - 1``. 'valid': ``M - K + 1`` (inputs swapped when
        ``in2`` is larger in every dimension; convolution is unchanged by
        it). 'same': ``in1.shape``, the window ``full[(K-1)//2 : ...]``.
    %(boundary)s
    fillvalue : scalar, optional
        Value outside ``in1`` for 'fill'; cast to the result dtype. Default 0.
    %(stack)s
    %(ext)s

    Returns
    -------
    out : ndarray

    Examples
    --------
    >>> import numpy as np, corrconv_gpu as cc
    >>> cc.convolve2d([[1, 2]], [[1, 1]], 'full', 'fill', 5)
    array([[6, 3, 7]])
    >>> cc.convolve2d(np.ones((4, 2, 2)), np.ones((2, 2)), 'valid', axes=(1, 2),
    ...               output=np.int16)[:, 0, 0]
    array([4, 4, 4, 4], dtype=int16)
    """
    return _filter2d(in1, in2, mode, boundary, fillvalue, True, method, fast_float32,
                     axes, output)


docfill(correlate2d, convolve2d)
