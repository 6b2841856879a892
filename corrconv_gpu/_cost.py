"""The cost model that picks a method. All its constants live here.

Seconds on the CPU backend (2 cores, measured by ``benchmarks/``):

* direct: ``n_out * taps * DIRECT_S_PER_MAC[dtype]`` plus a call overhead;
* fft: the FFT method's own estimate (:func:`fft_cost_estimate`), which knows
  its tiling.

Integer, bool and object problems never take the FFT (exactness), nor do
inputs holding NaN or Inf (an FFT spreads them over a whole tile, where SciPy
confines them to the outputs that read them).
"""

import numpy as np

METHODS = ("auto", "direct", "fft")

# seconds per (output x tap) of the direct method, 2 threads, large images
DIRECT_S_PER_MAC = {
    np.dtype(np.float32): 0.10e-9,
    np.dtype(np.float64): 0.20e-9,
    np.dtype(np.complex64): 0.45e-9,
    np.dtype(np.complex128): 0.90e-9,
    np.dtype(np.int64): 0.35e-9,
}
DIRECT_OVERHEAD_S = 5e-6
FFT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64),
              np.dtype(np.complex64), np.dtype(np.complex128))


def check_method(method):
    if method not in METHODS:
        raise ValueError(f"method must be one of 'auto', 'direct' or 'fft' "
                         f"(got {method!r})")
    return method


def direct_cost(n0, n1, k0, k1, dtype):
    return DIRECT_OVERHEAD_S + n0 * n1 * k0 * k1 * DIRECT_S_PER_MAC[np.dtype(dtype)]


def choose_cpu(n0, n1, k0, k1, dtype, fast_float32=False):
    """'direct' or 'fft' for one window of the CPU backend."""
    dtype = np.dtype(dtype)
    if dtype not in FFT_DTYPES:
        return "direct"
    from ._methods.fft import fft_cost_estimate
    fft = fft_cost_estimate(n0, n1, k0, k1, dtype, fast_float32=fast_float32)
    return "fft" if fft < direct_cost(n0, n1, k0, k1, dtype) else "direct"
