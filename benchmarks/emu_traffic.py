"""Memory traffic of ``kernels/corr2d.cu`` counted by the CPU emulator.

Runs the real kernel in the emulator's counting build
(``EmuModule(..., sanitize='count')``, see ``corrconv_gpu/_emu/__init__.py``)
with the default launch configuration of ``corrconv_gpu/_cuda/_launch.py``
and prints, per configuration:

``rd B/out``     global bytes read per output (requested bytes, no cache model)
``ideal B/out``  every input element a block needs for its outputs (tile +
                 halo, clipped to the output and to the input: positions
                 outside the input are the fill value and need no load) read
                 once per block, summed over the blocks, plus the weights
                 read once, per output
``ratio``        rd / ideal (> 1: weights re-read per block, input tile
                 re-staged per weight chunk, ...)
``wr B/out``     global bytes written per output (ideal: the itemsize)
``shld/FMA``     shared-memory loads per useful multiply-add
                 (FMAs = O0 * O1 * K0 * K1; padded tile outputs do extra work)
``oth ld/FMA``   other (stack / argument) loads per FMA: host register
                 pressure, not a GPU quantity -- for information only

Counts follow the host compiler's -O2 code: values kept in registers are not
re-counted (approximating the GPU's register reuse).  Complex dtypes work
(``--dtypes complex64``), but element-wise complex code loads the real and
imaginary parts separately: shared loads count twice per element (bytes are
exact).

    PYTHONPATH=. python benchmarks/emu_traffic.py
    PYTHONPATH=. python benchmarks/emu_traffic.py --size 64 --dtypes float32 --ks 3,7x7,3x15
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from corrconv_gpu._cuda._kernels import compile_options, kernel_source, name_expression
from corrconv_gpu._cuda._launch import launch_config, launch_corr2d
from corrconv_gpu._emu import EmuModule

DEFAULT_KS = ((1, 1), (3, 3), (5, 5), (7, 7), (9, 9), (15, 15), (31, 31), (3, 15), (15, 3), (1, 31))

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
    elements its valid outputs need (halo included, clipped to the input),
    summed over the tiles, plus the weights once."""
    (M0, M1), (K0, K1), (O0, O1), (r0, r1), (th, tw) = M, K, O, r, tile
    rows = [_clip(i0 + r0, min(i0 + th, O0) + r0 + K0 - 1, M0) for i0 in range(0, O0, th)]
    cols = [_clip(j0 + r1, min(j0 + tw, O1) + r1 + K1 - 1, M1) for j0 in range(0, O1, tw)]
    return (sum(rows) * sum(cols) * nbatch + K0 * K1) * itemsize


def corr2d_traffic(dtype, K, size=128, mode="valid", seed=0, check=True):
    """Run corr2d (correlation, constant boundary) on a size x size image with
    K = (K0, K1) weights in the counting emulator; return a dict of the
    counters and the derived per-output / per-FMA figures."""
    dtype = np.dtype(dtype)
    K0, K1 = K
    M0 = M1 = int(size)
    if mode == "valid":
        O0, O1, r0, r1 = M0 - K0 + 1, M1 - K1 + 1, 0, 0
    elif mode == "same":
        O0, O1, r0, r1 = M0, M1, -(K0 // 2), -(K1 // 2)
    else:
        raise ValueError(f"mode must be 'valid' or 'same', got {mode!r}")
    if O0 < 1 or O1 < 1:
        raise ValueError(f"K={K} does not fit a {size}x{size} image in mode {mode!r}")
    rng = np.random.default_rng(seed)
    x = rng.random((M0, M1)).astype(dtype)
    w = rng.standard_normal((K0, K1)).astype(dtype)
    if dtype.kind == "c":
        x = x + 1j * rng.random((M0, M1)).astype(dtype)
        w = w - 1j * rng.standard_normal((K0, K1)).astype(dtype)
    out = np.zeros((O0, O1), dtype)
    mod = counting_module(dtype)
    fn = mod.get_function(name_expression(dtype, False, False, 0))
    t0 = time.perf_counter()
    cfg = launch_corr2d(mod, x, w, out, r0, r1, False, False, "constant", 0)
    seconds = time.perf_counter() - t0
    assert cfg == launch_config(dtype, (K0, K1), (O0, O1))
    if check:
        want = _reference(x, w, r0, r1, (O0, O1))
        tol = 1e-4 if dtype in (np.float32, np.complex64) else 1e-10
        np.testing.assert_allclose(out, want, rtol=tol, atol=tol * K0 * K1)
    c = dict(fn.last_counters)
    n_out = O0 * O1
    fmas = n_out * K0 * K1
    ideal = ideal_read_bytes((M0, M1), (K0, K1), (O0, O1), (r0, r1), cfg.tile, dtype.itemsize)
    c.update(dtype=dtype.name, K=(K0, K1), M=(M0, M1), O=(O0, O1), mode=mode, cfg=cfg, seconds=seconds,
             outputs=n_out, fmas=fmas, ideal_read_bytes=ideal,
             read_per_output=c["global_read_bytes"] / n_out,
             ideal_per_output=ideal / n_out,
             ratio=c["global_read_bytes"] / ideal,
             write_per_output=c["global_write_bytes"] / n_out,
             shared_loads_per_fma=c["shared_loads"] / fmas,
             other_loads_per_fma=c["other_loads"] / fmas,
             chunks=(-(-K0 // cfg.kc0)) * (-(-K1 // cfg.kc1)))
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


HEADER = (f"{'dtype':<10} {'K':>7} {'out':>9} {'tile':>7} {'chunk':>7} {'rd B/out':>9} {'ideal':>8} "
          f"{'ratio':>6} {'wr B/out':>8} {'shld/FMA':>8} {'oth ld/FMA':>10} {'ms':>6}")


def format_row(c):
    K = f"{c['K'][0]}x{c['K'][1]}"
    O = f"{c['O'][0]}x{c['O'][1]}"
    t = f"{c['cfg'].tile[0]}x{c['cfg'].tile[1]}"
    ch = f"{c['cfg'].kc0}x{c['cfg'].kc1}"
    return (f"{c['dtype']:<10} {K:>7} {O:>9} {t:>7} {ch:>7} {c['read_per_output']:9.3f} "
            f"{c['ideal_per_output']:8.3f} {c['ratio']:6.3f} {c['write_per_output']:8.3f} "
            f"{c['shared_loads_per_fma']:8.3f} {c['other_loads_per_fma']:10.3f} {1e3 * c['seconds']:6.1f}")


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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=128, help="image size N (N x N), default 128")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--ks", default=",".join(f"{a}x{b}" for a, b in DEFAULT_KS),
                    help="comma-separated K or K0xK1")
    ap.add_argument("--mode", default="valid", choices=("valid", "same"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    for dt in args.dtypes.split(","):
        dt = np.dtype(dt.strip())
        counting_module(dt)   # build (cached) before timing launches
        print(f"\ncorr2d {dt.name}, {args.size}x{args.size} image, mode {args.mode!r}, constant boundary "
              f"(counting emulator)")
        print(HEADER)
        for K in _parse_ks(args.ks):
            print(format_row(corr2d_traffic(dt, K, args.size, args.mode)), flush=True)
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
