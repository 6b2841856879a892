"""The cost model that picks a method (:func:`choose_cpu`, :func:`choose_gpu`).

The direct method's constants live here; the FFT and separable methods
estimate their own CPU cost
(:func:`~corrconv_gpu._methods.fft.fft_cost_estimate`,
:func:`~corrconv_gpu._methods.separable.separable_cost_estimate`).
Integer, bool and object problems never take the FFT (exactness), nor do
inputs or fill values holding NaN or Inf (an FFT spreads them over a whole
tile, where SciPy confines them to the outputs that read them).
"""


import numpy as np

from .._util.memo import memoize

METHODS = ("auto", "direct", "separable", "fft")

# seconds per output, and per (output x tap), of the direct method; 2 threads
# fitted by benchmarks/run_cpu.py (benchmarks/results/fitted_constants.md)
DIRECT_S_PER_OUT = {
    np.dtype(np.float32): 0.61e-9,
    np.dtype(np.float64): 1.17e-9,
    np.dtype(np.complex64): 1.5e-9,
    np.dtype(np.complex128): 2.5e-9,
    np.dtype(np.int64): 1.2e-9,
}
DIRECT_S_PER_MAC = {
    np.dtype(np.float32): 0.0158e-9,
    np.dtype(np.float64): 0.0309e-9,
    np.dtype(np.complex64): 0.47e-9,
    np.dtype(np.complex128): 0.50e-9,
    np.dtype(np.int64): 0.031e-9,
}
# the FFT method's own model is in wall seconds (2 threads); a call also
# pays the finiteness check of the input and the executor's dispatch
FFT_CALL_OVERHEAD_S = 0.2e-3
DIRECT_OVERHEAD_S = 5e-6
FFT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64),
              np.dtype(np.complex64), np.dtype(np.complex128))


def check_method(method):
    if method not in METHODS:
        raise ValueError("method must be one of 'auto', 'direct', 'separable' or "
                         f"'fft' (got {method!r})")
    return method


def direct_cost(n0, n1, k0, k1, dtype):
    dtype = np.dtype(dtype)
    n = n0 * n1
    return DIRECT_OVERHEAD_S + n * (DIRECT_S_PER_OUT[dtype] + k0 * k1 * DIRECT_S_PER_MAC[dtype])


# filters over more than two axes: the CPU's planes kernel (one pass, every
# tap), a 2-D pass per tap of the leading axes (plus copying and
# accumulating its result: the device backends, kernel sides the planes
# kernel does not take), or whole-array transforms
# fitted by timing 128^3 and 256^3 volumes (benchmarks/results/fitted_constants.md)
PLANES_S_PER_OUT = 2.3e-9
PLANES_S_PER_MAC = 4.5e-11
ND_PLANE_S_PER_OUT = 2.5e-9
ND_PLANE_OVERHEAD_S = 1e-4
FFT_ND_S_PER_ELEM = 25e-9
FFT_ND_OVERHEAD_S = 1e-4


def choose_nd(nout, lead_taps, k0, k1, fft_elems, fft_ok, planes=False):
    """'fft' or 'direct' for a filter over more than two axes: ``nout``
    outputs, ``lead_taps`` taps of the leading axes, a ``k0 x k1`` kernel on
    the last two, ``fft_elems`` elements of the transformed array;
    ``planes``: the direct method is the planes kernel (else a 2-D pass per
    leading tap)."""
    if planes:
        direct = ND_PLANE_OVERHEAD_S + nout * (PLANES_S_PER_OUT
                                               + lead_taps * k0 * k1 * PLANES_S_PER_MAC)
    else:
        direct = lead_taps * (direct_cost(nout, 1, k0, k1, np.float64)
                              + nout * ND_PLANE_S_PER_OUT + ND_PLANE_OVERHEAD_S)
    fft = FFT_ND_OVERHEAD_S + FFT_ND_S_PER_ELEM * fft_elems
    return "fft" if fft_ok and fft < direct else "direct"


@memoize(1024)
def choose_cpu(n0, n1, k0, k1, dtype, fast_float32=False, rank=None, fft_ok=True):
    """The cheapest of 'direct', 'separable' (when ``rank``) and 'fft' (when
    ``fft_ok`` and a float dtype) for one window of the CPU backend.
    Memoized: a pure function of its arguments."""
    from .._methods.fft import fft_cost_estimate
    from .._methods.separable import separable_cost_estimate

    dtype = np.dtype(dtype)
    costs = {"direct": direct_cost(n0, n1, k0, k1, dtype)}
    if rank:
        costs["separable"] = separable_cost_estimate(n0, n1, k0, k1, rank, dtype)
    if fft_ok and dtype in FFT_DTYPES:
        costs["fft"] = FFT_CALL_OVERHEAD_S + fft_cost_estimate(
            n0, n1, k0, k1, dtype, fast_float32=fast_float32)
    return min(costs, key=costs.get)


# ---------------------------------------------------------------- the GPU
# Roofline model of the kernel time: direct = bytes / (GPU_BW_EFFICIENCY * HBM)
# + flops / (efficiency * FMA peak) (input read and output written once; 2
# flops per MAC, a complex MAC 4 real ones, integers at GPU_INT_OPS); fft = an
# overhead + a cost per element of the extended frame (twice for complex: one
# tile per transform slot); separable = two direct passes per rank-1 term.
# fitted by benchmarks/gpu_probe.py (benchmarks/results/fitted_constants.md)
GPU_HBM_BYTES_PER_S = 3.35e12
GPU_FLOPS = {np.dtype(np.float16): 67e12, np.dtype(np.float32): 67e12,
             np.dtype(np.complex64): 67e12,
             np.dtype(np.float64): 34e12, np.dtype(np.complex128): 34e12}
GPU_INT_OPS = 33e12            # integer multiply-add issue rate (IMAD)
GPU_BW_EFFICIENCY = 0.48
GPU_FLOP_EFFICIENCY = 0.41     # float32, float16 (and integers, complex64)
GPU_FLOP_EFFICIENCY_FP64 = 0.35
GPU_LAUNCH_S = 5e-6
GPU_FFT_OVERHEAD_S = 0.9e-3
GPU_FFT_S_PER_ELEM = 1.16e-10
GPU_FFT_FAST_FLOAT32 = 0.6


def _gpu_time(nbytes, flops, dtype, launches=1):
    dtype = np.dtype(dtype)
    peak = GPU_FLOPS.get(dtype, GPU_INT_OPS * 2)
    eff = GPU_FLOP_EFFICIENCY_FP64 if dtype in (np.dtype(np.float64),
                                                np.dtype(np.complex128)) else GPU_FLOP_EFFICIENCY
    return (launches * GPU_LAUNCH_S + nbytes / (GPU_BW_EFFICIENCY * GPU_HBM_BYTES_PER_S)
            + flops / (eff * peak))


def gpu_direct_cost(n0, n1, k0, k1, dtype):
    dtype = np.dtype(dtype)
    cplx = 4 if dtype.kind == "c" else 1       # a complex MAC is 4 real ones
    n = n0 * n1
    return _gpu_time(2 * n * dtype.itemsize, 2 * cplx * n * k0 * k1, dtype)


def gpu_separable_cost(n0, n1, k0, k1, rank, dtype):
    dtype = np.dtype(dtype)
    ext = 2 * (n0 + k0 - 1) * (n1 + k1 - 1) * dtype.itemsize   # the extended copy
    return (rank * (gpu_direct_cost(n0 + k0 - 1, n1, 1, k1, dtype)
                    + gpu_direct_cost(n0, n1, k0, 1, dtype))
            + ext / (GPU_BW_EFFICIENCY * GPU_HBM_BYTES_PER_S))


def gpu_fft_cost(n0, n1, k0, k1, dtype, fast_float32=False):
    from .._methods.fft import frame_work_dtype
    dtype = np.dtype(dtype)
    t = GPU_FFT_S_PER_ELEM * (n0 + k0 - 1) * (n1 + k1 - 1)
    if dtype.kind == "c":
        t *= 2
    if dtype == np.float16 or (fast_float32 and dtype in (np.dtype(np.float32),
                                                          np.dtype(np.complex64))):
        t *= GPU_FFT_FAST_FLOAT32      # transforms in float32
    return GPU_FFT_OVERHEAD_S + t


@memoize(1024)
def choose_gpu(n0, n1, k0, k1, dtype, rank=None, fft_ok=True, fast_float32=False):
    """The cheapest of 'direct', 'separable' and 'fft' on the GPU cost model.
    Memoized: a pure function of its arguments."""
    dtype = np.dtype(dtype)
    costs = {"direct": gpu_direct_cost(n0, n1, k0, k1, dtype)}
    if rank:
        costs["separable"] = gpu_separable_cost(n0, n1, k0, k1, rank, dtype)
    if fft_ok and dtype.kind in "fc":
        costs["fft"] = gpu_fft_cost(n0, n1, k0, k1, dtype, fast_float32)
    return min(costs, key=costs.get)
