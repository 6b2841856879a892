"""Array-type detection and small array helpers, without importing CuPy at module level."""

import sys

import numpy as np

from .memo import memoize


def is_cupy_array(a):
    """True for a ``cupy.ndarray`` (checked by type, never importing CuPy)."""
    if type(a) is np.ndarray:
        return False
    cupy = sys.modules.get("cupy")
    return cupy is not None and isinstance(a, cupy.ndarray)


def array_namespace(*arrays):
    """``cupy`` if any argument is a CuPy array, else ``numpy``."""
    if any(is_cupy_array(a) for a in arrays):
        return sys.modules["cupy"]
    return np


def to_numpy(a):
    """A NumPy view or copy of ``a`` (device arrays are copied to the host)."""
    if is_cupy_array(a):
        return a.get()
    return a


def to_compute(a, cdtype, xp=np):
    """``a`` as a C-contiguous, native-order array of ``cdtype`` (copy only if needed)."""
    return xp.ascontiguousarray(a, dtype=cdtype)


_F64 = np.dtype(np.float64)


def real_above(w, eps, dtype=_F64):
    """Real ``w`` in ``dtype`` (a NumPy dtype: float64, or float32 for
    weights exact in it) with the values of magnitude at most ``eps`` (and
    NaN) set to 0, compared in float64. On CuPy one elementwise kernel does
    the cast, the comparison and the selection (three operations and their
    temporaries otherwise); NumPy takes ``where``."""
    if is_cupy_array(w):
        return _real_above_kernel(dtype)(w, float(eps))
    w = np.asarray(w, dtype=np.float64)
    return np.where(np.abs(w) > eps, w, 0.0).astype(dtype, copy=False)


@memoize()
def _real_above_kernel(dtype):
    import cupy    # deferred: CuPy is optional
    out_type = np.dtype(dtype).name
    return cupy.ElementwiseKernel(
        "T w, float64 eps", f"{out_type} y",
        "const double v = (double)w; y = fabs(v) > eps ? v : 0.0;",
        f"corrconv_gpu_real_above_{out_type}")
