"""Shared validators. Every error message users see is written here once.

The messages are NumPy's and SciPy's own (NumPy 2.4, SciPy 1.17), in their
order of checking, so code that catches them keeps working.
"""

import operator
import warnings

import numpy as np

from ._arrays import is_cupy_array

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


def correlate_inputs(a, v, mode):
    """numpy.correlate's checks, in its order: mode, depth, emptiness."""
    mode = mode_1d(mode)
    a = _as_1d(a, True)
    v = _as_1d(v, True)
    if a.shape[0] == 0:
        raise ValueError("first array argument cannot be empty")
    if v.shape[0] == 0:
        raise ValueError("second array argument cannot be empty")
    return a, v, mode


def convolve_inputs(a, v, mode):
    """numpy.convolve's checks, in its order: emptiness, mode, depth."""
    a = a if isinstance(a, np.ndarray) or is_cupy_array(a) else np.asarray(a)
    v = v if isinstance(v, np.ndarray) or is_cupy_array(v) else np.asarray(v)
    if a.ndim == 0:
        a = a.reshape(1)
    if v.ndim == 0:
        v = v.reshape(1)
    if a.shape[0] == 0:
        raise ValueError("a cannot be empty")
    if v.shape[0] == 0:
        raise ValueError("v cannot be empty")
    mode = mode_1d(mode)
    if a.ndim > 1 or v.ndim > 1:
        raise ValueError("object too deep for desired array")
    return a, v, mode


# -------------------------------------------------------------- 2-D (SciPy)

_MODES_2D = {"valid": "valid", "same": "same", "full": "full"}
# scipy.signal's boundary flags; 'reflect' is known to the dict but refused by C
_BOUNDARIES_2D = {"fill": "constant", "pad": "constant",
                  "wrap": "wrap", "circular": "wrap",
                  "symm": "symmetric", "symmetric": "symmetric",
                  "reflect": None}


def as_2d_pair(in1, in2, name):
    """SciPy's first check: both inputs 2-D (``name`` is the function name)."""
    in1 = in1 if isinstance(in1, np.ndarray) or is_cupy_array(in1) else np.asarray(in1)
    in2 = in2 if isinstance(in2, np.ndarray) or is_cupy_array(in2) else np.asarray(in2)
    if not in1.ndim == in2.ndim == 2:
        raise ValueError(f"{name} inputs must both be 2-D arrays")
    return in1, in2


def valid_swap_needed(mode, shape1, shape2):
    """scipy.signal._inputs_swap_needed: swap in 'valid' when in1 is smaller."""
    if mode != "valid":
        return False
    ok1 = all(a >= b for a, b in zip(shape1, shape2))
    ok2 = all(b >= a for a, b in zip(shape1, shape2))
    if not (ok1 or ok2):
        raise ValueError("For 'valid' mode, one must be at least as large as "
                         "the other in every dimension")
    return not ok1


def mode_2d(mode):
    try:
        return _MODES_2D[mode]
    except (KeyError, TypeError):
        raise ValueError(
            "Acceptable mode flags are 'valid', 'same', or 'full'.") from None


def boundary_2d(boundary):
    """SciPy boundary flag -> the plan's boundary name."""
    try:
        name = _BOUNDARIES_2D[boundary]
    except (KeyError, TypeError):
        raise ValueError(
            "Acceptable boundary flags are 'fill', 'circular' (or 'wrap'), and "
            "'symmetric' (or 'symm').") from None
    if name is None:
        raise ValueError("Incorrect boundary value.")
    return name


def _fill_as(value, dtype):
    # SciPy converts with PyArray_FromObject: arrays need a safe cast, NumPy
    # scalars are cast unsafely, Python values are converted by value.
    if isinstance(value, np.ndarray):
        if not np.can_cast(value.dtype, dtype, "safe"):
            raise TypeError(f"Cannot cast array data from {value.dtype!r} to "
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
    raise ValueError("convolve2d not available for this type.")


def same_array_kind(in1, in2):
    """Mixed NumPy/CuPy inputs: a NumPy kernel with a CuPy image is accepted."""
    if is_cupy_array(in2) and not is_cupy_array(in1):
        raise TypeError("in2 is a CuPy array but in1 is a NumPy array: pass the "
                        "image (in1) as a CuPy array to compute on the GPU, or "
                        "both as NumPy arrays")
