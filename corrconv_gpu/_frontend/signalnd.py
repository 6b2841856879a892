"""scipy.signal.correlate / convolve / fftconvolve / choose_conv_method: N-D,
modes full/same/valid, SciPy's checks, swaps, conjugation and dtypes.

'direct' sums exactly in the result type (integers wrap in it), as stacks of
the 2-D kernels: one backend call per tap of the leading axes over a view of
the input zero-padded along them. 'fft' is whole-array transforms
(:func:`corrconv_gpu._methods.fft.fftn_correlate_valid`). 'auto' takes the
cheaper by the cost model (integers: always 'direct', which is exact).
"""

import itertools
import math
import operator
import warnings

import numpy as np

from .._dispatch import cost, finite, planes_capable, run, run_planes
from .._methods.fft import fftn_correlate_valid
from .._plan import plan_2d, plan_signal_nd, result_dtype, signal_nd_window
from .._util.arrays import array_namespace
from .._util.cast import cast_result
from . import validate
from .numpy1d import convolve as np_convolve, correlate as np_correlate
from .planes import plane_map, tap_weights

_MODES = {"valid": "valid", "same": "same", "full": "full"}


def _arrays(in1, in2):
    xp = array_namespace(in1, in2)
    return xp, xp.asarray(in1), xp.asarray(in2)


def _mode(mode):
    try:
        return _MODES[mode]
    except KeyError:
        raise ValueError("Acceptable mode flags are 'valid', 'same', or 'full'.") from None


def _method(method):
    if method not in ("auto", "direct", "fft"):
        raise ValueError("Acceptable method flags are 'auto', 'direct', or 'fft'.")
    return method


def _out_shape(mode, s1, s2):
    if mode == "full":
        return tuple(m + k - 1 for m, k in zip(s1, s2))
    if mode == "same":
        return tuple(s1)
    return tuple(m - k + 1 for m, k in zip(s1, s2))


def _direct(xp, in1, in2, mode, flip):
    """The N-D correlation (``flip``: convolution) of ``in1`` with ``in2``
    (conjugated for correlation), exactly in the result type: zero padding
    along every axis for 'full'/'same', one 2-D backend call per tap of the
    leading axes (the 2-D kernel reads ``in2``'s last two axes flipped
    itself), accumulated in the result type (integers wrap as in SciPy)."""
    dtype = result_dtype(in1, in2)
    if dtype.kind not in "iufc":      # float16: computed (an extension, as in 2-D)
        raise ValueError("Unsupported type")
    shape = _out_shape(mode, in1.shape, in2.shape)
    if any(n <= 0 for n in shape) and mode != "same":
        raise ValueError("negative dimensions are not allowed")
    if in1.size == 0 or in2.size == 0 or 0 in shape:
        return xp.zeros(shape, dtype)
    x, w = in1, in2
    if x.ndim == 1:
        x, w = x[None], w[None]
    nd = x.ndim
    out = _planes(x, w, mode, flip, dtype)
    if out is not None:
        return out
    if mode != "valid":      # zero padding: the 'full' input, 'same' reads its centre
        # 'full': K - 1 zeros on both sides; 'same' is full[(K-1)//2 :][: M]
        pad = [(k - 1, k - 1) if mode == "full" else (k - 1 - (k - 1) // 2, (k - 1) // 2)
               for k in w.shape]
        xz = xp.zeros(tuple(m + a + b for m, (a, b) in zip(x.shape, pad)), dtype)
        xz[tuple(slice(a, a + m) for (a, _), m in zip(pad, x.shape))] = x
        x = xz
    out_shape = tuple(m - kk + 1 for m, kk in zip(x.shape, w.shape))
    lead = range(nd - 2)
    frame = x.shape[-2:]
    plan = plan_2d(frame, w.shape[-2:], "valid", flip, "constant", 0, dtype, False)
    acc = None
    for taps in itertools.product(*(range(w.shape[a]) for a in lead)):
        xs = tuple(slice(p, p + out_shape[a]) for a, p in zip(lead, taps))
        wk = tuple((w.shape[a] - 1 - p) if flip else p for a, p in zip(lead, taps))
        frames = x[xs]
        stack = frames.reshape((-1,) + frame)
        part = run(plan, stack, w[wk], "direct", False).reshape(out_shape)
        if acc is None:
            acc = part
        else:
            acc += part
    return acc if in1.ndim > 1 else acc[0]


def _planes(x, w, mode, flip, dtype):
    """More than two axes in one pass of the CPU's planes kernel
    (:func:`corrconv_gpu._dispatch.run_planes`), the sum in the result's
    accumulator type; None where that does not run."""
    if x.ndim < 3 or not isinstance(x, np.ndarray):
        return None
    nlead = x.ndim - 2
    wins = [signal_nd_window(m, k, mode) for m, k in zip(x.shape, w.shape)]
    frame = x.shape[-2:]
    pmap = plane_map(x.shape[:nlead], w.shape[:nlead], [r for _, r in wins[:nlead]],
                     [o for o, _ in wins[:nlead]], "constant", math.prod(frame))
    plan = plan_signal_nd(frame, w.shape[-2:], mode, flip, dtype)
    out = run_planes(plan, x.reshape((-1,) + frame), tap_weights(np.asarray(w), nlead, flip),
                     pmap, dtype)
    if out is None:
        return None
    return cast_result(out, dtype).reshape(tuple(o for o, _ in wins))


def _fft_dtype(dtype):
    """The dtype scipy.fft computes an input's transform in, real part."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return np.dtype(np.complex64) if dtype.itemsize <= 8 else np.dtype(np.complex128)
    if dtype.kind == "f" and dtype.itemsize <= 4:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def fftconvolve(in1, in2, mode="full", axes=None):
    xp, in1, in2 = _arrays(in1, in2)
    if in1.ndim == in2.ndim == 0:
        return in1 * in2
    if in1.ndim != in2.ndim:
        raise ValueError("in1 and in2 should have the same dimensionality")
    if in1.size == 0 or in2.size == 0:
        return xp.asarray([])
    if axes is None:
        axes = list(range(in1.ndim))
    else:
        axes = [operator.index(a) for a in np.atleast_1d(axes)]
        if not axes:
            raise ValueError("when provided, axes cannot be empty")
        axes = [a + in1.ndim if a < 0 else a for a in axes]
        if any(a >= in1.ndim or a < 0 for a in axes):
            raise ValueError("axes exceeds dimensionality of input")
        if len(set(axes)) != len(axes):
            raise ValueError("all axes must be unique")
    s1, s2 = in1.shape, in2.shape
    axes = [a for a in axes if s1[a] != 1 and s2[a] != 1]
    if not all(s1[a] == s2[a] or s1[a] == 1 or s2[a] == 1
               for a in range(in1.ndim) if a not in axes):
        raise ValueError(f"incompatible shapes for in1 and in2: {s1} and {s2}")
    if mode in _MODES and validate.valid_swap_needed(mode, s1, s2, axes):
        in1, in2 = in2, in1
        s1, s2 = s2, s1
    if axes:
        # the full convolution: the 'valid' correlation of in1 zero-padded by
        # K - 1 on both sides of each axis with in2 read reversed (flip)
        out_dtype = np.promote_types(_fft_dtype(in1.dtype), _fft_dtype(in2.dtype))
        pad = [(s2[a] - 1, s2[a] - 1) if a in axes else (0, 0) for a in range(in1.ndim)]
        cdt = np.dtype(np.complex128) if out_dtype.kind == "c" else np.dtype(np.float64)
        xz = xp.zeros(tuple(m + a + b for m, (a, b) in zip(s1, pad)), cdt)
        xz[tuple(slice(a, a + m) for (a, _), m in zip(pad, s1))] = in1
        full = fftn_correlate_valid(xz, xp.asarray(in2, dtype=cdt), axes, True, False, xp=xp)
        full = full.astype(out_dtype, copy=False)
    else:                   # every axis broadcasts: a product, as SciPy
        full = in1 * in2
    if mode not in _MODES:    # SciPy's check, where it applies the mode
        raise ValueError("acceptable mode flags are 'valid', 'same', or 'full'")
    if mode == "full":
        return full
    if mode == "same":        # SciPy centres every axis on in1's length
        want = list(s1)
    else:
        want = [s1[a] - s2[a] + 1 if a in axes else full.shape[a] for a in range(full.ndim)]
    start = [(n - m) // 2 for n, m in zip(full.shape, want)]
    return full[tuple(slice(st, st + m) for st, m in zip(start, want))]


def choose_conv_method(in1, in2, mode="full", measure=False):
    """'direct' or 'fft': our cost model ('direct' for integers, which it
    keeps exact, and wherever it is the cheaper); ``measure=True`` times both
    and returns ``(method, {'direct': s, 'fft': s})`` as SciPy does."""
    xp, volume, kernel = _arrays(in1, in2)
    if measure:
        import time
        times = {}
        for method in ("fft", "direct"):
            t = time.perf_counter()
            convolve(volume, kernel, mode=mode, method=method)
            times[method] = time.perf_counter() - t
        chosen = "fft" if times["fft"] < times["direct"] else "direct"
        return chosen, times
    dtype = result_dtype(volume, kernel)
    if dtype.kind not in "fc" or volume.ndim == 0 or volume.size == 0 or kernel.size == 0:
        return "direct"
    s1, s2 = volume.shape, kernel.shape
    n_out = math.prod(_out_shape(_mode(mode), s1, s2)) if mode != "valid" else max(
        math.prod(abs(a - b) + 1 for a, b in zip(s1, s2)), 1)
    ks = list(s2) if volume.ndim >= 2 else [1] + list(s2)
    fft_elems = math.prod(a + b - 1 for a, b in zip(s1, s2))
    n0 = signal_nd_window(s1[-2], s2[-2], _mode(mode))[0] if volume.ndim >= 3 else 0
    planes = volume.ndim >= 3 and planes_capable(volume, n0, ks[-2], ks[-1])
    pick = cost.choose_nd(max(n_out, 1), math.prod(ks[:-2]), ks[-2], ks[-1], fft_elems, True,
                          planes)
    if pick == "fft" and not (finite(volume) and finite(kernel)):
        return "direct"
    return pick


def correlate(in1, in2, mode="full", method="auto"):
    xp, in1, in2 = _arrays(in1, in2)
    if in1.ndim == in2.ndim == 0:
        return in1 * (xp.conj(in2) if in2.dtype.kind == "c" else in2)
    if in1.ndim != in2.ndim:
        raise ValueError("in1 and in2 should have the same dimensionality")
    mode = _mode(mode)
    if method in ("fft", "auto"):
        return _convolve(xp, in1, in2, mode, method, reverse_conj=True)
    _method(method)
    if in1.ndim == 1 and (mode != "same" or in1.size >= in2.size):
        return np_correlate(in1, in2, mode)         # NumPy's, as SciPy
    swapped = ((mode == "full" and in2.size > in1.size)
               or validate.valid_swap_needed(mode, in1.shape, in2.shape))
    if swapped:
        in1, in2 = in2, in1
    validate.conjugable(in2)
    z = _direct(xp, in1, in2, mode, False)
    return _reverse_conj(xp, z) if swapped else z


def _reverse_conj(xp, a):
    """SciPy's ``_reverse_and_conj``: a reversed view, conjugated if complex."""
    a = a[(slice(None, None, -1),) * a.ndim]
    return xp.conj(a) if a.dtype.kind == "c" else a


def _convolve(xp, volume, kernel, mode, method, reverse_conj=False):
    """convolve, or (``reverse_conj``) correlate through it as SciPy does:
    ``convolve(in1, reverse(conj(in2)))``."""
    if validate.valid_swap_needed(mode, volume.shape, kernel.shape):
        volume, kernel = kernel, volume
        if reverse_conj:   # the reversed-conjugated in2 now is the volume
            volume, reverse_conj = _reverse_conj(xp, volume), False
    if method == "auto":
        method = choose_conv_method(volume, kernel, mode=mode)
    dtype = result_dtype(volume, kernel)
    if method == "fft":
        k = _reverse_conj(xp, kernel) if reverse_conj else kernel
        out = fftconvolve(volume, k, mode=mode)
        if dtype.kind in "iu":
            out = xp.round(out)
        first = out.reshape(-1)[:1]
        if first.size and not bool(xp.isfinite(first).all()):
            warnings.warn("Use of fft convolution on input with NAN or inf results in NAN "
                          "or inf output. Consider using method='direct' instead.",
                          RuntimeWarning, stacklevel=3)
        return out.astype(dtype, copy=False)
    _method(method)
    if reverse_conj:
        return correlate(volume, kernel, mode, "direct")
    if volume.ndim == 1 and (mode != "same" or volume.size >= kernel.size):
        return np_convolve(volume, kernel, mode)
    return _direct(xp, volume, kernel, mode, True)


def convolve(in1, in2, mode="full", method="auto"):
    xp, volume, kernel = _arrays(in1, in2)
    if volume.ndim == kernel.ndim == 0:
        return volume * kernel
    if volume.ndim != kernel.ndim:
        raise ValueError("volume and kernel should have the same dimensionality")
    if mode not in _MODES and method in ("auto", "fft"):
        raise ValueError("Acceptable mode flags are 'valid', 'same', or 'full', "
                         f"not mode={mode}")
    return _convolve(xp, volume, kernel, _mode(mode), method)


__all__ = ["correlate", "convolve", "fftconvolve", "choose_conv_method"]
