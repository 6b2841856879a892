"""The launch table of the direct kernel ``kernels/corr2d.cu`` (the ONE place
for tile shape, outputs per thread, block size and shared-memory budgets).

Per dtype:

``opt``
    outputs per thread (register blocking; the kernel's ``OPT`` template
    parameter, so it is part of the name expression).
``block``
    ``(BX, BY)`` threads of the 2-D ("column") tiling: every thread computes
    ``opt`` outputs down a column, the output tile is ``(BY*opt) x BX``.
    Flat outputs (few rows, 1-D ``numpy.correlate``) use the "row" tiling,
    ``threads // BY`` x ``BY`` threads with ``opt`` outputs along a row, the
    tile ``BY x (BX*opt)`` (see ``_launch.launch_config``).
``threads``
    threads per block; at most ``CORRCONV_MAX_THREADS`` (256, the kernel's
    ``__launch_bounds__``).
``smem_budget``
    bytes of dynamic shared memory a launch aims at; kernels whose weights
    plus input tile and halo need more are processed in weight chunks that
    fit.  16 KiB (4-byte tiles) / 20 KiB (8- and 16-byte tiles) keep 3-4
    blocks resident even on 64 KiB-per-SM parts (sm_75, sm_86, sm_89, sm_120).

``SMEM_LIMIT`` is the hard ceiling (48 KiB: no opt-in attribute needed on
any architecture).  The kernel template's own limits are in corr2d.cu.
"""

from collections import namedtuple

LaunchParams = namedtuple("LaunchParams", "opt block threads smem_budget")

MAX_THREADS = 256          # == CORRCONV_MAX_THREADS in corr2d.cu
SMEM_LIMIT = 48 * 1024     # == CORRCONV_SMEM_LIMIT in corr2d.cu

_S = 16 * 1024
_L = 20 * 1024

# dtype name -> LaunchParams
LAUNCH_TABLE = {
    "float16":    LaunchParams(opt=4, block=(32, 8), threads=256, smem_budget=_S),
    "float32":    LaunchParams(opt=4, block=(32, 8), threads=256, smem_budget=_S),
    "float64":    LaunchParams(opt=4, block=(32, 8), threads=256, smem_budget=_L),
    "complex64":  LaunchParams(opt=4, block=(32, 8), threads=256, smem_budget=_L),
    "complex128": LaunchParams(opt=2, block=(32, 8), threads=256, smem_budget=_L),
    "bool":       LaunchParams(opt=4, block=(32, 8), threads=256, smem_budget=_S),
    "int8":       LaunchParams(opt=4, block=(32, 8), threads=256, smem_budget=_S),
    "int16":      LaunchParams(opt=4, block=(32, 8), threads=256, smem_budget=_S),
    "int32":      LaunchParams(opt=4, block=(32, 8), threads=256, smem_budget=_S),
    "int64":      LaunchParams(opt=4, block=(32, 8), threads=256, smem_budget=_L),
    "uint8":      LaunchParams(opt=4, block=(32, 8), threads=256, smem_budget=_S),
    "uint16":     LaunchParams(opt=4, block=(32, 8), threads=256, smem_budget=_S),
    "uint32":     LaunchParams(opt=4, block=(32, 8), threads=256, smem_budget=_S),
    "uint64":     LaunchParams(opt=4, block=(32, 8), threads=256, smem_budget=_L),
}


def launch_params(dtype):
    """The :class:`LaunchParams` of ``dtype`` (a NumPy dtype or its name)."""
    import numpy as np

    name = np.dtype(dtype).name
    try:
        return LAUNCH_TABLE[name]
    except KeyError:
        raise TypeError(f"no CUDA kernel for dtype {name}") from None
