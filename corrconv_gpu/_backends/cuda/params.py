"""The launch table of the direct kernel ``kernels/corr2d.cu`` (the ONE place
for tile shape, outputs per thread, block size and shared-memory budgets),
and the occupancy calculator that checks it.

Per dtype, :data:`LAUNCH_TABLE` gives ``opt`` (consecutive outputs per thread
along the sliding axis: the kernel's ``OPT`` template parameter), the blocks
``tall`` (sliding down columns) and ``wide`` (along rows) as ``(BX, BY)``, and
``smem_budget`` (dynamic shared memory per launch, sized for 50% occupancy
on sm_80). :func:`tiling` picks per shape: kernels taller than wide slide down
columns, the others along rows; outputs thinner than ``THIN`` get flat
tilings. ``SMEM_LIMIT`` (48 KiB) needs no opt-in attribute on any
architecture. No run-time tuning.
"""

from collections import namedtuple

import numpy as np

LaunchParams = namedtuple("LaunchParams", "opt tall wide smem_budget")
LaunchParams.__doc__ = """One row of :data:`LAUNCH_TABLE`: outputs per thread ``opt``,
the blocks ``tall`` (slide down columns) and ``wide`` (slide along rows) as
``(BX, BY)``, and the dynamic shared-memory budget in bytes."""

MAX_THREADS = 256          # == CORRCONV_MAX_THREADS in corr2d.cu
SMEM_LIMIT = 48 * 1024     # == CORRCONV_SMEM_LIMIT in corr2d.cu

_S = 24 * 1024
_F = 19 * 1024
_L = 40 * 1024
_TALL, _WIDE = (32, 8), (8, 32)

# dtype name -> LaunchParams.  float32 / float16: 8 outputs per thread in
# blocks of 128 threads; the other dtypes 4 (complex128: 2) in blocks of 256.
# fitted by benchmarks/gpu_probe.py --explore (benchmarks/results/fitted_constants.md)
_FLOAT = LaunchParams(opt=8, tall=(32, 4), wide=(8, 16), smem_budget=_F)
_NARROW = LaunchParams(opt=4, tall=_TALL, wide=_WIDE, smem_budget=_S)   # <= 4-byte ints, bool
_BROAD = LaunchParams(opt=4, tall=_TALL, wide=_WIDE, smem_budget=_L)    # 8- and 16-byte types
LAUNCH_TABLE = {
    "float16": _FLOAT, "float32": _FLOAT,
    "float64": _BROAD, "complex64": _BROAD, "int64": _BROAD, "uint64": _BROAD,
    "complex128": _BROAD._replace(opt=2),
    "bool": _NARROW, "int8": _NARROW, "int16": _NARROW, "int32": _NARROW,
    "uint8": _NARROW, "uint16": _NARROW, "uint32": _NARROW,
}
_BY_DTYPE = {np.dtype(n): p for n, p in LAUNCH_TABLE.items()}

THIN = 8   # outputs with fewer rows (columns) than this get flat (thin) tilings


def launch_params(dtype):
    """The :class:`LaunchParams` of ``dtype`` (a NumPy dtype or its name)."""
    try:
        return _BY_DTYPE[dtype]
    except (KeyError, TypeError):
        pass
    try:
        return _BY_DTYPE[np.dtype(dtype)]
    except (KeyError, TypeError):
        raise TypeError(f"no CUDA kernel for dtype {np.dtype(dtype).name}") from None


def threads(dtype):
    """Threads per block of ``dtype``'s 2-D tilings (both blocks have as many)."""
    bx, by = launch_params(dtype).wide
    return bx * by


def _pow2_at_least(n, cap):
    r = 1
    while r < n and r < cap:
        r *= 2
    return r


def tiling(dtype, K, O):
    """``(along_row, block, tile)`` for weights ``K`` and output ``O`` from the
    table (flat/thin rules first; then kernels taller than wide slide down
    columns, the others -- square ones included -- along rows);
    ``tile = (TH, TW)``."""
    p = launch_params(dtype)
    n = threads(dtype)
    K0, K1 = (max(int(k), 1) for k in K)
    O0, O1 = (int(o) for o in O)
    if O0 < THIN and O0 <= O1:
        r = _pow2_at_least(O0, 8)
        along_row, block = 1, (n // r, r)
    elif O1 < THIN:
        c = _pow2_at_least(O1, 8)
        along_row, block = 0, (c, n // c)
    elif K0 > K1:
        along_row, block = 0, p.tall
    else:
        along_row, block = 1, p.wide
    bx, by = block
    tile = (by, bx * p.opt) if along_row else (by * p.opt, bx)
    return along_row, block, tile


# ------------------------------------------------------------- occupancy
# per-SM limits (CUDA C++ Programming Guide, "Compute capabilities" table, and
# the CUDA occupancy calculator): registers per SM, register allocation unit
# per warp, threads, resident blocks, shared memory per SM and the per-block
# reservation (1 KiB since sm_80), shared allocation granularity
ArchLimits = namedtuple("ArchLimits", "regs_per_sm reg_unit max_threads max_blocks "
                                      "smem_per_sm smem_reserved smem_unit max_smem_block")
ARCH_LIMITS = {
    "sm_75": ArchLimits(65536, 256, 1024, 16, 64 * 1024, 0, 256, 64 * 1024),
    "sm_80": ArchLimits(65536, 256, 2048, 32, 164 * 1024, 1024, 128, 163 * 1024),
    "sm_86": ArchLimits(65536, 256, 1536, 16, 100 * 1024, 1024, 128, 99 * 1024),
    "sm_90": ArchLimits(65536, 256, 2048, 32, 228 * 1024, 1024, 128, 227 * 1024),
}
Occupancy = namedtuple("Occupancy", "fraction blocks limit by_threads by_regs by_smem")


def occupancy(arch, regs, threads, smem):
    """Theoretical occupancy of a kernel using ``regs`` registers per thread,
    ``threads`` per block and ``smem`` bytes of shared memory per block
    (static + dynamic) on ``arch``.  Returns :class:`Occupancy`: the fraction
    of the SM's thread slots in use, the resident blocks and what limits them.
    """
    L = ARCH_LIMITS[arch]
    warps = -(-int(threads) // 32)
    if warps < 1:
        raise ValueError("threads must be >= 1")
    by_threads = L.max_threads // (warps * 32)
    if regs:
        regs_per_warp = -(-int(regs) * 32 // L.reg_unit) * L.reg_unit
        by_regs = (L.regs_per_sm // regs_per_warp) // warps
    else:
        by_regs = L.max_blocks
    if smem > L.max_smem_block:
        by_smem = 0
    else:
        per_block = -(-int(smem) // L.smem_unit) * L.smem_unit + L.smem_reserved
        by_smem = L.smem_per_sm // per_block if per_block else L.max_blocks
    limits = dict(blocks=L.max_blocks, threads=by_threads, regs=by_regs, smem=by_smem)
    blocks = min(limits.values())
    limit = min(limits, key=limits.get)
    return Occupancy(blocks * warps * 32 / L.max_threads, blocks, limit,
                     by_threads, by_regs, by_smem)
