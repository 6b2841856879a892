"""The CPU backend: executes a :class:`~corrconv_gpu._plan.Plan` with NumPy arrays.

The output is split into an interior, whose windows lie inside the input and
read it in place, and up to four border strips, each computed from a small
boundary-extended copy of the rows/columns it reads. Each piece goes to a
method (``direct``: Numba; ``fft``: tiled overlap-save with scipy.fft;
``generic``: NumPy, for object and long double) chosen by :mod:`.._cost`.
"""

import numpy as np

from .._boundary import extended_block
from .._cost import choose_cpu
from .._plan import to_compute

_COMPILED = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.complex64),
             np.dtype(np.complex128), np.dtype(np.int64))


def _method_fn(name):
    if name == "direct":
        from ._direct import correlate_window
        return correlate_window
    if name == "fft":
        from .._methods.fft import fft_correlate_window
        return fft_correlate_window
    if name == "separable":
        from .._methods.separable import separable_correlate_window
        return separable_correlate_window
    from ._generic import correlate_window
    return correlate_window


def _pieces(out_shape, offset, x_shape, k_shape):
    """Interior and border rectangles ``(i0, i1, j0, j1, interior)`` of the output."""
    (o0, o1), (r0, r1) = out_shape, offset
    lo, hi = [], []
    for o, r, m, k in zip(out_shape, offset, x_shape, k_shape):
        a = min(max(0, -r), o)
        b = max(min(o, m - k + 1 - r), a)
        lo.append(a)
        hi.append(b)
    (i0, j0), (i1, j1) = lo, hi
    if i0 == i1 or j0 == j1:
        return [(0, o0, 0, o1, False)]
    pieces = [(i0, i1, j0, j1, True),
              (0, i0, 0, o1, False), (i1, o0, 0, o1, False),
              (i0, i1, 0, j0, False), (i0, i1, j1, o1, False)]
    return [p for p in pieces if p[0] < p[1] and p[2] < p[3]]


def execute(plan, x, w, method="auto", fast_float32=False):
    """Run ``plan`` on NumPy arrays: ``x`` (M0, M1) or a stack (B, M0, M1), ``w`` (K0, K1).

    Returns the output, (O0, O1) or (B, O0, O1), in the plan's compute dtype
    (the caller casts).
    """
    cdt = plan.compute_dtype
    batch = x.shape[:-2]
    out = np.zeros(batch + tuple(plan.out_shape), dtype=cdt)
    if out.size == 0 or w.size == 0:      # no output, or a sum over no taps
        return out
    wc = to_compute(w, cdt)
    nframes = int(np.prod(batch, dtype=np.int64))
    frames = x.reshape((nframes,) + x.shape[-2:])
    outs = out.reshape((nframes,) + out.shape[-2:])
    for b in range(frames.shape[0]):
        _execute_frame(plan, to_compute(frames[b], cdt), wc, outs[b], method,
                       fast_float32)
    return out


def _factors(wc, method):
    """The low-rank factors of the weights (memoized), when the method may use them."""
    if method not in ("auto", "separable") or wc.dtype not in _COMPILED:
        return None
    from .._methods.separable import decompose
    return decompose(wc)


def _execute_frame(plan, xc, wc, out, method, fast_float32):
    cdt = plan.compute_dtype
    compiled = cdt in _COMPILED
    fft_capable = compiled and cdt.kind in "fc"
    finite = []

    def fft_allowed():
        # NaN/Inf in the input or fill: direct, whatever the method (an FFT would
        # spread them over a whole tile; SciPy confines them to the outputs that
        # read them). Checked only when an FFT is about to be used.
        if not finite:
            finite.append(bool(np.isfinite(xc).all()) and (
                plan.boundary != "constant" or bool(np.isfinite(plan.fillvalue))))
        return finite[0]

    factors = _factors(wc, method)
    rank = len(factors) if factors else None
    (r0, r1), (k0, k1) = plan.offset, wc.shape
    for i0, i1, j0, j1, interior in _pieces(plan.out_shape, plan.offset, xc.shape, wc.shape):
        n0, n1 = i1 - i0, j1 - j0
        if not compiled:
            name = "generic"
        elif method == "auto":
            name = choose_cpu(n0, n1, k0, k1, cdt, fast_float32, rank=rank,
                              fft_ok=fft_capable)
            if name == "fft" and not fft_allowed():
                name = choose_cpu(n0, n1, k0, k1, cdt, fast_float32, rank=rank,
                                  fft_ok=False)
        elif method == "fft":
            name = "fft" if fft_capable and fft_allowed() else "direct"
        elif method == "separable":
            name = "separable" if factors else "direct"
        else:
            name = method
        if interior:
            src, sr, sc = xc, i0 + r0, j0 + r1
        else:
            src = extended_block(xc, (i0 + r0, i1 + r0 + k0 - 1),
                                 (j0 + r1, j1 + r1 + k1 - 1), plan.boundary,
                                 plan.fillvalue)
            sr = sc = 0
        fn = _method_fn(name)
        args = (src, sr, sc, wc, plan.flip, plan.conj, out, i0, j0, n0, n1)
        if name == "fft":
            fn(*args, fast_float32=fast_float32)
        elif name == "separable":
            fn(*args, factors=factors)
        else:
            fn(*args)
