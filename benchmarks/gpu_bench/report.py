"""The report of benchmarks/run_gpu.py: metrics, tables, summary, goals, plot
and the written files (markdown, JSON, PNG).

Reported per point: time, Gpixel/s (outputs / s), % of HBM bandwidth
(``2 * N^2 * itemsize`` bytes: the input read once and the output written
once, over the time and the peak), % of the FMA peak (``2 * K^2`` flops per
output; FP32 peak for float16/float32 -- float16 accumulates in float32 --,
FP64 for float64; an *effective* figure when the FFT ran), %copy (the
same-run ``x.copy()`` time over ours: 100% = as fast as copying the input
on this device now, whatever the spec sheet says) and
``x<peer> = peer time / our time`` (> 1: we are faster). Then the issue's
goals, PASS / FAIL.
"""

import json
import math
import os
import statistics

import numpy as np

from .peers import LABEL, PEERS, SHORT, TOL

GOAL_HBM, GOAL_HBM_KMAX = 0.80, 7
GOAL_FMA, GOAL_FMA_KMIN = 0.60, 15
GOAL_NDIMAGE, GOAL_NDIMAGE_K = 5.0, 3
# every point: this many times cupyx.scipy.ndimage, or T_ours <= T_copy / GOAL_COPY_FRAC
GOAL_NDIMAGE_ALL, GOAL_COPY_FRAC = 2.5, 0.9
GOAL_NDIMAGE_MEDIAN = 3.0   # the median over all points of x cupyx.scipy.ndimage
GOAL_PEERS = 1.0            # every peer, every point: peer time / ours


# ------------------------------------------------------------------ metrics

def peak_flops(spec, dtype):
    return spec["fp64_flops"] if np.dtype(dtype) == np.float64 else spec["fp32_flops"]


def metrics(pt, lib, spec):
    rec = pt["libs"].get(lib)
    if not rec or not rec.get("median"):
        return None
    t = rec["median"]
    return {"s": t, "gpx": pt["outputs"] / t / 1e9,
            "hbm": pt["bytes"] / t / spec["hbm_bytes_per_s"],
            "fma": pt["flops"] / t / peak_flops(spec, pt["dtype"])}


def copy_frac(pt):
    """T_copy / T_ours (ours = auto): 1 = as fast as the same-run input copy."""
    ours, c = pt["libs"].get("ours") or {}, pt.get("copy_s")
    if not c or not ours.get("median"):
        return None
    return c / ours["median"]


def ratio(pt, lib):
    rec, ours = pt["libs"].get(lib), pt["libs"].get("ours")
    if not rec or not ours or not rec.get("median") or not ours.get("median"):
        return None
    return rec["median"] / ours["median"]


def _ms(rec):
    if rec is None:
        return "n/a"
    if rec.get("skipped"):
        return "skipped"
    if not rec.get("median"):
        return "error" if rec.get("error") else "n/a"
    s = f"{1e3 * rec['median']:.3g}"
    return s if rec.get("check_ok", True) else s + "!"


def _pct(v):
    return "-" if v is None else f"{100 * v:.0f}%"


def _r(v):
    return "-" if v is None else f"{v:.2f}"


def _where(pt):
    return f"{pt['size']}² {pt['dtype']} K={pt['K']}"


def format_progress(pt, spec):
    L = pt["libs"]
    m = metrics(pt, "ours", spec)
    head = f"{pt['size']:>5}² {pt['dtype']:<7} K={pt['K']:<2}"
    if m is None:
        return head + " | ours failed: " + L["ours"].get("error", "?")
    parts = [head, f"ours {1e3 * m['s']:.3g} ms ({L['ours'].get('auto_choice', '?')}, "
                   f"{_pct(m['hbm'])} HBM, {_pct(m['fma'])} FMA)"]
    parts += [f"{SHORT.get(p, p)} {_ms(L[p])}" for p in L if p != "ours"]
    if pt.get("copy_s"):
        parts.append(f"copy {1e3 * pt['copy_s']:.3g} ({_pct(copy_frac(pt))} of ours)")
    return " | ".join(parts) + f"  [{pt.get('wall_s', 0):.1f}s]"


def table(results, model=False):
    spec = results["meta"]["device"]
    libs = results["meta"]["libraries"]
    peers = [p for p in PEERS if p in libs]
    t = "pred ms" if model else "ms"
    copy = [] if model else ["%copy"]   # the model times no copy
    head = (["N", "dtype", "K", "auto", f"ours {t}", "Gpx/s", "%HBM"] + copy + ["%FMA",
             f"direct {t}", "dir %HBM", "dir %FMA", f"fft {t}"]
            + [f"{SHORT[p]} ms" for p in peers] + ["xfft"] + [f"x{SHORT[p]}" for p in peers])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for pt in results["points"]:
        L = pt["libs"]
        m, d = metrics(pt, "ours", spec), metrics(pt, "ours_direct", spec)
        row = [f"{pt['size']}²", pt["dtype"], str(pt["K"]), L["ours"].get("auto_choice", "?"),
               _ms(L["ours"]), "-" if m is None else f"{m['gpx']:.1f}", _pct(m and m["hbm"])]
        row += [_pct(copy_frac(pt))] if copy else []
        row += [_pct(m and m["fma"]), _ms(L.get("ours_direct")),
               _pct(d and d["hbm"]), _pct(d and d["fma"]), _ms(L.get("ours_fft"))]
        row += [_ms(L.get(p)) for p in peers]
        row += [_r(ratio(pt, "ours_fft"))] + [_r(ratio(pt, p)) for p in peers]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def summary(results):
    libs = results["meta"]["libraries"]
    out = []
    for p in ["ours_fft"] + [p for p in PEERS if p in libs]:
        rs = [(ratio(pt, p), pt) for pt in results["points"]]
        meas = [(r, pt) for r, pt in rs if r is not None]
        if not meas:
            out.append(f"- {LABEL[p]}: no measured points")
            continue
        worst_r, worst_pt = min(meas, key=lambda v: v[0])
        best_r, best_pt = max(meas, key=lambda v: v[0])
        out.append(f"- {LABEL[p]}: we are faster at {sum(r > 1 for r, _ in meas)}/{len(meas)} "
                   f"measured points ({len(rs) - len(meas)} not measured); median ratio "
                   f"{statistics.median(r for r, _ in meas):.2f}; worst {worst_r:.2f} at "
                   f"{_where(worst_pt)}; best {best_r:.2f} at {_where(best_pt)}")
    cf = [(v, pt) for pt in results["points"] for v in [copy_frac(pt)] if v is not None]
    if cf:
        worst, wpt = min(cf, key=lambda v: v[0])
        out.append(f"- same-run copy bound (x.copy()): T_copy / T_ours median "
                   f"{statistics.median(v for v, _ in cf):.0%} over {len(cf)} points; lowest "
                   f"{worst:.0%} at {_where(wpt)}")
    bad = [(pt, p) for pt in results["points"] for p, rec in pt["libs"].items()
           if rec.get("check_ok") is False]
    if bad:
        out.append("- result checks FAILED (marked '!'): " + "; ".join(
            f"{p} at {_where(pt)} (err {pt['libs'][p]['err']:.2e})" for pt, p in bad))
    else:
        out.append("- every measured result matched ours (max|diff| / (sum|w| max|x|) <= "
                   + ", ".join(f"{v:g} {k}" for k, v in TOL.items()) + ")")
    errs = {}
    for pt in results["points"]:
        for p, rec in pt["libs"].items():
            if rec.get("error"):
                errs.setdefault((p, rec["error"]), []).append(_where(pt))
    for (p, e), where in errs.items():
        out.append(f"- {p} failed at {len(where)} point(s) ({'; '.join(where)}): {e}")
    regret = []
    for pt in results["points"]:
        L = pt["libs"]
        best = min((L[m]["median"] for m in ("ours_direct", "ours_fft")
                    if L.get(m, {}).get("median")), default=None)
        if best and L["ours"].get("median"):
            regret.append((L["ours"]["median"] / best, pt))
    if regret:
        r, pt = max(regret, key=lambda v: v[0])
        out.append(f"- cost model: auto / min(direct, fft) median "
                   f"{statistics.median(v for v, _ in regret):.2f}, worst {r:.2f} at "
                   f"{_where(pt)} (auto chose {pt['libs']['ours'].get('auto_choice')})")
    return "\n".join(out)


def _check_bad(pt, lib):
    return (pt["libs"].get(lib) or {}).get("check_ok") is False


def _judged(text, chosen, judge, note=None):
    """One goal line from ``judge(pt)`` over the ``chosen`` points: None (not
    measured) or (met, value or None, what to show when not met)."""
    fails, unmeasured, vals, met = [], [], [], 0
    for pt in chosen:
        v = judge(pt)
        if v is None:
            unmeasured.append(pt)
            continue
        ok, num, shown = v
        if num is not None:
            vals.append(num)
        if ok:
            met += 1
        else:
            fails.append((shown, pt))
    if not chosen:
        status = "N/A  "
    elif fails:
        status = "FAIL "
    elif unmeasured and met:
        status = "PASS*"
    elif unmeasured:
        status = "N/A  "
    else:
        status = "PASS "
    line = (f"{status} {text}: {met}/{len(chosen)} points meet it"
            + (f" (min {min(vals):.2f})" if vals else "")
            + (f" ({note})" if note else ""))
    if fails:
        line += "\n      failing: " + "; ".join(f"{_where(pt)} {s}" for s, pt in fails)
    if unmeasured:
        line += "\n      not measured: " + "; ".join(_where(pt) for pt in unmeasured)
    return line


def _threshold(value, need, lib):
    """A judge for ``value(pt) -> None or (number, shown) >= need`` (``lib``'s
    result check must not have failed)."""
    def judge(pt):
        v = value(pt)
        if v is None:
            return None
        return v[0] >= need and not _check_bad(pt, lib), v[0], v[1]
    return judge


def _near_copy(pt):
    """T_ours <= T_copy / GOAL_COPY_FRAC, as the goal states it."""
    return pt["libs"]["ours"]["median"] <= pt["copy_s"] / GOAL_COPY_FRAC


def _ndimage_or_copy(pt):
    """GOAL_NDIMAGE_ALL's judge: either way out is enough; not measured when
    neither holds and one of the two could not be timed."""
    r, c = ratio(pt, "cupyx_ndimage"), copy_frac(pt)
    by_ratio = r is not None and r >= GOAL_NDIMAGE_ALL and not _check_bad(pt, "cupyx_ndimage")
    by_copy = c is not None and _near_copy(pt)
    if not (by_ratio or by_copy) and (r is None or c is None):
        return None
    shown = f"{'-' if r is None else f'x{r:.2f}'} ndimage, copy/ours {_pct(c)}"
    return by_ratio or by_copy, None, shown


def _ndimage_median(results, text):
    nd = "cupyx_ndimage"
    pts = results["points"]
    meas = [(r, pt) for pt in pts for r in [ratio(pt, nd)] if r is not None]
    unmeasured = [pt for pt in pts if ratio(pt, nd) is None]
    bad = [pt for pt in pts if _check_bad(pt, nd)]
    if not meas:
        return f"N/A   {text}: no measured point"
    med = statistics.median(r for r, _ in meas)
    status = ("FAIL " if med < GOAL_NDIMAGE_MEDIAN or bad
              else "PASS*" if unmeasured else "PASS ")
    line = f"{status} {text}: median x{med:.2f} over {len(meas)}/{len(pts)} points"
    if bad:
        line += "\n      result check failed: " + "; ".join(_where(pt) for pt in bad)
    if unmeasured:
        line += "\n      not measured: " + "; ".join(_where(pt) for pt in unmeasured)
    return line


def _no_peer_faster(present):
    """GOAL_PEERS's judge: every peer measured at the point is no faster than
    ours (and agrees with it); a peer that failed or was skipped beats no one."""
    def judge(pt):
        rs = {p: ratio(pt, p) for p in present}
        rs = {p: r for p, r in rs.items() if r is not None}
        if not rs:
            return None
        lost = [p for p, r in rs.items() if r < GOAL_PEERS or _check_bad(pt, p)]
        return (not lost, min(rs.values()),
                ", ".join(f"x{rs[p]:.2f} {SHORT[p]}" for p in lost))
    return judge


def goals(results, model=False):
    """The issue's GPU goals, each PASS / FAIL (PASS*: some points unmeasured)."""
    spec = results["meta"]["device"]
    libs = results["meta"]["libraries"]
    pts = results["points"]
    absent = "modelled" if model else "available"
    specs = [
        (f">= {GOAL_HBM:.0%} of HBM bandwidth for K <= {GOAL_HBM_KMAX} (ours, auto)",
         lambda pt: pt["K"] <= GOAL_HBM_KMAX,
         lambda pt: (lambda m: None if m is None else (m["hbm"], f"{m['hbm']:.1%}"))(
             metrics(pt, "ours", spec)), GOAL_HBM, "ours"),
        (f">= {GOAL_FMA:.0%} of the FP32 FMA peak for K >= {GOAL_FMA_KMIN} (direct, float32)",
         lambda pt: pt["K"] >= GOAL_FMA_KMIN and pt["dtype"] == "float32",
         lambda pt: (lambda m: None if m is None else (m["fma"], f"{m['fma']:.1%}"))(
             metrics(pt, "ours_direct", spec)), GOAL_FMA, "ours_direct"),
        (f">= {GOAL_NDIMAGE:g}x cupyx.scipy.ndimage.correlate at {GOAL_NDIMAGE_K}x{GOAL_NDIMAGE_K}",
         lambda pt: pt["K"] == GOAL_NDIMAGE_K,
         lambda pt: (lambda r: None if r is None else (r, f"x{r:.2f}"))(
             ratio(pt, "cupyx_ndimage")), GOAL_NDIMAGE, "cupyx_ndimage"),
    ]
    out = []
    for text, sel, value, need, lib in specs:
        if lib not in libs:
            out.append(f"N/A   {text}: {LABEL[lib]} not {absent}")
            continue
        out.append(_judged(text, [pt for pt in pts if sel(pt)], _threshold(value, need, lib)))

    text = (f"at every point >= {GOAL_NDIMAGE_ALL:g}x cupyx.scipy.ndimage.correlate or within "
            f"{1 - GOAL_COPY_FRAC:.0%} of the same-run copy bound (T_ours <= T_copy / "
            f"{GOAL_COPY_FRAC:g})")
    if "cupyx_ndimage" not in libs and not any(pt.get("copy_s") for pt in pts):
        out.append(f"N/A   {text}: {LABEL['cupyx_ndimage']} not {absent}, no copy timed")
    else:
        by_copy = sum(1 for pt in pts if copy_frac(pt) is not None and _near_copy(pt))
        out.append(_judged(text, pts, _ndimage_or_copy,
                           note=f"{by_copy} within the copy bound"))

    text = f">= {GOAL_NDIMAGE_MEDIAN:g}x cupyx.scipy.ndimage.correlate at the median of all points"
    out.append(_ndimage_median(results, text) if "cupyx_ndimage" in libs
               else f"N/A   {text}: {LABEL['cupyx_ndimage']} not {absent}")

    present = [p for p in PEERS if p in libs]
    names = f"; {', '.join(SHORT[p] for p in present)}" if present else ""
    text = f"never slower than any peer at any point (peer / ours >= {GOAL_PEERS:g}{names})"
    out.append(_judged(text, pts, _no_peer_faster(present)) if present
               else f"N/A   {text}: no peer {absent}")
    return "\n".join(out)


def plot(results, path, title):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as exc:
        return f"no plot ({type(exc).__name__}: {exc})"
    pts = results["points"]
    spec = results["meta"]["device"]
    libs = results["meta"]["libraries"]
    sizes = sorted({pt["size"] for pt in pts})
    dtypes = [d for d in ("float16", "float32", "float64") if any(pt["dtype"] == d for pt in pts)]
    ks = sorted({pt["K"] for pt in pts})
    colors = {"ours": "C3", "ours_direct": "C1", "ours_fft": "C5", "cupyx_signal": "C0",
              "cupyx_ndimage": "C2", "torch": "C4", "cucim_ndimage": "C6"}
    styles = {"float16": ":", "float32": "-", "float64": "--"}
    fig, axes = plt.subplots(2, len(sizes), squeeze=False,
                             figsize=(max(9.0, 5.0 * len(sizes)), 8.6))
    for j, n in enumerate(sizes):
        ax, ax2 = axes[0][j], axes[1][j]
        for dt in dtypes:
            sel = sorted((pt for pt in pts if pt["size"] == n and pt["dtype"] == dt),
                         key=lambda pt: pt["K"])
            for lib in libs:
                xy = [(pt["K"], pt["libs"][lib]["median"]) for pt in sel
                      if pt["libs"].get(lib, {}).get("median")]
                if xy:
                    thin = lib in ("ours_direct", "ours_fft")
                    ax.plot(*zip(*xy), styles[dt], color=colors.get(lib), marker="o",
                            ms=2.5 if thin else 4, lw=0.8 if thin else 1.8,
                            alpha=0.6 if thin else 1.0,
                            label=f"{LABEL[lib]} {dt}" if j == 0 else None)
            for lib, mk in (("ours", "o"), ("ours_direct", "s")):
                ms = [(pt["K"], metrics(pt, lib, spec)) for pt in sel]
                ms = [(k, m) for k, m in ms if m]
                if ms:
                    ax2.plot([k for k, _ in ms], [100 * m["hbm"] for _, m in ms], styles[dt],
                             color="C0", marker=mk, ms=4,
                             label=f"% HBM, {LABEL[lib]} {dt}" if j == 0 else None)
                    ax2.plot([k for k, _ in ms], [100 * m["fma"] for _, m in ms], styles[dt],
                             color="C3", marker=mk, ms=4,
                             label=f"% FMA peak, {LABEL[lib]} {dt}" if j == 0 else None)
        for a in (ax, ax2):
            a.set_xscale("log")
            a.set_xticks(ks)
            a.set_xticklabels([str(k) for k in ks])
            a.minorticks_off()
            a.grid(True, which="major", alpha=0.3)
            a.set_xlabel("K (K x K kernel)")
        ax.set_yscale("log")
        ax.set_title(f"{n}x{n}, mode 'same'")
        ax2.axhline(100 * GOAL_HBM, color="C0", lw=0.6, alpha=0.5)
        ax2.axhline(100 * GOAL_FMA, color="C3", lw=0.6, alpha=0.5)
        ax2.set_ylim(0, 110)
        if j == 0:
            ax.set_ylabel("median time (s)")
            ax2.set_ylabel("% of peak (ours)")
    h1, l1 = axes[0][0].get_legend_handles_labels()
    h2, l2 = axes[1][0].get_legend_handles_labels()
    fig.legend(h1 + h2, l1 + l2, loc="lower center", ncol=3, fontsize=6.5, frameon=False)
    fig.suptitle(title + " (dotted float16, solid float32, dashed float64)", fontsize=10)
    nrows = math.ceil((len(l1) + len(l2)) / 3)
    fig.tight_layout(rect=(0, min(0.45, (0.15 * nrows + 0.1) / fig.get_figheight()), 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- outputs

def write(results, out, stem, md_lines, log_paths=True):
    with open(os.path.join(out, f"{stem}.md"), "w") as f:
        f.write("\n".join(md_lines) + "\n")
    with open(os.path.join(out, f"{stem}.json"), "w") as f:
        json.dump(results, f, indent=1, default=str)
    tmp = os.path.join(out, f"{stem}.json.tmp")
    if os.path.exists(tmp):
        os.remove(tmp)


def spec_line(spec):
    return (f"{spec['name']} ({spec['source']}): HBM {spec['hbm_bytes_per_s'] / 1e12:.2f} TB/s, "
            f"FP32 {spec['fp32_flops'] / 1e12:.1f} TFLOP/s, FP64 {spec['fp64_flops'] / 1e12:.1f} "
            "TFLOP/s")


def model_markdown(results, tab, gl):
    """The lines of gpu_model.md (no GPU): ``results`` from harness.run_model
    with meta's no_gpu_reason, emu_traffic and overlap set; ``tab`` and ``gl``:
    table(results, model=True) and goals(results, model=True)."""
    m = results["meta"]
    spec, why, mc = m["device"], m["no_gpu_reason"], m["model"]
    return ["# GPU benchmark: MODEL (no GPU measured)", "",
            f"{m['date']}, {m['platform']}. {why}: this is the "
            "roofline PREDICTION of `corrconv_gpu._dispatch.cost` and the emulator's traffic count, not "
            "a measurement. Run `python benchmarks/run_gpu.py` on a machine with a CUDA GPU "
            "for `gpu.md`.", "",
            "## Emulator traffic table", "", "```", m["emu_traffic"]["text"], "```", "",
            "## MODEL (no GPU measured): predicted times", "",
            f"Device model: {spec_line(spec)}; efficiencies {mc['GPU_BW_EFFICIENCY']:.0%} "
            f"of HBM (per output) + {mc['GPU_FLOP_EFFICIENCY']:.0%} / FP64 "
            f"{mc['GPU_FLOP_EFFICIENCY_FP64']:.0%} of the FMA peak (per tap), "
            f"{1e6 * mc['GPU_LAUNCH_S']:g} us per launch. `auto` = `choose_gpu`'s pick (random "
            "weights: full rank, no separable candidate; float16: direct only). %HBM = "
            "2 N² itemsize / time / peak; %FMA = 2 K² N² / time / peak (FP32 for float16 "
            "and float32, FP64 for float64; effective when the FFT is picked).", "",
            tab, "", "## Goals (on the MODEL)", "", "```", gl, "```", "",
            "## Overlap report", "", m["overlap"]["skipped"], ""]


def measured_markdown(results, spec, title, fake, peer_note, tab, sm, gl, ov_text):
    """The lines of gpu.md / gpu_fake.md: ``results`` from harness.run_measured,
    ``tab``, ``sm``, ``gl``: table, summary and goals of it, ``ov_text``: the
    overlap report's text; ``peer_note``: harness.Env's."""
    m = results["meta"]
    return [f"# GPU benchmark: corrconv_gpu vs CuPy / PyTorch / cuCIM ({title})", "",
            f"{m['date']}, {spec_line(spec)}; cupy {m['cupy']}, "
            f"torch {(m.get('torch') or {}).get('version', 'absent')}, "
            f"cucim {(m.get('cucim') or {}).get('version', 'absent')}. Elapsed "
            f"{m.get('elapsed_s', 0) / 60:.1f} min"
            + (" (PARTIAL: interrupted)" if m.get("partial") else "") + ".", "",
            "Correlation of an NxN image with a KxK kernel, mode 'same', zero fill. Times: "
            "medians of " + ("perf_counter" if fake else "CUDA-event") + " timings, in ms, "
            "interleaved runs after a warm-up call. Gpx/s = N² / time; %HBM = 2 N² itemsize / "
            "time / peak; %FMA = 2 K² N² / time / FMA peak (FP32 for float16/32, FP64 for "
            "float64; effective when the FFT ran); %copy = time of `x.copy()` (same device, "
            "same rounds) / our (auto) time. `xpeer` = peer time / our (auto) time: > 1 "
            "means corrconv_gpu is faster. `!` = result check failed; `error` = the call "
            "failed (see the summary). " + (peer_note + "." if peer_note else ""), "",
            tab, "", "## Summary", "", sm, "", "## Goals", "", "```", gl, "```", "",
            "## Overlap report (banded out-of-core execution)", "", ov_text, ""]
