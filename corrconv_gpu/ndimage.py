"""`scipy.ndimage`-compatible correlation and convolution.

``correlate``, ``convolve``, ``correlate1d`` and ``convolve1d`` with SciPy's
semantics (modes, ``cval``, ``origin``, ``output``, ``axes``, dtypes and
messages) for filters along one or two axes of an input of any rank: 1-D
signals, 2-D images and stacks of them. Each call is one plan
(:func:`corrconv_gpu._plan.plan_ndimage`) executed in one backend call.

Examples
--------
>>> import numpy as np
>>> from corrconv_gpu import ndimage
>>> ndimage.correlate1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
array([ 8, 26,  8, 12,  7, 28, 36,  9])
"""

import math

import numpy as np

from . import _output, _validate
from ._api import _run
from ._arrays import array_namespace, is_cupy_array, to_numpy
from ._cast import cast_c, cast_c_nd
from ._plan import ndimage_dtypes, plan_ndimage

__all__ = ["correlate", "convolve", "correlate1d", "convolve1d"]

_DOC_INPUT = """input : array_like
        The input array. NumPy or CuPy array; never modified."""

_DOC_OUTPUT = """output : array or dtype, optional
        The array in which to place the output (it may overlap `input`), or
        the dtype of the returned array. By default an array of the same
        dtype as input will be created (complex when the input or the
        weights are complex: ``promote_types(input.dtype, complex64)``).
        The sum is computed in float64 (complex128) and stored with C's
        conversion, as SciPy: integer outputs truncate toward zero; sums
        outside the type's range are stored as SciPy stores them on x86-64,
        on every element and platform (README: "Float sums in integer
        outputs")."""

_DOC_MODE = """mode : {'reflect', 'constant', 'nearest', 'mirror', 'wrap'}, optional
        The `mode` parameter determines how the input array is extended
        beyond its boundaries. Default is 'reflect'. Behavior for each valid
        value is as follows:

        'reflect' (`d c b a | a b c d | d c b a`)
            The input is extended by reflecting about the edge of the last
            pixel. This mode is also sometimes referred to as half-sample
            symmetric.

        'constant' (`k k k k | a b c d | k k k k`)
            The input is extended by filling all values beyond the edge with
            the same constant value, defined by the `cval` parameter.

        'nearest' (`a a a a | a b c d | d d d d`)
            The input is extended by replicating the last pixel.

        'mirror' (`d c b | a b c d | c b a`)
            The input is extended by reflecting about the center of the last
            pixel. This mode is also sometimes referred to as whole-sample
            symmetric.

        'wrap' (`a b c d | a b c d | a b c d`)
            The input is extended by wrapping around to the opposite edge.

        For consistency with the interpolation functions, the following mode
        names can also be used:

        'grid-mirror'
            This is a synonym for 'reflect'.

        'grid-constant'
            This is a synonym for 'constant'.

        'grid-wrap'
            This is a synonym for 'wrap'.

        A sequence of modes (one per axis) is refused, as by SciPy."""

_DOC_CVAL = """cval : scalar, optional
        Value to fill past edges of input if `mode` is 'constant'. Default
        is 0.0. Complex only for a complex input."""

_DOC_ORIGIN = """origin : int, optional
        Controls the placement of the filter on the input array's pixels.
        A value of 0 (the default) centers the filter over the pixel, with
        positive values shifting the filter to the left, and negative ones
        to the right. Must satisfy ``-(len(weights) // 2) <= origin <=
        (len(weights) - 1) // 2`` (for convolution, after SciPy's change to
        ``-origin``, minus 1 for an even length)."""

_DOC_ORIGINS = """origin : int or sequence, optional
        Controls the placement of the filter on the input array's pixels.
        A value of 0 (the default) centers the filter over the pixel, with
        positive values shifting the filter to the left, and negative ones
        to the right. By passing a sequence of origins with length equal to
        the number of filtered axes, different shifts can be specified along
        each axis."""

_DOC_AXES = """axes : tuple of int or None, optional
        If None, `input` is filtered along all axes. Otherwise, `input` is
        filtered along the specified axes; the others index a stack of
        signals or images, all filtered in one backend call. When `axes` is
        specified, a sequence `origin` must match the length of `axes`, and
        ``weights.ndim == len(axes)``. At most two of the filtered axes may
        have weights longer than 1 (1-D and 2-D filtering; 3-D kernels raise
        ``ValueError``)."""

_DOC_EXT = """method : {'auto', 'direct', 'fft'}, optional
        Extension (keyword-only): as in :func:`corrconv_gpu.correlate2d`.
        'auto' never takes the FFT for an integer or bool output, whose
        truncation would turn its rounding into off-by-one errors.
    fast_float32 : bool, optional
        Extension (keyword-only): as in :func:`corrconv_gpu.correlate2d`."""

_DOC_NOTES_ND = """SciPy's correlate/convolve skip the weights with ``|w| <= DBL_EPSILON``
    (NaN weights included); these weights are zeroed here, which gives
    SciPy's values for finite input. A NaN or infinity of the input under a
    zero weight propagates here (0 * NaN) but not in SciPy."""


def _as_array(a):
    return a if isinstance(a, np.ndarray) or is_cupy_array(a) else np.asarray(a)


def _weights(w, complex_output):
    """SciPy's conversion of the weights: complex128 when complex, else float64
    (its errors), then complex128 for a complex output."""
    w = w.astype(np.complex128 if w.dtype.kind == "c" else np.float64, copy=False)
    return w.astype(np.complex128, copy=False) if complex_output else w


def _skip_tiny(w):
    """Zero what SciPy's N-D filter skips: ``|w| <= DBL_EPSILON`` per real component."""
    eps = np.finfo(np.float64).eps
    if w.dtype.kind == "c":
        re, im = w.real, w.imag
        return (np.where(np.abs(re) > eps, re, 0.0)
                + 1j * np.where(np.abs(im) > eps, im, 0.0))
    return np.where(np.abs(w) > eps, w, 0.0)


def _execute(x, w, active, origins, flip, boundary, cval, cdt, out_dtype,
             method, fast_float32):
    """Filter ``x`` along ``active`` (0, 1 or 2 axes) with ``w`` of ``x.ndim`` dims.

    The filtered axes move last; a 1-D filter makes one (rows, N) frame of
    every line, a 2-D one a (B, H, W) stack; one backend call either way.
    """
    xp = array_namespace(x)
    if method == "auto" and np.dtype(out_dtype).kind in "biu":
        method = "direct"
    shape = x.shape
    if x.ndim == 0:
        x, w, active, origins = x.reshape(1), w.reshape(1), [0], [origins[0] if origins else 0]
    if not active:
        active = [x.ndim - 1]
    kshape = tuple(w.shape[a] for a in active)
    oris = tuple(origins[a] for a in active)
    w2 = w.reshape((1,) * (2 - len(active)) + kshape)
    dst = tuple(range(-len(active), 0))
    xm = xp.moveaxis(x, active, dst)
    if len(active) == 1:
        frame = (math.prod(xm.shape[:-1]), xm.shape[-1])
        xs = xm.reshape(frame)                       # every line: one frame
        plan = plan_ndimage(frame, w2.shape, (0,) + oris, flip, boundary, cval, cdt)
    else:
        frame = tuple(xm.shape[-2:])
        xs = xm.reshape((math.prod(xm.shape[:-2]),) + frame)
        plan = plan_ndimage(frame, w2.shape, oris, flip, boundary, cval, cdt)
    out = _run(plan, xs, w2, method, fast_float32).reshape(xm.shape)
    return xp.moveaxis(out, dst, active).reshape(shape)


def _correlate_or_convolve(input, weights, output, mode, cval, origin, convolution,
                           axes, method, fast_float32):
    name = "convolve" if convolution else "correlate"
    x = _as_array(input)
    w = np.asarray(to_numpy(weights))
    complex_output, default_dtype, cdt = ndimage_dtypes(x.dtype, w.dtype)
    if complex_output:    # SciPy resolves a complex output first
        array, out_dtype = _output.resolve(output, x.shape, default_dtype, True, like=x)
        _validate.ndimage_complex_cval(cval, x.dtype.kind == "c")
    axes = _validate.ndimage_axes(axes, x.ndim)
    w = _weights(w, complex_output)
    if len(axes) < x.ndim:
        if w.ndim != len(axes):
            raise RuntimeError(f"weights.ndim ({w.ndim}) must match len(axes) ({len(axes)})")
        w = np.expand_dims(w, tuple(a for a in range(x.ndim) if a not in axes))
    origins = _validate.normalize_sequence(origin, len(axes))
    if len(axes) < x.ndim:
        full = [0] * x.ndim
        for o, a in zip(origins, axes):
            full[a] = o
        origins = full
    wshape = [k for k in w.shape if k > 0]
    if len(wshape) != x.ndim:
        raise RuntimeError(f"weights.ndim ({len(wshape)}) must match len(axes) ({len(axes)})")
    origins = _validate.ndimage_origins(origins, wshape, convolution)
    if not complex_output:
        array, out_dtype = _output.resolve(output, x.shape, default_dtype, False, like=x)
    _validate.ndimage_modes_scalar(mode)
    boundary = _validate.ndimage_mode(mode)
    cval = _validate.ndimage_cval(cval, x.dtype.kind == "c")
    origins = _validate.ndimage_c_ints(*origins)
    _validate.ndimage_check_dtypes(x.dtype, out_dtype, complex_output)
    active = [a for a in range(x.ndim) if w.shape[a] > 1]
    _validate.ndimage_at_most_2d(active, w.shape, name)
    out = _execute(x, _skip_tiny(w), active, origins, convolution, boundary, cval,
                   cdt, out_dtype, method, fast_float32)
    return _output.deliver(out, array, out_dtype, cast_c_nd)


def _correlate_or_convolve1d(input, weights, axis, output, mode, cval, origin,
                             convolution, method, fast_float32):
    x = _as_array(input)
    w = np.asarray(to_numpy(weights))
    if convolution:
        origin = _validate.ndimage_convolve1d_origin(origin, w)
    complex_output, default_dtype, cdt = ndimage_dtypes(x.dtype, w.dtype)
    array, out_dtype = _output.resolve(output, x.shape, default_dtype, complex_output,
                                       like=x)
    if complex_output:
        _validate.ndimage_complex_cval(cval, x.dtype.kind == "c")
    w = _weights(w, complex_output)
    if w.ndim != 1 or w.shape[0] < 1:
        raise RuntimeError("no filter weights given")
    axis = _validate.ndimage_axis(axis, x.ndim)
    _validate.ndimage_origin_1d(origin, w.shape[0])
    boundary = _validate.ndimage_mode(mode)
    (axis,) = _validate.ndimage_c_ints(axis)
    cval = _validate.ndimage_cval(cval, x.dtype.kind == "c")
    (origin,) = _validate.ndimage_c_ints(origin)
    _validate.ndimage_check_dtypes(x.dtype, out_dtype, complex_output, one_d=True)
    shape = [1] * x.ndim
    shape[axis] = w.shape[0]
    origins = [0] * x.ndim
    origins[axis] = origin
    out = _execute(x, w.reshape(shape), [axis], origins, convolution, boundary,
                   cval, cdt, out_dtype, method, fast_float32)
    return _output.deliver(out, array, out_dtype, cast_c)


def correlate1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0,
                origin=0, *, method="auto", fast_float32=False):
    """Calculate a 1-D correlation along the given axis, as `scipy.ndimage.correlate1d`.

    The lines of the array along the given axis are correlated with the
    given weights: ``out[i] = sum_j conj(weights[j]) * input_e[i + j - len(weights) // 2 - origin]``
    along `axis`, ``input_e`` being the input extended by `mode`.

    Parameters
    ----------
    %(input)s
    weights : array
        1-D sequence of numbers.
    axis : int, optional
        The axis of `input` along which to calculate. Default is -1.
    %(output)s
    %(mode)s
    %(cval)s
    %(origin)s
    %(ext)s

    Returns
    -------
    result : ndarray
        Correlation result. Has the same shape as `input`.

    Examples
    --------
    >>> from corrconv_gpu.ndimage import correlate1d
    >>> correlate1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([ 8, 26,  8, 12,  7, 28, 36,  9])
    """
    return _correlate_or_convolve1d(input, weights, axis, output, mode, cval, origin,
                                    False, method, fast_float32)


def convolve1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0,
               origin=0, *, method="auto", fast_float32=False):
    """Calculate a 1-D convolution along the given axis, as `scipy.ndimage.convolve1d`.

    The lines of the array along the given axis are convolved with the
    given weights: :func:`correlate1d` with the weights reversed (read
    reversed on the device, never copied) and the origin ``-origin``, minus
    1 for an even length (SciPy's rule). Never conjugates.

    Parameters
    ----------
    %(input)s
    weights : ndarray
        1-D sequence of numbers.
    axis : int, optional
        The axis of `input` along which to calculate. Default is -1.
    %(output)s
    %(mode)s
    %(cval)s
    %(origin)s
    %(ext)s

    Returns
    -------
    convolve1d : ndarray
        Convolved array with same shape as input

    Examples
    --------
    >>> from corrconv_gpu.ndimage import convolve1d
    >>> convolve1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([14, 24,  4, 13, 12, 36, 27,  0])
    """
    return _correlate_or_convolve1d(input, weights, axis, output, mode, cval, origin,
                                    True, method, fast_float32)


def correlate(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *,
              axes=None, method="auto", fast_float32=False):
    """Multidimensional correlation, as `scipy.ndimage.correlate`.

    The array is correlated with the given kernel: ``out[i] = sum_j
    conj(weights[j]) * input_e[i + j - shape // 2 - origin]`` over the
    filtered axes, ``input_e`` being the input extended by `mode`.

    Parameters
    ----------
    %(input)s
    weights : ndarray
        array of weights, same number of dimensions as input (as the number
        of `axes` when given).
    %(output)s
    %(mode)s
    %(cval)s
    %(origins)s
    %(axes)s
    %(ext)s

    Returns
    -------
    result : ndarray
        The result of correlation of `input` with `weights`.

    Notes
    -----
    %(notes)s

    Examples
    --------
    >>> import numpy as np
    >>> from corrconv_gpu.ndimage import correlate
    >>> input_img = np.arange(25).reshape(5, 5)
    >>> weights = [[0, 1, 0],
    ...            [1, 1, 1],
    ...            [0, 1, 0]]
    >>> correlate(input_img, weights)
    array([[  6,  10,  15,  20,  24],
           [ 26,  30,  35,  40,  44],
           [ 51,  55,  60,  65,  69],
           [ 76,  80,  85,  90,  94],
           [ 96, 100, 105, 110, 114]])

    A stack of images, each filtered with the same 2-D kernel:

    >>> correlate(np.ones((4, 5, 5)), np.ones((3, 3)), axes=(1, 2))[:, 2, 2]
    array([9., 9., 9., 9.])
    """
    return _correlate_or_convolve(input, weights, output, mode, cval, origin, False,
                                  axes, method, fast_float32)


def convolve(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *,
             axes=None, method="auto", fast_float32=False):
    """Multidimensional convolution, as `scipy.ndimage.convolve`.

    The array is convolved with the given kernel: :func:`correlate` with the
    weights reversed on every axis (read reversed on the device, never
    copied) and, per axis, the origin ``-origin``, minus 1 for an even
    length (SciPy's rule). Never conjugates.

    Parameters
    ----------
    %(input)s
    weights : array_like
        Array of weights, same number of dimensions as input (as the number
        of `axes` when given).
    %(output)s
    %(mode)s
    %(cval)s
    %(origins)s
    %(axes)s
    %(ext)s

    Returns
    -------
    result : ndarray
        The result of convolution of `input` with `weights`.

    Notes
    -----
    Each value in result is :math:`C_i = \\sum_j{I_{i+k-j} W_j}`, where W is
    the `weights` kernel, j is the N-D spatial index over :math:`W`, I is the
    `input` and k is the coordinate of the center of W, specified by
    `origin` in the input parameters.

    %(notes)s

    Examples
    --------
    >>> import numpy as np
    >>> from corrconv_gpu.ndimage import convolve
    >>> a = np.array([[1, 2, 0, 0],
    ...               [5, 3, 0, 4],
    ...               [0, 0, 0, 7],
    ...               [9, 3, 0, 0]])
    >>> k = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0]])
    >>> convolve(a, k, mode='constant', cval=0.0)
    array([[11, 10,  7,  4],
           [10,  3, 11, 11],
           [15, 12, 14,  7],
           [12,  3,  7,  0]])
    >>> convolve(a, k, mode='constant', cval=1.0)
    array([[13, 11,  8,  7],
           [11,  3, 11, 14],
           [16, 12, 14, 10],
           [15,  6, 10,  5]])
    """
    return _correlate_or_convolve(input, weights, output, mode, cval, origin, True,
                                  axes, method, fast_float32)


_DOCS = dict(input=_DOC_INPUT, output=_DOC_OUTPUT, mode=_DOC_MODE, cval=_DOC_CVAL,
             origin=_DOC_ORIGIN, origins=_DOC_ORIGINS, axes=_DOC_AXES, ext=_DOC_EXT,
             notes=_DOC_NOTES_ND)
for _f in (correlate1d, convolve1d, correlate, convolve):
    _f.__doc__ = _f.__doc__ % _DOCS
del _f
