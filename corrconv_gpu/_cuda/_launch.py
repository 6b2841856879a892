"""Launch geometry and argument packing of ``kernels/corr2d.cu``.

:func:`launch_corr2d` works with any module whose ``get_function(name)``
returns a callable ``fn(grid, block, args, shared_mem=0)`` -- a
``cupy.RawModule`` (device arrays) or the CPU emulator's module (NumPy
arrays): it only reads ``.shape``, ``.strides``, ``.dtype`` and
``.itemsize`` of the arrays and passes the arrays themselves as pointer
arguments.  The numbers come from the one table in ``_params.py``.
"""

import warnings
from collections import namedtuple

import numpy as np

from ._kernels import boundary_code, name_expression, smem_itemsize
from ._params import SMEM_LIMIT, launch_params

GRID_MAX = (2**31 - 1, 65535, 65535)
INT32_MAX = 2**31 - 1

LaunchConfig = namedtuple(
    "LaunchConfig", "grid block along_row tile kc0 kc1 shared_mem")


def _align16(n):
    return (n + 15) // 16 * 16


def smem_bytes(tile, kc0, kc1, itemsize):
    """Dynamic shared memory of one block: the weight chunk (padded to 16
    bytes) plus the input tile with its halo -- the kernel's layout."""
    th, tw = tile
    return (_align16(kc0 * kc1 * itemsize)
            + (th + kc0 - 1) * (tw + kc1 - 1) * itemsize)


def choose_chunks(K0, K1, tile, itemsize, budget, limit=SMEM_LIMIT):
    """Weight chunk ``(kc0, kc1)`` whose shared memory fits ``budget``: the
    whole kernel if it fits, else shrink the larger side by ~1/8 steps, then
    even out the chunks (same count, smaller chunks)."""
    a, b = max(int(K0), 1), max(int(K1), 1)
    if smem_bytes(tile, 1, 1, itemsize) > budget:
        budget = limit
    if smem_bytes(tile, 1, 1, itemsize) > budget:
        raise ValueError(f"tile {tile} does not fit {limit} bytes of shared memory")
    while smem_bytes(tile, a, b, itemsize) > budget:
        if a >= b:
            a -= max(1, a // 8)
        else:
            b -= max(1, b // 8)
    n0 = -(-max(K0, 1) // a)
    n1 = -(-max(K1, 1) // b)
    return -(-max(K0, 1) // n0), -(-max(K1, 1) // n1)


def _candidates(params):
    """(block, along_row, tile) candidates: the 2-D column tiling first,
    then row tilings of 1, 2, 4, ... rows of threads."""
    bx, by = params.block
    opt = params.opt
    out = [((bx, by), 0, (by * opt, bx))]
    r = 1
    while r <= by and params.threads // r >= 32:
        tx = params.threads // r
        out.append(((tx, r), 1, (r, tx * opt)))
        r *= 2
    return out


def launch_config(dtype, K, O, nbatch=1, max_grid=None):
    """:class:`LaunchConfig` for weights ``K = (K0, K1)``, output
    ``O = (O0, O1)`` and ``nbatch`` batch items.

    Chooses the tiling with the least estimated work (padded outputs times
    taps plus 8x the staged input elements), the weight chunks, the dynamic
    shared memory and the grid (capped by ``max_grid``: an int for every
    dimension or an ``(x, y, z)`` tuple; the kernel's grid-stride loops cover
    the rest).
    """
    params = launch_params(dtype)
    s = smem_itemsize(dtype)
    K0, K1 = (int(k) for k in K)
    O0, O1 = (int(o) for o in O)
    best = None
    for block, along_row, tile in _candidates(params):
        kc0, kc1 = choose_chunks(K0, K1, tile, s, params.smem_budget)
        th, tw = tile
        ntiles = -(-O0 // th) * -(-O1 // tw)
        nchunks = -(-max(K0, 1) // kc0) * -(-max(K1, 1) // kc1)
        cost = ntiles * (th * tw * K0 * K1
                         + 8 * nchunks * (th + kc0 - 1) * (tw + kc1 - 1))
        if best is None or cost < best[0]:
            best = (cost, block, along_row, tile, kc0, kc1)
    _, block, along_row, tile, kc0, kc1 = best
    th, tw = tile
    caps = list(GRID_MAX)
    if max_grid is not None:
        mg = (max_grid,) * 3 if np.isscalar(max_grid) else tuple(max_grid)
        mg = mg + (None,) * (3 - len(mg))
        caps = [c if m is None else max(1, min(c, int(m))) for c, m in zip(caps, mg)]
    grid = (max(1, min(-(-O1 // tw), caps[0])),
            max(1, min(-(-O0 // th), caps[1])),
            max(1, min(int(nbatch), caps[2])))
    return LaunchConfig(grid=grid, block=(block[0], block[1], 1),
                        along_row=along_row, tile=tile, kc0=kc0, kc1=kc1,
                        shared_mem=smem_bytes(tile, kc0, kc1, s))


def _elem_stride(a, axis, what):
    st = a.strides[axis]
    if st % a.itemsize:
        raise ValueError(f"{what}: stride {st} is not a multiple of the itemsize")
    return st // a.itemsize


def _check_rows(a, what):
    if a.size and a.shape[-1] > 1 and a.strides[-1] != a.itemsize:
        raise ValueError(f"{what}: the last axis must be contiguous (unit stride)")


def fill_scalar(dtype, fillvalue):
    """``fillvalue`` as the NumPy scalar of the kernel's fillvalue parameter
    (float32 for float16, the element type otherwise; integers wrap)."""
    dtype = np.dtype(dtype)
    sdt = np.dtype(np.float32) if dtype == np.float16 else dtype
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(0 if fillvalue is None else fillvalue).astype(
            sdt, casting="unsafe")[()]


def launch_corr2d(module, x, w, out, r0, r1, flip, conj, boundary, fillvalue,
                  max_grid=None):
    """Launch ``out[b, i, j] = sum_pq X(b, i + r0 + p, j + r1 + q) W(p, q)``.

    ``x``: (M0, M1) or (B, M0, M1); ``w``: (K0, K1); ``out``: (O0, O1) or
    (B, O0, O1), all of one dtype, the last axis contiguous (other strides
    free, negative included).  ``boundary``: name or code 0..4; ``flip``:
    convolution; ``conj``: conjugate the weights (complex only).
    ``max_grid`` caps the grid (tests force grid-stride looping with it).
    Returns the :class:`LaunchConfig` used (None when the output is empty).
    """
    dtype = np.dtype(x.dtype)
    if np.dtype(w.dtype) != dtype or np.dtype(out.dtype) != dtype:
        raise TypeError(f"dtypes differ: x {x.dtype}, w {w.dtype}, out {out.dtype}")
    if x.ndim not in (2, 3) or w.ndim != 2 or out.ndim != x.ndim:
        raise ValueError("x and out must both be 2-D or both 3-D, w 2-D")
    if x.ndim == 3:
        if out.shape[0] != x.shape[0]:
            raise ValueError("x and out batch sizes differ")
        nbatch = x.shape[0]
        x_bstride = _elem_stride(x, 0, "x")
        out_bstride = _elem_stride(out, 0, "out")
    else:
        nbatch, x_bstride, out_bstride = 1, 0, 0
    M0, M1 = x.shape[-2:]
    K0, K1 = w.shape
    O0, O1 = out.shape[-2:]
    if K0 > INT32_MAX or K1 > INT32_MAX:
        raise ValueError("kernel dimensions must be < 2**31")
    code = boundary_code(boundary)
    if code != 0 and (M0 == 0 or M1 == 0) and O0 * O1 * nbatch:
        raise ValueError("only the constant boundary extends an empty input")
    if O0 == 0 or O1 == 0 or nbatch == 0:
        return None
    for a, what in ((x, "x"), (w, "w"), (out, "out")):
        _check_rows(a, what)

    cfg = launch_config(dtype, (K0, K1), (O0, O1), nbatch, max_grid)
    name = name_expression(dtype, flip, conj, code)
    i64, i32 = np.int64, np.int32
    args = (
        x, i64(_elem_stride(x, -2, "x")), i64(x_bstride), i64(M0), i64(M1),
        w, i64(_elem_stride(w, -2, "w")), i32(K0), i32(K1),
        out, i64(_elem_stride(out, -2, "out")), i64(out_bstride), i64(O0), i64(O1),
        i64(nbatch), i64(r0), i64(r1), fill_scalar(dtype, fillvalue),
        i32(cfg.along_row), i32(cfg.kc0), i32(cfg.kc1),
    )
    module.get_function(name)(cfg.grid, cfg.block, args, shared_mem=cfg.shared_mem)
    return cfg
