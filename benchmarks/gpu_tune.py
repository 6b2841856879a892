"""Tune the launch table of ``corr2d_small`` on a GPU, in one short command.

    python benchmarks/gpu_tune.py --minutes 6            # sweep, then write the table
    python benchmarks/gpu_tune.py --minutes 2 --dry-run  # sweep, print, write nothing

Needs a CUDA device (CuPy); without one it says so and exits with status 2,
writing nothing.

For float16 / float32 / float64 and K x K weights (K in 3, 5, 7), on an
N x N image ('same', zero fill; N = 4096 by default), every tile shape of
:data:`CANDIDATES` (rows per thread RY, block rows BY) is compiled, run, its
result checked against ``corrconv_gpu.reference`` (float64, on a 512 x 512
corner of the same problem launched separately, so the check stays cheap)
and timed with CUDA events (best of 3 runs of 10 launches).  Each time is
set against two bounds measured in the same run:

* ``T_copy``: a device-to-device copy of the input plus the output's bytes
  (``cupy.copyto`` of an N x N array, timed the same way) -- the achievable
  bandwidth;
* ``T_fma``: the multiply-adds at the FMA peak computed from the device's
  SM count and clock (FP32 for float16 / float32, FP64 for float64; the
  FMA units per SM come from the compute capability).

The best shape per dtype (fastest summed over the Ks) becomes the dtype's
default and any K whose best shape differs gets a size entry; the table is
written to ``corrconv_gpu/_backends/cuda/small_table.json`` with the device
name, the date and a ``source`` line saying it came from this GPU run.  The
sweep stops starting new points when ``--minutes`` is spent (what was
measured is used; the dtypes not reached keep their old entries).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(1, HERE)

from corrconv_gpu._backends.cuda import kernels as _kernels  # noqa: E402

# (RY, BY): rows per thread, block rows (blocks are 16 x BY threads)
CANDIDATES = [(8, 8), (4, 8), (2, 8), (4, 16), (8, 4), (2, 16), (6, 8)]
DTYPES = ("float32", "float16", "float64")
KS = (3, 5, 7)
# FMA units per SM by compute capability (CUDA C++ Programming Guide,
# "Arithmetic Instructions" throughput table): FP32, FP64
FMA_PER_SM = {(7, 5): (64, 2), (8, 0): (64, 32), (8, 6): (128, 2), (8, 7): (128, 2),
              (8, 9): (128, 2), (9, 0): (128, 64), (10, 0): (128, 64), (10, 3): (128, 64),
              (12, 0): (128, 2)}


def have_gpu():
    """(True, None) or (False, why)."""
    try:
        import cupy
        n = cupy.cuda.runtime.getDeviceCount()
        if n < 1:
            return False, "no CUDA device"
        return True, None
    except Exception as e:
        return False, f"{type(e).__name__}: {e}"


def device_info():
    import cupy
    dev = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(dev.id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    sms = int(props["multiProcessorCount"])
    try:
        clock_khz = int(cupy.cuda.runtime.deviceGetAttribute(13, dev.id))   # cudaDevAttrClockRate
    except Exception:
        clock_khz = int(props.get("clockRate", 0))
    cc = (int(props["major"]), int(props["minor"]))
    f32, f64 = FMA_PER_SM.get(cc, (128, 2))
    return dict(name=name, sms=sms, clock_hz=clock_khz * 1e3, cc=cc,
                fma32=sms * f32 * clock_khz * 1e3, fma64=sms * f64 * clock_khz * 1e3)


def events_ms(fn, n=10, reps=3):
    """Best of ``reps`` CUDA-event timings of ``n`` calls, ms per call."""
    from gpu_probe import events_ms as one
    return min(one(fn, n) for _ in range(reps))


def run_point(dtype, K, geom, x, w, out, xs, want):
    """Compile, check (the small problem) and time (the large one) one shape."""
    from corrconv_gpu._backends.cuda.launch import launch_small
    import cupy
    dev = cupy.cuda.Device().id
    mod = _kernels.get_small_module(dev, dtype, K, K, False, "constant", geometry=geom)
    r = -(K // 2)
    small_out = cupy.empty_like(xs)
    launch_small(mod, xs, w, small_out, r, r, False, "constant", 0, geometry=geom)
    got = cupy.asnumpy(small_out).astype(np.float64)
    tol = {"float16": 2e-3, "float32": 2e-6, "float64": 1e-13}[dtype]
    scale = float(np.abs(cupy.asnumpy(xs).astype(np.float64)).max() *
                  np.abs(cupy.asnumpy(w).astype(np.float64)).sum())
    err = float(np.abs(got - want).max()) / scale
    if not err <= tol:
        return dict(ok=False, err=err)
    ms = events_ms(lambda: launch_small(mod, x, w, out, r, r, False, "constant", 0, geometry=geom))
    return dict(ok=True, err=err, ms=ms)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=6.0)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--dry-run", action="store_true", help="print the table, write nothing")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(_kernels.__file__),
                                                   _kernels.SMALL_TABLE))
    args = ap.parse_args(argv)
    ok, why = have_gpu()
    if not ok:
        print(f"gpu_tune.py needs a CUDA GPU and found none ({why}); nothing measured, "
              "nothing written", file=sys.stderr)
        return 2
    import cupy
    from corrconv_gpu import reference

    deadline = time.monotonic() + 60 * args.minutes
    info = device_info()
    N = args.size
    print(f"device {info['name']} (sm_{info['cc'][0]}{info['cc'][1]}, {info['sms']} SMs, "
          f"{info['clock_hz'] / 1e9:.2f} GHz): FP32 FMA peak {info['fma32'] / 1e12:.1f} T/s, "
          f"FP64 {info['fma64'] / 1e12:.1f} T/s; image {N}x{N}, 'same'")
    rng = np.random.default_rng(0)
    results = {}
    stopped = False
    for dtype in DTYPES:
        d = np.dtype(dtype)
        x = cupy.asarray(rng.random((N, N)).astype(d))
        out = cupy.empty_like(x)
        copy_dst = cupy.empty_like(x)
        t_copy_ms = events_ms(lambda: cupy.copyto(copy_dst, x))
        # read N^2 + write N^2: the copy moves both, the kernel the same bytes
        xs_h = rng.random((512, 512)).astype(d)
        xs = cupy.asarray(xs_h)
        for K in KS:
            if time.monotonic() > deadline:
                stopped = True
                break
            w_h = rng.standard_normal((K, K)).astype(d)
            w = cupy.asarray(w_h)
            want = reference.correlate2d(xs_h.astype(np.float64), w_h.astype(np.float64), "same")
            fma = info["fma64"] if dtype == "float64" else info["fma32"]
            t_fma_ms = N * N * K * K / fma * 1e3
            goal = max(t_copy_ms / 0.85, t_fma_ms / (0.60 if dtype == "float64" else 0.70))
            for ry, by in CANDIDATES:
                if time.monotonic() > deadline:
                    stopped = True
                    break
                geom = _kernels.small_geometry(dtype, K, K)._replace(ry=ry, by=by)
                try:
                    res = run_point(dtype, K, geom, x, w, out, xs, want)
                except Exception as e:       # a shape that does not compile / launch
                    res = dict(ok=False, err=f"{type(e).__name__}: {e}"[:80])
                results[(dtype, K, ry, by)] = res
                if res["ok"]:
                    print(f"{dtype:8} K={K} RY={ry} BY={by:2}: {res['ms']:.3f} ms  "
                          f"copy {t_copy_ms:.3f} ms ({t_copy_ms / res['ms']:.0%})  "
                          f"FMA peak {t_fma_ms:.3f} ms ({t_fma_ms / res['ms']:.0%})  "
                          f"goal {goal:.3f} ms {'met' if res['ms'] <= goal else 'MISSED'}", flush=True)
                else:
                    print(f"{dtype:8} K={K} RY={ry} BY={by:2}: rejected ({res['err']})", flush=True)
        if stopped:
            break
    # the table: per dtype the shape with the least summed time over the Ks
    table = _kernels.small_table(args.out)
    new_default, sizes = dict(table["default"]), {}
    for dtype in DTYPES:
        per = {}
        for (d, K, ry, by), r in results.items():
            if d == dtype and r["ok"]:
                per.setdefault((ry, by), {})[K] = r["ms"]
        ks = {K for (d, K, _, _), r in results.items() if d == dtype and r["ok"]}
        full = {s: v for s, v in per.items() if set(v) == ks}
        if not full:
            continue
        best = min(full, key=lambda s: sum(full[s].values()))
        new_default[dtype] = {"ry": best[0], "by": best[1]}
        for K in sorted(ks):
            bk = min((s for s in per if K in per[s]), key=lambda s: per[s][K])
            if bk != best and per[bk][K] < 0.97 * per[best][K]:
                sizes.setdefault(dtype, {})[f"{K}x{K}"] = {"ry": bk[0], "by": bk[1]}
    table.update(
        source=(f"GPU run: benchmarks/gpu_tune.py --minutes {args.minutes:g} on {info['name']}, "
                f"{datetime.date.today().isoformat()}, {N}x{N} 'same'"
                + (" (stopped at the time limit: untimed dtypes kept their entries)" if stopped else "")),
        device=info["name"], default=new_default, sizes=sizes)
    print(json.dumps(table, indent=2))
    if args.dry_run:
        print("--dry-run: nothing written")
    else:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(table, f, indent=2)
            f.write("\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
