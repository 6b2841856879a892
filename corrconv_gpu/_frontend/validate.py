"""Shared validators. Every error message users see is written here once.

The messages are NumPy's and SciPy's own (NumPy 2.4, SciPy 1.17), in their
order of checking, so code that catches them keeps working.
"""

import math
import operator
import warnings

import numpy as np

from .._util.arrays import is_cupy_array
from .._boundary import NDIMAGE_MODES, SIGNAL_BOUNDARIES
from .._plan import result_dtype

# ---------------------------------------------------------------- 1-D (NumPy)

_MODES_1D = ("valid", "same", "full")


def mode_1d(mode):
    """numpy.correlate/convolve mode parsing (``PyArray_CorrelatemodeConverter``)."""
    if isinstance(mode, str):
        if mode in _MODES_1D:
            return mode
        if mode[:1] in ("v", "V", "s", "S", "f", "F"):
            raise ValueError(
                "Use one of 'valid', 'same', or 'full' for convolve/correlate mode")
        raise ValueError(
            f"mode must be one of 'valid', 'same', or 'full' (got {mode!r})")
    if isinstance(mode, (bool, np.bool_)):
        raise TypeError("convolve/correlate mode not understood")
    try:
        number = operator.index(mode)
    except TypeError:
        raise TypeError("convolve/correlate mode not understood") from None
    if number not in (0, 1, 2):
        raise ValueError("integer convolve/correlate mode must be 0, 1, or 2")
    return _MODES_1D[number]


def _as_1d(x, name_too_deep_list):
    was_array = isinstance(x, np.ndarray) or is_cupy_array(x)
    arr = x if was_array else np.asarray(x)
    if arr.ndim == 0:
        raise ValueError("object of too small depth for desired array")
    if arr.ndim > 1:
        if not was_array and name_too_deep_list:
            raise ValueError(
                "setting an array element with a sequence. The requested array "
                "would exceed the maximum number of dimension of 1.")
        raise ValueError("object too deep for desired array")
    return arr


def _as_array(x):
    return x if isinstance(x, np.ndarray) or is_cupy_array(x) else np.asarray(x)


def _dot_dtype(dtype):
    """The common type's last checks in NumPy's correlate (the output and the
    dot function of the type); returns the type the sum runs in (void: its
    elements as Python objects)."""
    if dtype.kind in "US":
        raise ValueError("data type must provide an itemsize")
    if dtype.kind == "M":
        raise ValueError("function not available for this data type")
    return np.dtype(object) if dtype.kind == "V" else dtype


def correlate_inputs(a, v, mode):
    """numpy.correlate's checks, in its order: mode, the common type, each
    input's depth and cast to it, emptiness, the type. Returns
    ``(a, v, mode, dtype)``."""
    mode = mode_1d(mode)
    dtype = result_dtype(_as_array(a), _as_array(v))
    a = _as_1d(a, True)
    cast_safe(a, dtype)
    v = _as_1d(v, True)
    cast_safe(v, dtype)
    if a.shape[0] == 0:
        raise ValueError("first array argument cannot be empty")
    if v.shape[0] == 0:
        raise ValueError("second array argument cannot be empty")
    return a, v, mode, _dot_dtype(dtype)


def convolve_inputs(a, v, mode):
    """numpy.convolve's checks, in its order: emptiness, mode, the common
    type, depth and cast of the longer input then the other, the type.
    Returns ``(a, v, mode, dtype)``."""
    a, v = _as_array(a), _as_array(v)
    if a.ndim == 0:
        a = a.reshape(1)
    if v.ndim == 0:
        v = v.reshape(1)
    if a.shape[0] == 0:
        raise ValueError("a cannot be empty")
    if v.shape[0] == 0:
        raise ValueError("v cannot be empty")
    mode = mode_1d(mode)
    dtype = result_dtype(a, v)
    for x in ((v, a) if v.shape[0] > a.shape[0] else (a, v)):
        if x.ndim > 1:
            raise ValueError("object too deep for desired array")
        cast_safe(x, dtype)
    return a, v, mode, _dot_dtype(dtype)


# -------------------------------------------------------------- 2-D (SciPy)

_MODES_2D = {"valid": "valid", "same": "same", "full": "full"}


def as_2d_pair(in1, in2, name):
    """SciPy's first check: both inputs 2-D (``name`` is the function name)."""
    in1, in2 = _as_array(in1), _as_array(in2)
    if not in1.ndim == in2.ndim == 2:
        raise ValueError(f"{name} inputs must both be 2-D arrays")
    return in1, in2


def valid_swap_needed(mode, shape1, shape2, axes=None):
    """scipy.signal._inputs_swap_needed: swap in 'valid' when in1 is smaller
    (on ``axes``, default all)."""
    if mode != "valid":
        return False
    axes = range(len(shape1)) if axes is None else axes
    ok1 = all(shape1[i] >= shape2[i] for i in axes)
    ok2 = all(shape2[i] >= shape1[i] for i in axes)
    if not (ok1 or ok2):
        raise ValueError("For 'valid' mode, one must be at least as large as "
                         "the other in every dimension")
    return not ok1


def mode_2d(mode):
    try:
        return _MODES_2D[mode]
    except KeyError:  # an unhashable mode raises TypeError, as in SciPy
        raise ValueError(
            "Acceptable mode flags are 'valid', 'same', or 'full'.") from None


def boundary_2d(boundary):
    """SciPy boundary flag -> the plan's boundary name (None: 'reflect', which
    SciPy's C code refuses later, see :func:`signal_2d`)."""
    try:
        return SIGNAL_BOUNDARIES[boundary]
    except KeyError:
        raise ValueError(
            "Acceptable boundary flags are 'fill', 'circular' (or 'wrap'), and "
            "'symmetric' (or 'symm').") from None


def _fill_as(value, dtype):
    # SciPy converts with PyArray_FromObject: arrays need a safe cast, NumPy
    # scalars are cast unsafely, Python values are converted by value.
    if isinstance(value, np.ndarray):
        if not np.can_cast(value.dtype, dtype, "safe"):
            what = "scalar" if value.ndim == 0 else "array data"
            raise TypeError(f"Cannot cast {what} from {value.dtype!r} to "
                            f"{dtype!r} according to the rule 'safe'")
        return value.astype(dtype)
    if isinstance(value, np.generic):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(value).astype(dtype)
    return np.array(value, dtype=dtype)


def fillvalue_2d(fillvalue, dtype):
    """SciPy's fillvalue conversion and messages; returns a 0-d array of ``dtype``."""
    if is_cupy_array(fillvalue):
        fillvalue = fillvalue.get()
    try:
        fill = _fill_as(fillvalue, dtype)
    except (TypeError, ValueError, OverflowError):
        _fill_as(fillvalue, np.dtype(np.complex128))  # its own error, as SciPy
        raise ValueError("could not cast `fillvalue` directly to the output type "
                         "(it was first converted to complex).") from None
    if fill.size != 1:
        if fill.size == 0:
            raise ValueError("`fillvalue` cannot be an empty array.")
        raise ValueError("`fillvalue` must be scalar or an array with one element.")
    return fill.reshape(())


def dtype_2d(dtype):
    """SciPy's type check, with our float16 extension."""
    if dtype.kind in "iufc":  # SciPy refuses float16; we compute it (extension)
        return dtype
    if dtype.kind in "USV":   # NumPy cannot make an output of an unsized type
        raise ValueError("data type must provide an itemsize")
    raise ValueError("convolve2d not available for this type.")


def conjugable(a):
    """``a.conj()`` as NumPy checks it: non-numeric dtypes raise ``TypeError``;
    an object array conjugates (or raises) element by element."""
    if a.dtype.kind in "USVMm":
        raise TypeError("cannot conjugate non-numeric dtype")
    if a.dtype.kind == "O":
        a.conj()


def cast_safe(a, dtype):
    """NumPy's conversion of an input to the common type (``PyArray_FromAny``)."""
    if not np.can_cast(a.dtype, dtype, "safe"):
        raise TypeError(f"Cannot cast array data from {a.dtype!r} to {dtype!r} "
                        f"according to the rule 'safe'")


def signal_2d(in1, in2, frame, mode, boundary, fillvalue, flip):
    """scipy.signal.correlate2d/convolve2d's checks after the 2-D one, in
    SciPy's order: the 'valid' swap (``frame``: the shape of ``in1``'s frames),
    mode, boundary name, ``in2.conj()`` (correlate2d), the common type and each
    input's cast to it, 'reflect', fillvalue, the type; then ours, where
    SciPy crashes.

    Returns ``(swapped, mode, boundary, dtype, fill)``.
    """
    swapped = valid_swap_needed(mode, frame, in2.shape)
    first, second = (in2, in1) if swapped else (in1, in2)
    mode = mode_2d(mode)
    bnd = boundary_2d(boundary)
    if not flip:
        conjugable(second)
    dtype = result_dtype(first, second)
    cast_safe(first, dtype)
    cast_safe(second, dtype)
    if bnd is None:
        raise ValueError("Incorrect boundary value.")
    fill = fillvalue_2d(fillvalue, dtype) if bnd == "constant" else None
    dtype_2d(dtype)
    # where SciPy crashes (SIGFPE): wrap/symm cannot extend an empty frame
    if bnd != "constant" and math.prod(frame) == 0 and in2.size != 0 and mode != "valid":
        raise ValueError(f"boundary {boundary!r} cannot extend an empty in1 "
                         f"of shape {tuple(in1.shape)} (SciPy crashes here)")
    return swapped, mode, bnd, dtype, fill


def same_array_kind(in1, in2):
    """Mixed NumPy/CuPy inputs: a NumPy kernel with a CuPy image is accepted."""
    if is_cupy_array(in2) and not is_cupy_array(in1):
        raise TypeError("in2 is a CuPy array but in1 is a NumPy array: pass the "
                        "image (in1) as a CuPy array to compute on the GPU, or "
                        "both as NumPy arrays")


# ------------------------------------------- stacks of 2-D frames (axes=)

def axes_pair(axes, ndim, name):
    """``axes=`` of correlate2d/convolve2d: two distinct axes of ``in1``, normalized.

    Messages as scipy.ndimage's ``_check_axes`` for out-of-range and repeated
    axes.
    """
    try:
        axes = tuple(operator.index(a) for a in axes)
    except TypeError:
        raise TypeError(f"{name}: axes must be a pair of integers (got {axes!r})") from None
    if len(axes) != 2:
        raise ValueError(f"{name}: axes must name exactly two axes of in1, the "
                         f"axes of the 2-D kernel in2 (got {len(axes)})")
    for a in axes:
        if a < -ndim or a > ndim - 1:
            raise ValueError(f"specified axis: {a} is out of range")
    axes = tuple(a % ndim for a in axes)
    if axes[0] == axes[1]:
        raise ValueError("axes must be unique")
    return axes


def as_stack_pair(in1, in2, name, stacked):
    """The 2-D check for a stack: ``in1.ndim >= 2`` and a 2-D kernel ``in2``.

    Without ``stacked`` (2-D ``in1``, default axes) SciPy's own check and
    message are used unchanged.
    """
    in1, in2 = _as_array(in1), _as_array(in2)
    if not stacked or in1.ndim < 2:
        return as_2d_pair(in1, in2, name)
    if in2.ndim != 2:
        raise ValueError(f"{name}: in2 (the kernel) must be a 2-D array when in1 "
                         f"is a stack of 2-D frames (in1.ndim={in1.ndim}, "
                         f"in2.ndim={in2.ndim})")
    return in1, in2


# ------------------------------------------------------- scipy.ndimage

# dtypes SciPy's C filters read and write, and float16 (an extension: SciPy
# refuses it; here it is summed in float64 and rounded once); complex goes
# through real parts
_NDIMAGE_REAL = frozenset(np.dtype(t) for t in (
    np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
    np.int64, np.uint64, np.float16, np.float32, np.float64))


def ndimage_mode(mode):
    """``_ni_support._extend_mode_to_code`` for filters: mode -> plan boundary."""
    if isinstance(mode, str) and mode in NDIMAGE_MODES:
        return NDIMAGE_MODES[mode]
    raise RuntimeError("boundary mode not supported")


def ndimage_modes_scalar(mode):
    """scipy.ndimage.correlate refuses per-axis mode sequences."""
    if not isinstance(mode, str) and np.iterable(mode):
        raise RuntimeError("A sequence of modes is not supported")


def ndimage_check_dtypes(input_dtype, output_dtype, complex_output, one_d=False):
    """SciPy's C type check, input then output ("array type not supported";
    the 1-D filters name the dtype: "array type dtype('longdouble') not
    supported", that of the real component for complex arrays); float16 is
    accepted (see ``_NDIMAGE_REAL``)."""
    def component(dtype):
        dtype = np.dtype(dtype)
        return dtype.type(0).real.dtype if dtype.kind == "c" else dtype

    in_dt = component(input_dtype)
    out_dt = component(output_dtype) if complex_output else np.dtype(output_dtype)
    for dtype in (in_dt, out_dt):
        if dtype.newbyteorder("=") not in _NDIMAGE_REAL:
            raise RuntimeError(f"array type {dtype!r} not supported" if one_d
                               else "array type not supported")


def ndimage_axes(axes, ndim):
    """``_ni_support._check_axes``: None -> all axes; a sequence normalized,
    unique, in range. A scalar is taken as it is, unchecked, as SciPy does (the
    weights' and origins' expansion then raise SciPy's errors)."""
    if axes is None:
        return tuple(range(ndim))
    if np.isscalar(axes):
        return (operator.index(axes),)
    if np.iterable(axes) and not isinstance(axes, str):
        axes = tuple(operator.index(a) for a in axes)
    elif isinstance(axes, str):
        raise TypeError(f"{type(axes).__name__!r} object cannot be interpreted as an integer")
    else:
        raise ValueError("axes must be an integer, iterable of integers, or None")
    for a in axes:
        if a < -ndim or a > ndim - 1:
            raise ValueError(f"specified axis: {a} is out of range")
    axes = tuple(a % ndim for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError("axes must be unique")
    return axes


def normalize_sequence(value, rank):
    """``_ni_support._normalize_sequence``: a scalar repeated, or a sequence of ``rank``."""
    if not isinstance(value, str) and np.iterable(value):
        values = list(value)
        if len(values) != rank:
            raise RuntimeError("sequence argument must have length equal to input rank")
        return values
    return [value] * rank


def _invalid_origin(origin, lenw):
    return (origin < -(lenw // 2)) or (origin > (lenw - 1) // 2)


def ndimage_convolve1d_origin(origin, weights):
    """convolve1d's own steps before it calls correlate1d with the weights
    reversed (read reversed here, never copied), in SciPy's order: the
    reversal (a 0-d ``weights`` raises ``IndexError``), then ``-origin``,
    minus 1 for an even length. Returns that correlation origin."""
    if weights.ndim == 0:
        raise IndexError("too many indices for array: array is 0-dimensional, "
                         "but 1 were indexed")
    origin = -origin
    if not weights.shape[0] & 1:
        origin -= 1
    return origin


def ndimage_origin_1d(origin, lenw):
    """correlate1d's origin check (of the correlation origin)."""
    if _invalid_origin(origin, lenw):
        raise ValueError("Invalid origin; origin must satisfy -(len(weights) // 2) "
                         "<= origin <= (len(weights)-1) // 2")
    return origin


def ndimage_axis(axis, ndim):
    """SciPy's own ``normalize_axis_index`` (any number compares; the type is
    checked later, by :func:`ndimage_c_ints`)."""
    if axis < -ndim or axis >= ndim:
        raise np.exceptions.AxisError(
            f"axis {axis} is out of bounds for array of dimension {ndim}")
    return axis + ndim if axis < 0 else axis


def ndimage_origins(origins, wshape, convolution):
    """correlate/convolve origins (one per input axis), checked as SciPy does."""
    origins = list(origins)
    if convolution:
        for i, k in enumerate(wshape):
            origins[i] = -origins[i]
            if not k & 1:
                origins[i] -= 1
    for o, k in zip(origins, wshape):
        if _invalid_origin(o, k):
            raise ValueError("Invalid origin; origin must satisfy -(weights.shape[k] // 2) "
                             "<= origin[k] <= (weights.shape[k]-1) // 2")
    return origins


def ndimage_complex_cval(cval, complex_input):
    """SciPy's first check of a complex call (``_complex_via_real_components``),
    before anything is read of the weights: a real input takes no complex cval."""
    if not complex_input and np.iscomplexobj(cval):
        raise ValueError("Cannot provide a complex-valued cval when the input is real.")


def _c_double(value):
    """``PyArg_ParseTuple``'s "d": what has ``__float__`` or ``__index__``, converted."""
    if isinstance(value, complex) or not (hasattr(type(value), "__float__")
                                          or hasattr(type(value), "__index__")):
        raise TypeError(f"must be real number, not {type(value).__name__}")
    return float(value)


def ndimage_cval(cval, complex_input):
    """cval as SciPy's C code reads it: a real number; for complex input its
    real and imaginary parts (``np.real``/``np.imag``), each a real number."""
    if complex_input:
        return complex(_c_double(np.real(cval)), _c_double(np.imag(cval)))
    if np.iscomplexobj(cval):
        raise TypeError("must be real number, not complex")
    return _c_double(cval)


def ndimage_c_ints(*values):
    """The integers SciPy's C entry point parses last (axis, origins): an
    int-like value, or its ``TypeError``."""
    return [operator.index(v) for v in values]
