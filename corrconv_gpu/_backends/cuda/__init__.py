"""The CUDA backend: executes a plan with the kernels of ``kernels/*.cu``.

Two executors share every line of launch code (:func:`.launch.launch_corr2d`):
``cuda`` (CuPy arrays, ``cupy.RawModule``; a NumPy input is copied to the
device and the result back) and ``emulated`` (NumPy arrays, the CPU
emulator's ``EmuModule`` compiling the same ``.cu`` source: tests and CI).
Methods: ``direct`` is one launch, the boundary applied on the device;
``separable`` two launches of the same kernel per rank-1 term; ``fft``
whole-frame real-to-complex transforms with ``cupy.fft`` (float16 in
float32), tiles for frames too large for them. A NumPy input larger than the
device memory budget runs the direct kernel in pipelined row bands
(:mod:`.outofcore`).
"""

import dataclasses

import numpy as np

from ..._boundary import extended_block
from .device import DEVICE_DTYPES, device as _device, supports
from .kernels import small_applies
from .launch import fill_scalar, launch_corr2d

READY = True


def _window_direct(dev, max_grid=None):
    """The direct kernel as a window method (the contract of the CPU methods)."""
    def run(x, xr0, xc0, w, flip, conj, out, or0, oc0, n0, n1):
        if n0 <= 0 or n1 <= 0:
            return
        launch_corr2d(dev.module(x.dtype), x, w, out[or0:or0 + n0, oc0:oc0 + n1],
                      xr0, xc0, flip, conj, "constant", 0, max_grid=max_grid,
                      small=dev.small_module, large=dev.large_module)
    return run


NAME = "cuda"


def method_dtype(plan):
    """The dtype the methods run in on this backend: the result's, or the
    compute dtype of a :func:`wide` plan."""
    return plan.compute_dtype if wide(plan) else plan.dtype


def wide(plan):
    """Whether ``plan`` is a float32 result summed in float64 (scipy.ndimage
    on float32 data whose weights and fill value are exact in float32): the
    direct method then reads and writes float32 and sums in float64 in one
    launch; the other methods and the banded pipeline run in float64 and
    cast the result."""
    return plan.dtype == _F32 and plan.compute_dtype == _F64


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def wide_kernel(wshape):
    """Whether a :func:`wide` plan's direct method takes the float32 kernel
    that sums in float64: for the weights the float64 ``corr2d_small`` would
    take, where the float64 path is bound by its memory traffic (a float64
    copy of the input, a float64 result and its cast: five times the bytes).
    Larger weights are bound by the float64 multiply-adds, which
    ``corr2d_large`` issues at a higher share of its tap loop than the
    generic kernel: they run in float64."""
    return len(wshape) == 2 and small_applies(_F64, *wshape)


def _in_compute_dtype(plan, run):
    """A :func:`wide` plan's call run in float64 (``run(float64 plan)``), its
    result cast to float32."""
    return run(dataclasses.replace(plan, dtype=plan.compute_dtype)).astype(plan.dtype)


def compiled(dtype):
    return dtype in DEVICE_DTYPES


def fft_capable(dtype):
    # float16 is transformed in float32 (_methods.fft.frame_work_dtype)
    return dtype.kind in "fc"


def factor_dtype(dtype):
    """The separable factors' dtype: the result dtype for float32/64 and
    complex, int64 for integers (factors must be exact: the passes then wrap
    in the ring of the result type, like the direct sum). float16 keeps the
    direct kernel (its intermediate pass would round to half)."""
    if dtype.kind in "fc" and dtype != np.float16:
        return dtype
    if dtype.kind in "iu":
        return np.dtype(np.int64)
    return None


def execute(plan, x, w, method="direct", fast_float32=False, *, factors=None,
            emulated=False, max_grid=None):
    """Run ``plan`` with ``method`` ('direct', 'separable' with its
    ``factors``, or 'fft': the dispatcher's choice); returns an array of
    ``plan.dtype`` in the input's namespace.

    ``x``: (M0, M1) or a stack (B, M0, M1); ``w``: (K0, K1) (a NumPy kernel
    with a CuPy image is accepted). ``max_grid`` caps the launch grid (tests:
    blocks must loop).
    """
    dev = _device(emulated)
    xp = dev.xp
    dtype = plan.dtype
    if not supports(plan):
        raise TypeError(f"dtype {dtype} has no CUDA kernel (bool and object run "
                        "on the CPU backend)")
    is_wide = wide(plan)
    if is_wide and (method != "direct" or not wide_kernel(w.shape)):
        return _in_compute_dtype(plan, lambda p: execute(
            p, x, w, method, fast_float32, factors=factors, emulated=emulated,
            max_grid=max_grid))
    if emulated or type(x) is not xp.ndarray:
        # a NumPy input larger than the device memory budget (or the free
        # memory): the direct kernel over pipelined row bands
        from . import outofcore
        budget = outofcore.banding_budget(plan, x, w, method, emulated)
        if budget is not None:
            # (a wide plan's float32 working set is over the budget: its float64
            # one is too, so it is banded in float64 with the same budget)
            band = lambda p: outofcore.execute_banded(  # noqa: E731
                p, x, w, emulated=emulated, budget=budget, max_grid=max_grid)
            return _in_compute_dtype(plan, band) if is_wide else band(plan)
    xd = x if type(x) is xp.ndarray else xp.asarray(x)
    if xd.dtype != dtype or xd.strides[-1] != xd.itemsize or not xd.dtype.isnative:
        xd = xp.ascontiguousarray(xd, dtype=dtype)
    wd = w if (type(w) is xp.ndarray and w.dtype == dtype and w.flags.c_contiguous) \
        else xp.ascontiguousarray(xp.asarray(w), dtype=dtype)
    batch = xd.shape[:-2]
    out = xp.empty(batch + tuple(plan.out_shape), dtype=dtype)
    if out.size == 0:
        return out
    if wd.size == 0:
        out[...] = 0
        return out
    k0, k1 = wd.shape
    o0, o1 = plan.out_shape
    fill = plan.fillvalue if plan.boundary == "constant" else 0

    if method == "direct":
        launch_corr2d(dev.module(dtype, is_wide),
                      xd.reshape((-1,) + xd.shape[-2:]) if batch else xd, wd,
                      out.reshape((-1,) + out.shape[-2:]) if batch else out,
                      plan.offset[0], plan.offset[1],
                      plan.flip, plan.conj, plan.boundary, fill, max_grid=max_grid,
                      small=dev.small_module, large=dev.large_module, wide=is_wide)
        return out
    frames = xd.reshape((-1,) + xd.shape[-2:])
    outs = out.reshape((-1,) + out.shape[-2:])
    # separable and fft read a boundary-extended copy of each frame; the FFT
    # transforms whole frames where they fit (one kernel spectrum per call)
    (r0, r1) = plan.offset
    ext_shape = (o0 + k0 - 1, o1 + k1 - 1)
    spectrum, fft = None, dev.fft()
    if method == "fft":
        from ..._methods import fft as _fft
        if _fft.whole_frame_fits(ext_shape):
            spectrum = _fft.frame_spectrum(wd, ext_shape, plan.flip, plan.conj,
                                           _fft.frame_work_dtype(dtype, fast_float32),
                                           xp=xp, fft=fft)
    for b in range(frames.shape[0]):
        ext = extended_block(frames[b], (r0, r0 + o0 + k0 - 1), (r1, r1 + o1 + k1 - 1),
                             plan.boundary, fill, xp=xp)
        if spectrum is not None:
            _fft.fft_correlate_frame(ext, spectrum, outs[b], fft=fft)
        elif method == "separable":
            from ..._methods.separable import separable_correlate_window
            separable_correlate_window(ext, 0, 0, wd, plan.flip, plan.conj, outs[b],
                                       0, 0, o0, o1, factors=factors,
                                       direct=_window_direct(dev, max_grid))
        else:
            from ..._methods.fft import fft_correlate_window
            fft_correlate_window(ext, 0, 0, wd, plan.flip, plan.conj, outs[b], 0, 0,
                                 o0, o1, xp=xp, fft=fft, fast_float32=fast_float32)
    return out


def prepare(plan):
    """The direct launch of a repeated CuPy call of ``plan`` (the
    dispatcher keeps it per call signature): ``launch(x, w)`` returns the
    result, or None where the arrays are not the ones it was prepared for
    (another device, dtype or weights layout): the caller then runs
    :func:`execute`. What it launches is what :func:`execute` launches for
    the same arrays; it reads nothing from the device. None where no such
    launch applies (empty problems, SciPy's reversed output)."""
    if not supports(plan) or plan.reverse_output or 0 in plan.out_shape:
        return None
    import cupy
    dev = _device(False)
    ndarray, empty, get_device = cupy.ndarray, cupy.empty, cupy.cuda.runtime.getDevice
    contiguous = cupy.ascontiguousarray
    dtype, out_shape, device_id = plan.dtype, tuple(plan.out_shape), dev.device_id
    is_wide = wide(plan)
    module, small, large = dev.module(dtype, is_wide), dev.small_module, dev.large_module
    r0, r1 = plan.offset
    flip, conj, boundary = plan.flip, plan.conj, plan.boundary
    fill = fill_scalar(dtype, plan.fillvalue if boundary == "constant" else 0)
    unit = dtype.itemsize

    def launch(x, w):
        if (type(x) is not ndarray or type(w) is not ndarray or w.dtype != dtype
                or w.size == 0 or w.strides != (w.shape[1] * unit, unit)
                or get_device() != device_id or (is_wide and not wide_kernel(w.shape))):
            return None
        if x.dtype != dtype or x.strides[-1] != unit:     # as execute converts it
            x = contiguous(x, dtype=dtype)
        elif x.ndim == 3:                                  # or reshapes a stack
            x = x.reshape((-1,) + x.shape[-2:])
        out = empty(x.shape[:-2] + out_shape, dtype)
        launch_corr2d(module, x, w, out, r0, r1, flip, conj, boundary, fill, small=small,
                      large=large, wide=is_wide)
        return out
    return launch
