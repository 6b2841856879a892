"""Compile every instantiation of kernels/corr2d.cu with NVRTC -- no GPU needed.

Every dtype x FLIP x CONJ (complex only) x 5 boundaries, one NVRTC program per
(arch, dtype) holding all of that dtype's name expressions (exactly what
``_kernels.get_module`` hands to ``cupy.RawModule``), for sm_75 ... sm_120,
through ``cupy.cuda.nvrtc`` directly (createProgram / addNameExpression /
compileProgram / getCUBIN / getProgramLog work without a driver, unlike
``cupy.cuda.compiler.compile_using_nvrtc`` or ``RawModule.get_function``,
which query the device).  ``-Xptxas=-v`` puts registers, spills and shared
memory in the program log; the tests assert

* every name expression compiles and lowers to a kernel in the CUBIN,
* 0 bytes of spill stores and loads,
* static shared memory + the launcher's largest dynamic shared memory
  (``_params.SMEM_LIMIT``) <= 48 KiB per block,
* registers within the ``__launch_bounds__`` cap (64 for <= 4-byte elements
  and double -- 4 blocks of 256 threads, 50% occupancy on sm_80/sm_90 --,
  80 for the other 8/16-byte ones).

The register table is printed (``pytest -s``) and written to
``.pytest_cache/d/corrconv_nvrtc/resources.txt`` (or ``$CORRCONV_NVRTC_REPORT``).

Architectures: every one the issue names, sm_75, sm_80, sm_86, sm_89, sm_90,
sm_100 and sm_120, in the default run (7 x 14 programs, 1120 kernels: ~140
CPU-seconds, ~75 s wall on 2 idle cores). ``CORRCONV_NVRTC_ARCHS=sm_80,sm_90``
picks archs explicitly. ``CORRCONV_NVRTC_WORKERS`` sets the process count
(default: cores, at most 8).
"""

import concurrent.futures as cf
import multiprocessing
import os
import time

import numpy as np
import pytest

from corrconv_gpu._backends.cuda import kernels as _kernels
from corrconv_gpu._backends.cuda import launch as _launch
from corrconv_gpu._backends.cuda import params as _params
from corrconv_gpu._backends.cuda import sass as _sass

ALL_ARCHS = ("sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_120")
# every arch compiles in the default run (none is left to -m slow)
SLOW_ARCHS = ()
SMEM_BUDGET = 48 * 1024
_BNAMES = {v: k for k, v in _kernels.BOUNDARY_CODES.items()}


def _arch_params():
    env = os.environ.get("CORRCONV_NVRTC_ARCHS", "").strip()
    if env == "all":
        return list(ALL_ARCHS)
    if env:
        return [a.strip() for a in env.split(",") if a.strip()]
    return [pytest.param(a, marks=pytest.mark.slow) if a in SLOW_ARCHS else a
            for a in ALL_ARCHS]


def _selected_archs(request):
    """The archs of the selected test_compiles_without_spills items (so a
    default run compiles only the default archs, -m slow only the slow ones)."""
    archs = []
    for item in request.session.items:
        cs = getattr(item, "callspec", None)
        if cs is not None and item.originalname == "test_compiles_without_spills":
            a = cs.params.get("arch")
            if a not in archs:
                archs.append(a)
    return tuple(a for a in ALL_ARCHS if a in archs) + tuple(
        a for a in archs if a not in ALL_ARCHS)


def _nvrtc_or_skip():
    try:
        import cupy  # noqa: F401
        from cupy.cuda import nvrtc
        nvrtc.getVersion()
    except Exception as e:  # pragma: no cover - depends on the environment
        pytest.skip(f"cupy / NVRTC not importable: {type(e).__name__}: {e}")
    return nvrtc


def _reg_cap(dtype):
    # corrconv_min_blocks in corr2d.cu: 4 blocks of 256 threads (64 regs) for
    # <= 4-byte elements and double, 3 blocks (80 regs) for other 8/16-byte ones
    d = np.dtype(dtype)
    return 64 if d.itemsize < 8 or d == np.float64 else 80


# the ptxas -v parser is the package's (also read by gpu_kernel_report.py)
parse_ptxas_log = _sass.parse_ptxas_log


# the modules: one per dtype, and the float32 one that sums in float64
MODULES = [d.name for d in _kernels.SUPPORTED_DTYPES] + [
    f"{n}-wide" for n in _kernels.WIDE_CTYPES]


def _module(module):
    """``(dtype name, wide)`` of a :data:`MODULES` entry."""
    name, _, wide = module.partition("-")
    return name, wide == "wide"


def compile_one(arch, module):
    """Compile a whole module for arch; returns (rows, seconds, error)."""
    dtype_name, wide = _module(module)
    names = _kernels.name_expressions(dtype_name, wide)
    opts = list(_kernels.compile_options(dtype_name)) + list(_kernels.include_options())
    t0 = time.perf_counter()
    try:
        cubin, log, lowered = _sass.compile_cubin(_kernels.kernel_source(), names, opts, arch,
                                                  "corr2d.cu")
    except RuntimeError as e:
        return None, time.perf_counter() - t0, str(e)
    info = parse_ptxas_log(log)
    rows = []
    for n in names:
        r = info.get(lowered[n])
        rows.append(dict(name=n, lowered=lowered[n], found=r is not None,
                         in_cubin=lowered[n].encode() in cubin, **(r or {})))
    return rows, time.perf_counter() - t0, None


@pytest.fixture(scope="module")
def compiled(request):
    _nvrtc_or_skip()
    archs = _selected_archs(request)
    dtypes = MODULES
    jobs = [(a, d) for a in archs for d in dtypes]
    workers = int(os.environ.get("CORRCONV_NVRTC_WORKERS", min(os.cpu_count() or 1, 8)))
    t0 = time.perf_counter()
    results = {}
    if workers > 1:
        ctx = multiprocessing.get_context("fork")
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
            futs = {ex.submit(compile_one, a, d): (a, d) for a, d in jobs}
            for f in cf.as_completed(futs):
                results[futs[f]] = f.result()
    else:
        for a, d in jobs:
            results[(a, d)] = compile_one(a, d)
    total = time.perf_counter() - t0
    _report(request, archs, dtypes, results, total, workers)
    return results


def _report(request, archs, dtypes, results, total, workers):
    lines = [f"corr2d.cu NVRTC resource usage (registers[/spill bytes] per "
             f"instantiation); {sum(len(r[0] or ()) for r in results.values())} kernels, "
             f"{len(results)} programs, {total:.1f} s wall on {workers} workers",
             "static smem is 0 (shared memory is dynamic, <= "
             f"{_params.SMEM_LIMIT} bytes per launch)", ""]
    for d in dtypes:
        name, wide = _module(d)
        acc = _kernels.WIDE_CTYPES[name].acc if wide else _kernels.acc_ctype(name)
        lines.append(f"== {d}  ({_kernels.ctype(name)}, acc {acc}, "
                     f"opt {_params.launch_params(name).opt})")
        lines.append(f"{'variant (flip conj boundary)':34s}" + "".join(f"{a:>8s}" for a in archs))
        for i, (f, c, b) in enumerate(_kernels.variants(name)):
            cells = []
            for a in archs:
                rows, _, err = results[(a, d)]
                if err or rows is None:
                    cells.append("ERR")
                    continue
                r = rows[i]
                cell = str(r.get("regs"))
                if r.get("spill_st") or r.get("spill_ld"):
                    cell += f"/{r['spill_st']}"
                cells.append(cell)
            label = f"{'conv' if f else 'corr'} {'conj' if c else '    '} {b} {_BNAMES[b]}"
            lines.append(label.ljust(34) + "".join(f"{x:>8s}" for x in cells))
        secs = " ".join(f"{a}:{results[(a, d)][1]:.1f}s" for a in archs)
        lines.append(f"compile time  {secs}")
        lines.append("")
    text = "\n".join(lines)
    print("\n" + text)
    path = os.environ.get("CORRCONV_NVRTC_REPORT")
    try:
        if not path:
            path = os.path.join(str(request.config.cache.mkdir("corrconv_nvrtc")),
                                "resources.txt")
        with open(path, "w") as fh:
            fh.write(text + "\n")
        print(f"[written to {path}]")
    except Exception as e:  # the report is a convenience only
        print(f"[report not written: {e}]")


@pytest.mark.parametrize("arch", _arch_params())
@pytest.mark.parametrize("module", MODULES)
def test_compiles_without_spills(compiled, arch, module):
    rows, secs, err = compiled[(arch, module)]
    assert err is None, f"NVRTC failed for {module} on {arch}:\n{err}"
    dtype = _module(module)[0]
    assert len(rows) == len(_kernels.variants(dtype))
    cap = _reg_cap(dtype)
    for r in rows:
        assert r["found"], f"{r['name']}: no ptxas entry ({r['lowered']})"
        assert r["in_cubin"], f"{r['name']}: not in the CUBIN"
        assert r["spill_st"] == 0 and r["spill_ld"] == 0, (
            f"{r['name']} on {arch}: {r['spill_st']} B spill stores, {r['spill_ld']} B spill loads")
        assert r["smem"] + _params.SMEM_LIMIT <= SMEM_BUDGET, (
            f"{r['name']} on {arch}: {r['smem']} B static + {_params.SMEM_LIMIT} B dynamic")
        assert r["regs"] is not None and r["regs"] <= cap, (
            f"{r['name']} on {arch}: {r['regs']} registers > {cap}")


# ------------------------------------------- host-side checks (no NVRTC needed)

def test_name_expressions():
    assert _kernels.name_expression(np.float32, False, False, 0) == \
        "corr2d<float, float, false, false, 0, 8>"
    assert _kernels.name_expression(np.complex128, True, True, "mirror") == \
        "corr2d<complex<double>, complex<double>, true, true, 3, 2>"
    # conj is the identity for reals: one instantiation
    assert _kernels.name_expression(np.int8, True, True, "wrap") == \
        "corr2d<signed char, unsigned int, true, false, 1, 4>"
    for d in _kernels.SUPPORTED_DTYPES:
        names = _kernels.name_expressions(d)
        assert len(set(names)) == (20 if d.kind == "c" else 10)
    assert _kernels.name_expression(np.float32, True, False, "symmetric", wide=True) == \
        "corr2d<float, double, true, false, 2, 8>"
    assert not set(_kernels.name_expressions("float32", True)) & set(
        _kernels.name_expressions("float32"))


def test_kernel_source_found():
    src = _kernels.kernel_source()
    assert "corr2d" in src and "CORRCONV_SMEM_LIMIT 49152" in src
    assert f"CORRCONV_MAX_THREADS {_params.MAX_THREADS}" in src


@pytest.mark.parametrize("dtype", [d.name for d in _kernels.SUPPORTED_DTYPES])
def test_launch_geometry_within_budget(dtype):
    """Dynamic shared memory <= SMEM_LIMIT (and <= the table's budget), blocks
    <= MAX_THREADS, chunks cover the kernel, the x chunk holds the weight
    chunk, for kernel sizes up to far beyond shared memory."""
    p = _params.launch_params(dtype)
    # _params.threads (the flat/thin blocks' size) reads the wide block only
    assert p.tall[0] * p.tall[1] == p.wide[0] * p.wide[1] == _params.threads(dtype)
    s = _kernels.smem_itemsize(dtype)
    vec = _kernels.smem_vec(dtype)
    for K in [(1, 1), (3, 3), (1, 5000), (5000, 1), (27, 27), (31, 31), (64, 64), (300, 7),
              (2, 100000), (1000, 1000)]:
        for O in [(1, 1), (1, 100000), (3, 50), (1000, 1000), (100000, 2)]:
            cfg = _launch.launch_config(dtype, K, O)
            assert cfg.shared_mem <= _params.SMEM_LIMIT
            assert cfg.block[0] * cfg.block[1] <= _params.MAX_THREADS
            assert 1 <= cfg.kc0 <= cfg.xc0 <= max(K[0], 1)
            assert 1 <= cfg.kc1 <= cfg.xc1 <= max(K[1], 1)
            along_row, block, tile = _params.tiling(dtype, K, O)
            assert (cfg.along_row, cfg.block[:2], cfg.tile) == (along_row, block, tile)
            if K == (1, 1):                     # pointwise path: the weight only
                pw = _launch.launch_config(dtype, K, O, M=O, r=(0, 0))
                assert pw.shared_mem == 16 and pw.grid == cfg.grid
            assert cfg.shared_mem <= p.smem_budget
            assert cfg.shared_mem == _launch.smem_bytes(cfg.tile, cfg.kc0, cfg.kc1, s, cfg.along_row,
                                                        cfg.xc0, cfg.xc1, vec)
            # weight chunks along the sliding axis start vector-aligned
            kca, xca = (cfg.kc1, cfg.xc1) if cfg.along_row else (cfg.kc0, cfg.xc0)
            assert kca == xca or kca % vec == 0
            th, tw = cfg.tile
            assert cfg.grid[1] <= 65535 and cfg.grid[2] <= 65535
    small = _launch.launch_config(dtype, (3, 3), (1000, 1000), nbatch=5, max_grid=2)
    assert small.grid == (2, 2, 2)
