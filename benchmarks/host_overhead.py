"""Host time of a repeated GPU call, without a GPU.

Usage (from the repository root)::

    python benchmarks/host_overhead.py                 # writes results/host_overhead.{md,json}
    python benchmarks/host_overhead.py --calls 2000 --no-write

Runs the real public code path (frontend, validation, plan, dispatch, the
CUDA backend's argument packing and launch) with the CuPy stand-in of
``cupy_standin.py`` installed as ``cupy``: its kernels record the launch
instead of running it, and it raises on any device-to-host copy or
synchronisation, so each call below is also checked to be free of them.
Reported per row: the median microseconds per call (medians of ``--reps``
batches of ``--calls / --reps`` calls, each call repeating the same
arguments), the same stand-in's bare launch (a prepared function called with
prepared arguments), their difference (the library's own host time up to the
launch) and whether that meets the goal of issue 16 (<= 20 us).

The figures are the host's own: CuPy's real costs (its allocator, the
driver's launch) are not in them; on a GPU, ``benchmarks/gpu_probe.py
--overhead`` measures the whole call against cupyx.scipy.ndimage.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(1, HERE)

import cupy_standin  # noqa: E402
import corrconv_gpu  # noqa: E402
from corrconv_gpu import ndimage as cndi  # noqa: E402

GOAL_US = 20.0
N = 4096


def rows(cp):
    """(label, callable) of each measured call; CuPy image and weights."""
    x = cp.empty((N, N), np.float32)
    ws = {k: cp.empty((k, k), np.float32) for k in (3, 7, 15)}
    wh = np.ones((7, 7), np.float32)
    out = []
    for k in (3, 7, 15):
        for m in ("direct", "auto"):
            out.append((f"correlate2d {k}x{k} float32 {N}^2 'same' method='{m}'",
                        lambda w=ws[k], m=m: corrconv_gpu.correlate2d(x, w, "same", method=m)))
    out.append((f"convolve2d 7x7 float32 {N}^2 'same' boundary='symm'",
                lambda: corrconv_gpu.convolve2d(x, ws[7], "same", boundary="symm")))
    # not a CuPy-arrays call (the weights are copied to the device each
    # time): shown, outside the goal
    out.append((f"correlate2d 7x7 float32 {N}^2 'same', NumPy weights (not in the goal)",
                lambda: corrconv_gpu.correlate2d(x, wh, "same")))
    for k in (3, 15):
        out.append((f"ndimage.correlate {k}x{k} float32 {N}^2 mode='constant'",
                    lambda w=ws[k]: cndi.correlate(x, w, mode="constant")))
    out.append((f"ndimage.convolve 7x7 float32 {N}^2 mode='reflect'",
                lambda: cndi.convolve(x, ws[7])))
    return out


def per_call_us(fn, calls, reps):
    fn()
    per = max(1, calls // reps)
    meds = []
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        for _ in range(per):
            fn()
        meds.append((time.perf_counter_ns() - t0) / per / 1e3)
    return statistics.median(meds)


def measure(calls=10000, reps=20):
    with cupy_standin.installed() as cp:
        bare = per_call_us(cupy_standin.bare_launch(), calls, reps)
        res = []
        for label, fn in rows(cp):
            n0 = cupy_standin.COUNTS["launch"]
            us = per_call_us(fn, calls, reps)
            launches = (cupy_standin.COUNTS["launch"] - n0) / (1 + max(1, calls // reps) * reps)
            res.append(dict(call=label, us_per_call=round(us, 2),
                            host_us=round(us - bare, 2), launches_per_call=launches,
                            meets_goal=None if "not in the goal" in label
                            else bool(us - bare <= GOAL_US)))
    return bare, res


def table(bare, res):
    lines = ["| call (CuPy stand-in) | us / call | bare launch us | library host us | "
             f"<= {GOAL_US:.0f} us |", "|---|---|---|---|---|"]
    for r in res:
        goal = {True: "pass", False: "FAIL", None: "-"}[r["meets_goal"]]
        lines.append(f"| {r['call']} | {r['us_per_call']:.1f} | {bare:.2f} | "
                     f"{r['host_us']:.1f} | {goal} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=10000, help="calls per row (default 10^4)")
    ap.add_argument("--reps", type=int, default=20, help="batches per row (median)")
    ap.add_argument("--no-write", action="store_true", help="print only")
    a = ap.parse_args(argv)
    bare, res = measure(a.calls, a.reps)
    md = table(bare, res)
    print(md)
    if not a.no_write:
        meta = dict(python=platform.python_version(), numpy=np.__version__,
                    machine=platform.machine(), processor=platform.processor() or "",
                    cpus=os.cpu_count(), calls=a.calls, reps=a.reps,
                    date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
        out = os.path.join(HERE, "results")
        with open(os.path.join(out, "host_overhead.json"), "w") as f:
            json.dump(dict(meta=meta, bare_launch_us=round(bare, 3), goal_us=GOAL_US,
                           rows=res), f, indent=1)
        with open(os.path.join(out, "host_overhead.md"), "w") as f:
            f.write("# Host time per call (CuPy stand-in, no GPU)\n\n"
                    "`python benchmarks/host_overhead.py`: the real public code path with the "
                    "CuPy stand-in of `benchmarks/cupy_standin.py` as `cupy` (launches "
                    "recorded, not run; any device-to-host copy or synchronisation raises). "
                    "Median of the batch means of "
                    f"{a.calls} repeated calls per row; \"library host us\" is the call "
                    "minus the stand-in's bare launch (a prepared function with prepared "
                    "arguments): the time from the public function to the launch. CuPy's own "
                    "costs (allocator, driver launch) are not in these figures; "
                    "`benchmarks/gpu_probe.py --overhead` measures them on a GPU.\n\n"
                    f"Machine: {meta['machine']} {meta['processor']}, {meta['cpus']} CPUs "
                    f"(shared), Python {meta['python']}, NumPy {meta['numpy']}; "
                    f"{meta['date']}.\n\n" + md + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
