"""Memory traffic and resource budgets of ``kernels/corr2d.cu``, counted by
the CPU emulator and NVRTC.

Runs the real kernel in the emulator's counting build
(``EmuModule(..., sanitize='count')``, see ``corrconv_gpu/_emu/__init__.py``)
with the default launch configuration of ``corrconv_gpu/_cuda/_launch.py``
(tile, outputs per thread and chunks from the table in ``_params.py``) and
prints, per configuration:

``tile``/``opt``  output tile TH x TW, outputs per thread and the sliding axis
                 (``c``: each thread slides down a column, ``r``: along a row)
``rd B/out``     global bytes read per output (requested bytes, no cache model)
``ideal``        the IDEAL bytes read per output: every output tile (= one
                 block at the default grid) needs, once, the input elements
                 its valid outputs depend on -- the tile's outputs clipped to
                 the output, plus the K0-1 / K1-1 halo, clipped to the input
                 (positions outside it are the fill value: no load) -- and
                 the K0*K1 weights (every block must fetch them; there is no
                 inter-block sharing short of the L2 cache, which "requested"
                 bytes do not model).  Summed over the tiles, divided by the
                 outputs.  Large halos inflate the ideal itself (K=31 on the
                 float32 16x64 tile: ~4.2 reads per output) -- counted, not hidden.
``ratio``        rd / ideal  (budget <= 1.15)
``shld/FMA``     shared-memory load INSTRUCTIONS per useful multiply-add
                 (FMAs = O0*O1*K0*K1; padded tile outputs do extra work and
                 count against the kernel); a 16-byte vector load (float4 /
                 double2, one LDS.128 on the GPU) is one load  (budget <= 0.5)
``regs``         registers per thread on sm_80 / sm_90 (ptxas -v through
                 NVRTC, the most over the dtype's module), ``spill`` their
                 spill bytes (budget 0)
``occ``          theoretical occupancy on sm_80 / sm_90 from the registers,
                 the block size and the launch's shared memory
                 (``_params.occupancy``; budget >= 50%)

Counts follow the host compiler's -O2 code: values kept in registers are not
re-counted (approximating the GPU's register reuse).  Complex dtypes work
(``--dtypes complex64``), but element-wise complex code loads the real and
imaginary parts separately: shared loads count twice per element (bytes are
exact).

    PYTHONPATH=. python benchmarks/emu_traffic.py
    PYTHONPATH=. python benchmarks/emu_traffic.py --shape 96x160 --mode same
    PYTHONPATH=. python benchmarks/emu_traffic.py --size 64 --dtypes float32 --ks 3,7x7,3x15 --no-nvrtc
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
import pathlib
import sys
import time

import numpy as np

from corrconv_gpu._backends.cuda.kernels import compile_options, kernel_source, name_expression
from corrconv_gpu._backends.cuda.launch import launch_config, launch_corr2d
from corrconv_gpu._backends.cuda.params import occupancy
from corrconv_gpu._emu import EmuModule

ROOT = pathlib.Path(__file__).resolve().parent.parent

DEFAULT_KS = ((1, 1), (3, 3), (5, 5), (7, 7), (9, 9), (15, 15), (31, 31), (3, 15), (15, 3), (1, 31),
              (31, 1))
#: the budgets of issue 4 section 1
BUDGETS = dict(read_ratio=1.15, shared_loads_per_fma=0.5, occupancy=0.5, spill_bytes=0)
OCC_ARCHS = ("sm_80", "sm_90")

_modules = {}


def counting_module(dtype, boundary=0):
    """A counting emulator module holding the one corr2d variant used here
    (correlation, no conjugation, constant boundary)."""
    dtype = np.dtype(dtype)
    key = (dtype.name, boundary)
    if key not in _modules:
        _modules[key] = EmuModule(kernel_source(), options=compile_options(dtype),
                                  name_expressions=(name_expression(dtype, False, False, boundary),),
                                  sanitize="count")
    return _modules[key]


def _clip(lo, hi, n):
    return max(0, min(hi, n) - max(lo, 0))


def ideal_read_bytes(M, K, O, r, tile, itemsize, nbatch=1):
    """Ideal global bytes read (constant boundary): per output tile, the input
    elements its valid outputs need (halo included, clipped to the input)
    plus the K0*K1 weights, summed over the tiles (see the module docstring)."""
    (M0, M1), (K0, K1), (O0, O1), (r0, r1), (th, tw) = M, K, O, r, tile
    rows = [_clip(i0 + r0, min(i0 + th, O0) + r0 + K0 - 1, M0) for i0 in range(0, O0, th)]
    cols = [_clip(j0 + r1, min(j0 + tw, O1) + r1 + K1 - 1, M1) for j0 in range(0, O1, tw)]
    ntiles = len(rows) * len(cols)
    return (sum(rows) * sum(cols) + ntiles * K0 * K1) * nbatch * itemsize


def corr2d_traffic(dtype, K, size=128, mode="valid", seed=0, check=True, shape=None,
                   misalign=False):
    """Run corr2d (correlation, constant boundary) on a size x size image
    (or ``shape = (M0, M1)``) with K = (K0, K1) weights in the counting
    emulator; return a dict of the counters and the derived per-output /
    per-FMA figures.  ``misalign`` offsets the input rows by one element
    (no 16-byte aligned rows: the scalar staging path)."""
    dtype = np.dtype(dtype)
    K0, K1 = K
    M0, M1 = (int(size), int(size)) if shape is None else (int(shape[0]), int(shape[1]))
    if mode == "valid":
        O0, O1, r0, r1 = M0 - K0 + 1, M1 - K1 + 1, 0, 0
    elif mode == "same":
        O0, O1, r0, r1 = M0, M1, -(K0 // 2), -(K1 // 2)
    else:
        raise ValueError(f"mode must be 'valid' or 'same', got {mode!r}")
    if O0 < 1 or O1 < 1:
        raise ValueError(f"K={K} does not fit a {size}x{size} image in mode {mode!r}")
    rng = np.random.default_rng(seed)
    if misalign:
        # a view starting one element into a 16-byte aligned buffer
        buf = np.empty((M0, M1 + 4), dtype)
        base = buf.__array_interface__["data"][0]
        assert base % 16 == 0
        x = buf[:, 1:M1 + 1]
        x[...] = rng.random((M0, M1)).astype(dtype)
    else:
        x = rng.random((M0, M1)).astype(dtype)
    w = rng.standard_normal((K0, K1)).astype(dtype)
    if dtype.kind == "c":
        x[...] = x + 1j * rng.random((M0, M1)).astype(dtype)
        w = w - 1j * rng.standard_normal((K0, K1)).astype(dtype)
    out = np.zeros((O0, O1), dtype)
    mod = counting_module(dtype)
    fn = mod.get_function(name_expression(dtype, False, False, 0))
    t0 = time.perf_counter()
    cfg = launch_corr2d(mod, x, w, out, r0, r1, False, False, "constant", 0)
    seconds = time.perf_counter() - t0
    assert cfg == launch_config(dtype, (K0, K1), (O0, O1), M=(M0, M1), r=(r0, r1))
    if check:
        want = _reference(x, w, r0, r1, (O0, O1))
        tol = 1e-4 if dtype in (np.float32, np.complex64) else 1e-10
        np.testing.assert_allclose(out, want, rtol=tol, atol=tol * K0 * K1)
    c = dict(fn.last_counters)
    n_out = O0 * O1
    fmas = n_out * K0 * K1
    ideal = ideal_read_bytes((M0, M1), (K0, K1), (O0, O1), (r0, r1), cfg.tile, dtype.itemsize)
    c.update(dtype=dtype.name, K=(K0, K1), M=(M0, M1), O=(O0, O1), mode=mode, cfg=cfg, seconds=seconds,
             misalign=bool(misalign),
             opt=(cfg.tile[0] * cfg.tile[1]) // (cfg.block[0] * cfg.block[1]),
             outputs=n_out, fmas=fmas, ideal_read_bytes=ideal,
             read_per_output=c["global_read_bytes"] / n_out,
             ideal_per_output=ideal / n_out,
             ratio=c["global_read_bytes"] / ideal,
             write_per_output=c["global_write_bytes"] / n_out,
             shared_loads_per_fma=c["shared_loads"] / fmas,
             other_loads_per_fma=c["other_loads"] / fmas,
             chunks=(-(-K0 // cfg.kc0)) * (-(-K1 // cfg.kc1)),
             x_chunks=(-(-K0 // cfg.xc0)) * (-(-K1 // cfg.xc1)))
    return c


# ------------------------------------------------------------ NVRTC resources
@functools.lru_cache(maxsize=None)
def _nvrtc_tests():
    spec = importlib.util.spec_from_file_location("_corrconv_nvrtc_tests", ROOT / "tests" / "backends" / "cuda" / "test_nvrtc_compile.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@functools.lru_cache(maxsize=None)
def nvrtc_resources(dtype, arch):
    """ptxas -v of dtype's whole module (every variant) on ``arch`` through
    NVRTC: dict(regs=max registers, spill=max spill bytes (stores + loads),
    smem=max static shared memory, rows=per-variant rows)."""
    rows, _, err = _nvrtc_tests().compile_one(arch, np.dtype(dtype).name)
    if err:
        raise RuntimeError(f"NVRTC failed for {dtype} on {arch}:\n{err}")
    return dict(regs=max(r["regs"] for r in rows),
                spill=max(r["spill_st"] + r["spill_ld"] for r in rows),
                smem=max(r["smem"] for r in rows), rows=rows)


def budget_row(c, archs=OCC_ARCHS, nvrtc=True):
    """Add registers, spills, occupancy and PASS/FAIL per budget to a
    :func:`corr2d_traffic` result ``c`` (in place; returns it)."""
    cfg = c["cfg"]
    threads = cfg.block[0] * cfg.block[1] * cfg.block[2]
    c["regs"], c["spill"], c["occ"] = {}, {}, {}
    if nvrtc:
        for a in archs:
            res = nvrtc_resources(c["dtype"], a)
            c["regs"][a], c["spill"][a] = res["regs"], res["spill"]
            c["occ"][a] = occupancy(a, res["regs"], threads, cfg.shared_mem + res["smem"])
    ok = dict(read=c["ratio"] <= BUDGETS["read_ratio"],
              shld=c["shared_loads_per_fma"] <= BUDGETS["shared_loads_per_fma"])
    if nvrtc:
        ok["spill"] = all(v <= BUDGETS["spill_bytes"] for v in c["spill"].values())
        ok["occ"] = all(o.fraction >= BUDGETS["occupancy"] for o in c["occ"].values())
    c["pass"] = ok
    return c


def _reference(x, w, r0, r1, O):
    """Direct correlation with zero fill: out[i, j] = sum_pq X(i+r0+p, j+r1+q) w[p, q]."""
    K0, K1 = w.shape
    pad0, pad1 = max(0, -r0), max(0, -r1)
    acc = np.complex128 if np.iscomplexobj(x) else np.float64
    xp = np.zeros((x.shape[0] + 2 * K0 + 2 * pad0, x.shape[1] + 2 * K1 + 2 * pad1), acc)
    xp[pad0:pad0 + x.shape[0], pad1:pad1 + x.shape[1]] = x
    out = np.zeros(O, acc)
    for p in range(K0):
        for q in range(K1):
            out += w[p, q] * xp[pad0 + r0 + p:pad0 + r0 + p + O[0], pad1 + r1 + q:pad1 + r1 + q + O[1]]
    return out


HEADER = (f"{'dtype':<8} {'K':>6} {'out':>8} {'tile':>8} {'opt':>4} {'chunk':>6} {'rd B/out':>8} "
          f"{'ideal':>7} {'ratio':>6} {'shld/FMA':>8} {'regs 80/90':>10} {'occ 80/90':>10} {'spill':>5}  "
          f"{'read':>4} {'shld':>4} {'occ':>4} {'spill':>5}")


def _pf(v):
    return "-" if v is None else ("PASS" if v else "FAIL")


def format_row(c):
    K = f"{c['K'][0]}x{c['K'][1]}"
    O = f"{c['O'][0]}x{c['O'][1]}"
    cfg = c["cfg"]
    t = f"{cfg.tile[0]}x{cfg.tile[1]}"
    ch = f"{cfg.kc0}x{cfg.kc1}"
    opt = f"{c['opt']}{'r' if cfg.along_row else 'c'}"
    regs = c.get("regs") or {}
    occ = c.get("occ") or {}
    spill = c.get("spill") or {}
    rg = "/".join(str(regs[a]) for a in OCC_ARCHS if a in regs) or "-"
    oc = "/".join(f"{100 * occ[a].fraction:.0f}%" for a in OCC_ARCHS if a in occ) or "-"
    sp = str(max(spill.values())) if spill else "-"
    ok = c.get("pass", {})
    return (f"{c['dtype']:<8} {K:>6} {O:>8} {t:>8} {opt:>4} {ch:>6} {c['read_per_output']:8.3f} "
            f"{c['ideal_per_output']:7.3f} {c['ratio']:6.3f} {c['shared_loads_per_fma']:8.3f} {rg:>10} {oc:>10} "
            f"{sp:>5}  {_pf(ok.get('read')):>4} {_pf(ok.get('shld')):>4} {_pf(ok.get('occ')):>4} "
            f"{_pf(ok.get('spill')):>5}")


def _parse_ks(s):
    ks = []
    for tok in s.split(","):
        tok = tok.strip().lower()
        if "x" in tok:
            a, b = tok.split("x")
            ks.append((int(a), int(b)))
        else:
            ks.append((int(tok), int(tok)))
    return ks


def _parse_shape(s):
    a, b = s.lower().split("x")
    return int(a), int(b)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=128, help="image size N (N x N), default 128")
    ap.add_argument("--shape", default=None, help="image shape M0xM1 (overrides --size)")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--ks", default=",".join(f"{a}x{b}" for a, b in DEFAULT_KS),
                    help="comma-separated K or K0xK1")
    ap.add_argument("--mode", default="valid", choices=("valid", "same"))
    ap.add_argument("--misalign", action="store_true", help="misaligned input rows (scalar staging)")
    ap.add_argument("--no-nvrtc", action="store_true", help="skip registers / spills / occupancy")
    args = ap.parse_args(argv)
    shape = _parse_shape(args.shape) if args.shape else (args.size, args.size)
    t0 = time.perf_counter()
    nfail = 0
    for dt in args.dtypes.split(","):
        dt = np.dtype(dt.strip())
        counting_module(dt)   # build (cached) before timing launches
        print(f"\ncorr2d {dt.name}, {shape[0]}x{shape[1]} image, mode {args.mode!r}, constant boundary "
              f"(counting emulator{'' if args.no_nvrtc else '; NVRTC sm_80/sm_90'}"
              f"{', misaligned rows' if args.misalign else ''})")
        print(HEADER)
        for K in _parse_ks(args.ks):
            c = budget_row(corr2d_traffic(dt, K, mode=args.mode, shape=shape, misalign=args.misalign),
                           nvrtc=not args.no_nvrtc)
            nfail += sum(1 for v in c["pass"].values() if not v)
            print(format_row(c), flush=True)
    print(f"\nbudgets: read ratio <= {BUDGETS['read_ratio']}, shared loads/FMA <= "
          f"{BUDGETS['shared_loads_per_fma']}, occupancy >= {BUDGETS['occupancy']:.0%} on "
          f"{' and '.join(OCC_ARCHS)}, spills == 0;  {nfail} budget failure(s)")
    print(f"total {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
