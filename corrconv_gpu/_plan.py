"""One plan for every frontend: output window and offsets, boundary, flip,
conj and dtypes. Backends execute a :class:`Plan`; they never see modes.

Every call reduces to::

    out[i, j] = sum_{p < K0, q < K1} X[i + r0 + p, j + r1 + q] * W[p, q]

for ``0 <= i < O0, 0 <= j < O1``, where ``X`` is the input extended by the
boundary rule, ``W = w`` for correlation and ``W[p, q] = w[K0-1-p, K1-1-q]``
for convolution (``flip``: applied to the weights, never to the image),
conjugated when ``conj``. ``full``, ``same`` and ``valid`` are only
different ``(O, r)``.
"""

from dataclasses import dataclass

import numpy as np

from ._util.dtypes import compute_dtype

@dataclass(frozen=True)
class Plan:
    out_shape: tuple      # (O0, O1)
    offset: tuple         # (r0, r1)
    flip: bool
    conj: bool
    boundary: str         # one of corrconv_gpu._boundary.MODES
    fillvalue: object     # 0-d array of compute_dtype (used for 'constant')
    dtype: np.dtype       # result dtype
    compute_dtype: np.dtype
    reverse_output: bool = False   # SciPy's correlate2d 'valid' swap


# ------------------------------------------------------------------ dtypes

def result_dtype(a, b):
    """NumPy's common type of two arrays (the result dtype of every frontend),
    as ``PyArray_ObjectType`` finds it: object where they have none."""
    try:
        return np.result_type(a.dtype, b.dtype)
    except TypeError:
        return np.dtype(object)


# ----------------------------------------------------------------- windows

def window_full(m, k):
    """Full: every lag; O = M + K - 1, starting K - 1 before the input."""
    return m + k - 1, -(k - 1)


def window_valid(m, k):
    return m - k + 1, 0


def window_from_full(start, length, k):
    """A window of the full output given its start index in 'full'."""
    return length, start - (k - 1)


def plan_2d(shape1, shape2, mode, flip, boundary, fill, dtype, swapped):
    """The plan of scipy.signal.correlate2d/convolve2d (after any swap)."""
    cdt = compute_dtype(dtype)
    out, off = [], []
    for m, k in zip(shape1, shape2):
        if mode == "full":
            o, r = window_full(m, k)
        elif mode == "valid":
            o, r = window_valid(m, k)
        else:  # 'same': correlate2d full[K//2:], convolve2d full[(K-1)//2:]
            o, r = window_from_full((k - 1) // 2 if flip else k // 2, m, k)
        out.append(o)
        off.append(r)
    if any(o < 0 for o in out):
        raise ValueError("negative dimensions are not allowed")
    conj = (not flip) and cdt.kind == "c"
    return Plan(tuple(out), tuple(off), flip, conj, boundary,
                np.asarray(fill).astype(cdt) if fill is not None else None,
                np.dtype(dtype), cdt, reverse_output=swapped and not flip)


def signal_nd_window(m, k, mode):
    """``(O, r)`` of scipy.signal.correlate/convolve along one axis of ``m``
    with ``k`` taps: 'same' is the centre of 'full' (``full[(K-1)//2:]``, for
    both: SciPy's correlate convolves with the reversed kernel)."""
    if mode == "full":
        return window_full(m, k)
    if mode == "valid":
        return window_valid(m, k)
    return window_from_full((k - 1) // 2, m, k)


def plan_signal_nd(shape1, shape2, mode, flip, dtype):
    """The plan of the last two axes of scipy.signal.correlate/convolve over
    N-D arrays (zero padding: 'constant' with 0)."""
    cdt = compute_dtype(dtype)
    out, off = zip(*(signal_nd_window(m, k, mode) for m, k in zip(shape1, shape2)))
    return Plan(tuple(out), tuple(off), flip, (not flip) and cdt.kind == "c", "constant",
                np.zeros((), cdt), np.dtype(dtype), cdt)


def plan_1d(n, k, mode, flip, dtype):
    """The plan of numpy.correlate (flip=False) / numpy.convolve (flip=True).

    ``a`` is always the input and ``v`` the weights: NumPy's swap when
    len(v) > len(a) changes nothing but the 'same' start index, which for
    correlate moves from (min-1)//2 to min//2.
    """
    cdt = compute_dtype(dtype)
    lo, hi = min(n, k), max(n, k)
    if mode == "full":
        o, r = window_full(n, k)
    elif mode == "valid":
        o, r = window_from_full(k - 1 if k <= n else n - 1, hi - lo + 1, k)
    else:
        start = lo // 2 if (not flip and k > n) else (lo - 1) // 2
        o, r = window_from_full(start, hi, k)
    conj = (not flip) and cdt.kind == "c"
    return Plan((1, o), (0, r), flip, conj, "constant", np.zeros((), cdt),
                np.dtype(dtype), cdt)


# ------------------------------------------------------- scipy.ndimage

def plan_2d_valid_swapped(frame_shape, kernel_shape, flip, dtype):
    """SciPy's 'valid' swap (kernel larger than every frame) as one plan over a stack.

    ``correlate2d(frame, k, 'valid')`` with ``k`` at least as large as
    ``frame`` is ``reverse(correlate2d(k, frame, 'valid'))``; written out,
    ``out[i, j] = sum_{p, q} conj(frame)[i + p - O0 + 1, j + q - O1 + 1] * k[p, q]``
    with ``O = K - M + 1``: the frames stay the input ``X`` (zero outside,
    which the sum never reads) and ``k`` is the weights, unflipped for
    correlation (no conj: the caller passes ``conj(frame)`` for complex
    input) and flipped for convolution, which the swap does not change.
    """
    cdt = compute_dtype(dtype)
    out = tuple(k - m + 1 for m, k in zip(frame_shape, kernel_shape))
    off = tuple(1 - o for o in out)
    return Plan(out, off, flip, False, "constant", np.zeros((), cdt),
                np.dtype(dtype), cdt)


def ndimage_dtypes(input_dtype, weights_dtype):
    """scipy.ndimage's dtype rule for correlate/convolve(1d).

    Returns ``(complex_output, default_output_dtype, compute_dtype)``: the sum
    is computed in float64 (complex128 when the input or the weights are
    complex: SciPy combines float64 real components), the default output has
    the input's dtype (``promote_types(input, complex64)`` when complex) and
    the float64 result is cast to the output with C's conversion
    (:func:`corrconv_gpu._cast.cast_c`).
    """
    complex_output = np.dtype(input_dtype).kind == "c" or np.dtype(weights_dtype).kind == "c"
    if complex_output:
        return True, np.promote_types(input_dtype, np.complex64), np.dtype(np.complex128)
    # by name, as SciPy's _get_output: native order; a str dtype's name ('str32')
    # is no dtype and raises SciPy's TypeError when the output is made
    return False, np.dtype(input_dtype).name, np.dtype(np.float64)


def plan_ndimage(shape, kshape, origins, flip, boundary, cval, cdtype, dtype=None):
    """The plan of scipy.ndimage.correlate/convolve over two axes.

    ``origins`` are SciPy's correlation origins (for convolution already
    turned into those of the reversed weights: ``-origin``, minus 1 for an
    even length), so that for both ``out[i] = sum_p X[i + p - K//2 - origin] * W[p]``
    with ``W`` the weights read reversed when ``flip``. The output has the
    input's shape. Correlation conjugates complex weights (as SciPy).
    ``dtype``: the result dtype where it is not ``cdtype`` -- float32 for a
    float64 sum only where the caller guarantees that the input, the
    weights and ``cval`` are exact in float32 (the device then reads and
    writes float32 and sums in float64).
    """
    cdt = np.dtype(cdtype)
    off = tuple(-(k // 2) - o for k, o in zip(kshape, origins))
    conj = (not flip) and cdt.kind == "c"
    fill = np.asarray(cval).astype(cdt) if boundary == "constant" else None
    return Plan(tuple(shape), off, flip, conj, boundary, fill,
                cdt if dtype is None else np.dtype(dtype), cdt)
