"""scipy.ndimage.correlate / convolve / correlate1d / convolve1d: SciPy's
checks in SciPy's order, dtypes and origins; one plan, one backend call."""

import collections
import itertools
import math

import numpy as np

from .._boundary import extend_index
from .._dispatch import choose_nd, run, run_planes, run_prepared, wide_sums
from .._methods.fft import fftn_correlate_valid
from .._plan import ndimage_dtypes, plan_ndimage
from .._util.arrays import array_namespace, is_cupy_array, real_above, to_numpy
from .._util.cast import cast_c, cast_c_nd
from .._util.memo import Memo
from . import output as _output
from . import validate as _validate
from .planes import plane_map, tap_weights


def _as_array(a):
    return a if isinstance(a, np.ndarray) or is_cupy_array(a) else np.asarray(a)


def _weights_array(weights, x):
    """The weights as an array: CuPy weights of a CuPy input stay on the
    device (reading them back would copy and synchronise on every call),
    anything else becomes a NumPy array."""
    if is_cupy_array(weights) and is_cupy_array(x):
        return weights
    return np.asarray(to_numpy(weights))


def _weights(w, complex_output):
    """SciPy's conversion of the weights: complex128 when complex, else float64
    (its errors), then complex128 for a complex output."""
    w = w.astype(np.complex128 if w.dtype.kind == "c" else np.float64, copy=False)
    return w.astype(np.complex128, copy=False) if complex_output else w


def _nd_weights(w, complex_output):
    """:func:`_weights` for the N-D filters, whose weights then pass through
    :func:`_skip_tiny`: real CuPy weights of a real output are left as they
    are (their float64 conversion cannot fail), so that one elementwise
    kernel converts them and zeroes the tiny ones."""
    if not complex_output and is_cupy_array(w) and w.dtype.kind in "biuf":
        return w
    return _weights(w, complex_output)


_EPS = float(np.finfo(np.float64).eps)


def _skip_tiny(w, dtype):
    """Zero what SciPy's N-D filter skips: ``|w| <= DBL_EPSILON`` per real
    component; real weights come back in ``dtype`` (float32 where they are
    exact in it: see :func:`_plan_dtype`)."""
    if w.dtype.kind == "c":
        return real_above(w.real, _EPS) + 1j * real_above(w.imag, _EPS)
    return real_above(w, _EPS, dtype)


# weights whose values are all exact in float32
_F32_EXACT = frozenset(np.dtype(t) for t in ("bool", "int8", "uint8", "int16", "uint16",
                                             "float16", "float32"))


def _plan_dtype(xdt, wdt, kshape, out_dtype, boundary, cval, cdt):
    """The plan's result dtype: float32 where a float32 input's float64 sum
    goes to a float32 output, the weights (by their dtype) and the fill value
    are exact in float32 and the device has the kernel for weights of
    ``kshape`` (the filtered axes') that reads and writes float32 and sums in
    float64 (the same sums in a fifth of the memory traffic), else the
    compute dtype ``cdt``."""
    if (xdt == np.float32 and cdt == np.float64 and np.dtype(out_dtype) == np.float32
            and wdt in _F32_EXACT and wide_sums(kshape)):
        if boundary != "constant":
            return xdt
        with np.errstate(over="ignore"):
            if float(np.float32(cval)) == cval:
                return xdt
    return cdt


def _execute(x, w, active, origins, flip, boundary, cval, cdt, out_dtype,
             method, fast_float32, signature=None, into=None, pdt=None):
    """Filter ``x`` along ``active`` with ``w`` of ``x.ndim`` dims; the result
    in ``cdt``.

    The filtered axes move last; a 1-D filter makes one (rows, N) frame of
    every line, a 2-D one a (B, H, W) stack; one backend call either way.
    More filtered axes: :func:`_execute_nd`. ``signature``: the call's key
    in ``_CALLS`` (its layout is then kept, and the dispatcher keeps the
    device launch prepared for it). ``into``: the caller's ``output`` array,
    which a path may write and return instead of a new array. ``pdt``: the
    plan's result dtype where it differs from ``cdt`` (:func:`_plan_dtype`).
    """
    xp = array_namespace(x)
    if method == "auto" and out_dtype.kind in "biu":
        method = "direct"
    if len(active) > 2:
        return _execute_nd(x, w, active, origins, flip, boundary, cval, cdt, out_dtype,
                           method, fast_float32, into)
    shape = x.shape
    lay = _LAYOUTS.peek(signature) if signature is not None else None
    if lay is None:
        lay = _layout(shape, w.shape, active, origins, flip, boundary, cval, cdt, pdt)
        if signature is not None:
            _LAYOUTS.put(signature, lay)
    xm = xp.moveaxis(x.reshape(1) if not shape else x, lay.active, lay.dst) if lay.moved else x
    xs, w2 = xm.reshape(lay.xs_shape), w.reshape(lay.w2_shape)
    out = None
    if signature is not None:    # the launch prepared for the call, if any
        out = run_prepared(signature, None, xs, w2, method, fast_float32)
    if out is None:
        out = run(lay.plan, xs, w2, method, fast_float32, signature)
    out = out.reshape(lay.xm_shape)
    if lay.moved:
        out = xp.moveaxis(out, lay.dst, lay.active)
    return out.reshape(shape) if out.shape != shape else out


_Layout = collections.namedtuple("_Layout", "active dst moved xm_shape xs_shape w2_shape plan")


def _layout(shape, wshape, active, origins, flip, boundary, cval, cdt, pdt=None):
    """How :func:`_execute` lays out a filter of at most two axes (shapes
    only): the filtered axes moved last (``moved``: unless they are last
    already) into ``xm_shape``, the frame or stack ``xs_shape`` the backend
    filters with weights ``w2_shape``, and the plan."""
    if not shape:
        shape, wshape, active, origins = (1,), (1,), [0], [origins[0] if origins else 0]
    if not active:
        active = [len(shape) - 1]
    kshape = tuple(wshape[a] for a in active)
    oris = tuple(origins[a] for a in active)
    w2_shape = (1,) * (2 - len(active)) + kshape
    nd = len(shape)
    dst = tuple(range(-len(active), 0))
    moved = list(active) != list(range(nd - len(active), nd))
    xm_shape = tuple(shape[a] for a in range(nd) if a not in active) + tuple(
        shape[a] for a in active)
    if len(active) == 1:
        xs_shape = (math.prod(xm_shape[:-1]), xm_shape[-1])     # every line: one frame
        plan = plan_ndimage(xs_shape, w2_shape, (0,) + oris, flip, boundary, cval, cdt, pdt)
    else:
        frame = xm_shape[-2:]
        xs_shape = (math.prod(xm_shape[:-2]),) + frame
        plan = plan_ndimage(frame, w2_shape, oris, flip, boundary, cval, cdt, pdt)
    return _Layout(tuple(active), dst, moved, xm_shape, xs_shape, w2_shape, plan)


def _extend(x, w, axes, origins, boundary, cval, cdt):
    """``x`` in ``cdt``, extended along ``axes`` by the elements the filter
    reads past its edges (``boundary``; ``cval`` for 'constant'): one
    converting copy of the input, then the borders, axis by axis, gathered
    from what is already there (the borders of earlier axes included)."""
    xp = array_namespace(x)
    pads = {a: (w.shape[a] // 2 + origins[a], w.shape[a] - 1 - w.shape[a] // 2 - origins[a])
            for a in axes}
    shape = tuple(n + sum(pads.get(a, (0, 0))) for a, n in enumerate(x.shape))
    xe = xp.empty(shape, dtype=cdt)
    inner = tuple(slice(lo, lo + n) for (lo, _), n in
                  zip((pads.get(a, (0, 0)) for a in range(x.ndim)), x.shape))
    xe[inner] = x
    for a, (lo, hi) in pads.items():
        n = x.shape[a]
        for pos, dst in ((np.arange(-lo, 0), slice(0, lo)),
                         (np.arange(n, n + hi), slice(lo + n, lo + n + hi))):
            if not len(pos):
                continue
            sel = [slice(None)] * x.ndim
            sel[a] = dst
            if boundary == "constant":        # the borders lie outside the input
                xe[tuple(sel)] = cval
            else:
                idx = extend_index(pos, n, boundary)[0]
                xe[tuple(sel)] = xp.take(xe, xp.asarray(lo + idx), axis=a)
    return xe


def _planes(x, w, active, origins, flip, boundary, cval, cdt, out_dtype, into=None):
    """The direct filter over more than two axes in one pass of the CPU's
    planes kernel (:func:`corrconv_gpu._dispatch.run_planes`); None where
    that does not run. The last two filtered axes move last; every other
    axis is a leading one (an unfiltered axis has one tap). Leading taps
    whose weights are all zero are left out (SciPy skips zero weights). The
    kernel writes ``into`` (returned) where it takes it: a C-contiguous
    array apart from ``x`` with the filtered axes last."""
    if not isinstance(x, np.ndarray):
        return None
    last = active[-2:]
    xm = np.moveaxis(x, last, (-2, -1))
    wm = np.moveaxis(w, last, (-2, -1))
    frame, nlead = xm.shape[-2:], x.ndim - 2
    ks = wm.shape[:nlead]
    lead = [a for a in range(x.ndim) if a not in last]
    starts = [-(k // 2) - origins[a] for k, a in zip(ks, lead)]
    pmap = plane_map(xm.shape[:nlead], ks, starts, xm.shape[:nlead], boundary,
                     math.prod(frame))
    w3 = tap_weights(wm, nlead, flip)
    keep = np.flatnonzero(w3.reshape(len(w3), -1).any(axis=1))
    if not len(keep):
        return np.zeros(x.shape, dtype=cdt)
    plan = plan_ndimage(frame, w3.shape[1:], tuple(origins[a] for a in last), flip,
                        boundary, cval, cdt)
    dest = None
    if (isinstance(into, np.ndarray) and last == [x.ndim - 2, x.ndim - 1]
            and into.flags.c_contiguous and not np.may_share_memory(into, x)):
        dest = into.reshape((-1,) + frame)
    out = run_planes(plan, xm.reshape((-1,) + frame), w3[keep], pmap[:, keep], out_dtype,
                     dest)
    if out is None:
        return None
    if out is dest:
        return into
    return np.ascontiguousarray(np.moveaxis(out.reshape(xm.shape), (-2, -1), last))


def _execute_nd(x, w, active, origins, flip, boundary, cval, cdt, out_dtype, method,
                fast_float32, into=None):
    """More than two filtered axes. 'fft': whole-array transforms of the input
    extended along the filtered axes. 'direct': on the CPU, the planes kernel
    (:func:`_planes`); elsewhere, for every tap of the leading filtered axes,
    the 2-D filter of the last two over a view of the input extended along
    the leading axes, accumulated in ``cdt``; planes of zero weights are
    skipped (SciPy skips those weights); the leading taps are read reversed
    for convolution, the 2-D filter reads the rest flipped itself."""
    xp = array_namespace(x)
    if x.size == 0:
        return xp.zeros(x.shape, dtype=cdt)
    if choose_nd(x, {a: w.shape[a] for a in active}, method, boundary, cval) == "fft":
        xe = _extend(x, w, active, origins, boundary, cval, cdt)
        conj = (not flip) and np.dtype(cdt).kind == "c"
        return fftn_correlate_valid(xe, xp.asarray(w, dtype=cdt),
                                    active, flip, conj, xp=xp).astype(cdt, copy=False)
    out = _planes(x, w, active, origins, flip, boundary, cval, cdt, out_dtype, into)
    if out is not None:
        return out
    lead, last = active[:-2], active[-2:]
    # one conversion to the accumulator type: the 2-D passes read views of it
    xe = _extend(x, w, lead, origins, boundary, cval, cdt)
    origins2 = [0 if a in lead else o for a, o in enumerate(origins)]
    acc = None
    for taps in itertools.product(*(range(w.shape[a]) for a in lead)):
        xs = [slice(None)] * x.ndim
        ws = [slice(None)] * x.ndim
        for a, p in zip(lead, taps):
            xs[a] = slice(p, p + x.shape[a])
            q = w.shape[a] - 1 - p if flip else p
            ws[a] = slice(q, q + 1)
        wp = w[tuple(ws)]
        if not wp.any():
            continue
        part = _execute(xe[tuple(xs)], wp, last, origins2, flip, boundary, cval, cdt, cdt,
                        "direct" if method == "fft" else method, fast_float32)
        if acc is None:
            acc = part
        else:
            acc += part
    return xp.zeros(x.shape, dtype=cdt) if acc is None else acc


# Validated CuPy calls by signature: a call repeating the array types,
# shapes and dtypes, mode, scalar cval, origin and axes of an earlier
# successful one (no ``output`` array) skips the validators, which depend on
# nothing else, and reuses their answers and its layout (``_LAYOUTS``); the
# weights are still converted on every call (their values may have changed).
# Only successful calls are stored: every error still comes from the
# validators. Cleared when full.
_CALLS = Memo(256)
_LAYOUTS = Memo(256)
_KEY_SCALARS = (int, float, complex, bool)


def _call_key(x, w, output, mode, cval, origin, axes, convolution):
    """The signature of a call of :func:`correlate_or_convolve` (see
    ``_CALLS``), or None (NumPy input, an output array, other argument types)."""
    if output is not None or not is_cupy_array(x) or not (
            is_cupy_array(w) or type(w) is np.ndarray):
        return None
    if (type(mode) is not str or type(cval) not in _KEY_SCALARS
            or not (type(origin) is int or type(origin) is tuple)
            or not (axes is None or type(axes) is int or type(axes) is tuple)):
        return None
    key = ("ndimage", convolution, type(x), x.shape, x.dtype, type(w), w.shape, w.dtype,
           mode, type(cval), repr(cval), origin, axes)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def correlate_or_convolve(input, weights, output, mode, cval, origin, convolution,
                           axes, method, fast_float32):
    key = _call_key(input, weights, output, mode, cval, origin, axes, convolution)
    hit = _CALLS.peek(key) if key is not None else None
    if hit is not None:
        complex_output, cdt, pdt, out_dtype, expand, active, origins, boundary, cval = hit
        w = _nd_weights(_weights_array(weights, input), complex_output)
        if expand is not None:
            w = array_namespace(w).expand_dims(w, expand)
        out = _execute(input, _skip_tiny(w, pdt), active, origins, convolution, boundary,
                       cval, cdt, out_dtype, method, fast_float32, key, pdt=pdt)
        return _output.deliver(out, None, out_dtype, cast_c_nd)
    x = _as_array(input)
    w = _weights_array(weights, x)
    wdt = w.dtype
    complex_output, default_dtype, cdt = ndimage_dtypes(x.dtype, w.dtype)
    if complex_output:    # SciPy resolves a complex output first
        array, out_dtype = _output.resolve(output, x.shape, default_dtype, True, like=x)
        _validate.ndimage_complex_cval(cval, x.dtype.kind == "c")
    axes = _validate.ndimage_axes(axes, x.ndim)
    w = _nd_weights(w, complex_output)
    if len(axes) < x.ndim:
        if w.ndim != len(axes):
            raise RuntimeError(f"weights.ndim ({w.ndim}) must match len(axes) ({len(axes)})")
        expand = tuple(a for a in range(x.ndim) if a not in axes)
        w = array_namespace(w).expand_dims(w, expand)
    else:
        expand = None
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
    kshape = (1,) * (2 - len(active)) + tuple(w.shape[a] for a in active)
    pdt = (_plan_dtype(x.dtype, wdt, kshape, out_dtype, boundary, cval, cdt)
           if len(active) <= 2 else cdt)
    if key is not None and len(active) <= 2:
        _CALLS.put(key, (complex_output, cdt, pdt, out_dtype, expand, active, origins,
                         boundary, cval))
    out = _execute(x, _skip_tiny(w, pdt), active, origins, convolution, boundary, cval,
                   cdt, out_dtype, method, fast_float32, into=array, pdt=pdt)
    return _output.deliver(out, array, out_dtype, cast_c_nd)


def correlate_or_convolve1d(input, weights, axis, output, mode, cval, origin,
                             convolution, method, fast_float32):
    x = _as_array(input)
    w = _weights_array(weights, x)
    if convolution:
        origin = _validate.ndimage_convolve1d_origin(origin, w)
    wdt = w.dtype
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
    pdt = _plan_dtype(x.dtype, wdt, (1, w.shape[0]), out_dtype, boundary, cval, cdt)
    out = _execute(x, w.reshape(shape), [axis], origins, convolution, boundary,
                   cval, cdt, out_dtype, method, fast_float32, pdt=pdt)
    return _output.deliver(out, array, out_dtype, cast_c)
