"""GPU probe: what the direct kernel costs on the device, apart from the host.

Usage (from the repository root, on a machine with a CUDA GPU)::

    python benchmarks/gpu_probe.py                       # kernel table + host overhead
    python benchmarks/gpu_probe.py --sizes 4096 --dtypes float32 --ks 3,7
    python benchmarks/gpu_probe.py --one float32,4096,7  # one launch (for ncu)
    python benchmarks/gpu_probe.py --profile             # cProfile of the public call

For each point (N x N, dtype, K x K, mode 'same', zero fill) it records the
launch that ``corrconv_gpu.correlate2d(..., method='direct')`` makes (the
function, grid, block, packed arguments, shared memory) and replays that
launch ``--launches`` times back to back between two CUDA events: the time
per launch is the kernel's own (the host queues launches faster than the
kernels run, so launch gaps do not count). The public call is then timed the
same way (events around ``--launches`` calls) and on the host clock alone
(no synchronisation inside the loop): the difference is the host overhead
per call. Reported: ms per kernel, % of the HBM bandwidth (input read once +
output written once), % of the FMA peak, the public call's device and host
time per call.
"""

import argparse
import cProfile
import os
import pstats
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(1, HERE)

import corrconv_gpu  # noqa: E402
from _cli import int_list, str_list  # noqa: E402
from corrconv_gpu._backends.cuda import params as _params  # noqa: E402

PEAK = {"bw": 3.35e12, "float32": 67e12, "float16": 67e12, "float64": 34e12}


class Recorder:
    """A module whose functions record their last launch and run it
    (``wrap(module)``: another module recording into the same slot)."""

    def __init__(self, module, into=None):
        self.module = module
        self.into = into or self
        self.launch = None

    def wrap(self, module):
        return Recorder(module, into=self)

    def get_function(self, name):
        fn = self.module.get_function(name)
        into = self.into

        def run(grid, block, args, shared_mem=0):
            into.launch = (fn, grid, block, args, shared_mem, name)
            fn(grid, block, args, shared_mem=shared_mem)
        return run


def record_launch(x, w):
    """(fn, grid, block, args, shared_mem, name) of the direct launch of a
    'same' correlation of x with w."""
    import cupy
    from corrconv_gpu._backends.cuda import kernels as _kernels
    from corrconv_gpu._backends.cuda.launch import launch_corr2d
    dev = cupy.cuda.Device().id
    rec = Recorder(_kernels.get_module(dev, x.dtype))
    out = cupy.empty_like(x)
    K0, K1 = w.shape
    # the kernel the public call takes: corr2d_small where it applies
    launch_corr2d(rec, x, w, out, -(K0 // 2), -(K1 // 2), False, False, "constant", 0,
                  small=lambda *a: rec.wrap(_kernels.get_small_module(dev, *a)))
    return rec.launch, out


def events_ms(fn, n):
    import cupy
    start, end = cupy.cuda.Event(), cupy.cuda.Event()
    cupy.cuda.Device().synchronize()
    start.record()
    for _ in range(n):
        fn()
    end.record()
    end.synchronize()
    return cupy.cuda.get_elapsed_time(start, end) / n


def host_ms(fn, n):
    import cupy
    cupy.cuda.Device().synchronize()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    t1 = time.perf_counter()
    cupy.cuda.Device().synchronize()
    return (t1 - t0) * 1e3 / n


def probe(N, dtype, K, launches, rng):
    import cupy
    x = cupy.asarray(rng.random((N, N)).astype(dtype))
    w = cupy.asarray(rng.standard_normal((K, K)).astype(dtype))
    (fn, grid, block, args, smem, name), out = record_launch(x, w)
    # check the recorded launch against the public call
    ref = corrconv_gpu.correlate2d(x, w, "same", method="direct")
    cupy.cuda.Device().synchronize()
    err = float(cupy.abs(out.astype(np.float64) - ref.astype(np.float64)).max())

    def kernel():
        fn(grid, block, args, shared_mem=smem)

    def public():
        corrconv_gpu.correlate2d(x, w, "same", method="direct")

    def public_auto():
        corrconv_gpu.correlate2d(x, w, "same")

    def public_fft():
        corrconv_gpu.correlate2d(x, w, "same", method="fft")

    kernel()
    kms = min(events_ms(kernel, launches) for _ in range(3))
    pms = min(events_ms(public, launches) for _ in range(3))
    phost = min(host_ms(public, launches) for _ in range(3))
    ams = min(events_ms(public_auto, max(3, launches // 4)) for _ in range(2))
    public_fft()
    fms = min(events_ms(public_fft, 3) for _ in range(2))
    item = np.dtype(dtype).itemsize
    bw = 2 * N * N * item / (kms * 1e-3) / PEAK["bw"]
    fma = 2 * N * N * K * K / (kms * 1e-3) / PEAK[np.dtype(dtype).name]
    return dict(N=N, dtype=np.dtype(dtype).name, K=K, grid=grid, block=block, smem=smem,
                kernel_ms=kms, hbm=bw, fma=fma, public_ms=pms, public_host_ms=phost,
                auto_ms=ams, fft_ms=fms, diff=err)


EXPLORE = [  # (along_row, (BX, BY), OPT)
    (0, (32, 8), 4), (0, (32, 8), 8), (0, (64, 4), 8), (0, (32, 4), 8), (0, (64, 4), 4),
    (1, (8, 32), 4), (1, (16, 16), 4), (1, (8, 32), 8), (1, (16, 16), 8), (1, (8, 16), 8),
    (1, (16, 8), 8), (1, (32, 8), 4),
]


EXPLORE_F64 = [
    (0, (32, 8), 4), (1, (8, 32), 4), (1, (8, 16), 4), (1, (16, 8), 4), (1, (8, 16), 8),
    (1, (16, 16), 4), (1, (8, 32), 2), (1, (16, 16), 2),
]


def explore(N, K, launches, rng, budget, dtype="float32"):
    """N x N 'same' K x K: the kernel under other tilings than the table's."""
    import cupy
    from corrconv_gpu._backends.cuda import kernels as _kernels
    from corrconv_gpu._backends.cuda.launch import LaunchConfig, choose_chunks, kernel_args, smem_bytes
    dt = np.dtype(dtype)
    configs = EXPLORE_F64 if dt == np.float64 else EXPLORE
    vec = 2 if dt == np.float64 else 4
    s = _kernels.smem_itemsize(dt)
    opts = sorted({o for _, _, o in configs})
    names = {o: f"corr2d<{_kernels.ctype(dt)}, {_kernels.acc_ctype(dt)}, false, false, 0, {o}>"
             for o in opts}
    mod = cupy.RawModule(code=_kernels.kernel_source(),
                         options=_kernels.compile_options(dt),
                         name_expressions=list(names.values()))
    x = cupy.asarray(rng.random((N, N)).astype(dt))
    w = cupy.asarray(rng.standard_normal((K, K)).astype(dt))
    ref = corrconv_gpu.correlate2d(x, w, "same", method="direct").astype(np.float64)
    for along_row, (bx, by), opt in configs:
        tile = (by, bx * opt) if along_row else (by * opt, bx)
        th, tw = tile
        try:
            kc0, kc1, xc0, xc1 = choose_chunks(K, K, tile, s, budget, along_row=along_row,
                                               vec=vec)
        except ValueError as e:
            print(f"| {dt.name} | {K} | {along_row} | {bx}x{by} | {opt} | {tile} | - | {e} |")
            continue
        smem = smem_bytes(tile, kc0, kc1, s, along_row, xc0, xc1, vec)
        out = cupy.full_like(x, np.nan)
        grid = (-(-N // tw), -(-N // th), 1)
        cfg = LaunchConfig(grid=grid, block=(bx, by, 1), along_row=along_row, tile=tile,
                           kc0=kc0, kc1=kc1, shared_mem=smem, xc0=xc0, xc1=xc1)
        args = kernel_args(x, w, out, -(K // 2), -(K // 2), 0, cfg)
        fn = mod.get_function(names[opt])

        def kernel():
            fn(grid, (bx, by, 1), args, shared_mem=smem)
        kernel()
        cupy.cuda.Device().synchronize()
        err = (float("nan") if bool(cupy.isnan(out).any())
               else float(cupy.abs(out.astype(np.float64) - ref).max()))
        kms = min(events_ms(kernel, launches) for _ in range(3))
        peak = PEAK.get(dt.name, PEAK["float32"])
        print(f"| {dt.name} | {K} | {along_row} | {bx}x{by} | {opt} | {th}x{tw} | {smem} | "
              f"{kms:.4f} | {100 * 2 * dt.itemsize * N * N / (kms * 1e-3) / PEAK['bw']:.0f}% | "
              f"{100 * 2 * N * N * K * K / (kms * 1e-3) / peak:.0f}% | "
              f"({kc0},{kc1},{xc0},{xc1}) | {err:.1e} |", flush=True)


def numpy_crossover(sizes, ks, dtype, rng, repeat=5):
    """NumPy in, NumPy out: the CPU backend against the CUDA backend (copies
    included), wall-clock medians; the multiply-adds where the GPU wins."""
    import statistics
    print("| N | K | MACs | cpu ms | cuda ms | cpu / cuda |")
    print("|---|---|---|---|---|---|")
    for N in sizes:
        x = rng.random((N, N)).astype(dtype)
        for K in ks:
            w = rng.standard_normal((K, K)).astype(dtype)
            t = {}
            for be in ("cpu", "cuda"):
                with corrconv_gpu.use_backend(be):
                    corrconv_gpu.correlate2d(x, w, "same")
                    ts = []
                    for _ in range(repeat):
                        t0 = time.perf_counter()
                        corrconv_gpu.correlate2d(x, w, "same")
                        ts.append(time.perf_counter() - t0)
                    t[be] = statistics.median(ts) * 1e3
            print(f"| {N} | {K} | {N * N * K * K:.2e} | {t['cpu']:.3f} | {t['cuda']:.3f} | "
                  f"{t['cpu'] / t['cuda']:.2f} |", flush=True)


def overhead(n_calls=2000, N=4096):
    """Host microseconds per repeated call (no synchronisation in the loop),
    the rows of ``benchmarks/host_overhead.py`` (CuPy image and weights,
    float32 N x N) against cupyx.scipy.ndimage.correlate of the same arrays
    and a bare launch of the recorded kernel; then the time of one
    synchronised call on CUDA events, and a cProfile of the direct call.
    The host time is only the host's own while the GPU keeps up with the
    queued launches, so at 4096^2 it is an upper bound of the kernels' time
    too: compare the two columns."""
    import cupy
    rng = np.random.default_rng(0)
    x = cupy.asarray(rng.random((N, N)).astype(np.float32))
    ws = {k: cupy.asarray(rng.standard_normal((k, k)).astype(np.float32)) for k in (3, 7, 15)}
    (fn, grid, block, args, smem, name), out = record_launch(x, ws[3])
    pieces = {f"bare launch ({name.split('<')[0]}, {len(args)} args)":
              lambda: fn(grid, block, args, shared_mem=smem)}
    try:
        import cupyx.scipy.ndimage as cndi
    except Exception as e:  # pragma: no cover
        cndi = None
        print(f"cupyx.scipy.ndimage unavailable: {e}")
    from corrconv_gpu import ndimage as ondi
    for k, w in ws.items():
        for m in ("direct", "auto"):
            pieces[f"correlate2d {k}x{k} 'same' {m}"] = (
                lambda w=w, m=m: corrconv_gpu.correlate2d(x, w, "same", method=m))
        pieces[f"ndimage.correlate {k}x{k} constant"] = (
            lambda w=w: ondi.correlate(x, w, mode="constant"))
        if cndi is not None:
            pieces[f"cupyx.scipy.ndimage.correlate {k}x{k} constant"] = (
                lambda w=w: cndi.correlate(x, w, mode="constant"))
    pieces["convolve2d 7x7 'same' symm"] = lambda: corrconv_gpu.convolve2d(
        x, ws[7], "same", boundary="symm")
    print(f"| call ({N}^2 float32, CuPy arrays) | host us / call | one synchronised call us |")
    print("|---|---|---|")
    for label, f in pieces.items():
        f()
        host = host_ms(f, n_calls)
        one = min(events_ms(f, 1) for _ in range(20))
        print(f"| {label} | {1e3 * host:.1f} | {1e3 * one:.1f} |", flush=True)
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(n_calls):
        corrconv_gpu.correlate2d(x, ws[3], "same", method="direct")
    pr.disable()
    cupy.cuda.Device().synchronize()
    pstats.Stats(pr).sort_stats("tottime").print_stats(20)


def _gpu_missing():
    """Why this probe cannot run here, or None."""
    try:
        import cupy
        if not cupy.cuda.is_available():
            return "no CUDA device"
    except Exception as e:
        return f"CuPy unavailable ({type(e).__name__}: {e})"
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="4096,8192")
    ap.add_argument("--dtypes", default="float32,float64,float16")
    ap.add_argument("--ks", default="1,3,5,7,9,15,31")
    ap.add_argument("--launches", type=int, default=50)
    ap.add_argument("--one", default=None, help="dtype,N,K: one direct launch, then exit")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile 200 public calls (4096^2 float32 K=3, auto and direct)")
    ap.add_argument("--explore", action="store_true",
                    help="other tilings than the table's (sizes, dtypes, ks from the options)")
    ap.add_argument("--budget", type=int, default=0,
                    help="--explore: shared-memory budget in bytes (default: the table's)")
    ap.add_argument("--numpy", action="store_true",
                    help="NumPy inputs: CPU backend vs CUDA backend (sizes, ks, first dtype)")
    ap.add_argument("--overhead", action="store_true",
                    help="host microseconds per repeated call against cupyx.scipy.ndimage "
                         "(the rows of host_overhead.py), and a cProfile")
    a = ap.parse_args(argv)
    missing = _gpu_missing()
    if missing:
        print(f"gpu_probe: skipped: {missing} (benchmarks/host_overhead.py measures the "
              "host path without a GPU)")
        return 0
    import cupy
    rng = np.random.default_rng(0)
    if a.one:
        dt, n, k = a.one.split(",")
        x = cupy.asarray(rng.random((int(n), int(n))).astype(dt))
        w = cupy.asarray(rng.standard_normal((int(k), int(k))).astype(dt))
        (fn, grid, block, args, smem, name), _ = record_launch(x, w)
        cupy.cuda.Device().synchronize()
        print(name, grid, block, smem)
        return 0
    if a.overhead:
        overhead(N=int_list(a.sizes)[0] if a.sizes != ap.get_default("sizes") else 4096)
        return 0
    if a.numpy:
        numpy_crossover(int_list(a.sizes), int_list(a.ks), str_list(a.dtypes)[0], rng)
        return 0
    if a.explore:
        print("| dtype | K | along_row | block | OPT | tile | smem | kernel ms | %HBM | %FMA "
              "| chunks | diff |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for dt in str_list(a.dtypes):
            budget = a.budget or _params.launch_params(dt).smem_budget
            for N in int_list(a.sizes):
                for K in int_list(a.ks):
                    explore(N, K, a.launches, rng, budget, dt)
        return 0
    if a.profile:
        x = cupy.asarray(rng.random((4096, 4096)).astype(np.float32))
        w = cupy.asarray(rng.standard_normal((3, 3)).astype(np.float32))
        for method in ("direct", "auto"):
            corrconv_gpu.correlate2d(x, w, "same", method=method)
            pr = cProfile.Profile()
            pr.enable()
            for _ in range(200):
                corrconv_gpu.correlate2d(x, w, "same", method=method)
            pr.disable()
            cupy.cuda.Device().synchronize()
            print(f"--- cProfile, 200 calls, method={method!r}")
            pstats.Stats(pr).sort_stats("tottime").print_stats(18)
        return 0
    rows = []
    print("| N | dtype | K | grid | smem | kernel ms | %HBM | %FMA | public ms (events) "
          "| public host ms | auto ms | fft ms | max diff |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for N in int_list(a.sizes):
        for dt in str_list(a.dtypes):
            for K in int_list(a.ks):
                r = probe(N, dt, K, a.launches, rng)
                rows.append(r)
                print(f"| {N} | {r['dtype']} | {K} | {r['grid'][0]}x{r['grid'][1]} | "
                      f"{r['smem']} | {r['kernel_ms']:.4f} | {100 * r['hbm']:.0f}% | "
                      f"{100 * r['fma']:.0f}% | {r['public_ms']:.4f} | "
                      f"{r['public_host_ms']:.4f} | {r['auto_ms']:.4f} | {r['fft_ms']:.3f} | "
                      f"{r['diff']:.1e} |",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
