"""Public functions: thin frontends over the validators, the plan and the backends."""

import math

import numpy as np

from . import _backends, _output, _validate
from ._arrays import array_namespace, is_cupy_array, to_numpy
from ._cost import check_method
from ._cast import cast_result
from ._plan import plan_1d, plan_2d, plan_2d_valid_swapped

__all__ = ["correlate", "convolve", "correlate2d", "convolve2d"]

_DOC_BOUNDARY = """boundary : str {'fill', 'wrap', 'symm'}, optional
        How the input ``in1`` is extended beyond its edges (SciPy's flags)::

            'fill' (or 'pad')          k k k k | a b c d | k k k k
            'wrap' (or 'circular')     a b c d | a b c d | a b c d
            'symm' (or 'symmetric')    d c b a | a b c d | d c b a

        ``k`` is `fillvalue`. 'wrap' and 'symm' are periodic (periods ``n``
        and ``2n``), so kernels larger than the input work."""

_DOC_EXT = """method : {'auto', 'direct', 'separable', 'fft'}, optional
        Extension. 'direct' sums the products (exact for integers);
        'separable' runs r pairs of 1-D passes when the kernel has rank
        r <= 2 within the float tolerance (integer kernels only when the
        factors are exact integers), else 'direct'; 'fft' uses tiled
        overlap-save FFTs (float and complex only); 'auto' picks by a cost
        model. Integer and bool input never takes the FFT, nor does input or
        a fill value holding NaN or Inf (whatever `method` says: an FFT would
        spread them over a whole tile, where SciPy confines them to the
        outputs that read them).
    fast_float32 : bool, optional
        Extension. By default float32 FFTs are computed in float64, which
        keeps the local accuracy of high-dynamic-range images; True computes
        them in float32 (1.3-1.6x faster on large images, with relative
        errors up to ~1e-1 on pixels near 1e-4 of the maximum)."""

_DOC_STACK = """axes : pair of int, optional
        Extension (keyword-only). The axes of ``in1`` that ``in2``'s two axes
        run along, e.g. ``(-2, -1)``. Any other axes of ``in1`` index a stack
        of 2-D frames, each filtered with the same 2-D kernel ``in2`` in one
        backend call: the result equals a loop of this function over the
        frames, the filtered axes holding the output's two dimensions. By
        default (None) both inputs must be 2-D, as in SciPy: an ``in1`` of
        more dimensions raises SciPy's ``ValueError`` (an RGB image
        ``(H, W, 3)`` is not a stack of H frames of ``(W, 3)``).
    output : ndarray or dtype, optional
        Extension (keyword-only), as in `scipy.ndimage`: the array in which
        to place the result (of the output's shape, else ``RuntimeError
        ("output shape not correct")``; it may overlap ``in1``), or the dtype
        of the returned array (the result is cast to it with NumPy's
        unsafe cast; a float result converts to an integer dtype as
        scipy.ndimage's outputs do, C's conversion on x86-64, the same on
        every element and platform). By default a new array of the common
        dtype. A complex result needs a complex ``output`` (a real dtype is
        promoted, with a warning)."""


def _sizes(plan, x, w):
    """``(macs, nbytes)`` of a problem as :func:`._backends.select` takes them:
    its multiply-adds and the bytes a NumPy input would copy to a device and
    back."""
    n_out = float(math.prod(x.shape[:-2])) * float(math.prod(plan.out_shape))
    macs = n_out * float(math.prod(w.shape))
    return macs, (x.size + n_out) * np.dtype(plan.dtype).itemsize


def _run(plan, x, w, method, fast_float32, launches=None):
    """Execute a plan on the chosen backend; returns the result array.

    ``x`` is one frame (M0, M1) or a stack (B, M0, M1) filtered in one
    backend call; the result is (O0, O1) or (B, O0, O1), a new array.
    ``launches``: the CPU backend's prepared launches of a repeated call
    (see ``_FRAME_PLANS``).
    """
    check_method(method)
    xp = array_namespace(x)
    backend = _backends.select(is_cupy_array(x), *_sizes(plan, x, w))
    if backend != "cpu":
        from . import _cuda_backend
        if not _cuda_backend.supports(plan):  # bool, object: the CPU path
            backend = "cpu"
    if backend != "cpu":
        out = _cuda_backend.execute(plan, x, w, method=method, fast_float32=fast_float32,
                                    emulated=backend == "emulated")
        # NumPy in, NumPy out; CuPy in, CuPy out (the emulator works on the host)
        out = to_numpy(out) if xp is np else out if type(out) is xp.ndarray else xp.asarray(out)
    else:
        from . import _cpu
        out = cast_result(_cpu.execute(plan, to_numpy(x), to_numpy(w), method,
                                       fast_float32, launches), plan.dtype)
        out = xp.asarray(out)
    if plan.reverse_output:
        out = xp.ascontiguousarray(out[..., ::-1, ::-1])
    return out


# ------------------------------------------------------------------- 1-D

def _filter1d(a, v, mode, dtype, flip, method, fast_float32):
    if dtype.kind == "m":
        # NumPy's timedelta dot: the int64 counts multiplied and summed, wrapping;
        # the result is a timedelta64 of no unit
        a, v = (x.view(np.int64) if x.dtype.kind == "m" else x.astype(np.int64)
                for x in (a, v))
        return _filter1d(a, v, mode, np.dtype(np.int64), flip, method,
                         fast_float32).view("m8")
    plan = plan_1d(a.shape[0], v.shape[0], mode, flip, dtype)
    return _run(plan, a[None, :], v[None, :], method, fast_float32)[0]


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
    %s

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
    return _filter1d(*_validate.correlate_inputs(a, v, mode), False, method, fast_float32)


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
    %s

    Returns
    -------
    out : ndarray

    Examples
    --------
    >>> import corrconv_gpu as cc
    >>> cc.convolve([2, 1, 3, 5, 4], [1, -1], 'valid')
    array([-1,  2,  2, -1])
    """
    return _filter1d(*_validate.convolve_inputs(a, v, mode), True, method, fast_float32)


# ------------------------------------------------------------------- 2-D

# Plans of single 2-D frames by call signature: a call repeating the array
# types, shapes and dtypes, mode, boundary and scalar fillvalue of an earlier
# successful one reuses its plan and skips the validators (which gave that
# plan; they depend on nothing else), so only the backend's own work is
# repeated.  Only successful calls are stored: every error still comes from
# the validators.  Cleared when full (a few hundred signatures).
# An entry is ``(plan, swapped, launches, sizes)``: ``launches`` is a dict in
# which the CPU backend keeps the launch it prepared for the call
# (``_cpu.execute(launches=...)``), keyed ``(method, fast_float32)``;
# ``sizes`` is :func:`_sizes` of the problem when NumPy arrays go in and the
# CPU launch's result is the call's (no cast, no reversal), else None.  With
# ``sizes`` set and :func:`._backends.select` choosing the CPU, a repeated
# call goes straight to that launch (the short path: on a cold cache each
# Python layer of :func:`_run` costs microseconds, 50-75 us in all at 512^2).
_FRAME_PLANS = {}
_FRAME_PLANS_MAX = 256
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
        hit = _FRAME_PLANS.get(key) if key is not None else None
        if hit is not None:
            plan, swapped, launches, sizes = hit
            if swapped:
                in1, in2 = in2, in1
            if (sizes is not None and method.__class__ is str
                    and fast_float32.__class__ is bool):
                run = launches.get((method, fast_float32))   # only for a valid method
                if run and _backends.select(False, *sizes) == "cpu":
                    return run(in1, in2)
            return _run(plan, in1, in2, method, fast_float32, launches)
    name = "convolve2d" if flip else "correlate2d"
    # without axes= both inputs are 2-D, as in SciPy: an (H, W, 3) image is
    # never taken for a stack of H frames
    in1, in2 = _validate.as_stack_pair(in1, in2, name, axes is not None)
    _validate.same_array_kind(in1, in2)
    axes = (0, 1) if axes is None else _validate.axes_pair(axes, in1.ndim, name)
    if in1.ndim == 2 and axes == (0, 1) and output is None:
        return _filter2d_frame(in1, in2, mode, boundary, fillvalue, flip, method,
                               fast_float32, key)
    xp = array_namespace(in1)
    moved = axes != (in1.ndim - 2, in1.ndim - 1)
    x = xp.moveaxis(in1, axes, (-2, -1)) if moved else in1
    frame, batch = tuple(x.shape[-2:]), tuple(x.shape[:-2])
    swapped, mode, bnd, dtype, fill = _validate.signal_2d(
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
    out = _run(plan, x, in2, method, fast_float32)
    out = out.reshape(batch + tuple(plan.out_shape))
    if moved:
        out = xp.ascontiguousarray(xp.moveaxis(out, (-2, -1), axes))
    return _output.deliver(out, array, out_dtype, cast_result)


def _filter2d_frame(in1, in2, mode, boundary, fillvalue, flip, method, fast_float32,
                    key=None):
    """One 2-D frame: SciPy's checks in SciPy's order (``in1``, ``in2`` 2-D);
    the plan is stored in ``_FRAME_PLANS`` under ``key`` (the call's
    :func:`_frame_key`, None: not stored)."""
    swapped, mode, bnd, dtype, fill = _validate.signal_2d(
        in1, in2, in1.shape, mode, boundary, fillvalue, flip)
    if swapped:
        in1, in2 = in2, in1
    plan = plan_2d(in1.shape, in2.shape, mode, flip, bnd, fill, dtype, swapped)
    if key is not None:
        if plan.fillvalue is not None:
            plan.fillvalue.flags.writeable = False   # shared by later calls
        if len(_FRAME_PLANS) >= _FRAME_PLANS_MAX:
            _FRAME_PLANS.clear()
        sizes = None
        if (type(in1) is np.ndarray and type(in2) is np.ndarray
                and plan.dtype == plan.compute_dtype and not plan.reverse_output):
            sizes = _sizes(plan, in1, in2)
        _FRAME_PLANS[key] = (plan, swapped, {}, sizes)
    return _run(plan, in1, in2, method, fast_float32)


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
    %s
    fillvalue : scalar, optional
        Value outside ``in1`` for 'fill'; cast to the result dtype. Default 0.
    %s
    %s

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
    %s
    fillvalue : scalar, optional
        Value outside ``in1`` for 'fill'; cast to the result dtype. Default 0.
    %s
    %s

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


correlate.__doc__ %= _DOC_EXT
convolve.__doc__ %= _DOC_EXT
correlate2d.__doc__ %= (_DOC_BOUNDARY, _DOC_STACK, _DOC_EXT)
convolve2d.__doc__ %= (_DOC_BOUNDARY, _DOC_STACK, _DOC_EXT)
