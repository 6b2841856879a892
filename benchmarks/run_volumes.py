"""Volumes: corrconv_gpu.ndimage.correlate on 3-D float32 arrays against
scipy.ndimage.correlate and scipy.signal.correlate, side by side in one run.

    python benchmarks/run_volumes.py                       # 256^3 and 512^3, K 3,5,7,15
    python benchmarks/run_volumes.py --sizes 128 --ks 3,5  # a quick look

Every point (size n, cubic kernel K) times, on one input (uniform in [0, 1))
and one kernel (standard normal), mode 'reflect' (scipy.ndimage's default):

* ``ours``          ``corrconv_gpu.ndimage.correlate(x, w)`` (CPU backend, 'auto')
* ``ndimage``       ``scipy.ndimage.correlate(x, w)``
* ``signal``        ``scipy.signal.correlate(x, w, 'same')`` (its 'auto': zero
                    padding, so a speed peer only; its values are not compared)

medians of up to ``--repeat`` rounds in which each contender runs once (all
see the same machine state), after an untimed warm-up run of each (no
warm-up for scipy.ndimage where estimated above ``--warm-s``); the rounds
stop once their runs add up to ``--budget`` seconds. A
peer whose estimated time (from its measured seconds per multiply-add at a
smaller kernel of the same size) exceeds ``--max-peer-s`` is not run: its
time is that estimate, marked ``est.``. Writes ``benchmarks/results/
volumes.{md,json,png}``.
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
sys.path.insert(0, os.path.dirname(HERE))   # the repository checkout wins

import scipy  # noqa: E402
import scipy.ndimage  # noqa: E402
import scipy.signal  # noqa: E402

import corrconv_gpu  # noqa: E402
from corrconv_gpu import ndimage as cnd  # noqa: E402


def _time_rounds(fns, warm, repeat, budget):
    """Medians of the callables in ``fns`` (name -> fn) timed in rounds, each
    once per round, so that every contender sees the same machine state
    (this VM's speed drifts by tens of percent over a minute); up to
    ``repeat`` rounds, stopping once the timed runs add up to ``budget`` s.
    First one untimed run of each name in ``warm``: the first calls on a new
    array size pay the operating system's first touch of their output
    (hundreds of MB at 512^3, page compaction included), whoever calls.
    Returns ({name: median s}, {name: result of the last run})."""
    outs = {name: fns[name]() for name in fns if name in warm}
    times = {name: [] for name in fns}
    total = 0.0
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.perf_counter()
            outs[name] = fn()
            dt = time.perf_counter() - t
            times[name].append(dt)
            total += dt
        if total > budget:
            break
    return {name: statistics.median(ts) for name, ts in times.items()}, outs


def run(args):
    rng = np.random.default_rng(0)
    points = []
    for n in args.sizes:
        x = rng.random((n, n, n), dtype=np.float32)
        rate = {}                               # peer -> seconds per multiply-add
        for k in args.ks:
            w = rng.standard_normal((k, k, k)).astype(np.float32)
            macs = float(n) ** 3 * k ** 3
            rec = {"n": n, "K": k}
            fns = {"ours": lambda: cnd.correlate(x, w),
                   "ndimage": lambda: scipy.ndimage.correlate(x, w),
                   "signal": lambda: scipy.signal.correlate(x, w, "same")}
            est = rate.get("ndimage", 0.0) * macs
            rec["ndimage_est"] = est > args.max_peer_s
            if rec["ndimage_est"]:
                del fns["ndimage"]
                rec["ndimage"] = est
            # a warm-up run where it is cheap (every contender gets one; ours
            # compiles and plans there)
            warm = {"ours", "signal"} | ({"ndimage"} if est < args.warm_s else set())
            with corrconv_gpu.use_backend("cpu"):
                med, outs = _time_rounds(fns, warm, args.repeat, args.budget)
            rec.update(med)
            if not rec["ndimage_est"]:
                rate["ndimage"] = rec["ndimage"] / macs
                scale = float(np.abs(w).sum())
                rec["err"] = float(np.abs(outs["ours"].astype(np.float64)
                                          - outs["ndimage"]).max() / scale)
            rec["x_ndimage"] = rec["ndimage"] / rec["ours"]
            rec["x_signal"] = rec["signal"] / rec["ours"]
            points.append(rec)
            print(f"{n}^3 K={k}: ours {rec['ours']:.3f} s, ndimage {rec['ndimage']:.2f} s"
                  f"{' (est.)' if rec['ndimage_est'] else ''} (x{rec['x_ndimage']:.1f}), "
                  f"signal {rec['signal']:.2f} s (x{rec['x_signal']:.1f})", flush=True)
    return points


def write(points, out, args):
    os.makedirs(out, exist_ok=True)
    meta = {"date": time.strftime("%Y-%m-%d"), "machine": platform.machine(),
            "cpus": os.cpu_count(), "numpy": np.__version__, "scipy": scipy.__version__,
            "corrconv_gpu": corrconv_gpu.__version__, "repeat": args.repeat,
            "budget_s": args.budget, "max_peer_s": args.max_peer_s, "warm_s": args.warm_s}
    with open(os.path.join(out, "volumes.json"), "w") as f:
        json.dump({"meta": meta, "points": points}, f, indent=1)
    lines = ["# Volumes: 3-D float32, mode 'reflect', CPU", "",
             f"{meta['date']}, {meta['cpus']} CPUs ({meta['machine']}), NumPy {meta['numpy']}, "
             f"SciPy {meta['scipy']}; medians of up to {args.repeat} interleaved rounds (each "
             "contender once per round) after a warm-up run (none for scipy.ndimage over a few "
             "seconds). `x peer` = peer time / ours (> 1: we are "
             "faster); `est.`: not run, estimated from the peer's seconds per multiply-add at a "
             "smaller K of the same size.", "",
             "| n | K | ours (s) | scipy.ndimage (s) | x ndimage | scipy.signal 'same' (s) "
             "| x signal | max error / sum(abs(w)) |",
             "|---|---|---|---|---|---|---|---|"]
    for p in points:
        nd = f"{p['ndimage']:.2f}" + (" est." if p["ndimage_est"] else "")
        err = f"{p['err']:.1e}" if "err" in p else "-"
        lines.append(f"| {p['n']}^3 | {p['K']} | {p['ours']:.3f} | {nd} | {p['x_ndimage']:.1f} "
                     f"| {p['signal']:.2f} | {p['x_signal']:.1f} | {err} |")
    goal = [p for p in points if p["x_ndimage"] < 10]
    lines += ["", f"Goal >= 10x scipy.ndimage at every point: "
                  f"{'PASS' if not goal else 'FAIL'} ({len(points) - len(goal)}/{len(points)})"]
    with open(os.path.join(out, "volumes.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4))
        for n in sorted({p["n"] for p in points}):
            pts = [p for p in points if p["n"] == n]
            ks = [p["K"] for p in pts]
            ax.plot(ks, [p["x_ndimage"] for p in pts], "o-", label=f"{n}^3 vs scipy.ndimage")
            ax.plot(ks, [p["x_signal"] for p in pts], "s--", label=f"{n}^3 vs scipy.signal")
        ax.axhline(10, color="gray", lw=0.8, ls=":")
        ax.set_xlabel("cubic kernel K")
        ax.set_ylabel("speed-up (peer time / ours)")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
        ax.set_title("corrconv_gpu.ndimage.correlate, 3-D float32, CPU")
        fig.tight_layout()
        fig.savefig(os.path.join(out, "volumes.png"), dpi=110)
    except ImportError:
        print("matplotlib not installed: no plot")
    print("\n".join(lines))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--ks", default="3,5,7,15")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--warm-s", type=float, default=5.0,
                    help="an untimed warm-up run for peers whose estimated time is below this")
    ap.add_argument("--budget", type=float, default=10.0,
                    help="stop repeating a call once its runs add up to this many seconds")
    ap.add_argument("--max-peer-s", type=float, default=60.0,
                    help="estimate instead of running scipy.ndimage above this many seconds")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.ks = [int(k) for k in args.ks.split(",")]
    write(run(args), args.out, args)


if __name__ == "__main__":
    main()
