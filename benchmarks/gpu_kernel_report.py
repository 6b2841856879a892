"""The direct kernels read from their machine code, against the budgets of
issue 15 -- no GPU needed.

    python benchmarks/gpu_kernel_report.py                  # table; exit 1 on a budget miss
    python benchmarks/gpu_kernel_report.py --cubin-dir DIR  # also keep the cubins
    python benchmarks/gpu_kernel_report.py --quick          # sm_90 only, no emulator

Each kernel is compiled by NVRTC (``cupy.cuda.nvrtc``: no driver) to a cubin
for sm_80 and sm_90 with ``-Xptxas=-v`` and disassembled by nvdisasm (the
``nvidia-cuda-nvdisasm`` wheel); ``corrconv_gpu/_backends/cuda/sass.py``
parses the SASS.  Rows:

* ``corr2d_small`` (kernels/corr2d_small.cu: float16 / float32 / float64,
  K x K for K in 1, 3, 5, 7; correlation, constant boundary -- the other
  variants differ in the edge path only):

  ``slots/out``  instructions one thread issues for one interior tile (the
                 shortest path through the tile loop doing all the tile's
                 work: staging, barriers, tap loop, stores), divided by its
                 outputs -- issue slots per output (budget, float32:
                 <= 20 / 36 / 60 at K = 3 / 5 / 7)
  ``FMA%``       FMAs (FFMA / DFMA) among the tap loop's instructions (the
                 path between the last barrier and the first store)
  ``LDG/STG``    global loads / stores of that path by width, ``16B`` x n
                 (budget: every one 16 bytes wide)
  ``fly/SM``     bytes of global loads in flight per SM: the loads a thread
                 issues before it first reads one of their results, x 32
                 lanes x the resident warps (occupancy from the registers,
                 the block and the shared memory; budget >= 16 KiB)
  ``regs``, ``spill``, ``smem``: ptxas -v (budget: 0 spill bytes; the spill
                 check also runs on sm_75 ... sm_120 at K = 7)
  ``st/out``     emulator (counting build, ``same`` mode, 256 x 512 image,
                 edge tiles included): global store requests per output
                 (budget <= 0.25 float32, 0.125 float16, 0.5 float64)
  ``rd/ideal``   emulator: distinct 32-byte sectors each block reads, over
                 the ideal -- per output tile, the input rows and columns
                 its outputs need (halo included, clipped to the input),
                 each row rounded out to whole sectors (budget <= 1.15)

* ``corr2d_large`` (kernels/corr2d_large.cu: float16 / float32 / float64
  weights with rows of more than 7 taps; one instantiation serves every size, the
  rows K x K for K in 9, 15, 31 differ in the launch configuration and the
  emulator run; correlation, constant boundary):

  ``chunk``      tap rows x columns per weight chunk (launch.py:large_chunks)
  ``tap loop``   the innermost loop holding FMAs (CQ taps of one tap row):
                 its instructions, FMA share (budget >= 90 %), register-to-
                 register moves (budget 0) and shared loads per FMA
                 (budget <= 0.1)
  ``LDG/STG``    global accesses of the interior tile path by width (budget:
                 16 bytes only)
  ``fly/SM``     the 16-byte loads a thread issues in the staging loop before
                 it first reads one, x 32 lanes x the resident warps at the
                 launch configuration's shared memory (budget >= 16 KiB)
  ``st/out``, ``rd/ideal``: as above; the ideal adds the weights' sectors once
                 per block (they are read from global memory, not passed by value)
  spills of all 10 variants on sm_75 ... sm_120 (budget 0).

* ``corr2d`` (kernels/corr2d.cu, the generic kernel, float32 ``OPT`` = 8):
  its tap loop for comparison, without budgets (no longer the large-kernel
  path of these dtypes).

Everything is read from machine code or counted by the emulator; nothing is
measured on a GPU.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corrconv_gpu._backends.cuda import kernels as _kernels  # noqa: E402
from corrconv_gpu._backends.cuda import params as _params  # noqa: E402
from corrconv_gpu._backends.cuda import sass  # noqa: E402

DTYPES = ("float32", "float16", "float64")
KS = (1, 3, 5, 7)
LARGE_KS = (9, 15, 31)
ARCHS = ("sm_80", "sm_90")
SPILL_ARCHS = ("sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_120")
SPILL_SIZES = ((5, 7), (6, 5), (6, 6))
TRAFFIC_SHAPE = (256, 512)

#: the budgets of issue 15
BUDGETS = dict(
    slots={3: 20, 5: 36, 7: 60},             # float32 small kernels, issue slots per output
    inflight=16 * 1024,                       # bytes of global loads in flight per SM
    store_requests={"float32": 0.25, "float16": 0.125, "float64": 0.5},
    read_ratio=1.15,                          # sectors read / ideal sectors
    large_fma_share=0.90, large_lds_per_fma=0.1, large_window_moves=0,
    spill=0,
)


def _occupancy(arch, regs, threads, smem):
    return _params.occupancy(arch, regs, threads, smem)


def _compile(source, name, dtype, arch, cubin_dir=None, stem="kernel"):
    """One name expression of ``source`` for ``arch``: (its SASS instructions
    and labels, its ptxas -v resources, NVRTC seconds); the cubin is kept as
    ``cubin_dir/stem_arch.cubin`` when ``cubin_dir`` is given."""
    opts = list(_kernels.compile_options(dtype)) + list(_kernels.include_options())
    path = None
    if cubin_dir:
        os.makedirs(cubin_dir, exist_ok=True)
        path = os.path.join(cubin_dir, f"{stem}_{arch}.cubin")
    t0 = time.perf_counter()
    cubin, log, lowered = sass.compile_cubin(source, [name], opts, arch)
    seconds = time.perf_counter() - t0
    funcs = sass.parse_functions(sass.disassemble(cubin, keep=path))
    mangled = lowered[name]
    return funcs[mangled], sass.parse_ptxas_log(log)[mangled], seconds


def small_sass(dtype, K, arch, cubin_dir=None, flip=False, boundary=0):
    """Machine-code figures of ``corr2d_small`` for K x K (or K = (K0, K1))."""
    K0, K1 = (K, K) if np.isscalar(K) else K
    name = _kernels.small_name_expression(dtype, flip, boundary, K0, K1)
    items, r, seconds = _compile(_kernels.small_source(), name, dtype, arch, cubin_dir,
                                 f"corr2d_small_{dtype}_{K0}x{K1}")
    g = _kernels.small_geometry(dtype, K0, K1)
    outputs = g.rx * g.ry
    threads = g.bx * g.by
    path_ = sass.interior_path(sass.blocks(items))
    row = dict(kernel="corr2d_small", dtype=dtype, K=(K0, K1), arch=arch, regs=r["regs"],
               spill=r["spill_st"] + r["spill_ld"], smem=r["smem"], outputs=outputs,
               path=path_ is not None, nvrtc_s=seconds)
    occ = _occupancy(arch, r["regs"], threads, r["smem"])
    row["occ"] = occ
    if path_ is None:
        return row
    c = sass.counts(path_)
    tap = sass.tap_segment(path_)
    fma = sum(1 for i in tap if sass.base_op(i.op) in sass.FMA_OPS)
    nld, bld = sass.loads_before_first_use(path_)
    warps = occ.blocks * -(-threads // 32)
    row.update(
        instructions=len(path_), slots=len(path_) / outputs,
        fma_share=fma / max(1, len(tap)), tap_len=len(tap), fmas=fma,
        ldg={w: c.get(f"LDG.{w}", 0) for w in (1, 2, 4, 8, 16)},
        stg={w: c.get(f"STG.{w}", 0) for w in (1, 2, 4, 8, 16)},
        lds=c.get("LDS", 0), sts=c.get("STS", 0),
        loads_in_flight=nld, inflight_thread=bld, warps=warps,
        inflight_sm=bld * 32 * warps)
    return row


def generic_sass(dtype, arch, cubin_dir=None):
    """Tap-loop figures of the generic kernel ``corr2d`` (correlation,
    constant boundary)."""
    name = _kernels.name_expression(dtype, False, False, 0)
    items, r, _ = _compile(_kernels.kernel_source(), name, dtype, arch, cubin_dir,
                           f"corr2d_{dtype}")
    bl = sass.blocks(items)
    fma_pred = lambda i: sass.base_op(i.op) in sass.FMA_OPS  # noqa: E731
    loop = sass.innermost_loop(bl, fma_pred)
    body = [i for b in bl[loop[0]:loop[1] + 1] for i in b.instrs] if loop else []
    fma = sum(1 for i in body if fma_pred(i))
    lds = sum(1 for i in body if sass.base_op(i.op) == "LDS")
    moves = sum(1 for i in body if sass.is_window_move(i))
    # staging: the innermost loop holding a 16-byte global load (the tile's
    # vector staging); its loads before first use
    ldg_loop = sass.innermost_loop(
        bl, lambda i: sass.base_op(i.op) == "LDG" and sass.access_bytes(i) == 16)
    # (its vector path: the blocks without a narrower global load)
    sbody = [i for b in (bl[ldg_loop[0]:ldg_loop[1] + 1] if ldg_loop else [])
             if not any(sass.base_op(x.op) == "LDG" and sass.access_bytes(x) != 16 for x in b.instrs)
             for i in b.instrs]
    nld, bld = sass.loads_before_first_use(sbody)
    p = _params.launch_params(dtype)
    threads = p.wide[0] * p.wide[1]
    occ = _occupancy(arch, r["regs"], threads, r["smem"] + p.smem_budget)
    warps = occ.blocks * -(-threads // 32)
    return dict(kernel="corr2d", dtype=dtype, arch=arch, regs=r["regs"],
                spill=r["spill_st"] + r["spill_ld"], smem=r["smem"], loop_len=len(body),
                fmas=fma, fma_share=fma / max(1, len(body)), lds_per_fma=lds / max(1, fma),
                window_moves=moves, loads_in_flight=nld, inflight_thread=bld, occ=occ,
                warps=warps, inflight_sm=bld * 32 * warps)


_large_compiled = {}


def large_sass(dtype, arch, K=(15, 15), cubin_dir=None, flip=False, boundary=0):
    """Machine-code figures of ``corr2d_large`` (one instantiation serves
    every weight size; ``K`` sets the launch configuration: its shared
    memory, hence the occupancy the loads in flight are counted at)."""
    K0, K1 = (K, K) if np.isscalar(K) else K
    name = _kernels.large_name_expression(dtype, flip, boundary)
    key = (dtype, arch, name, cubin_dir)
    if key not in _large_compiled:
        _large_compiled[key] = _compile(_kernels.large_source(), name, dtype, arch, cubin_dir,
                                        f"corr2d_large_{dtype}")
    items, r, seconds = _large_compiled[key]
    bl = sass.blocks(items)
    fma_pred = lambda i: sass.base_op(i.op) in sass.FMA_OPS  # noqa: E731
    loop = sass.innermost_loop(bl, fma_pred)
    body = [i for b in bl[loop[0]:loop[1] + 1] for i in b.instrs] if loop else []
    fma = sum(1 for i in body if fma_pred(i))
    lds = sum(1 for i in body if sass.base_op(i.op) == "LDS")
    moves = sum(1 for i in body if sass.is_window_move(i))
    # staging: the innermost loop holding 16-byte global loads, its blocks
    # without a narrower global load (the interior path); loads before first use
    wide_ldg = lambda i: sass.base_op(i.op) == "LDG" and sass.access_bytes(i) == 16  # noqa: E731
    ldg_loop = sass.innermost_loop(bl, wide_ldg)
    sbody = [i for b in (bl[ldg_loop[0]:ldg_loop[1] + 1] if ldg_loop else [])
             if not any(sass.base_op(x.op) == "LDG" and sass.access_bytes(x) != 16 for x in b.instrs)
             for i in b.instrs]
    nld, bld = sass.loads_before_first_use(sbody)
    # the interior tile: its global loads and stores by width
    path_ = sass.interior_path(bl)
    c = sass.counts(path_ or [])
    path_ldg = {w: c.get(f"LDG.{w}", 0) for w in (1, 2, 4, 8, 16)}
    path_stg = {w: c.get(f"STG.{w}", 0) for w in (1, 2, 4, 8, 16)}
    from corrconv_gpu._backends.cuda.launch import large_config
    cfg = large_config(dtype, (K0, K1), (4096, 4096))
    threads = cfg.block[0]
    occ = _occupancy(arch, r["regs"], threads, r["smem"] + cfg.shared_mem)
    warps = occ.blocks * -(-threads // 32)
    g = _kernels.large_geometry(dtype)
    return dict(kernel="corr2d_large", dtype=dtype, K=(K0, K1), arch=arch, regs=r["regs"],
                spill=r["spill_st"] + r["spill_ld"], smem=cfg.shared_mem, loop_len=len(body),
                fmas=fma, fma_share=fma / max(1, len(body)), lds=lds, lds_per_fma=lds / max(1, fma),
                window_moves=moves, loads_in_flight=nld, inflight_thread=bld, occ=occ,
                warps=warps, inflight_sm=bld * 32 * warps, chunks=(cfg.kc0, cfg.kc1),
                outputs=g.rx * g.ry, ldg=path_ldg, stg=path_stg, path=path_ is not None,
                nvrtc_s=seconds)


def large_spill_check(dtype, arch, variants=None):
    """Registers and spill bytes of every variant of ``corr2d_large`` on
    ``arch`` (one NVRTC program holding the 10 variants; ``variants``: a list
    of ``(flip, boundary)`` to compile fewer)."""
    names = [_kernels.large_name_expression(dtype, f, b)
             for f, b in (variants or _kernels.small_variants())]
    opts = list(_kernels.compile_options(dtype)) + list(_kernels.include_options())
    cubin, log, lowered = sass.compile_cubin(_kernels.large_source(), names, opts, arch)
    res = sass.parse_ptxas_log(log)
    rows = [res[lowered[n]] for n in names]
    return dict(regs=max(r["regs"] for r in rows),
                spill=max(r["spill_st"] + r["spill_ld"] for r in rows))


def spill_check(dtype, K, arch):
    """Registers and spill bytes of every variant of ``corr2d_small`` K x K
    (or K = (K0, K1)) on ``arch`` (one NVRTC program holding the 10 variants)."""
    K0, K1 = (K, K) if np.isscalar(K) else K
    names = [_kernels.small_name_expression(dtype, f, b, K0, K1) for f, b in _kernels.small_variants()]
    opts = list(_kernels.compile_options(dtype)) + list(_kernels.include_options())
    cubin, log, lowered = sass.compile_cubin(_kernels.small_source(), names, opts, arch)
    res = sass.parse_ptxas_log(log)
    rows = [res[lowered[n]] for n in names]
    return dict(regs=max(r["regs"] for r in rows),
                spill=max(r["spill_st"] + r["spill_ld"] for r in rows))


# ------------------------------------------------------------ emulator
def _emu_traffic_module():
    spec = importlib.util.spec_from_file_location("emu_traffic", ROOT / "benchmarks" / "emu_traffic.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def ideal_sectors(M, K, O, r, tile, itemsize, base=0):
    """Per output tile, the input rows x columns its outputs need (halo
    included, clipped to the input), each row's byte range rounded out to
    32-byte sectors (x's rows start at ``base`` + row * row bytes)."""
    (M0, M1), (K0, K1), (O0, O1), (r0, r1), (th, tw) = M, K, O, r, tile
    total = 0
    for i0 in range(0, O0, th):
        a, b = max(0, i0 + r0), min(M0, min(i0 + th, O0) + r0 + K0 - 1)
        for j0 in range(0, O1, tw):
            c, d = max(0, j0 + r1), min(M1, min(j0 + tw, O1) + r1 + K1 - 1)
            if b <= a or d <= c:
                continue
            for row in range(a, b):
                lo = base + (row * M1 + c) * itemsize
                hi = base + (row * M1 + d) * itemsize
                total += (hi - 1) // 32 - lo // 32 + 1
    return total


_counting = {}


def _aligned(shape, dtype, align=64):
    """A zeroed C-contiguous array whose data starts on an ``align``-byte boundary."""
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buf = np.zeros(n + align, np.uint8)
    off = (-buf.__array_interface__["data"][0]) % align
    return buf[off:off + n].view(dtype).reshape(shape)


def small_traffic(dtype, K, shape=TRAFFIC_SHAPE, boundary="constant", flip=False, check=True):
    """Run ``corr2d_small`` (mode 'same') in the emulator's counting build;
    store requests per output and sectors read over the ideal."""
    from corrconv_gpu._backends.cuda.launch import launch_corr2d
    from corrconv_gpu._emu import EmuModule

    K0, K1 = (K, K) if np.isscalar(K) else K
    dt = np.dtype(dtype)
    key = (dt.name, K0, K1, flip, boundary)
    if key not in _counting:
        name = _kernels.small_name_expression(dt, flip, boundary, K0, K1)
        _counting[key] = EmuModule(_kernels.small_source(), options=_kernels.compile_options(dt),
                                   name_expressions=(name,), sanitize="count")
    mod = _counting[key]
    M0, M1 = shape
    rng = np.random.default_rng(0)
    x = _aligned((M0, M1), dt)              # 64-byte aligned, as device allocations are
    x[...] = rng.random((M0, M1))
    w = rng.standard_normal((K0, K1)).astype(dt)
    out = _aligned((M0, M1), dt)
    r0, r1 = -(K0 // 2), -(K1 // 2)
    cfg = launch_corr2d(None, x, w, out, r0, r1, flip, False, boundary, 0,
                        small=lambda *a: mod)
    fn = mod.get_function(_kernels.small_name_expression(dt, flip, boundary, K0, K1))
    c = dict(fn.last_counters)
    if check and boundary == "constant" and K0 % 2 and K1 % 2:
        from corrconv_gpu import reference
        want = reference.correlate2d(x.astype(np.float64), w.astype(np.float64), "same")
        tol = {"float16": 2e-2, "float32": 1e-4, "float64": 1e-10}[dt.name]
        np.testing.assert_allclose(out.astype(np.float64), want, rtol=tol, atol=tol * K0 * K1)
    n = M0 * M1
    base = x.__array_interface__["data"][0] % 32
    ideal = ideal_sectors((M0, M1), (K0, K1), (M0, M1), (r0, r1), cfg.tile, dt.itemsize, base)
    return dict(dtype=dt.name, K=(K0, K1), outputs=n, cfg=cfg,
                store_requests=c["global_writes"] / n,
                write_bytes=c["global_write_bytes"] / n,
                sectors=c["global_read_sectors"], ideal_sectors=ideal,
                read_ratio=c["global_read_sectors"] / ideal,
                read_bytes_ratio=c["global_read_bytes"] / (ideal * 32))


def large_traffic(dtype, K, shape=TRAFFIC_SHAPE, boundary="constant", flip=False, check=True):
    """Run ``corr2d_large`` (mode 'same') in the emulator's counting build;
    store requests per output and sectors read over the ideal.  The ideal
    adds to :func:`ideal_sectors` (the input) the weights' sectors once per
    block: unlike corr2d_small, whose weights are a by-value parameter,
    every block reads them from global memory."""
    from corrconv_gpu._backends.cuda.launch import launch_corr2d
    from corrconv_gpu._emu import EmuModule

    K0, K1 = (K, K) if np.isscalar(K) else K
    dt = np.dtype(dtype)
    key = ("large", dt.name, flip, boundary)
    name = _kernels.large_name_expression(dt, flip, boundary)
    if key not in _counting:
        _counting[key] = EmuModule(_kernels.large_source(), options=_kernels.compile_options(dt),
                                   name_expressions=(name,), sanitize="count")
    mod = _counting[key]
    M0, M1 = shape
    rng = np.random.default_rng(0)
    x = _aligned((M0, M1), dt)
    x[...] = rng.random((M0, M1))
    w = _aligned((K0, K1), dt)
    w[...] = rng.standard_normal((K0, K1))
    out = _aligned((M0, M1), dt)
    r0, r1 = -(K0 // 2), -(K1 // 2)
    cfg = launch_corr2d(None, x, w, out, r0, r1, flip, False, boundary, 0,
                        large=lambda *a: mod)
    c = dict(mod.get_function(name).last_counters)
    if check and boundary == "constant" and K0 % 2 and K1 % 2:
        from corrconv_gpu import reference
        want = reference.correlate2d(x.astype(np.float64), w.astype(np.float64), "same")
        tol = {"float16": 2e-2, "float32": 1e-4, "float64": 1e-10}[dt.name]
        np.testing.assert_allclose(out.astype(np.float64), want, rtol=tol, atol=tol * K0 * K1)
    n = M0 * M1
    base = x.__array_interface__["data"][0] % 32
    ideal_x = ideal_sectors((M0, M1), (K0, K1), (M0, M1), (r0, r1), cfg.tile, dt.itemsize, base)
    blocks = cfg.grid[0] * cfg.grid[1] * cfg.grid[2]
    ideal_w = blocks * (-(-K0 * K1 * dt.itemsize // 32))
    ideal = ideal_x + ideal_w
    return dict(dtype=dt.name, K=(K0, K1), outputs=n, cfg=cfg,
                store_requests=c["global_writes"] / n,
                write_bytes=c["global_write_bytes"] / n,
                sectors=c["global_read_sectors"], ideal_sectors=ideal, ideal_w=ideal_w,
                read_ratio=c["global_read_sectors"] / ideal,
                read_bytes_ratio=c["global_read_bytes"] / (ideal * 32))


# ------------------------------------------------------------ table
def small_misses(row, traffic=None):
    """Budget misses of one ``corr2d_small`` row (list of strings)."""
    m = []
    d, (K0, K1), a = row["dtype"], row["K"], row["arch"]
    tag = f"corr2d_small {d} {K0}x{K1} {a}"
    if row["spill"] > BUDGETS["spill"]:
        m.append(f"{tag}: {row['spill']} spill bytes")
    if not row["path"]:
        m.append(f"{tag}: no interior path with 16-byte loads and stores found in the SASS")
        return m
    if d == "float32" and K0 == K1 and K0 in BUDGETS["slots"] and row["slots"] > BUDGETS["slots"][K0]:
        m.append(f"{tag}: {row['slots']:.2f} issue slots per output > {BUDGETS['slots'][K0]}")
    narrow = sum(v for w, v in row["ldg"].items() if w != 16) + \
        sum(v for w, v in row["stg"].items() if w != 16)
    if narrow:
        m.append(f"{tag}: {narrow} global accesses narrower than 16 bytes in the tile interior")
    if row["inflight_sm"] < BUDGETS["inflight"]:
        m.append(f"{tag}: {row['inflight_sm']} bytes in flight per SM < {BUDGETS['inflight']}")
    if traffic is not None:
        if traffic["store_requests"] > BUDGETS["store_requests"][d]:
            m.append(f"{tag}: {traffic['store_requests']:.3f} store requests per output > "
                     f"{BUDGETS['store_requests'][d]}")
        if traffic["read_ratio"] > BUDGETS["read_ratio"]:
            m.append(f"{tag}: sectors read {traffic['read_ratio']:.3f} x ideal > {BUDGETS['read_ratio']}")
    return m


def large_misses(row, traffic=None):
    """Budget misses of one ``corr2d_large`` row (list of strings)."""
    m = []
    d, (K0, K1), a = row["dtype"], row["K"], row["arch"]
    tag = f"corr2d_large {d} {K0}x{K1} {a}"
    if row["fma_share"] < BUDGETS["large_fma_share"]:
        m.append(f"{tag}: FMA {100 * row['fma_share']:.1f}% of the tap loop < "
                 f"{100 * BUDGETS['large_fma_share']:.0f}%")
    if row["window_moves"] > BUDGETS["large_window_moves"]:
        m.append(f"{tag}: {row['window_moves']} register-window moves in the tap loop")
    if row["lds_per_fma"] > BUDGETS["large_lds_per_fma"]:
        m.append(f"{tag}: {row['lds_per_fma']:.3f} shared loads per FMA > {BUDGETS['large_lds_per_fma']}")
    if row["inflight_sm"] < BUDGETS["inflight"]:
        m.append(f"{tag}: {row['inflight_sm']} bytes in flight per SM < {BUDGETS['inflight']}")
    if row["spill"] > BUDGETS["spill"]:
        m.append(f"{tag}: {row['spill']} spill bytes")
    if not row["path"]:
        m.append(f"{tag}: no interior path with 16-byte loads and stores found in the SASS")
    else:
        narrow = sum(v for w, v in row["ldg"].items() if w != 16) + \
            sum(v for w, v in row["stg"].items() if w != 16)
        if narrow:
            m.append(f"{tag}: {narrow} global accesses narrower than 16 bytes in the tile interior")
    if traffic is not None:
        if traffic["store_requests"] > BUDGETS["store_requests"][d]:
            m.append(f"{tag}: {traffic['store_requests']:.3f} store requests per output > "
                     f"{BUDGETS['store_requests'][d]}")
        if traffic["read_ratio"] > BUDGETS["read_ratio"]:
            m.append(f"{tag}: sectors read {traffic['read_ratio']:.3f} x ideal > {BUDGETS['read_ratio']}")
    return m


LARGE_HEADER = ("| kernel | dtype | K | arch | chunk | tap loop instr | FMA% | window moves | LDS/FMA | "
                "LDG | STG | fly/thread | fly/SM | occ | regs | spill | smem | st/out | rd/ideal | NVRTC s |")


def large_line(row, tr):
    K = f"{row['K'][0]}x{row['K'][1]}"
    occ = row["occ"]
    st = f"{tr['store_requests']:.3f}" if tr else "-"
    rd = f"{tr['read_ratio']:.3f}" if tr else "-"
    return (f"| corr2d_large | {row['dtype']} | {K} | {row['arch']} | "
            f"{row['chunks'][0]}x{row['chunks'][1]} | {row['loop_len']} | "
            f"{100 * row['fma_share']:.1f}% | {row['window_moves']} | {row['lds_per_fma']:.3f} | "
            f"{_widths(row['ldg'])} | {_widths(row['stg'])} | "
            f"{row['loads_in_flight']}x = {row['inflight_thread']} B | "
            f"{row['inflight_sm'] / 1024:.0f} KiB | {100 * occ.fraction:.1f}% | {row['regs']} | "
            f"{row['spill']} | {row['smem']} | {st} | {rd} | {row['nvrtc_s']:.2f} |")


def _widths(d):
    parts = [f"{w}Bx{n}" for w, n in sorted(d.items(), reverse=True) if n]
    return "+".join(parts) or "-"


SMALL_HEADER = ("| kernel | dtype | K | arch | slots/out | FMA% | LDG | STG | fly/thread | fly/SM | "
                "occ | regs | spill | smem | st/out | rd/ideal | NVRTC s |")


def small_line(row, tr):
    K = f"{row['K'][0]}x{row['K'][1]}"
    occ = row["occ"]
    if not row["path"]:
        return f"| corr2d_small | {row['dtype']} | {K} | {row['arch']} | no path | | | | | | | " \
               f"{row['regs']} | {row['spill']} | {row['smem']} | | | {row['nvrtc_s']:.2f} |"
    st = f"{tr['store_requests']:.3f}" if tr else "-"
    rd = f"{tr['read_ratio']:.3f}" if tr else "-"
    return (f"| corr2d_small | {row['dtype']} | {K} | {row['arch']} | {row['slots']:.2f} | "
            f"{100 * row['fma_share']:.0f}% | {_widths(row['ldg'])} | {_widths(row['stg'])} | "
            f"{row['loads_in_flight']}x = {row['inflight_thread']} B | "
            f"{row['inflight_sm'] / 1024:.0f} KiB | {100 * occ.fraction:.0f}% | {row['regs']} | "
            f"{row['spill']} | {row['smem']} | {st} | {rd} | {row['nvrtc_s']:.2f} |")


GENERIC_HEADER = ("| kernel | dtype | arch | tap loop instr | FMA% | window moves | LDS/FMA | "
                  "fly/thread | fly/SM | occ | regs | spill |")


def generic_line(row):
    occ = row["occ"]
    return (f"| corr2d (generic) | {row['dtype']} | {row['arch']} | {row['loop_len']} | "
            f"{100 * row['fma_share']:.0f}% | {row['window_moves']} | {row['lds_per_fma']:.3f} | "
            f"{row['loads_in_flight']}x = {row['inflight_thread']} B | "
            f"{row['inflight_sm'] / 1024:.1f} KiB | {100 * occ.fraction:.0f}% | {row['regs']} | "
            f"{row['spill']} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cubin-dir", default=None, help="keep the compiled cubins here")
    ap.add_argument("--quick", action="store_true",
                    help="sm_90 only, no emulator counts, no spill sweep (a smoke run)")
    ap.add_argument("--dtypes", default=",".join(DTYPES))
    ap.add_argument("--ks", default=",".join(map(str, KS)))
    ap.add_argument("--large-ks", default=",".join(map(str, LARGE_KS)),
                    help="weight sizes of the corr2d_large rows")
    args = ap.parse_args(argv)
    try:
        from cupy.cuda import nvrtc
        nvrtc.getVersion()
    except Exception as e:
        print(f"NVRTC unavailable ({type(e).__name__}: {e}); nothing to read", file=sys.stderr)
        return 2
    if sass.nvdisasm_path() is None:
        print("nvdisasm not found: pip install nvidia-cuda-nvdisasm", file=sys.stderr)
        return 2
    from cupy.cuda import nvrtc
    t0 = time.perf_counter()
    archs = ("sm_90",) if args.quick else ARCHS
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    ks = [int(k) for k in args.ks.split(",") if k.strip()]
    large_ks = [int(k) for k in args.large_ks.split(",") if k.strip()]
    misses = []
    print(f"# corr2d kernels read from machine code ({time.strftime('%Y-%m-%d')}; NVRTC "
          f"{'.'.join(map(str, nvrtc.getVersion()))}, nvdisasm {sass.nvdisasm_path()})\n")
    print("Figures are read from the SASS of NVRTC cubins and counted by the CPU emulator; "
          "nothing here is measured on a GPU.\n")
    print(SMALL_HEADER)
    print("|" + "|".join("---" for _ in range(SMALL_HEADER.count("|") - 1)) + "|")
    for d in dtypes:
        for K in ks:
            tr = None if args.quick else small_traffic(d, K)
            for a in archs:
                row = small_sass(d, K, a, args.cubin_dir)
                misses += small_misses(row, tr)
                print(small_line(row, tr), flush=True)
    print()
    print(LARGE_HEADER)
    print("|" + "|".join("---" for _ in range(LARGE_HEADER.count("|") - 1)) + "|")
    for d in dtypes:
        for K in large_ks:
            tr = None if args.quick else large_traffic(d, K)
            for a in archs:
                row = large_sass(d, a, K, args.cubin_dir)
                misses += large_misses(row, tr)
                print(large_line(row, tr), flush=True)
    print("\nThe generic kernel (corr2d, float32 OPT = 8) for comparison: no longer the path of "
          "float16/32/64 weights with rows of more than 7 taps (corr2d_large is), so no budget applies to it:\n")
    print(GENERIC_HEADER)
    print("|" + "|".join("---" for _ in range(GENERIC_HEADER.count("|") - 1)) + "|")
    for a in archs:
        print(generic_line(generic_sass("float32", a, args.cubin_dir)), flush=True)
    if not args.quick:
        print(f"\nspills of every corr2d_small variant (10 a size): 7x7 on {', '.join(SPILL_ARCHS)}; "
              f"{', '.join(f'{a}x{b}' for a, b in SPILL_SIZES)} on sm_75 (the edge paths of these "
              "spilled there at 128 registers):")
        for d in dtypes:
            line = []
            for a, K in [(a, (7, 7)) for a in SPILL_ARCHS] + [("sm_75", k) for k in SPILL_SIZES]:
                s = spill_check(d, K, a)
                line.append(f"{K[0]}x{K[1]} {a} {s['regs']} regs/{s['spill']} B")
                if s["spill"]:
                    misses.append(f"corr2d_small {d} {K[0]}x{K[1]} {a}: {s['spill']} spill bytes")
            print(f"- {d}: " + ", ".join(line), flush=True)
        print(f"\nspills of every corr2d_large variant (10 a dtype; one instantiation serves "
              f"every weight size) on {', '.join(SPILL_ARCHS)}:")
        for d in dtypes:
            line = []
            for a in SPILL_ARCHS:
                s = large_spill_check(d, a)
                line.append(f"{a} {s['regs']} regs/{s['spill']} B")
                if s["spill"]:
                    misses.append(f"corr2d_large {d} {a}: {s['spill']} spill bytes")
            print(f"- {d}: " + ", ".join(line), flush=True)
    print(f"\nbudgets: float32 issue slots per output <= "
          f"{', '.join(f'{v} (K={k})' for k, v in BUDGETS['slots'].items())}; interior global "
          f"accesses all 16 bytes; >= {BUDGETS['inflight'] // 1024} KiB of loads in flight per SM; "
          f"store requests per output <= {BUDGETS['store_requests']}; sectors read <= "
          f"{BUDGETS['read_ratio']} x ideal; 0 spills; large kernels: FMA >= "
          f"{100 * BUDGETS['large_fma_share']:.0f}% of the tap loop, no window moves, "
          f"<= {BUDGETS['large_lds_per_fma']} shared loads per FMA")
    if misses:
        print(f"\n{len(misses)} budget miss(es):")
        for m in misses:
            print(f"- MISS {m}")
    else:
        print("\nall budgets met")
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
