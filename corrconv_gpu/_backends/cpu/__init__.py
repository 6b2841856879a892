"""The CPU backend: executes a :class:`~corrconv_gpu._plan.Plan` with NumPy arrays.

The whole output window goes to one method (``direct``: the compiled kernel,
which reads the boundary extension itself through index maps; ``fft``: tiled
overlap-save with scipy.fft, which gathers its border tiles through the
extension; ``separable``: 1-D passes; ``generic``: NumPy, for object and long
double) chosen by the dispatcher.  ``separable`` and ``generic`` read the
input in place when the window lies inside it and a boundary-extended copy of
the window's input otherwise.
"""

import math

import numpy as np

from ..._boundary import extended_block
from ..._util.arrays import to_compute
from ..._util.memo import memoize
from .native import DTYPES

# the dtypes the compiled kernels handle (one list: the kernel loader's)
_COMPILED = tuple(DTYPES)


@memoize()
def _method_fn(name):
    if name == "direct":
        from .direct import correlate_window
        return correlate_window
    if name == "fft":
        from ..._methods.fft import fft_correlate_window
        return fft_correlate_window
    if name == "separable":
        from ..._methods.separable import separable_correlate_window
        return separable_correlate_window
    from .generic import correlate_window
    return correlate_window


NAME = "cpu"


def method_dtype(plan):
    """The dtype the methods run in on this backend (the plan's compute dtype)."""
    return plan.compute_dtype


def compiled(dtype):
    """Whether the compiled methods take ``dtype`` (else 'generic')."""
    return dtype in _COMPILED


def fft_capable(dtype):
    return compiled(dtype) and dtype.kind in "fc"


def factor_dtype(dtype):
    """The separable factors' dtype (exact int64 factors for integers)."""
    return dtype if compiled(dtype) else None


def execute(plan, x, w, method="direct", fast_float32=False, factors=None):
    """Run ``plan`` on NumPy arrays with ``method`` ('direct', 'separable' with
    its ``factors``, 'fft' or 'generic': the dispatcher's choice): ``x``
    (M0, M1) or a stack (B, M0, M1), ``w`` (K0, K1).

    Returns the output, (O0, O1) or (B, O0, O1), in the plan's compute dtype
    (the caller casts).
    """
    cdt = plan.compute_dtype
    batch = x.shape[:-2]
    if w.size == 0:                       # a sum over no taps
        return np.zeros(batch + tuple(plan.out_shape), dtype=cdt)
    out = np.empty(batch + tuple(plan.out_shape), dtype=cdt)  # every method writes all of it
    if out.size == 0:
        return out
    wc = to_compute(w, cdt)
    nframes = math.prod(batch)
    frames = x.reshape((nframes,) + x.shape[-2:])
    outs = out.reshape((nframes,) + out.shape[-2:])
    for b in range(frames.shape[0]):
        _execute_frame(plan, to_compute(frames[b], cdt), wc, outs[b], method, factors,
                       fast_float32)
    return out


def prepare(plan, shape, wshape):
    """The direct method's launch ``run(x, w) -> out`` for one frame of
    ``shape`` and weights of ``wshape`` (the arguments and result of
    :func:`execute`), or None where the direct kernel does not apply."""
    cdt = plan.compute_dtype
    (n0, n1), (k0, k1), (r0, r1) = plan.out_shape, wshape, plan.offset
    if cdt not in _COMPILED or 0 in (n0, n1, k0, k1) or 0 in shape:
        return None
    from .direct import fill_key, prepare_window
    launch = prepare_window(tuple(shape), r0, r1, (k0, k1), plan.flip, plan.conj,
                            n0, n1, cdt, plan.boundary, fill_key(plan.fillvalue))
    out_shape = tuple(plan.out_shape)

    def run(x, w):
        out = np.empty(out_shape, dtype=cdt)
        launch(to_compute(x, cdt), w, out)
        return out
    return run


def planes_capable(n0, k0, k1):
    """Whether the planes kernel takes windows of ``n0`` rows and ``k0 x k1``
    weights per leading tap (the sums of scipy.ndimage: float64)."""
    from .direct import planes_capable as capable
    return capable(n0, k0, k1, np.dtype(np.float64))


def execute_planes(plan, x, w, pmap, out_dtype, out=None):
    """A filter over more than two axes in one pass of the direct kernel:
    output plane ``o`` (of ``plan.out_shape``) is the sum over ``l`` of the
    plan's 2-D filter of input plane ``pmap[o, l]`` of ``x`` (P, M0, M1)
    (-1: a plane of the fill value) with ``w[l]`` (``w``: (L, K0, K1)).

    Returns (Q, O0, O1) in the compute dtype, or in float32 where
    ``out_dtype`` is float32 and the sum float64 (one rounding, as C's cast);
    None where the kernel does not apply (see ``direct.prepare_planes``).
    Written into ``out`` (and that returned) where it is such an array,
    C-contiguous and writeable.
    """
    from .direct import PLANES_INPUTS, fill_key, prepare_planes
    cdt = plan.compute_dtype
    (n0, n1), (r0, r1) = plan.out_shape, plan.offset
    if cdt not in _COMPILED or 0 in x.shape or 0 in w.shape or 0 in (n0, n1):
        return None
    odt = (np.dtype(np.float32) if cdt == np.float64 and np.dtype(out_dtype) == np.float32
           else cdt)
    xdt = x.dtype if x.dtype in PLANES_INPUTS.get(cdt, (cdt,)) else cdt
    launch = prepare_planes(tuple(x.shape[1:]), xdt, r0, r1, tuple(w.shape[1:]), plan.flip,
                            plan.conj, n0, n1, cdt, odt, plan.boundary,
                            fill_key(plan.fillvalue))
    if launch is None:
        return None
    shape = (pmap.shape[0], n0, n1)
    if not (isinstance(out, np.ndarray) and out.shape == shape and out.dtype == odt
            and out.flags.c_contiguous and out.flags.writeable):
        out = np.empty(shape, dtype=odt)
    launch(np.ascontiguousarray(x, dtype=xdt), w, np.ascontiguousarray(pmap, dtype=np.int64),
           out)
    return out


def _execute_frame(plan, xc, wc, out, name, factors, fast_float32):
    (r0, r1), (k0, k1) = plan.offset, wc.shape
    (n0, n1), (m0, m1) = plan.out_shape, xc.shape
    fn = _method_fn(name)
    if name in ("direct", "fft"):         # these read the boundary extension themselves
        kw = {"fast_float32": fast_float32} if name == "fft" else {}
        fn(xc, r0, r1, wc, plan.flip, plan.conj, out, 0, 0, n0, n1,
           boundary=plan.boundary, fill=plan.fillvalue, **kw)
        return
    if 0 <= r0 and r0 + n0 + k0 - 1 <= m0 and 0 <= r1 and r1 + n1 + k1 - 1 <= m1:
        src, sr, sc = xc, r0, r1          # the window lies inside the input
    else:
        src = extended_block(xc, (r0, r0 + n0 + k0 - 1), (r1, r1 + n1 + k1 - 1),
                             plan.boundary, plan.fillvalue)
        sr = sc = 0
    args = (src, sr, sc, wc, plan.flip, plan.conj, out, 0, 0, n0, n1)
    if name == "separable":
        fn(*args, factors=factors, direct=_method_fn("direct"))
    else:
        fn(*args)
