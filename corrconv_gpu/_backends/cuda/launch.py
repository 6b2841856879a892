"""Launch geometry and argument packing of ``kernels/corr2d.cu``.

:func:`launch_corr2d` works with any module whose ``get_function(name)``
returns a callable ``fn(grid, block, args, shared_mem=0)`` -- a
``cupy.RawModule`` (device arrays) or the CPU emulator's module (NumPy
arrays): it only reads ``.shape``, ``.strides``, ``.dtype`` and
``.itemsize`` of the arrays and passes the arrays themselves as pointer
arguments.  The numbers come from the one table in ``params.py``.
"""

import warnings
from collections import namedtuple

import numpy as np

from ..._util.memo import Memo, memoize
from .kernels import (boundary_code, large_applies, large_geometry, large_name_expression,
                      large_pitch, large_tile, name_expression, small_applies, small_geometry,
                      small_name_expression, small_tile, smem_itemsize,
                      smem_vec)
from .params import SMEM_LIMIT, launch_params, tiling

GRID_MAX = (2**31 - 1, 65535, 65535)
INT32_MAX = 2**31 - 1

LaunchConfig = namedtuple(
    "LaunchConfig", "grid block along_row tile kc0 kc1 shared_mem xc0 xc1")
LaunchConfig.__doc__ = """Launch geometry of one corr2d launch: ``grid``, ``block``, the
sliding axis ``along_row``, the output ``tile`` (TH, TW), the weight chunk
``(kc0, kc1)``, the dynamic ``shared_mem`` and the x chunk ``(xc0, xc1)`` (the
part of the kernel whose input tile + halo is staged at once: the whole
kernel unless it does not fit)."""


def _align16(n):
    return (n + 15) // 16 * 16


def _round_up(n, m):
    return -(-n // m) * m


def apitch(ta, xca, vec):
    """Pitch of the sliding axis of the staged tile (corr2d.cu:corrconv_apitch)."""
    ap = _round_up(ta + xca + vec - 2, vec)
    if vec > 1 and (ap // vec) % 2 == 0:
        ap += vec
    return ap


def smem_bytes(tile, kc0, kc1, itemsize, along_row=0, xc0=None, xc1=None, vec=1):
    """Dynamic shared memory of one block -- the kernel's layout: the weight
    chunk transposed to ``[b][a]`` with the a axis padded to ``vec`` (then to
    16 bytes), plus the input tile + halo of the x chunk ``(xc0, xc1)``
    (default: the weight chunk) with the a-axis pitch :func:`apitch`.
    ``a`` is the sliding axis (columns when ``along_row``, else rows)."""
    th, tw = tile
    xc0 = kc0 if xc0 is None else xc0
    xc1 = kc1 if xc1 is None else xc1
    ta, tb = (tw, th) if along_row else (th, tw)
    kca, kcb = (kc1, kc0) if along_row else (kc0, kc1)
    xca, xcb = (xc1, xc0) if along_row else (xc0, xc1)
    w = _align16(kcb * _round_up(kca, vec) * itemsize)
    return w + (tb + xcb - 1) * apitch(ta, xca, vec) * itemsize


def _shrink(n, step):
    return n - max(1, n // 8) if step == 1 else n - step * max(1, (n // step) // 8)


def choose_chunks(K0, K1, tile, itemsize, budget, limit=SMEM_LIMIT, along_row=0, vec=1):
    """``(kc0, kc1, xc0, xc1)``: weight chunk and x chunk whose shared memory
    fits ``budget``.

    1. The input tile + halo of the WHOLE kernel stays resident if it fits
       next to a weight chunk of one a-vector: the weights are then streamed
       in chunks ``(kc0, kc1)`` -- whole a columns first, shrinking the b
       extent, then the a extent in multiples of ``vec`` (chunk starts stay
       aligned to the window's vector loads).
    2. Otherwise x chunks == weight chunks, shrinking the larger side (the
       input is then re-staged per chunk: kernels far beyond 31x31).
    Chunks are evened out (same count, smaller chunks).
    """
    K0, K1 = max(int(K0), 1), max(int(K1), 1)
    Ka, Kb = (K1, K0) if along_row else (K0, K1)

    def sm(ca, cb, xa, xb):
        k0, k1, x0, x1 = (cb, ca, xb, xa) if along_row else (ca, cb, xa, xb)
        return smem_bytes(tile, k0, k1, itemsize, along_row, x0, x1, vec)

    def even(n, c, step):
        cnt = -(-n // c)
        e = -(-n // cnt)
        return min(n, _round_up(e, step)) if c < n else n

    amin = min(Ka, vec)
    if sm(amin, 1, Ka, Kb) <= budget:
        ca, cb = Ka, Kb
        while sm(ca, cb, Ka, Kb) > budget:
            if cb > 1:
                cb = _shrink(cb, 1)
            else:
                ca = max(amin, _shrink(ca, vec) if ca % vec == 0 else ca // vec * vec)
        ca, cb = even(Ka, ca, vec), even(Kb, cb, 1)
        xa, xb = Ka, Kb
    else:
        if sm(amin, 1, amin, 1) > budget:
            budget = limit
        if sm(amin, 1, amin, 1) > budget:
            raise ValueError(f"tile {tile} does not fit {limit} bytes of shared memory")
        ca, cb = Ka, Kb
        while sm(ca, cb, ca, cb) > budget:
            if (ca >= cb and ca > amin) or cb == 1:
                ca = max(amin, _shrink(ca, vec) if ca % vec == 0 else ca // vec * vec)
            else:
                cb = _shrink(cb, 1)
        ca, cb = even(Ka, ca, vec), even(Kb, cb, 1)
        xa, xb = ca, cb
    if along_row:
        return cb, ca, xb, xa
    return ca, cb, xa, xb


def is_pointwise(K, O, M, r):
    """The kernel's pointwise path: 1x1 weights, every output reads inside x."""
    (K0, K1), (O0, O1), (M0, M1), (r0, r1) = K, O, M, r
    return (K0 == 1 and K1 == 1 and r0 >= 0 and r1 >= 0
            and O0 + r0 <= M0 and O1 + r1 <= M1)


def _caps(max_grid):
    """The grid limits per axis, lowered to ``max_grid`` (an int for every
    axis, or up to three, None: no cap) where given."""
    caps = GRID_MAX
    if max_grid is not None:
        mg = (max_grid,) * 3 if np.isscalar(max_grid) else tuple(max_grid)
        mg = mg + (None,) * (3 - len(mg))
        caps = tuple(c if m is None else max(1, min(c, int(m))) for c, m in zip(caps, mg))
    return caps


def launch_config(dtype, K, O, nbatch=1, max_grid=None, M=None, r=None):
    """:class:`LaunchConfig` for weights ``K = (K0, K1)``, output
    ``O = (O0, O1)`` and ``nbatch`` batch items.

    The tiling (sliding axis, block, tile) comes from the table in
    ``params.py`` (:func:`.params.tiling`); then the chunks
    (:func:`choose_chunks`), the dynamic shared memory and the grid (capped
    by ``max_grid``: an int for every dimension or an ``(x, y, z)`` tuple;
    the kernel's grid-stride loops cover the rest).  Given the input shape
    ``M`` and the offsets ``r = (r0, r1)`` (as :func:`launch_corr2d` does),
    1x1 weights whose outputs all read inside x take the kernel's pointwise
    path: no tile is staged, 16 bytes hold the weight.
    """
    K0, K1 = (int(k) for k in K)
    O0, O1 = (int(o) for o in O)
    pointwise = (M is not None and r is not None
                 and is_pointwise((K0, K1), (O0, O1), M, r))
    return _config(np.dtype(dtype), K0, K1, O0, O1, int(nbatch), _caps(max_grid), pointwise)


@memoize(1024)
def _config(dtype, K0, K1, O0, O1, nbatch, caps, pointwise):
    """:func:`launch_config` once the arguments are plain (memoized: the
    configuration of a repeated call costs a dictionary lookup)."""
    params = launch_params(dtype)
    s = smem_itemsize(dtype)
    vec = smem_vec(dtype)
    along_row, block, tile = tiling(dtype, (K0, K1), (O0, O1))
    th, tw = tile
    if pointwise:
        kc0 = kc1 = xc0 = xc1 = 1
        shared = 16
    else:
        kc0, kc1, xc0, xc1 = choose_chunks(K0, K1, tile, s, params.smem_budget,
                                           along_row=along_row, vec=vec)
        shared = smem_bytes(tile, kc0, kc1, s, along_row, xc0, xc1, vec)
    grid = (max(1, min(-(-O1 // tw), caps[0])),
            max(1, min(-(-O0 // th), caps[1])),
            max(1, min(nbatch, caps[2])))
    return LaunchConfig(grid=grid, block=(block[0], block[1], 1),
                        along_row=along_row, tile=tile, kc0=kc0, kc1=kc1,
                        shared_mem=shared, xc0=xc0, xc1=xc1)


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
    if type(fillvalue) is sdt.type:                # already the parameter's type
        return fillvalue
    if fillvalue is None or (type(fillvalue) is int and fillvalue == 0):
        return sdt.type(0)
    if isinstance(fillvalue, np.ndarray) and fillvalue.shape == () and fillvalue.dtype == sdt:
        return fillvalue[()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(fillvalue).astype(sdt, casting="unsafe")[()]


def config_differs(a, b):
    """Whether two :class:`LaunchConfig` differ other than in their grid."""
    return any(getattr(a, k) != getattr(b, k) for k in a._fields if k != "grid")


_I64 = ("x_stride", "x_bstride", "M0", "M1", "w_stride",
        "out_stride", "out_bstride", "O0", "O1", "nbatch", "r0", "r1")
_I32 = ("K0", "K1", "along_row", "kc0", "kc1", "xc0", "xc1")


@memoize(None)
def params_dtype(dtype):
    """NumPy dtype of the kernels' by-value parameter ``corrconv_params<S>``
    (corr2d.cu), laid out as the C++ struct: the fill value of type S
    (float32 for float16, the element type otherwise) at 0, then 12 int64
    from the next multiple of 8 and 7 int32, padded to 8 bytes (16 with a
    16-byte S): no offset depends on S's alignment."""
    dtype = np.dtype(dtype)
    sdt = np.dtype(np.float32) if dtype == np.float16 else dtype
    at = _round_up(sdt.itemsize, 8)
    return np.dtype({"names": ["fillvalue"] + list(_I64 + _I32),
                     "formats": [sdt] + [np.int64] * len(_I64) + [np.int32] * len(_I32),
                     "offsets": [0] + [at + 8 * i for i in range(len(_I64))]
                                + [at + 8 * len(_I64) + 4 * i for i in range(len(_I32))],
                     "itemsize": _round_up(at + 8 * len(_I64) + 4 * len(_I32),
                                           max(8, sdt.itemsize))})


def pack_params(dtype, fillvalue, **fields):
    """One ``corrconv_params`` value (a NumPy structured scalar): ``fields``
    by name (the integers), ``fillvalue`` as :func:`fill_scalar` gives it."""
    p = np.zeros((), params_dtype(dtype))
    for k, v in fields.items():
        p[k] = v
    p["fillvalue"] = fillvalue
    return p[()]


# Launch setups by everything they are made of (module, shapes, strides,
# dtypes, offsets, flags, the fill value's bytes, grid cap, forced config):
# a repeated launch is one lookup and the call. Cleared when full.
_SETUPS = Memo(1024)


def clear_memos():
    """Forget the memoized launch setups (tests)."""
    _SETUPS.clear()


def launch_corr2d(module, x, w, out, r0, r1, flip, conj, boundary, fillvalue,
                  max_grid=None, config=None, small=None, large=None, wide=False):
    """Launch ``out[b, i, j] = sum_pq X(b, i + r0 + p, j + r1 + q) W(p, q)``.

    ``x``: (M0, M1) or (B, M0, M1); ``w``: (K0, K1); ``out``: (O0, O1) or
    (B, O0, O1), all of one dtype, the last axis contiguous (other strides
    free, negative included).  ``boundary``: name or code 0..4; ``flip``:
    convolution; ``conj``: conjugate the weights (complex only).
    ``max_grid`` caps the grid (tests force grid-stride looping with it).
    ``config``: a larger problem's :class:`LaunchConfig` (out-of-core bands:
    the whole call's), launched with instead of this problem's own where they
    differ, its grid trimmed to this output, so that each output is summed
    in the larger problem's order.
    ``small``: ``small(dtype, K0, K1, flip, boundary) -> module``
    (``_Device.small_module``):
    float16/32/64 weights up to 7 x 7 then take ``corr2d_small`` (sizes fixed
    at compile time; it reads the weights from ``w`` on the device, so
    nothing is copied back); ``config`` does not apply to it (its summation
    order does not depend on the geometry).
    Arguments: ``(x, w, out, corrconv_params)``, the parameters packed once
    per setup (:data:`_SETUPS`).
    ``large``: ``large(dtype, flip, boundary) -> module``
    (``_Device.large_module``): float16/32/64 weights with rows of more
    than 7 taps (``K1 > 7``) then take ``corr2d_large`` (its chunks depend on
    the weight shape only, so ``config`` does not apply to it either).
    ``wide``: ``module`` holds the float32 kernel that sums in float64
    (``kernels.WIDE_CTYPES``); ``small`` and ``large`` (which sum in float32)
    are then not used.
    Returns the :class:`LaunchConfig` used (None when the output is empty).
    """
    fill = fill_scalar(x.dtype, fillvalue)
    if wide:
        small = large = None
    key = (module, wide, small is not None, large is not None, x.dtype, w.dtype, out.dtype,
           x.shape, x.strides, w.shape, w.strides, out.shape, out.strides, r0, r1, flip, conj,
           boundary,
           fill.tobytes(), tuple(max_grid) if isinstance(max_grid, list) else max_grid,
           config)
    setup = _SETUPS.get(key, lambda: _setup(module, x, w, out, r0, r1, flip, conj, boundary,
                                            fill, max_grid, config, small, large, wide))
    if setup is None:
        return None
    fn, cfg, params = setup
    fn(cfg.grid, cfg.block, (x, w, out, params), shared_mem=cfg.shared_mem)
    return cfg


def _setup(module, x, w, out, r0, r1, flip, conj, boundary, fill, max_grid, config, small,
           large, wide=False):
    """``(function, LaunchConfig, params)`` of a launch of
    :func:`launch_corr2d` (None: an empty output); every check of the
    arguments is made here (they depend only on the key of the setup)."""
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

    if small is not None and small_applies(dtype, K0, K1):
        g = small_geometry(dtype, K0, K1)
        cfg = small_config(dtype, (K0, K1), (O0, O1), nbatch, max_grid, g)
        fn = small(dtype, K0, K1, flip, code).get_function(
            small_name_expression(dtype, flip, code, K0, K1, g))
    elif large is not None and large_applies(dtype, K0, K1):
        cfg = large_config(dtype, (K0, K1), (O0, O1), nbatch, max_grid)
        fn = large(dtype, flip, code).get_function(large_name_expression(dtype, flip, code))
    else:
        cfg = launch_config(dtype, (K0, K1), (O0, O1), nbatch, max_grid, M=(M0, M1), r=(r0, r1))
        if config is not None and config_differs(cfg, config):
            th, g = config.tile[0], config.grid
            cfg = config._replace(grid=(g[0], max(1, min(g[1], -(-O0 // th))),
                                        max(1, min(g[2], nbatch))))
        fn = module.get_function(name_expression(dtype, flip, conj, code, wide))
    params = _params(x, w, out, r0, r1, fill, cfg, nbatch, x_bstride, out_bstride)
    return fn, cfg, params


def _params(x, w, out, r0, r1, fill, cfg, nbatch, x_bstride, out_bstride):
    M0, M1 = x.shape[-2:]
    K0, K1 = w.shape
    O0, O1 = out.shape[-2:]
    return pack_params(
        x.dtype, fill,
        x_stride=_elem_stride(x, -2, "x"), x_bstride=x_bstride, M0=M0, M1=M1,
        w_stride=_elem_stride(w, -2, "w"),
        out_stride=_elem_stride(out, -2, "out"), out_bstride=out_bstride, O0=O0, O1=O1,
        nbatch=nbatch, r0=r0, r1=r1, K0=K0, K1=K1, along_row=cfg.along_row,
        kc0=cfg.kc0, kc1=cfg.kc1, xc0=cfg.xc0, xc1=cfg.xc1)


def kernel_args(x, w, out, r0, r1, fillvalue, cfg, nbatch=1, x_bstride=0, out_bstride=0):
    """The arguments of one corr2d launch: ``(x, w, out, params)``, the
    parameters (corr2d.cu's ``corrconv_params``) from the arrays of
    :func:`launch_corr2d`, the geometry ``cfg`` (a :class:`LaunchConfig`)
    and, for stacks, the batch size and batch strides in elements."""
    return (x, w, out, _params(x, w, out, r0, r1, fill_scalar(x.dtype, fillvalue), cfg,
                               nbatch, x_bstride, out_bstride))


def small_config(dtype, K, O, nbatch=1, max_grid=None, geometry=None):
    """:class:`LaunchConfig` of ``corr2d_small`` (static shared memory:
    ``shared_mem`` 0; the whole kernel is one chunk); ``geometry``: a
    :class:`.kernels.SmallGeometry` (default: the table's)."""
    K0, K1 = (int(k) for k in K)
    O0, O1 = (int(o) for o in O)
    g = geometry or small_geometry(dtype, K0, K1)
    th, tw = small_tile(dtype, K0, K1, g)
    caps = _caps(max_grid)
    grid = (max(1, min(-(-O1 // tw), caps[0])), max(1, min(-(-O0 // th), caps[1])),
            max(1, min(int(nbatch), caps[2])))
    return LaunchConfig(grid=grid, block=(g.bx, g.by, 1), along_row=1, tile=(th, tw),
                        kc0=K0, kc1=K1, shared_mem=0, xc0=K0, xc1=K1)


def _batch(x, w, out):
    """``(nbatch, x batch stride, out batch stride)`` of a direct entry
    (:func:`launch_small`, :func:`launch_large`), its rows checked."""
    if x.ndim == 3:
        nbatch, xb, ob = x.shape[0], _elem_stride(x, 0, "x"), _elem_stride(out, 0, "out")
    else:
        nbatch, xb, ob = 1, 0, 0
    for a, what in ((x, "x"), (w, "w"), (out, "out")):
        _check_rows(a, what)
    return nbatch, xb, ob


def launch_small(module, x, w, out, r0, r1, flip, boundary, fillvalue, max_grid=None,
                 geometry=None):
    """``corr2d_small`` alone, in ``geometry`` (a :class:`.kernels.SmallGeometry`;
    default: the table's) from ``module`` (holding that name expression):
    the tuner's and the tests' entry. Same arrays and meaning as
    :func:`launch_corr2d`."""
    nbatch, xb, ob = _batch(x, w, out)
    dtype = np.dtype(x.dtype)
    K0, K1 = w.shape
    code = boundary_code(boundary)
    g = geometry or small_geometry(dtype, K0, K1)
    cfg = small_config(dtype, (K0, K1), out.shape[-2:], nbatch, max_grid, g)
    params = _params(x, w, out, r0, r1, fill_scalar(dtype, fillvalue), cfg, nbatch, xb, ob)
    fn = module.get_function(small_name_expression(dtype, flip, code, K0, K1, g))
    fn(cfg.grid, cfg.block, (x, w, out, params), shared_mem=0)
    return cfg


# ------------------------------------------------------------ corr2d_large
def large_smem_bytes(dtype, kr):
    """Dynamic shared memory of ``corr2d_large`` for chunks of ``kr`` tap
    rows (corr2d_large.cu: the input rows of the chunk at pitch SP, then
    ``kr`` weight rows of KCM)."""
    g = large_geometry(dtype)
    th, _ = large_tile(dtype)
    return ((th + kr - 1) * large_pitch(dtype) + kr * g.kcm) * smem_itemsize(dtype)


def large_chunks(dtype, K0, K1, budget=SMEM_LIMIT):
    """``(kr, kc)``: tap rows and columns per weight chunk of ``corr2d_large``.
    Columns: all of them up to KCM, else even chunks rounded up to CQ (full
    chunks of the tap loop); rows: as many as fit ``budget`` bytes (the
    whole kernel where it fits: the input tile is then staged once), evened
    out. Depends on the dtype and the weight shape only."""
    g = large_geometry(dtype)
    K0, K1 = max(int(K0), 1), max(int(K1), 1)
    if K1 <= g.kcm:
        kc = K1
    else:
        n = -(-K1 // g.kcm)
        kc = min(g.kcm, _round_up(-(-K1 // n), g.cq))
    kr = K0
    while kr > 1 and large_smem_bytes(dtype, kr) > budget:
        kr -= 1
    if large_smem_bytes(dtype, kr) > budget:
        raise ValueError(f"corr2d_large: {budget} bytes of shared memory hold no chunk")
    n = -(-K0 // kr)
    return -(-K0 // n), kc


def large_config(dtype, K, O, nbatch=1, max_grid=None, chunks=None):
    """:class:`LaunchConfig` of ``corr2d_large``: 1-D blocks of BX * BY
    threads, ``kc0, kc1`` the weight chunk ``(kr, kc)`` (``chunks``, default
    :func:`large_chunks`), dynamic ``shared_mem``."""
    K0, K1 = (int(k) for k in K)
    O0, O1 = (int(o) for o in O)
    g = large_geometry(dtype)
    th, tw = large_tile(dtype)
    kr, kc = chunks or large_chunks(dtype, K0, K1)
    caps = _caps(max_grid)
    grid = (max(1, min(-(-O1 // tw), caps[0])), max(1, min(-(-O0 // th), caps[1])),
            max(1, min(int(nbatch), caps[2])))
    return LaunchConfig(grid=grid, block=(g.bx * g.by, 1, 1), along_row=1, tile=(th, tw),
                        kc0=kr, kc1=kc, shared_mem=large_smem_bytes(dtype, kr), xc0=kr, xc1=kc)


def _launch_large(module, x, w, out, r0, r1, flip, code, fillvalue, nbatch,
                  x_bstride, out_bstride, max_grid, chunks=None):
    dtype = np.dtype(x.dtype)
    g = large_geometry(dtype)
    if chunks is not None:
        kr, kc = (int(c) for c in chunks)
        if not (1 <= kr and 1 <= kc <= g.kcm):
            raise ValueError(f"corr2d_large chunks {chunks}: need kr >= 1, 1 <= kc <= {g.kcm}")
    cfg = large_config(dtype, w.shape, out.shape[-2:], nbatch, max_grid, chunks)
    params = _params(x, w, out, r0, r1, fill_scalar(dtype, fillvalue), cfg, nbatch,
                     x_bstride, out_bstride)
    fn = module.get_function(large_name_expression(dtype, flip, code))
    fn(cfg.grid, cfg.block, (x, w, out, params), shared_mem=cfg.shared_mem)
    return cfg


def launch_large(module, x, w, out, r0, r1, flip, boundary, fillvalue, max_grid=None,
                 chunks=None):
    """``corr2d_large`` alone from ``module`` (holding its name expression),
    with weight chunks ``chunks = (kr, kc)`` (default :func:`large_chunks`):
    the tests' entry. Same arrays and meaning as :func:`launch_corr2d`."""
    nbatch, xb, ob = _batch(x, w, out)
    return _launch_large(module, x, w, out, r0, r1, flip, boundary_code(boundary), fillvalue,
                         nbatch, xb, ob, max_grid, chunks)
