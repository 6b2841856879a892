"""CPU benchmark: corrconv_gpu's CPU backend against SciPy and OpenCV, side by side.

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/run_cpu.py              # full grid (~15-20 min)
    PYTHONPATH=. python benchmarks/run_cpu.py --quick      # smoke test (< 1 min)
    PYTHONPATH=. python benchmarks/run_cpu.py --dry-run    # grid + time estimate only
    PYTHONPATH=. python benchmarks/run_cpu.py --sizes 2048 --dtypes float32 --ks 3,7,31

What is timed (one "point" = size N, dtype, mode, square kernel K), all on the
same ``N x N`` input ``x`` (uniform in [0, 1)) and ``K x K`` weights ``w``
(standard normal), correlation (not convolution), zero fill outside ``x``:

* ``ours``       ``corrconv_gpu.correlate2d(x, w, mode)`` with
                 ``use_backend('cpu')`` and ``method='auto'``;
* ``ours_direct`` / ``ours_fft``: the same with ``method='direct'`` / ``'fft'``
                 (for calibrating the cost model in ``corrconv_gpu/_cost.py``);
* ``scipy_signal`` ``scipy.signal.correlate2d(x, w, mode, 'fill', 0)``;
* ``ndimage``    ``scipy.ndimage.correlate(x, w, mode='constant', cval=0,
                 origin=o)`` with ``o = K-1-2*(K//2)`` per axis (0 for odd K, -1
                 for even K): its ``N x N`` output is then exactly
                 scipy.signal's 'same' window. For 'valid' the runner takes the
                 slice ``[(K-1)//2 : (K-1)//2 + N-K+1]`` of that result, so
                 ndimage computes ``N^2`` outputs where the others compute
                 ``(N-K+1)^2`` (up to 1.3x more work at N=512, K=63); the slice
                 itself is a view (free);
* ``cv2``        ``cv2.filter2D(x, -1, w, anchor=(a, a),
                 borderType=cv2.BORDER_CONSTANT)`` with ``a = (K-1)//2``
                 (the same window as scipy.signal's 'same'), 'valid' sliced
                 like ndimage; OpenCV's thread count is left at its default.

Every peer's first result at a point is checked against ours:
``err = max|peer - ours| / (sum|w| * max|x|)`` must be below 1e-5 (float32) or
1e-12 (float64), so the timings compare the same computation; a failing check
is flagged in the table (``!``) and in the JSON.

Timing: each library is warmed up once per dtype, kernel size of the grid and
mode on a 300x300 image (every kernel variant compiles then). Then, for each
point, every library's first call is its check call (timed as ``first_s``,
left out of the median, as ``run_gpu.py`` leaves out its untimed first call),
and the libraries are run *interleaved*: round after round, each library
that still needs runs is called once (in a new random order each round,
seeded: OpenCV's worker threads spin for a while after a call, which slows
whatever runs next on 2 cores); a library stops after ``--repeat`` timed runs
or once its calls add up to ``--budget`` seconds.  Cheap points get more
runs (a median of 5 swings with what ran before, on a noisy machine): after
``--repeat`` runs a library goes on until its timed runs add up to
``--min-time`` seconds or number ``--max-repeat`` (within the budget). The reported time is the
median of the timed runs (of the first call when the budget allowed no
other: the slow SciPy peers).
A peer whose first call at a point takes more than
``--skip-slow-peers-above`` seconds is skipped for every larger K at the same
size and dtype (recorded as skipped; nothing is estimated).

Outputs in ``--out`` (default ``benchmarks/results``): ``cpu.md`` (table,
summary, targets), ``cpu.json`` (every raw timing), ``cpu.png`` (time vs K,
needs matplotlib). Ratios are ``peer time / our time``: > 1 means we are
faster.
"""

import argparse
import datetime
import gc
import json
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the repository checkout wins

import scipy  # noqa: E402
import scipy.ndimage  # noqa: E402
import scipy.signal  # noqa: E402

import corrconv_gpu  # noqa: E402

sys.path.insert(1, HERE)  # this folder: the shared CLI helpers
from _cli import int_list, str_list  # noqa: E402

try:
    import cv2  # noqa: E402
except Exception:  # pragma: no cover - optional peer
    cv2 = None

OURS = ("ours", "ours_direct", "ours_fft")
PEERS = ("scipy_signal", "ndimage", "cv2")
LABEL = {"ours": "corrconv_gpu (auto)", "ours_direct": "corrconv_gpu direct",
         "ours_fft": "corrconv_gpu fft", "scipy_signal": "scipy.signal.correlate2d",
         "ndimage": "scipy.ndimage.correlate", "cv2": "cv2.filter2D"}
TOL = {"float32": 1e-5, "float64": 1e-12}

DEFAULT = dict(sizes="512,2048,4096", dtypes="float32,float64",
               ks="3,5,7,9,15,31,63", modes="valid,same")
QUICK = dict(sizes="512", dtypes="float32,float64", ks="3,7,31", modes="valid,same")

# rough seconds per multiply-add of the single-threaded SciPy peers (quiet 2-core
# machine: ~0.9-1.2 ns; 2-3x more when the cores are shared) for --dry-run
_EST_S_PER_MAC = {"scipy_signal": 1.0e-9, "ndimage": 1.2e-9}


# --------------------------------------------------------------- the calls

def _ours(method):
    def call(x, w, mode):
        with corrconv_gpu.use_backend("cpu"):
            return corrconv_gpu.correlate2d(x, w, mode, "fill", 0, method=method)
    return call


def _same_origin(k):
    return k - 1 - 2 * (k // 2)


def _valid_slice(r, kshape, xshape):
    s = tuple(slice((k - 1) // 2, (k - 1) // 2 + (m - k + 1)) for k, m in zip(kshape, xshape))
    return r[s]


def _scipy_signal(x, w, mode):
    return scipy.signal.correlate2d(x, w, mode, "fill", 0)


def _ndimage(x, w, mode):
    origin = [_same_origin(k) for k in w.shape]
    r = scipy.ndimage.correlate(x, w, mode="constant", cval=0.0, origin=origin)
    return _valid_slice(r, w.shape, x.shape) if mode == "valid" else r


def _cv2(x, w, mode):
    anchor = ((w.shape[1] - 1) // 2, (w.shape[0] - 1) // 2)  # (x, y)
    r = cv2.filter2D(x, -1, w, anchor=anchor, borderType=cv2.BORDER_CONSTANT)
    return _valid_slice(r, w.shape, x.shape) if mode == "valid" else r


def library_calls(with_cv2=True):
    calls = {"ours": _ours("auto"), "ours_direct": _ours("direct"),
             "ours_fft": _ours("fft"), "scipy_signal": _scipy_signal,
             "ndimage": _ndimage}
    if with_cv2 and cv2 is not None:
        calls["cv2"] = _cv2
    return calls


def auto_choice(x, w, mode):
    """Run ours once with method='auto', recording what the cost model chose
    for each output piece. Returns (result, seconds, summary, pieces)."""
    pieces = []
    try:
        from corrconv_gpu import _cpu as cpu_mod
        orig = cpu_mod.choose_cpu
    except (ImportError, AttributeError):
        cpu_mod = orig = None
    if orig is not None:
        def spy(n0, n1, k0, k1, dtype, *args, **kwargs):
            name = orig(n0, n1, k0, k1, dtype, *args, **kwargs)
            pieces.append((int(n0), int(n1), name))
            return name
        cpu_mod.choose_cpu = spy
    try:
        t0 = time.perf_counter()
        r = _ours("auto")(x, w, mode)
        dt = time.perf_counter() - t0
    finally:
        if orig is not None:
            cpu_mod.choose_cpu = orig
    if pieces:
        main = max(pieces, key=lambda p: p[0] * p[1])[2]
        others = sorted({p[2] for p in pieces} - {main})
        summary = main + ("" if not others else "+" + "+".join(others))
    else:  # internals changed: ask the cost model about the whole output
        from corrconv_gpu._dispatch.cost import choose_cpu
        summary = choose_cpu(r.shape[0], r.shape[1], w.shape[0], w.shape[1], x.dtype) + "?"
    return r, dt, summary, pieces


def rel_err(a, b, x, w):
    scale = float(np.abs(w).astype(np.float64).sum() * np.abs(x).max())
    if a.shape != b.shape:
        return float("inf")
    d = np.abs(a.astype(np.float64) - b.astype(np.float64)).max() if a.size else 0.0
    return float(d) / scale if scale else float(d)


# ----------------------------------------------------------------- running

def warmup(calls, dtypes, log, ks=(3, 31)):
    """Call every library once per dtype, kernel size and mode on a 300x300
    image, so that no timed call compiles (each K may need its own kernel
    variant; 300x300 is above the size where small kernels switch to the
    exact-size variant)."""
    rng = np.random.default_rng(1)
    for dt in dtypes:
        x = rng.random((300, 300)).astype(dt)
        t0 = time.perf_counter()
        for k in sorted(set(ks) | {3, 31}):
            w = rng.standard_normal((k, k)).astype(dt)
            for mode in ("valid", "same"):
                for name, fn in calls.items():
                    if name in OURS or k <= 31:
                        fn(x, w, mode)
        log(f"warm-up {dt}: {time.perf_counter() - t0:.1f} s")


def time_point(calls, x, w, mode, repeat, budget, skip, log, min_time=0.0, max_repeat=0):
    """Interleaved timing of one point. Returns {lib: record}.

    Every library's first call at the point is its check call (its result is
    compared with ours): it is timed (``first_s``) but left out of the median,
    like the untimed first call of ``run_gpu.py``, because it runs once per
    point in a state the later runs do not share (ours' first call also runs
    the spy of :func:`auto_choice`).  The median is over the later runs; a
    library whose first call used up its budget has none, and reports its
    first call."""
    recs = {name: {"times": [], "skipped": name in skip} for name in calls}
    # ours (auto) first, with the spy, to have the reference result
    gc.collect()
    ref, dt, choice, pieces = auto_choice(x, w, mode)
    recs["ours"]["first_s"] = dt
    recs["ours"]["auto_choice"] = choice
    recs["ours"]["auto_pieces"] = pieces
    recs["ours"]["err"] = 0.0
    order = [n for n in calls if n != "ours"] + ["ours"]
    order_rng = random.Random(len(calls) * 1000 + int(w.shape[0]))

    def spent(rec):
        return rec.get("first_s", 0.0) + sum(rec["times"])

    def wants_more(rec):
        runs = len(rec["times"])
        return runs < max(1, repeat) or (runs < max_repeat and sum(rec["times"]) < min_time)

    while True:
        active = [n for n in order if not recs[n]["skipped"] and "error" not in recs[n]
                  and wants_more(recs[n])
                  and ("first_s" not in recs[n] or spent(recs[n]) < budget)]
        if not active:
            break
        # a new random order every round: OpenCV's worker threads spin for a
        # while after a call, so on 2 cores whatever runs right after cv2 loses
        # part of a core; a fixed cyclic order always put 'ours' there
        order_rng.shuffle(active)
        for name in active:
            fn = calls[name]
            rec = recs[name]
            try:
                t0 = time.perf_counter()
                r = fn(x, w, mode)
                dt = time.perf_counter() - t0
            except Exception as exc:   # e.g. MemoryError: record it, keep going
                rec["error"] = f"{type(exc).__name__}: {exc}"
                log(f"  {name} failed: {rec['error']}")
                continue
            if "first_s" not in rec:
                rec["err"] = rel_err(r, ref, x, w)
                rec["first_s"] = dt
            else:
                rec["times"].append(dt)
            del r
    tol = TOL.get(str(x.dtype), 1e-5)
    for name, rec in recs.items():
        if not rec["times"] and "first_s" in rec:
            rec["times"].append(rec["first_s"])   # the budget allowed one call
            rec["median_of_first"] = True
        if rec["times"]:
            rec["median"] = statistics.median(rec["times"])
            rec["runs"] = len(rec["times"])
            rec["check_ok"] = bool(rec["err"] <= tol)
        else:
            rec["median"] = None
            rec["runs"] = 0
    del ref
    return recs


def run_grid(args, log):
    calls = library_calls(not args.no_cv2)
    sizes, dtypes, ks, modes = args.sizes, args.dtypes, args.ks, args.modes
    results = {"meta": meta(args, calls), "points": []}
    warmup(calls, dtypes, log, ks)
    t_start = time.perf_counter()
    rng = np.random.default_rng(0)
    tmp_path = os.path.join(args.out, "cpu.json.tmp")
    for n in sizes:
        for dt in dtypes:
            x = rng.random((n, n)).astype(dt)
            slow_k = {}   # peer -> smallest K whose first call exceeded the threshold
            for k in ks:
                w = rng.standard_normal((k, k)).astype(dt)
                for mode in modes:
                    if mode == "valid" and k > n:
                        continue
                    skip = {p for p, k0 in slow_k.items() if k > k0}
                    t0 = time.perf_counter()
                    recs = time_point(calls, x, w, mode, args.repeat, args.budget, skip, log,
                                      args.min_time, args.max_repeat)
                    for p in PEERS:
                        rec = recs.get(p)
                        if (rec and "first_s" in rec and args.skip_slow_peers_above
                                and rec["first_s"] > args.skip_slow_peers_above):
                            slow_k[p] = min(slow_k.get(p, k), k)
                    pt = {"size": n, "dtype": dt, "mode": mode, "K": k, "libs": recs,
                          "wall_s": time.perf_counter() - t0}
                    results["points"].append(pt)
                    log(format_progress(pt))
                    results["meta"]["elapsed_s"] = time.perf_counter() - t_start
                    with open(tmp_path, "w") as f:
                        json.dump(results, f)
            del x
    results["meta"]["elapsed_s"] = time.perf_counter() - t_start
    try:
        results["meta"]["load_average_end"] = os.getloadavg()
    except OSError:
        pass
    return results


def meta(args, calls):
    import numba
    m = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
         "python": platform.python_version(), "platform": platform.platform(),
         "processor": platform.processor(), "cpu_count": os.cpu_count(),
         "numpy": np.__version__, "scipy": scipy.__version__,
         "numba": numba.__version__, "numba_threads": numba.config.NUMBA_NUM_THREADS,
         "corrconv_gpu": corrconv_gpu.__version__,
         "cv2": None if "cv2" not in calls else cv2.__version__,
         "cv2_threads": None if "cv2" not in calls else cv2.getNumThreads(),
         "libraries": list(calls), "input": "x ~ U[0,1), w ~ N(0,1), seed 0",
         "timing": {"repeat": args.repeat, "budget_s": args.budget,
                    "min_time_s": args.min_time, "max_repeat": args.max_repeat,
                    "skip_slow_peers_above_s": args.skip_slow_peers_above,
                    "statistic": "median"},
         "tolerance": TOL,
         "grid": {"sizes": args.sizes, "dtypes": args.dtypes, "ks": args.ks,
                  "modes": args.modes}}
    try:
        m["load_average"] = os.getloadavg()
    except OSError:
        pass
    return m


# ------------------------------------------------------------------ report

def _t(rec):
    if rec is None:
        return "n/a"
    if rec.get("skipped"):
        return "skipped"
    if rec.get("median") is None:
        return "error" if rec.get("error") else "n/a"
    s = f"{rec['median']:.3g}"
    return s if rec.get("check_ok", True) else s + "!"


def ratio(pt, peer):
    rec, ours = pt["libs"].get(peer), pt["libs"]["ours"]
    if not rec or rec.get("skipped") or rec.get("median") is None:
        return None
    return rec["median"] / ours["median"]


def _r(v):
    return "-" if v is None else f"{v:.2f}"


def format_progress(pt):
    libs = pt["libs"]
    parts = [f"{pt['size']:>4}² {pt['dtype']:<7} {pt['mode']:<5} K={pt['K']:<2}",
             f"ours {libs['ours']['median']:.3g}s ({libs['ours']['auto_choice']})"]
    for p in ("ours_direct", "ours_fft") + PEERS:
        if p in libs:
            parts.append(f"{p} {_t(libs[p])}")
    return " | ".join(parts) + f"  [{pt['wall_s']:.1f}s]"


def table(results):
    peers = [p for p in PEERS if p in results["meta"]["libraries"]]
    head = (["size", "dtype", "mode", "K", "ours (s)", "auto", "direct (s)", "fft (s)"]
            + [f"{p} (s)" for p in peers] + [f"x{p}" for p in peers])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for pt in results["points"]:
        L = pt["libs"]
        row = [f"{pt['size']}²", pt["dtype"], pt["mode"], str(pt["K"]),
               _t(L["ours"]), L["ours"].get("auto_choice", "?"),
               _t(L.get("ours_direct")), _t(L.get("ours_fft"))]
        row += [_t(L.get(p)) for p in peers]
        row += [_r(ratio(pt, p)) for p in peers]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _where(pt):
    return f"{pt['size']}² {pt['dtype']} {pt['mode']} K={pt['K']}"


def summary(results):
    peers = [p for p in PEERS if p in results["meta"]["libraries"]]
    out = []
    for p in peers:
        rs = [(ratio(pt, p), pt) for pt in results["points"]]
        meas = [(r, pt) for r, pt in rs if r is not None]
        nskip = len(rs) - len(meas)
        if not meas:
            out.append(f"- {LABEL[p]}: no measured points ({nskip} not measured)")
            continue
        faster = sum(r > 1 for r, _ in meas)
        worst_r, worst_pt = min(meas, key=lambda t: t[0])
        best_r, best_pt = max(meas, key=lambda t: t[0])
        med = statistics.median(r for r, _ in meas)
        out.append(f"- {LABEL[p]}: we are faster at {faster}/{len(meas)} measured points"
                   f"{f' ({nskip} not measured)' if nskip else ''}; median ratio {med:.2f}; "
                   f"worst {worst_r:.2f} at {_where(worst_pt)}; best {best_r:.2f} at "
                   f"{_where(best_pt)}")
    bad = [(pt, p) for pt in results["points"] for p, rec in pt["libs"].items()
           if rec.get("check_ok") is False]
    if bad:
        out.append("- result checks FAILED (timings marked '!'): " + "; ".join(
            f"{p} at {_where(pt)} (err {pt['libs'][p]['err']:.2e})" for pt, p in bad))
    else:
        out.append("- every measured result matched ours (max|diff| / (sum|w| max|x|) "
                   f"<= {TOL['float32']:g} float32, {TOL['float64']:g} float64)")
    regret = []
    for pt in results["points"]:
        L = pt["libs"]
        best = min((L[m]["median"] for m in ("ours_direct", "ours_fft")
                    if m in L and L[m].get("median")), default=None)
        if best:
            regret.append((L["ours"]["median"] / best, pt))
    if regret:
        r, pt = max(regret, key=lambda t: t[0])
        out.append(f"- cost model: auto / min(direct, fft) median "
                   f"{statistics.median(v for v, _ in regret):.2f}, worst {r:.2f} at "
                   f"{_where(pt)} (auto chose {pt['libs']['ours']['auto_choice']})")
    return "\n".join(out)


def targets(results):
    """The issue's targets, each PASS / FAIL / INCOMPLETE with the points."""
    pts = results["points"]
    libs = results["meta"]["libraries"]
    specs = [
        ("never slower than scipy.ndimage.correlate (ratio >= 1)", "ndimage", 1.0,
         lambda pt: True),
        (">= 3x faster than scipy.signal.correlate2d everywhere (ratio >= 3)",
         "scipy_signal", 3.0, lambda pt: True),
        ("<= 1.5x cv2.filter2D's time at every point (ratio >= 0.667)", "cv2", 1 / 1.5,
         lambda pt: True),
        ("<= cv2.filter2D's time for float32 with K <= 15 or K >= 31 (ratio >= 1)", "cv2",
         1.0, lambda pt: pt["dtype"] == "float32" and (pt["K"] <= 15 or pt["K"] >= 31)),
    ]
    out = []
    for text, peer, need, sel in specs:
        if peer not in libs:
            out.append(f"N/A   {text}: {peer} not available")
            continue
        chosen = [pt for pt in pts if sel(pt)]
        fails, unmeasured = [], []
        for pt in chosen:
            r = ratio(pt, peer)
            if r is None:
                unmeasured.append(pt)
            elif r < need or pt["libs"][peer].get("check_ok") is False:
                fails.append((r, pt))
        if not chosen:
            status = "N/A  "
        elif fails:
            status = "FAIL "
        elif unmeasured:
            status = "PASS*"
        else:
            status = "PASS "
        line = f"{status} {text}: {len(chosen) - len(fails) - len(unmeasured)}/{len(chosen)} points meet it"
        if fails:
            line += "\n      failing: " + "; ".join(f"{_where(pt)} ratio {r:.2f}" for r, pt in fails)
        if unmeasured:
            line += ("\n      not measured (peer skipped or failed; * = PASS on the measured points only): "
                     + "; ".join(_where(pt) for pt in unmeasured))
        out.append(line)
    return "\n".join(out)


def plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as exc:
        return f"no plot ({type(exc).__name__}: {exc})"
    pts = results["points"]
    sizes = sorted({pt["size"] for pt in pts})
    modes = [m for m in ("same", "valid") if any(pt["mode"] == m for pt in pts)]
    dtypes = sorted({pt["dtype"] for pt in pts})
    libs = results["meta"]["libraries"]
    colors = {"ours": "C3", "ours_direct": "C1", "ours_fft": "C5", "scipy_signal": "C0",
              "ndimage": "C2", "cv2": "C4"}
    styles = {"float32": "-", "float64": "--"}
    fig, axes = plt.subplots(len(modes), len(sizes), squeeze=False,
                             figsize=(max(9.0, 4.6 * len(sizes)), 3.8 * len(modes) + 1.2))
    for i, mode in enumerate(modes):
        for j, n in enumerate(sizes):
            ax = axes[i][j]
            for lib in libs:
                for dt in dtypes:
                    sel = sorted((pt for pt in pts if pt["size"] == n and pt["mode"] == mode
                                  and pt["dtype"] == dt), key=lambda pt: pt["K"])
                    xs = [pt["K"] for pt in sel if pt["libs"].get(lib, {}).get("median")]
                    ys = [pt["libs"][lib]["median"] for pt in sel
                          if pt["libs"].get(lib, {}).get("median")]
                    if not xs:
                        continue
                    thin = lib in ("ours_direct", "ours_fft")
                    ax.plot(xs, ys, styles.get(dt, ":"), color=colors.get(lib),
                            marker="o", ms=2.5 if thin else 4, lw=0.8 if thin else 1.8,
                            alpha=0.6 if thin else 1.0,
                            label=f"{LABEL[lib]} {dt}" if (i, j) == (0, 0) else None)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ks = sorted({pt["K"] for pt in pts})
            ax.set_xticks(ks)
            ax.set_xticklabels([str(k) for k in ks])
            ax.minorticks_off()
            ax.grid(True, which="major", alpha=0.3)
            ax.set_title(f"{n}x{n}, mode '{mode}'")
            ax.set_xlabel("K (K x K kernel)")
            if j == 0:
                ax.set_ylabel("median time (s)")
    ncol = 3 if len(sizes) < 3 else 4
    fig.legend(loc="lower center", ncol=ncol, fontsize=7, frameon=False)
    fig.suptitle(f"correlate2d on the CPU ({results['meta'].get('cpu_count')} cores): "
                 "time vs K (solid float32, dashed float64)", fontsize=10)
    nrows_leg = math.ceil(len(libs) * len(dtypes) / ncol)
    leg_h = (0.16 * nrows_leg + 0.1) / fig.get_figheight()
    fig.tight_layout(rect=(0, leg_h, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _load_note(results):
    m = results["meta"]
    la, lb = m.get("load_average"), m.get("load_average_end")
    if not la:
        return ""
    note = f"Load average (1 min) at start {la[0]:.1f}" + (f", at end {lb[0]:.1f}" if lb else "")
    if max(la[0], lb[0] if lb else 0) > 0.5 * (m.get("cpu_count") or 1):
        note += (" -- the machine was busy: other processes compete with the 2 Numba "
                 "threads and small-problem timings of the parallel code are inflated")
    return note + ".\n"


def write_outputs(results, out, log):
    md = ["# CPU benchmark: corrconv_gpu vs SciPy / OpenCV",
          "",
          f"{results['meta']['date']}, {results['meta']['platform']}, "
          f"{results['meta']['cpu_count']} CPUs, numpy {results['meta']['numpy']}, "
          f"scipy {results['meta']['scipy']}, numba {results['meta']['numba']} "
          f"({results['meta']['numba_threads']} threads), cv2 {results['meta']['cv2']} "
          f"({results['meta']['cv2_threads']} threads). Elapsed "
          f"{results['meta'].get('elapsed_s', 0) / 60:.1f} min"
          + (" (PARTIAL: interrupted)" if results["meta"].get("partial") else "") + ".",
          "",
          "Correlation of an NxN image with a KxK kernel, zero fill. Times are medians "
          "in seconds; `xpeer` = peer time / our time (> 1: we are faster). `auto` = "
          "the method the cost model chose for the output window. `!` = the result check against ours "
          "failed; `skipped` = not run (the peer's first call at a smaller K exceeded "
          f"{results['meta']['timing']['skip_slow_peers_above_s']} s). ndimage and cv2 "
          "compute the full NxN 'same' output also for 'valid' (sliced). See "
          "benchmarks/README.md.",
          "", _load_note(results), table(results), "", "## Summary", "", summary(results), "",
          "## Targets", "", "```", targets(results), "```", ""]
    with open(os.path.join(out, "cpu.md"), "w") as f:
        f.write("\n".join(md))
    with open(os.path.join(out, "cpu.json"), "w") as f:
        json.dump(results, f, indent=1)
    tmp = os.path.join(out, "cpu.json.tmp")
    if os.path.exists(tmp):
        os.remove(tmp)
    log(f"plot: {plot(results, os.path.join(out, 'cpu.png'))}")
    log(f"wrote {os.path.join(out, 'cpu.md')}, {os.path.join(out, 'cpu.json')}")


# ---------------------------------------------------------------- estimate

def estimate(args):
    """A rough wall-time estimate of the grid (seconds), from a MAC model."""
    from corrconv_gpu._dispatch.cost import direct_cost
    total = 0.0
    libs = list(library_calls(not args.no_cv2))
    for n in args.sizes:
        for dt in args.dtypes:
            slow = {}
            for k in args.ks:
                for mode in args.modes:
                    o = n - k + 1 if mode == "valid" else n
                    if o <= 0:
                        continue
                    for lib in libs:
                        if lib == "ours_direct":
                            t = direct_cost(o, o, k, k, dt)
                        elif lib in ("ours", "ours_fft", "cv2"):
                            t = min(direct_cost(o, o, k, k, dt), 2e-8 * n * n * math.log2(n) + 0.01)
                            t = t if lib != "ours_fft" else 2e-8 * n * n * math.log2(n) + 0.01
                        else:
                            if slow.get(lib, 1e9) < k:
                                continue
                            t = _EST_S_PER_MAC[lib] * n * n * k * k + 1e-3
                            if args.skip_slow_peers_above and t > args.skip_slow_peers_above:
                                slow[lib] = min(slow.get(lib, k), k)
                        runs = max(1, min(args.repeat + 1, math.ceil(args.budget / t)))
                        if args.min_time > t * (runs - 1):   # cheap points: more runs
                            runs = max(runs, min(args.max_repeat,
                                                 math.ceil(args.min_time / t)) + 1)
                        total += t * runs      # the check call, then the timed runs
    return total


# -------------------------------------------------------------------- main

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", help=f"image sizes N (N x N), default {DEFAULT['sizes']}")
    ap.add_argument("--dtypes", help=f"default {DEFAULT['dtypes']}")
    ap.add_argument("--ks", help=f"kernel sizes K (K x K), default {DEFAULT['ks']}")
    ap.add_argument("--modes", help=f"'valid' and/or 'same', default {DEFAULT['modes']}")
    ap.add_argument("--quick", action="store_true",
                    help=f"small grid for a smoke test (< 1 min): sizes {QUICK['sizes']}, "
                         f"ks {QUICK['ks']}, repeat 3, budget 0.5 s")
    ap.add_argument("--repeat", type=int, default=None,
                    help="runs per library per point (default 5; --quick 3)")
    ap.add_argument("--budget", type=float, default=None,
                    help="stop repeating a library once its runs add up to this many "
                         "seconds (default 3; --quick 0.5); at least one run")
    ap.add_argument("--min-time", type=float, default=None,
                    help="after --repeat runs, go on until a library's timed runs add up "
                         "to this many seconds (default 0.25; --quick 0)")
    ap.add_argument("--max-repeat", type=int, default=31,
                    help="at most this many timed runs for --min-time (default 31)")
    ap.add_argument("--skip-slow-peers-above", type=float, default=10.0, metavar="SECONDS",
                    help="skip a peer for every larger K (same size and dtype) once its "
                         "first call took longer than this; 0 disables (default 10: "
                         "drops scipy.signal / ndimage at 4096^2 K=63, ~60-100 s a call)")
    ap.add_argument("--no-cv2", action="store_true", help="leave OpenCV out")
    ap.add_argument("--out", default=None,
                    help="output folder (default benchmarks/results; --quick: a temp folder)")
    ap.add_argument("--dry-run", action="store_true",
                    help="print the grid and a rough runtime estimate, run nothing")
    a = ap.parse_args(argv)
    base = QUICK if a.quick else DEFAULT
    a.sizes = int_list(a.sizes or base["sizes"])
    a.dtypes = [str(np.dtype(d)) for d in str_list(a.dtypes or base["dtypes"])]
    a.ks = sorted(int_list(a.ks or base["ks"]))
    a.modes = str_list(a.modes or base["modes"])
    for m in a.modes:
        if m not in ("valid", "same"):
            ap.error(f"mode must be 'valid' or 'same' (got {m!r})")
    for d in a.dtypes:
        if d not in ("float32", "float64"):
            ap.error(f"dtype must be float32 or float64 (got {d!r})")
    if a.repeat is None:
        a.repeat = 3 if a.quick else 5
    if a.budget is None:
        a.budget = 0.5 if a.quick else 3.0
    if a.min_time is None:
        a.min_time = 0.0 if a.quick else 0.25
    if a.out is None:
        a.out = (os.path.join(tempfile.gettempdir(), "corrconv_bench_quick") if a.quick
                 else os.path.join(HERE, "results"))
    return a


def main(argv=None):
    args = parse_args(argv)

    def log(msg):
        print(msg, flush=True)

    npts = sum(1 for n in args.sizes for _ in args.dtypes for k in args.ks
               for m in args.modes if not (m == "valid" and k > n))
    est = estimate(args)
    log(f"grid: sizes {args.sizes}, dtypes {args.dtypes}, K {args.ks}, modes {args.modes}"
        f" = {npts} points; repeat {args.repeat}, budget {args.budget} s, skip peers "
        f"above {args.skip_slow_peers_above} s; cv2 "
        f"{'off' if args.no_cv2 or cv2 is None else cv2.__version__}")
    log(f"rough estimate: {est / 60:.1f} min (+ warm-up)")
    if args.dry_run:
        return 0
    os.makedirs(args.out, exist_ok=True)
    try:
        results = run_grid(args, log)
    except KeyboardInterrupt:
        tmp = os.path.join(args.out, "cpu.json.tmp")
        if not os.path.exists(tmp):
            raise
        log("interrupted: writing the points measured so far")
        with open(tmp) as f:
            results = json.load(f)
        results["meta"]["partial"] = True
    write_outputs(results, args.out, log)
    log("")
    log(table(results))
    log("")
    log(summary(results))
    log("")
    log("targets:")
    log(targets(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
