"""The dtypes of the compiled kernels: the one table both backends derive
theirs from (the CUDA kernels' instantiations, the CPU kernel's accumulators)."""

import numpy as np

# result dtypes with a compiled kernel; the others (object, long double) run on
# NumPy (the CPU backend's generic method)
KERNEL_DTYPES = tuple(np.dtype(n) for n in (
    "bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
    "float16", "float32", "float64", "complex64", "complex128"))


def compute_dtype(dtype):
    """The dtype the backends accumulate in.

    float16 accumulates in float32 (as NumPy's ``HALF_dot``); every integer and
    bool in int64, whose wrap-around modulo 2**64 reduces to the result type's
    wrap-around when cast; float32/64 and complex64/128 in themselves; other
    types (long double, object) in themselves on the generic CPU method.
    """
    dtype = np.dtype(dtype)
    if dtype == np.float16:
        return np.dtype(np.float32)
    if dtype.kind in "biu":
        return np.dtype(np.int64)
    return dtype


# the dtypes the kernels accumulate in (the CPU kernel is compiled per entry)
ACCUMULATOR_DTYPES = tuple(dict.fromkeys(compute_dtype(d) for d in KERNEL_DTYPES))
