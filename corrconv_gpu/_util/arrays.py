"""Array-type detection without importing CuPy."""

import sys

import numpy as np


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
