"""Dispatch: the one place a call crosses from the frontends into a backend.

:func:`run` selects the backend (:mod:`.backend`), chooses the method there
(:func:`choose`: the cost model of :mod:`.cost`, the weights' rank, the
NaN/Inf guard of the FFT), executes the plan and returns a new array of the
plan's dtype in the input's namespace.
"""

import math

import numpy as np

from .._util.arrays import array_namespace, is_cupy_array, to_numpy
from .._util.cast import cast_result
from .._util.memo import Memo
from . import cost
from .backend import select


def sizes(plan, x, w):
    """``(macs, nbytes)`` of a problem as :func:`.backend.select` takes them:
    its multiply-adds and the bytes a NumPy input would copy to a device and
    back."""
    n_out = float(math.prod(x.shape[:-2])) * float(math.prod(plan.out_shape))
    macs = n_out * float(math.prod(w.shape))
    return macs, (x.size + n_out) * np.dtype(plan.dtype).itemsize


def finite(x, fill=None):
    """NaN/Inf in the input or the fill keep a problem off the FFT, whatever
    the method: an FFT would spread them over a whole tile, where SciPy
    confines them to the outputs that read them. Read only when an FFT would
    run (it reads the whole input)."""
    return bool(array_namespace(x).isfinite(x).all()) and (
        fill is None or bool(np.isfinite(fill)))


def _finite(x, plan):
    return finite(x, plan.fillvalue if plan.boundary == "constant" else None)


def planes_capable(x, n0, k0, k1):
    """Whether :func:`run_planes` can take a filter of ``x`` with ``n0``
    output rows and ``k0 x k1`` weights per leading tap (the CPU's planes
    kernel; the cost model's 'direct' for more than two axes)."""
    if is_cupy_array(x):
        return False
    from .._backends import cpu
    return cpu.planes_capable(n0, k0, k1)


def choose_nd(x, kshape, method, boundary, cval):
    """'fft' or 'direct' (:func:`run_planes`, else a 2-D pass per tap of the
    leading axes) for a filter over more than two axes of ``x``; ``kshape``:
    the weights' length on each filtered axis, by axis. 'fft' as asked or
    where the cost model prefers it for 'auto'; never with NaN/Inf in the
    input or the fill."""
    if method not in ("auto", "fft"):
        return "direct"
    if method == "auto":
        ext = float(x.size)
        for a, k in kshape.items():
            ext = ext / max(x.shape[a], 1) * (x.shape[a] + k - 1)
        axes, ks = list(kshape), list(kshape.values())
        planes = planes_capable(x, x.shape[axes[-2]], ks[-2], ks[-1])
        if cost.choose_nd(x.size, math.prod(ks[:-2]), ks[-2], ks[-1], ext, True,
                          planes) != "fft":
            return "direct"
    return "fft" if finite(x, cval if boundary == "constant" else None) else "direct"


def choose(be, plan, x, w, method, fast_float32):
    """The method backend ``be`` runs a call with: ``(name, factors)``, name
    one of 'direct', 'separable' (with the weights' low-rank ``factors``),
    'fft' or, for types the compiled methods do not take, 'generic'.

    'auto' takes the cheapest by the backend's cost model; the rank of the
    weights is read only where a rank-1 split could win (rank 1 is the
    separable method's best case), and never for weights on the device:
    reading them would be a device-to-host copy and a synchronisation on
    every call (they may change in place between calls, so no answer can be
    kept), so 'auto' decides from shapes and dtypes there, between 'direct'
    and 'fft'. 'separable' asked for reads them. 'fft' and 'separable' fall
    back to 'direct' where they do not apply (integers, NaN/Inf, full rank)."""
    dtype = be.method_dtype(plan)
    if not be.compiled(dtype):
        return "generic", None
    if method == "direct":
        return "direct", None
    (n0, n1), (k0, k1) = plan.out_shape, w.shape
    fft_ok = be.fft_capable(dtype)
    pick = cost.choose_gpu if be.NAME == "cuda" else cost.choose_cpu
    factors = None
    fdt = be.factor_dtype(dtype)
    if fdt is not None and (method == "separable" or (
            method == "auto" and not is_cupy_array(w)
            and pick(n0, n1, k0, k1, dtype, rank=1, fft_ok=fft_ok,
                     fast_float32=fast_float32) == "separable")):
        from .._methods.separable import decompose
        factors = decompose(np.asarray(to_numpy(w)).astype(dtype, copy=False), dtype=fdt)
    rank = len(factors) if factors else None
    if method == "auto":
        name = pick(n0, n1, k0, k1, dtype, rank=rank, fft_ok=fft_ok,
                    fast_float32=fast_float32)
        if name == "fft" and not _finite(x, plan):
            name = pick(n0, n1, k0, k1, dtype, rank=rank, fft_ok=False,
                        fast_float32=fast_float32)
    elif method == "fft":
        name = "fft" if fft_ok and _finite(x, plan) else "direct"
    elif method == "separable":
        name = "separable" if factors else "direct"
    else:
        name = method
    return name, factors


def direct_fixed(plan, wshape, method, fast_float32):
    """Whether the CPU method of a call cannot depend on the data: 'direct',
    or 'auto' where the direct method wins even against a rank-1 split (the
    FFT and separable methods look at the values: finiteness, rank)."""
    if method == "direct":
        return True
    if method != "auto":
        return False
    cdt = plan.compute_dtype
    (n0, n1), (k0, k1) = plan.out_shape, wshape
    return cost.choose_cpu(n0, n1, k0, k1, cdt, fast_float32, rank=1,
                           fft_ok=cdt.kind in "fc") == "direct"


def wide_sums(kshape):
    """Whether a float32 result summed in float64 (a plan of result dtype
    float32 and compute dtype float64) suits weights of ``kshape``: the
    device kernel that reads and writes float32 takes them (the CPU sums in
    float64 either way)."""
    return _cuda_backend().wide_kernel(tuple(kshape))


_CUDA = []


def _cuda_backend():
    """The CUDA backend module, imported on first use (kept: an import
    statement costs a microsecond a call)."""
    if not _CUDA:
        from .._backends import cuda
        _CUDA.append(cuda)
    return _CUDA[0]


def device_direct_fixed(be, plan, w, method, fast_float32):
    """Whether a CuPy call takes the direct method whatever the data:
    'direct', or 'auto' with device weights where the shapes choose it (the
    FFT reads the input's finiteness, a NumPy kernel's rank is read)."""
    if method == "direct":
        return True
    if method != "auto" or not is_cupy_array(w) or not be.compiled(be.method_dtype(plan)):
        return False
    dtype = be.method_dtype(plan)
    (n0, n1), (k0, k1) = plan.out_shape, w.shape
    return cost.choose_gpu(n0, n1, k0, k1, dtype, rank=None, fft_ok=be.fft_capable(dtype),
                           fast_float32=fast_float32) == "direct"


# launches prepared for repeated calls, by (the caller's call signature,
# method, fast_float32) on the CPU and (..., "cuda") for CuPy inputs; False
# where the method depends on the data
_LAUNCHES = Memo(1024)


def run(plan, x, w, method, fast_float32, signature=None):
    """Execute a plan on the chosen backend; returns the result array.

    ``x`` is one frame (M0, M1) or a stack (B, M0, M1) filtered in one
    backend call; the result is (O0, O1) or (B, O0, O1), a new array.
    ``signature``: a hashable key of the call that determines ``plan`` and
    the shapes and dtypes (the frontend's); the CPU launch prepared for it is
    kept for :func:`run_prepared`.
    """
    cost.check_method(method)
    on_device = is_cupy_array(x)
    xp = array_namespace(x)
    # the sizes only decide for NumPy inputs (the copies' threshold)
    backend = select(True, 0.0) if on_device else select(False, *sizes(plan, x, w))
    if backend != "cpu":
        cuda = _cuda_backend()
        if not cuda.supports(plan):  # object, long double: the CPU path
            backend = "cpu"
    if backend == "cuda" and on_device and signature is not None:
        launch = _LAUNCHES.get((signature, method, fast_float32, "cuda"), lambda: (
            device_direct_fixed(cuda, plan, w, method, fast_float32)
            and cuda.prepare(plan)) or False)
        out = launch(x, w) if launch else None
        if out is not None:
            return out
    if backend != "cpu":
        name, factors = choose(cuda, plan, x, w, method, fast_float32)
        out = cuda.execute(plan, x, w, name, fast_float32, factors=factors,
                           emulated=backend == "emulated")
        # NumPy in, NumPy out; CuPy in, CuPy out (the emulator works on the host)
        out = to_numpy(out) if xp is np else out if type(out) is xp.ndarray else xp.asarray(out)
    else:
        from .._backends import cpu
        xh, wh = to_numpy(x), to_numpy(w)
        out = None
        if signature is not None and xh.ndim == 2 and fast_float32.__class__ is bool:
            launch = _LAUNCHES.get((signature, method, fast_float32), lambda: (
                direct_fixed(plan, wh.shape, method, fast_float32)
                and cpu.prepare(plan, xh.shape, wh.shape)) or False)
            if launch:
                out = launch(xh, wh)
        if out is None:
            name, factors = choose(cpu, plan, xh, wh, method, fast_float32)
            out = cpu.execute(plan, xh, wh, name, fast_float32, factors)
        out = xp.asarray(cast_result(out, plan.dtype))
    if plan.reverse_output:
        out = xp.ascontiguousarray(out[..., ::-1, ::-1])
    return out


def run_planes(plan, x, w, pmap, out_dtype, out=None):
    """A filter over more than two axes in one pass, where the CPU runs it:
    output plane ``o`` sums the plan's 2-D filter of input planes
    ``x[pmap[o, l]]`` (-1: the fill value) with ``w[l]``, over ``l``.

    ``x``: NumPy (P, M0, M1); ``w``: (L, K0, K1); ``pmap``: (Q, L). Returns
    (Q, O0, O1) in the plan's compute dtype or float32 (see the CPU
    backend's ``execute_planes``), or None where this does not apply (a
    device backend, types or sizes the kernel does not take): the caller
    then runs one :func:`run` per leading tap. ``out``: an array the result
    may be written into (and returned) where it has the result's shape,
    dtype and layout."""
    if is_cupy_array(x):
        return None
    macs = float(pmap.shape[0]) * math.prod(plan.out_shape) * w.size
    nbytes = (x.size + pmap.shape[0] * math.prod(plan.out_shape)) * plan.compute_dtype.itemsize
    if select(False, macs, nbytes) != "cpu":
        return None
    from .._backends import cpu
    return cpu.execute_planes(plan, x, w, pmap, out_dtype, out)


def run_prepared(signature, sizes_, x, w, method, fast_float32):
    """A repeated call's short path: for NumPy inputs the CPU launch an
    earlier :func:`run` prepared for ``(signature, method, fast_float32)``,
    run when the CPU is still the backend :func:`.backend.select` picks for
    the problem's ``sizes_``; for CuPy inputs the prepared device launch
    (:func:`corrconv_gpu._backends.cuda.prepare`) while 'cuda' is the
    backend; None where there is none (the caller runs :func:`run`)."""
    if method.__class__ is str and fast_float32.__class__ is bool:
        if is_cupy_array(x):   # the device launch prepared for the call
            launch = _LAUNCHES.peek((signature, method, fast_float32, "cuda"))
            if launch and select(True, 0.0) == "cuda":
                return launch(x, w)
            return None
        launch = _LAUNCHES.peek((signature, method, fast_float32))   # a valid method only
        if launch and select(False, *sizes_) == "cpu":
            return launch(x, w)
    return None
