"""GPU benchmark: corrconv_gpu's CUDA backend against CuPy and PyTorch, or, without
a GPU, the emulator's traffic table and the roofline model's prediction.

Usage (from the repository root)::

    python benchmarks/run_gpu.py                 # GPU: full grid -> benchmarks/results/gpu.{md,json,png}
                                                 # no GPU: MODEL -> benchmarks/results/gpu_model.{md,json,png}
    python benchmarks/run_gpu.py --quick         # small grid (4096^2, float32, K 3,7,31)
    python benchmarks/run_gpu.py --sizes 8192 --dtypes float32 --ks 3,15 --repeat 20
    python benchmarks/run_gpu.py --fake-gpu-with-emulator   # self-check of the GPU branch, no GPU

With a GPU (``cupy.cuda.is_available()``) every point (size N, dtype, K x K
kernel, mode 'same', correlation, zero fill) times, on the same device input
``x`` (uniform in [0, 1)) and weights ``w`` (standard normal):

* ``ours``         ``corrconv_gpu.correlate2d(x, w, 'same', 'fill', 0, method='auto')``
                   under ``use_backend('cuda')``; ``ours_direct`` / ``ours_fft``:
                   ``method='direct'`` / ``'fft'``;
* ``cupyx_signal`` ``cupyx.scipy.signal.correlate2d(x, w, 'same', 'fill', 0)``;
* ``cupyx_ndimage`` ``cupyx.scipy.ndimage.correlate(x, w, mode='constant',
                   cval=0, origin=o)``, ``o = K-1-2*(K//2)`` (scipy.signal's 'same'
                   window; 0 for odd K);
* ``torch``        ``torch.nn.functional.conv2d(x[None, None], w[None, None],
                   padding='same')`` (conv2d *is* a correlation; the same window),
                   when torch with CUDA imports; the tensors share the CuPy
                   memory (DLPack); TF32 off, ``cudnn.benchmark`` on.

Timing: CUDA events (``cupy.cuda.Event``: device synchronized, ``start.record()``,
the call, ``end.record()``, ``end.synchronize()``, ``get_elapsed_time``) around
one call (``--batch B``: B back-to-back calls, time / B). Every library is
called once per point untimed first (warm-up, cuDNN's algorithm search, and
the result check against ours), then the libraries run interleaved, the order
rotating each round, until ``--repeat`` runs or ``--budget`` seconds each; the
table shows medians. A failing call (out of memory, unsupported dtype) is
recorded and the run goes on.

Reported per point: time, Gpixel/s (outputs / s), % of HBM bandwidth
(``2 * N^2 * itemsize`` bytes: the input read once and the output written
once, over the time and the peak), % of the FMA peak (``2 * K^2`` flops per
output; FP32 peak for float16/float32 -- float16 accumulates in float32 --,
FP64 for float64; an *effective* figure when the FFT ran) and
``x<peer> = peer time / our time`` (> 1: we are faster). Then the issue's
goals, PASS / FAIL.

Without a GPU it prints the emulator traffic table (``benchmarks/emu_traffic.py``
run as a subprocess) and the roofline PREDICTION of ``corrconv_gpu._cost``
for every grid point, labeled MODEL, writes ``gpu_model.{md,json,png}`` and
exits 0. See benchmarks/README.md, section "GPU benchmark".
"""

import argparse
import datetime
import gc
import importlib
import inspect
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)  # the repository checkout wins

import corrconv_gpu  # noqa: E402

sys.path.insert(1, HERE)  # this folder: the shared CLI helpers
from _cli import int_list, str_list  # noqa: E402
from corrconv_gpu import _cost  # noqa: E402

OURS = ("ours", "ours_direct", "ours_fft")
PEERS = ("cupyx_signal", "cupyx_ndimage", "torch")
LABEL = {"ours": "corrconv_gpu (auto)", "ours_direct": "corrconv_gpu direct",
         "ours_fft": "corrconv_gpu fft", "cupyx_signal": "cupyx.scipy.signal.correlate2d",
         "cupyx_ndimage": "cupyx.scipy.ndimage.correlate",
         "torch": "torch.nn.functional.conv2d"}
SHORT = {"ours_fft": "fft", "cupyx_signal": "signal", "cupyx_ndimage": "ndimage",
         "torch": "torch"}
# max|peer - ours| / (sum|w| * max|x|); float16 results are rounded to half
# (2^-11 relative) and a peer may accumulate in half
TOL = {"float16": 1e-2, "float32": 1e-5, "float64": 1e-12}

DEFAULT = dict(sizes="4096,8192", dtypes="float32,float16,float64", ks="3,5,7,9,15,31,63")
QUICK = dict(sizes="4096", dtypes="float32", ks="3,7,31")
FAKE = dict(sizes="64", dtypes="float32,float16,float64", ks="3,7,15")

# peak figures by device name: (name test, label, HBM B/s, FP32 flop/s, FP64 flop/s)
# (FMA = 2 flops, CUDA cores, no tensor cores)
KNOWN_DEVICES = (
    ("GH200", None, None, None, None),            # several memory configs: attributes
    ("H200", "H200", 4.8e12, 67e12, 34e12),
    ("H100 NVL", "H100 NVL", 3.9e12, 60e12, 30e12),
    ("H100 PCIe", "H100 PCIe", 2.0e12, 51e12, 26e12),
    ("H100", "H100 SXM", 3.35e12, 67e12, 34e12),
)
# FP32 and FP64 lanes per SM by compute capability (for unknown devices)
CORES_PER_SM = {(7, 0): (64, 32), (7, 5): (64, 2), (8, 0): (64, 32), (8, 6): (128, 2),
                (8, 7): (128, 2), (8, 9): (128, 2), (9, 0): (128, 64), (10, 0): (128, 64),
                (10, 3): (128, 64), (12, 0): (128, 2)}

GOAL_HBM, GOAL_HBM_KMAX = 0.80, 7
GOAL_FMA, GOAL_FMA_KMIN = 0.60, 15
GOAL_NDIMAGE, GOAL_NDIMAGE_K = 5.0, 3


def log(msg=""):
    print(msg, flush=True)


# ----------------------------------------------------------------- devices

def gpu_available():
    """(True, '') when the CUDA backend sees a device, else (False, why):
    corrconv_gpu.backends() is the one place that asks CuPy."""
    info = corrconv_gpu.backends()["cuda"]
    return info.available, info.reason


def model_spec():
    """The roofline model's device (corrconv_gpu._cost, H100 SXM figures)."""
    return {"name": "H100 SXM roofline model", "source": "corrconv_gpu._cost constants",
            "hbm_bytes_per_s": _cost.GPU_HBM_BYTES_PER_S,
            "fp32_flops": _cost.GPU_FLOPS[np.dtype(np.float32)],
            "fp64_flops": _cost.GPU_FLOPS[np.dtype(np.float64)]}


def device_spec(args):
    """Peak HBM bandwidth and FP32 / FP64 FMA peaks of the current device: the
    table above by name, else the device attributes; --peak-* override."""
    import cupy
    dev = cupy.cuda.Device()
    rt = cupy.cuda.runtime
    props = {}
    try:
        props = rt.getDeviceProperties(dev.id)
    except Exception:
        pass
    name = props.get("name", b"?")
    name = name.decode(errors="replace") if isinstance(name, bytes) else str(name)

    def attr(key, code):
        v = props.get(key)
        if v:
            return int(v)
        try:
            return int(rt.deviceGetAttribute(getattr(rt, code), dev.id))
        except Exception:
            return None

    spec = {"name": name, "id": dev.id, "compute_capability": dev.compute_capability,
            "total_memory_bytes": props.get("totalGlobalMem"), "source": None,
            "hbm_bytes_per_s": None, "fp32_flops": None, "fp64_flops": None}
    for test, label, bw, f32, f64 in KNOWN_DEVICES:
        if test in name:
            if label is not None:
                spec.update(source=f"table: {label}", hbm_bytes_per_s=bw, fp32_flops=f32,
                            fp64_flops=f64)
            break
    if spec["source"] is None:
        mem_khz = attr("memoryClockRate", "cudaDevAttrMemoryClockRate")
        bus = attr("memoryBusWidth", "cudaDevAttrGlobalMemoryBusWidth")
        sm_khz = attr("clockRate", "cudaDevAttrClockRate")
        sms = attr("multiProcessorCount", "cudaDevAttrMultiProcessorCount")
        cc = (int(props.get("major", 0)), int(props.get("minor", 0)))
        if mem_khz and bus:
            spec["hbm_bytes_per_s"] = mem_khz * 1e3 * (bus / 8) * 2
        if sm_khz and sms:
            c32, c64 = CORES_PER_SM.get(cc, (128, 2))
            spec["fp32_flops"] = 2 * c32 * sms * sm_khz * 1e3
            spec["fp64_flops"] = 2 * c64 * sms * sm_khz * 1e3
        spec["source"] = (f"device attributes (memoryClockRate {mem_khz} kHz, bus {bus} bit, "
                          f"clock {sm_khz} kHz, {sms} SMs, cc {cc})")
        fb = model_spec()
        for k in ("hbm_bytes_per_s", "fp32_flops", "fp64_flops"):
            if not spec[k]:
                spec[k] = fb[k]
                spec["source"] += f"; {k} from the model (attribute unavailable)"
    for k, opt in (("hbm_bytes_per_s", args.peak_bw), ("fp32_flops", args.peak_fp32),
                   ("fp64_flops", args.peak_fp64)):
        if opt:
            spec[k] = opt * 1e12
            spec["source"] += f"; {k} from --peak option"
    return spec


def peak_flops(spec, dtype):
    return spec["fp64_flops"] if np.dtype(dtype) == np.float64 else spec["fp32_flops"]


# ------------------------------------------------------------- the calls

def _same_origin(k):
    return k - 1 - 2 * (k // 2)


class Env:
    """What differs between the GPU run and the emulator self-check."""

    def __init__(self, fake):
        self.fake = fake
        if fake:
            import scipy.ndimage
            import scipy.signal
            self.xp, self.backend = np, "emulated"
            self.signal, self.ndimage = scipy.signal, scipy.ndimage
            self.torch, self.torch_why = None, "skipped in --fake-gpu-with-emulator"
            self.peer_note = ("stand-ins: scipy.signal / scipy.ndimage on the CPU run "
                              "the cupyx call code")
        else:
            import cupy
            self.xp, self.backend = cupy, "cuda"
            self.signal = self.ndimage = None
            try:
                import cupyx.scipy.signal
                self.signal = cupyx.scipy.signal
            except Exception as exc:
                self.signal_why = f"{type(exc).__name__}: {exc}"
            try:
                import cupyx.scipy.ndimage
                self.ndimage = cupyx.scipy.ndimage
            except Exception as exc:
                self.ndimage_why = f"{type(exc).__name__}: {exc}"
            self.torch, self.torch_why = None, ""
            try:
                import torch
                if torch.cuda.is_available():
                    torch.backends.cudnn.allow_tf32 = False      # full float32 products
                    torch.backends.cuda.matmul.allow_tf32 = False
                    torch.backends.cudnn.benchmark = True         # its fastest algorithm
                    self.torch = torch
                else:
                    self.torch_why = "torch without CUDA"
            except Exception as exc:
                self.torch_why = f"torch not importable ({type(exc).__name__}: {exc})"
            self.peer_note = ""

    def sync(self):
        if not self.fake:
            self.xp.cuda.Device().synchronize()

    def free(self):
        gc.collect()
        if self.fake:
            return
        try:
            self.xp.get_default_memory_pool().free_all_blocks()
            self.xp.get_default_pinned_memory_pool().free_all_blocks()
        except Exception:
            pass
        if self.torch is not None:
            try:
                self.torch.cuda.empty_cache()
            except Exception:
                pass

    def libraries(self, with_torch=True):
        """name -> make(x, w) -> call() returning the result array (CuPy / NumPy / torch)."""
        env = self

        def ours(method):
            def make(x, w):
                def call():
                    with corrconv_gpu.use_backend(env.backend):
                        return corrconv_gpu.correlate2d(x, w, "same", "fill", 0, method=method)
                return call
            return make

        def signal(x, w):
            return lambda: env.signal.correlate2d(x, w, "same", "fill", 0)

        def ndimage(x, w):
            origin = [_same_origin(k) for k in w.shape]
            return lambda: env.ndimage.correlate(x, w, mode="constant", cval=0.0, origin=origin)

        def torch_conv(x, w):
            torch = env.torch
            xt = torch.from_dlpack(x).reshape(1, 1, *x.shape)
            wt = torch.from_dlpack(w).reshape(1, 1, *w.shape)
            f = torch.nn.functional.conv2d
            return lambda: f(xt, wt, padding="same")

        libs = {"ours": ours("auto"), "ours_direct": ours("direct"), "ours_fft": ours("fft")}
        if self.signal is not None:
            libs["cupyx_signal"] = signal
        if self.ndimage is not None:
            libs["cupyx_ndimage"] = ndimage
        if with_torch and self.torch is not None:
            libs["torch"] = torch_conv
        return libs

    def as_xp(self, r):
        if self.torch is not None and isinstance(r, self.torch.Tensor):
            return self.xp.from_dlpack(r.detach().contiguous()).reshape(r.shape[-2:])
        return self.xp.asarray(r)

    def rel_err(self, r, ref, scale):
        xp = self.xp
        r = self.as_xp(r)
        if tuple(r.shape) != tuple(ref.shape):
            return float("inf")
        d = float(xp.abs(r.astype(xp.float64) - ref.astype(xp.float64)).max())
        if not math.isfinite(d):
            return float("inf")
        return d / scale if scale else d

    def timer(self, fn, batch):
        """(seconds per call on the device, host seconds per call, last result)."""
        self.sync()
        if self.fake:
            t0 = time.perf_counter()
            for _ in range(batch):
                r = fn()
            dt = (time.perf_counter() - t0) / batch
            return dt, dt, r
        cp = self.xp
        start, end = cp.cuda.Event(), cp.cuda.Event()
        t0 = time.perf_counter()
        start.record()
        for _ in range(batch):
            r = fn()
        end.record()
        end.synchronize()
        host = (time.perf_counter() - t0) / batch
        return cp.cuda.get_elapsed_time(start, end) / 1e3 / batch, host, r


def _spy_auto(call):
    """Run ``call`` recording what ``_cost.choose_gpu`` picked (the 'auto' choice)."""
    picks = []
    orig = _cost.choose_gpu

    def spy(*a, **kw):
        name = orig(*a, **kw)
        picks.append(name)
        return name
    _cost.choose_gpu = spy
    try:
        r = call()
    finally:
        _cost.choose_gpu = orig
    return r, "+".join(dict.fromkeys(picks)) or "?"


# ----------------------------------------------------------------- running

def time_point(env, libs, x, w, args, skip):
    """One point: untimed first call of each library (warm-up + check), then
    interleaved timed rounds. Returns {lib: record}."""
    recs = {name: {"times": [], "host_times": [], "skipped": name in skip} for name in libs}
    calls = {}
    for name, make in libs.items():
        if name in skip:
            continue
        try:
            calls[name] = make(x, w)
        except Exception as exc:
            recs[name]["error"] = f"{type(exc).__name__}: {exc}"
    scale = float(np.abs(np.asarray(w.get() if hasattr(w, "get") else w,
                                    dtype=np.float64)).sum()) * float(env.xp.abs(x).max())
    ref = None
    # ours (auto) first: the reference, and what auto chose
    order = ["ours"] + [n for n in calls if n != "ours"]
    for name in order:
        if name not in calls:
            continue
        rec = recs[name]
        try:
            env.sync()
            t0 = time.perf_counter()
            if name == "ours":
                r, rec["auto_choice"] = _spy_auto(calls[name])
            else:
                r = calls[name]()
            env.sync()
            rec["first_call_s"] = time.perf_counter() - t0
            if name == "ours":
                ref = env.xp.asarray(r)
                rec["err"] = 0.0
            elif ref is not None:
                rec["err"] = env.rel_err(r, ref, scale)
            del r
        except Exception as exc:   # out of memory, unsupported dtype, ...: record, go on
            rec["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            log(f"    {name} failed: {rec['error']}")
            calls.pop(name)
            env.free()
    del ref   # (if ours failed, the others are still timed, unchecked)
    rnd = 0
    while calls:
        active = [n for n in calls
                  if len(recs[n]["times"]) < max(1, args.repeat)
                  and (not recs[n]["times"] or sum(recs[n]["times"]) < args.budget)]
        if not active:
            break
        sh = rnd % len(active)
        for name in active[sh:] + active[:sh]:
            rec = recs[name]
            try:
                dt, host, r = env.timer(calls[name], args.batch)
                del r
            except Exception as exc:
                rec["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
                log(f"    {name} failed: {rec['error']}")
                calls.pop(name)
                env.free()
                continue
            rec["times"].append(dt)
            rec["host_times"].append(host)
        rnd += 1
    tol = TOL.get(str(x.dtype), 1e-5)
    for rec in recs.values():
        rec["runs"] = len(rec["times"])
        rec["median"] = statistics.median(rec["times"]) if rec["times"] else None
        rec["host_median"] = statistics.median(rec["host_times"]) if rec["host_times"] else None
        if "err" in rec:
            rec["check_ok"] = bool(rec["err"] <= tol)
    return recs


def run_measured(args, env, spec):
    libs = env.libraries(with_torch=not args.no_torch)
    results = {"meta": meta(args, env, spec, list(libs)), "points": []}
    tmp_path = os.path.join(args.out, f"{args.stem}.json.tmp")
    t_start = time.perf_counter()
    rng = np.random.default_rng(0)
    for n in args.sizes:
        for dt in args.dtypes:
            x = env.xp.asarray(rng.random((n, n)).astype(dt))
            slow_k = {}
            for k in args.ks:
                w = env.xp.asarray(rng.standard_normal((k, k)).astype(dt))
                skip = {p for p, k0 in slow_k.items() if k > k0}
                t0 = time.perf_counter()
                recs = time_point(env, libs, x, w, args, skip)
                for p in PEERS:
                    rec = recs.get(p)
                    if (rec and rec.get("first_call_s") and args.skip_slow_peers_above
                            and rec["first_call_s"] > args.skip_slow_peers_above):
                        slow_k[p] = min(slow_k.get(p, k), k)
                pt = point_record(n, dt, k, recs)
                pt["wall_s"] = time.perf_counter() - t0
                results["points"].append(pt)
                log(format_progress(pt, spec))
                results["meta"]["elapsed_s"] = time.perf_counter() - t_start
                with open(tmp_path, "w") as f:
                    json.dump(results, f, default=str)
                del w
                env.free()
            del x
            env.free()
    results["meta"]["elapsed_s"] = time.perf_counter() - t_start
    return results


def point_record(n, dt, k, libs):
    item = np.dtype(dt).itemsize
    return {"size": n, "dtype": dt, "K": k, "mode": "same", "libs": libs,
            "bytes": 2 * n * n * item, "flops": 2.0 * k * k * n * n, "outputs": n * n}


def run_model(args, spec):
    """The roofline prediction of corrconv_gpu._cost for every grid point."""
    results = {"meta": meta(args, None, spec, list(OURS)), "points": []}
    results["meta"]["model"] = {
        "GPU_BW_EFFICIENCY": _cost.GPU_BW_EFFICIENCY,
        "GPU_FLOP_EFFICIENCY": _cost.GPU_FLOP_EFFICIENCY,
        "GPU_FLOP_EFFICIENCY_FP64": _cost.GPU_FLOP_EFFICIENCY_FP64,
        "GPU_LAUNCH_S": _cost.GPU_LAUNCH_S, "GPU_FFT_OVERHEAD_S": _cost.GPU_FFT_OVERHEAD_S,
        "GPU_FFT_S_PER_ELEM": _cost.GPU_FFT_S_PER_ELEM,
        "note": "random normal weights have full rank: no separable candidate; "
                "float16 has no FFT (direct only)"}
    for n in args.sizes:
        for dt in args.dtypes:
            for k in args.ks:
                fft_ok = np.dtype(dt) != np.float16
                td = _cost.gpu_direct_cost(n, n, k, k, dt)
                tf = _cost.gpu_fft_cost(n, n, k, k, dt) if fft_ok else None
                pick = _cost.choose_gpu(n, n, k, k, dt, rank=None, fft_ok=fft_ok)
                libs = {"ours": {"median": tf if pick == "fft" else td, "auto_choice": pick},
                        "ours_direct": {"median": td},
                        "ours_fft": ({"median": tf} if fft_ok else
                                     {"median": None, "note": "float16: no FFT method"})}
                results["points"].append(point_record(n, dt, k, libs))
    return results


def meta(args, env, spec, libs):
    m = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
         "python": platform.python_version(), "platform": platform.platform(),
         "numpy": np.__version__, "corrconv_gpu": corrconv_gpu.__version__,
         "kind": args.kind, "libraries": libs, "device": spec,
         "input": "x ~ U[0,1) (N x N), w ~ N(0,1) (K x K), seed 0; correlation, 'same', zero fill",
         "grid": {"sizes": args.sizes, "dtypes": args.dtypes, "ks": args.ks, "modes": ["same"]},
         "tolerance": TOL,
         "bytes": "2 * N^2 * itemsize (input read + output write)",
         "flops": "2 * K^2 * N^2 (one FMA per tap per output)"}
    try:
        import cupy
        m["cupy"] = cupy.__version__
    except Exception:
        m["cupy"] = None
    if env is not None:
        m["timing"] = {"repeat": args.repeat, "budget_s": args.budget, "batch": args.batch,
                       "timer": "perf_counter (emulator)" if env.fake else "CUDA events",
                       "statistic": "median", "interleaved": True,
                       "skip_slow_peers_above_s": args.skip_slow_peers_above}
        m["peer_note"] = env.peer_note
        if not env.fake:
            try:
                rt = env.xp.cuda.runtime
                m["cuda_runtime"] = rt.runtimeGetVersion()
                m["cuda_driver"] = rt.driverGetVersion()
            except Exception:
                pass
        m["torch"] = None
        if env.torch is not None:
            t = env.torch
            m["torch"] = {"version": t.__version__, "cuda": t.version.cuda,
                          "cudnn": t.backends.cudnn.version(),
                          "cudnn_allow_tf32": t.backends.cudnn.allow_tf32,
                          "cudnn_benchmark": t.backends.cudnn.benchmark}
        else:
            m["torch_absent"] = env.torch_why
        for nm in ("signal_why", "ndimage_why"):
            if hasattr(env, nm):
                m[nm] = getattr(env, nm)
    return m


# ------------------------------------------------------------------ metrics

def metrics(pt, lib, spec):
    rec = pt["libs"].get(lib)
    if not rec or not rec.get("median"):
        return None
    t = rec["median"]
    return {"s": t, "gpx": pt["outputs"] / t / 1e9,
            "hbm": pt["bytes"] / t / spec["hbm_bytes_per_s"],
            "fma": pt["flops"] / t / peak_flops(spec, pt["dtype"])}


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
    return " | ".join(parts) + f"  [{pt.get('wall_s', 0):.1f}s]"


def table(results, model=False):
    spec = results["meta"]["device"]
    libs = results["meta"]["libraries"]
    peers = [p for p in PEERS if p in libs]
    t = "pred ms" if model else "ms"
    head = (["N", "dtype", "K", "auto", f"ours {t}", "Gpx/s", "%HBM", "%FMA",
             f"direct {t}", "dir %HBM", "dir %FMA", f"fft {t}"]
            + [f"{SHORT[p]} ms" for p in peers] + ["xfft"] + [f"x{SHORT[p]}" for p in peers])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for pt in results["points"]:
        L = pt["libs"]
        m, d = metrics(pt, "ours", spec), metrics(pt, "ours_direct", spec)
        row = [f"{pt['size']}²", pt["dtype"], str(pt["K"]), L["ours"].get("auto_choice", "?"),
               _ms(L["ours"]), "-" if m is None else f"{m['gpx']:.1f}",
               _pct(m and m["hbm"]), _pct(m and m["fma"]), _ms(L.get("ours_direct")),
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


def goals(results, model=False):
    """The issue's GPU goals, each PASS / FAIL (PASS*: some points unmeasured)."""
    spec = results["meta"]["device"]
    libs = results["meta"]["libraries"]
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
            out.append(f"N/A   {text}: {LABEL[lib]} not "
                       + ("modelled" if model else "available"))
            continue
        chosen = [pt for pt in results["points"] if sel(pt)]
        fails, unmeasured, vals = [], [], []
        for pt in chosen:
            v = value(pt)
            if v is None:
                unmeasured.append(pt)
                continue
            vals.append(v[0])
            if v[0] < need or pt["libs"][lib].get("check_ok") is False:
                fails.append((v[1], pt))
        if not chosen:
            status = "N/A  "
        elif fails:
            status = "FAIL "
        elif unmeasured and vals:
            status = "PASS*"
        elif unmeasured:
            status = "N/A  "
        else:
            status = "PASS "
        line = (f"{status} {text}: {len(vals) - len(fails)}/{len(chosen)} points meet it"
                + (f" (min {min(vals):.2f})" if vals else ""))
        if fails:
            line += "\n      failing: " + "; ".join(f"{_where(pt)} {s}" for s, pt in fails)
        if unmeasured:
            line += "\n      not measured: " + "; ".join(_where(pt) for pt in unmeasured)
        out.append(line)
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
              "cupyx_ndimage": "C2", "torch": "C4"}
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


# ---------------------------------------------- emulator traffic (no GPU)

def emu_traffic(args):
    """benchmarks/emu_traffic.py's table, run as a subprocess (its interface
    may change under us); (text, ok)."""
    cmd = [sys.executable, os.path.join(HERE, "emu_traffic.py")] + shlex.split(args.emu_args or "")
    envv = dict(os.environ)
    envv["PYTHONPATH"] = ROOT + (os.pathsep + envv["PYTHONPATH"] if envv.get("PYTHONPATH") else "")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.emu_timeout,
                           env=envv, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return f"(emu_traffic.py timed out after {args.emu_timeout} s)", False
    except Exception as exc:
        return f"(emu_traffic.py could not run: {type(exc).__name__}: {exc})", False
    text = p.stdout.strip()
    if p.returncode != 0:
        text += f"\n(emu_traffic.py exited {p.returncode}: {p.stderr.strip()[-2000:]})"
    return text, p.returncode == 0


# ------------------------------------------------ banded / overlap report

def banded_api():
    """(budget context manager factory, description) when corrconv_gpu exposes
    banded out-of-core execution, else (None, why-not). Looks for a public
    ``corrconv_gpu.memory_budget``, then ``corrconv_gpu._banded.memory_budget``
    (with ``execute_banded``), then a ``budget`` option of correlate2d."""
    fn = getattr(corrconv_gpu, "memory_budget", None)
    if callable(fn):
        return fn, "corrconv_gpu.memory_budget"
    try:
        mod = importlib.import_module("corrconv_gpu._banded")
    except ImportError:
        mod = None
    if mod is not None and callable(getattr(mod, "memory_budget", None)):
        return mod.memory_budget, "corrconv_gpu._banded.memory_budget"
    try:
        if "budget" in inspect.signature(corrconv_gpu.correlate2d).parameters:
            import contextlib

            @contextlib.contextmanager
            def kw_budget(nbytes):   # the call below passes it as budget=
                yield {"budget": nbytes}
            return kw_budget, "correlate2d(..., budget=)"
    except (TypeError, ValueError):
        pass
    if mod is not None and hasattr(mod, "execute_banded"):
        return None, ("corrconv_gpu._banded.execute_banded exists but no budget option "
                      "(memory_budget / budget=) reaches it: skipped")
    return None, ("corrconv_gpu exposes no banded out-of-core execution (no "
                  "corrconv_gpu._banded, no memory_budget / budget option): skipped")


def overlap_report(args, env):
    """A NumPy input larger than a user budget through the banded path: its
    wall time against the sum of copy (H2D + D2H) and device compute, both as
    the pipeline reports them (``_banded.last_stats``, per band, summed) and
    measured here on the whole image (upload, in-memory direct call, download)."""
    ctx, api = banded_api()
    if ctx is None:
        return {"skipped": api}, api
    n, k, dt = args.overlap_size, args.overlap_k, np.dtype(args.overlap_dtype)
    rng = np.random.default_rng(3)
    x = rng.random((n, n)).astype(dt)
    w = rng.standard_normal((k, k)).astype(dt)
    budget = max(1, int(x.nbytes * args.overlap_budget_frac))
    rep = {"api": api, "size": n, "K": k, "dtype": dt.name, "input_bytes": x.nbytes,
           "budget_bytes": budget, "runs": args.overlap_repeat}
    try:
        bmod = importlib.import_module("corrconv_gpu._banded")
    except ImportError:
        bmod = None

    def med(fn):
        ts, out = [], None
        for _ in range(args.overlap_repeat):
            env.sync()
            t0 = time.perf_counter()
            out = fn()
            env.sync()
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts), out

    def to_device(a):
        return env.xp.asarray(a) if not env.fake else np.array(a, copy=True)

    def to_host(a):
        return a.get() if hasattr(a, "get") else np.array(a, copy=True)

    try:
        with corrconv_gpu.use_backend(env.backend):
            def banded():
                with ctx(budget) as kw:
                    return corrconv_gpu.correlate2d(x, w, "same", "fill", 0, **(kw or {}))
            before = getattr(bmod, "last_stats", None)
            banded()   # warm-up (and: did it band?)
            stats = getattr(bmod, "last_stats", None)
            if stats is None or stats is before:
                raise RuntimeError("the call did not go through the banded path "
                                   "(_banded.last_stats unchanged)")
            rep["banded_s"], out = med(banded)
            stats = getattr(bmod, "last_stats", None)
            rep["pipeline"] = {f: getattr(stats, f, None) for f in
                               ("backend", "bands", "rows_per_band", "budget", "device_bytes",
                                "h2d_s", "compute_s", "d2h_s", "pack_s", "wall_s")}
            rep["h2d_s"], xd = med(lambda: to_device(x))
            wd = to_device(w)
            rep["compute_s"], od = med(lambda: corrconv_gpu.correlate2d(
                xd, wd, "same", "fill", 0, method="direct"))
            rep["d2h_s"], host = med(lambda: to_host(od))
            scale = float(np.abs(w.astype(np.float64)).sum() * x.max())
            rep["check_err"] = float(np.abs(np.asarray(out, np.float64)
                                            - np.asarray(host, np.float64)).max() / scale)
            del xd, od, host, out
    except Exception as exc:
        rep["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        env.free()
        return rep, f"banded run ({api}) failed: {rep['error']}"
    env.free()
    s = rep["h2d_s"] + rep["compute_s"] + rep["d2h_s"]
    rep["sum_s"] = s
    rep["sum_over_banded"] = s / rep["banded_s"]
    p = rep["pipeline"]
    psum = sum(p[f] or 0.0 for f in ("h2d_s", "compute_s", "d2h_s"))
    rep["pipeline_overlap"] = psum / p["wall_s"] if p.get("wall_s") else None
    text = (f"{n}² {dt.name} K={k}, NumPy input {x.nbytes / 2**20:.4g} MiB, budget "
            f"{budget / 2**20:.4g} MiB via {api} ({p.get('bands')} bands of "
            f"{p.get('rows_per_band')} rows): banded call {1e3 * rep['banded_s']:.1f} ms "
            f"(median of {args.overlap_repeat}) vs whole-image copy + compute "
            f"{1e3 * s:.1f} ms (H2D {1e3 * rep['h2d_s']:.1f} + direct {1e3 * rep['compute_s']:.1f}"
            f" + D2H {1e3 * rep['d2h_s']:.1f}): sum / banded = {rep['sum_over_banded']:.2f} "
            f"(> 1: copies overlap compute; the floor is max(copy, compute) = "
            f"{1e3 * max(rep['h2d_s'] + rep['d2h_s'], rep['compute_s']):.1f} ms). The pipeline's "
            f"own per-band sums (last run): H2D {1e3 * (p.get('h2d_s') or 0):.1f} + compute "
            f"{1e3 * (p.get('compute_s') or 0):.1f} + D2H {1e3 * (p.get('d2h_s') or 0):.1f} ms, "
            f"host packing {1e3 * (p.get('pack_s') or 0):.1f} ms, wall "
            f"{1e3 * (p.get('wall_s') or 0):.1f} ms: overlap "
            + ("-" if rep["pipeline_overlap"] is None else f"{rep['pipeline_overlap']:.2f}")
            + f". Banded vs in-memory max err {rep['check_err']:.1e}.")
    return rep, text


# ---------------------------------------------------------------- outputs

def write(results, out, stem, md_lines, log_paths=True):
    with open(os.path.join(out, f"{stem}.md"), "w") as f:
        f.write("\n".join(md_lines) + "\n")
    with open(os.path.join(out, f"{stem}.json"), "w") as f:
        json.dump(results, f, indent=1, default=str)
    tmp = os.path.join(out, f"{stem}.json.tmp")
    if os.path.exists(tmp):
        os.remove(tmp)


def _spec_line(spec):
    return (f"{spec['name']} ({spec['source']}): HBM {spec['hbm_bytes_per_s'] / 1e12:.2f} TB/s, "
            f"FP32 {spec['fp32_flops'] / 1e12:.1f} TFLOP/s, FP64 {spec['fp64_flops'] / 1e12:.1f} "
            "TFLOP/s")


def main_model(args, why):
    spec = model_spec()
    banner = f"MODEL (no GPU measured): {why}"
    log(banner)
    log(f"grid: sizes {args.sizes}, dtypes {args.dtypes}, K {args.ks}, mode 'same'")
    log("")
    log("== Emulator traffic table (benchmarks/emu_traffic.py: counted bytes of the real "
        "kernel on the CPU emulator) ==")
    emu_text, emu_ok = emu_traffic(args)
    log(emu_text)
    results = run_model(args, spec)
    results["meta"]["no_gpu_reason"] = why
    results["meta"]["emu_traffic"] = {"ok": emu_ok, "text": emu_text}
    band_ctx, band_api = banded_api()
    results["meta"]["overlap"] = {"skipped": (
        f"needs a GPU (banded execution found: {band_api}; measured on a GPU run)"
        if band_ctx is not None else f"needs a GPU; {band_api}")}
    tab, gl = table(results, model=True), goals(results, model=True)
    log("")
    log(f"== MODEL (no GPU measured): roofline prediction of corrconv_gpu._cost, "
        f"{_spec_line(spec)} ==")
    log("The model (constants fitted to an H100 run of benchmarks/gpu_probe.py) takes "
        f"{_cost.GPU_BW_EFFICIENCY:.0%} of HBM per output plus "
        f"{_cost.GPU_FLOP_EFFICIENCY:.0%} (FP64 {_cost.GPU_FLOP_EFFICIENCY_FP64:.0%}) of the FMA "
        f"peak per tap, plus {1e6 * _cost.GPU_LAUNCH_S:g} us per launch: the % columns show "
        "what those constants imply on this device, nothing measured here.")
    log("")
    log(tab)
    log("")
    log("goals, evaluated on the MODEL (not a measurement):")
    log(gl)
    log("")
    log(f"overlap report: {results['meta']['overlap']['skipped']}")
    md = ["# GPU benchmark: MODEL (no GPU measured)", "",
          f"{results['meta']['date']}, {results['meta']['platform']}. {why}: this is the "
          "roofline PREDICTION of `corrconv_gpu._cost` and the emulator's traffic count, not "
          "a measurement. Run `python benchmarks/run_gpu.py` on a machine with a CUDA GPU "
          "for `gpu.md`.", "",
          "## Emulator traffic table", "", "```", emu_text, "```", "",
          "## MODEL (no GPU measured): predicted times", "",
          f"Device model: {_spec_line(spec)}; efficiencies {_cost.GPU_BW_EFFICIENCY:.0%} "
          f"of HBM (per output) + {_cost.GPU_FLOP_EFFICIENCY:.0%} / FP64 "
          f"{_cost.GPU_FLOP_EFFICIENCY_FP64:.0%} of the FMA peak (per tap), "
          f"{1e6 * _cost.GPU_LAUNCH_S:g} us per launch. `auto` = `choose_gpu`'s pick (random "
          "weights: full rank, no separable candidate; float16: direct only). %HBM = "
          "2 N² itemsize / time / peak; %FMA = 2 K² N² / time / peak (FP32 for float16 "
          "and float32, FP64 for float64; effective when the FFT is picked).", "",
          tab, "", "## Goals (on the MODEL)", "", "```", gl, "```", "",
          "## Overlap report", "", results["meta"]["overlap"]["skipped"], ""]
    os.makedirs(args.out, exist_ok=True)
    write(results, args.out, "gpu_model", md)
    log(f"plot: {plot(results, os.path.join(args.out, 'gpu_model.png'), 'MODEL (no GPU measured): predicted time vs K')}")
    log(f"wrote {os.path.join(args.out, 'gpu_model.md')}, {os.path.join(args.out, 'gpu_model.json')}")
    return 0


def main_measured(args, fake):
    env = Env(fake)
    if fake:
        spec = dict(model_spec(), name="FAKE: CUDA emulator on the CPU (percentages meaningless)")
    else:
        spec = device_spec(args)
    stem = "gpu_fake" if fake else "gpu"
    args.stem = stem
    libs = env.libraries(with_torch=not args.no_torch)
    log(("FAKE GPU (emulator, perf_counter timing, peers = SciPy stand-ins, torch skipped): "
         "exercises the GPU branch only") if fake else f"GPU: {_spec_line(spec)}")
    log(f"grid: sizes {args.sizes}, dtypes {args.dtypes}, K {args.ks}, mode 'same'; "
        f"libraries {list(libs)}; repeat {args.repeat}, budget {args.budget} s, batch {args.batch}")
    if not fake and env.torch is None:
        log(f"torch: {env.torch_why or 'off (--no-torch)'}")
    os.makedirs(args.out, exist_ok=True)
    try:
        results = run_measured(args, env, spec)
    except KeyboardInterrupt:
        tmp = os.path.join(args.out, f"{stem}.json.tmp")
        if not os.path.exists(tmp):
            raise
        log("interrupted: writing the points measured so far")
        with open(tmp) as f:
            results = json.load(f)
        results["meta"]["partial"] = True
    if args.no_overlap:
        ov, ov_text = {"skipped": "--no-overlap"}, "skipped (--no-overlap)"
    else:
        ov, ov_text = overlap_report(args, env)
    results["meta"]["overlap"] = ov
    tab, sm, gl = table(results), summary(results), goals(results)
    title = ("FAKE (emulator)" if fake else "MEASURED") + f": {spec['name']}"
    md = [f"# GPU benchmark: corrconv_gpu vs CuPy / PyTorch ({title})", "",
          f"{results['meta']['date']}, {_spec_line(spec)}; cupy {results['meta']['cupy']}, "
          f"torch {(results['meta'].get('torch') or {}).get('version', 'absent')}. Elapsed "
          f"{results['meta'].get('elapsed_s', 0) / 60:.1f} min"
          + (" (PARTIAL: interrupted)" if results["meta"].get("partial") else "") + ".", "",
          "Correlation of an NxN image with a KxK kernel, mode 'same', zero fill. Times: "
          "medians of " + ("perf_counter" if fake else "CUDA-event") + " timings, in ms, "
          "interleaved runs after a warm-up call. Gpx/s = N² / time; %HBM = 2 N² itemsize / "
          "time / peak; %FMA = 2 K² N² / time / FMA peak (FP32 for float16/32, FP64 for "
          "float64; effective when the FFT ran). `xpeer` = peer time / our (auto) time: > 1 "
          "means corrconv_gpu is faster. `!` = result check failed; `error` = the call "
          "failed (see the summary). " + (env.peer_note + "." if env.peer_note else ""), "",
          tab, "", "## Summary", "", sm, "", "## Goals", "", "```", gl, "```", "",
          "## Overlap report (banded out-of-core execution)", "", ov_text, ""]
    write(results, args.out, stem, md)
    log(f"plot: {plot(results, os.path.join(args.out, stem + '.png'), title)}")
    log(f"wrote {os.path.join(args.out, stem + '.md')}, {os.path.join(args.out, stem + '.json')}")
    log("")
    log(tab)
    log("")
    log(sm)
    log("")
    log("goals:")
    log(gl)
    log("")
    log(f"overlap report: {ov_text}")
    return 0


# -------------------------------------------------------------------- main

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", help=f"image sizes N (N x N), default {DEFAULT['sizes']}")
    ap.add_argument("--dtypes", help=f"float16, float32, float64; default {DEFAULT['dtypes']}")
    ap.add_argument("--ks", help=f"kernel sizes K (K x K), default {DEFAULT['ks']}")
    ap.add_argument("--repeat", type=int, default=None,
                    help="timed runs per library per point (default 10; --quick 5)")
    ap.add_argument("--budget", type=float, default=3.0,
                    help="stop repeating a library once its runs add up to this many seconds "
                         "(default 3; at least one run)")
    ap.add_argument("--batch", type=int, default=1,
                    help="back-to-back calls between the two CUDA events of one timing "
                         "(default 1: the time of one call, host overhead included)")
    ap.add_argument("--quick", action="store_true",
                    help=f"small grid: sizes {QUICK['sizes']}, dtypes {QUICK['dtypes']}, "
                         f"ks {QUICK['ks']}, repeat 5")
    ap.add_argument("--out", default=None,
                    help="output folder (default benchmarks/results; --quick and "
                         "--fake-gpu-with-emulator: a temp folder)")
    ap.add_argument("--fake-gpu-with-emulator", action="store_true", dest="fake",
                    help="run the GPU branch on use_backend('emulated') with perf_counter "
                         f"timing on a tiny grid (sizes {FAKE['sizes']}, ks {FAKE['ks']}); "
                         "SciPy stands in for the cupyx peers, torch is skipped")
    ap.add_argument("--model", action="store_true",
                    help="the no-GPU output (traffic table + MODEL) even where a GPU exists")
    ap.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    ap.add_argument("--skip-slow-peers-above", type=float, default=10.0, metavar="SECONDS",
                    help="skip a peer for larger K (same size, dtype) once its first call "
                         "took longer (default 10; 0 = never)")
    ap.add_argument("--peak-bw", type=float, default=None, metavar="TB_PER_S",
                    help="override the peak HBM bandwidth (TB/s)")
    ap.add_argument("--peak-fp32", type=float, default=None, metavar="TFLOPS")
    ap.add_argument("--peak-fp64", type=float, default=None, metavar="TFLOPS")
    ap.add_argument("--no-overlap", action="store_true", help="skip the banded overlap report")
    ap.add_argument("--overlap-size", type=int, default=16384,
                    help="overlap report: N of the NumPy input (default 16384)")
    ap.add_argument("--overlap-k", type=int, default=7)
    ap.add_argument("--overlap-dtype", default="float32")
    ap.add_argument("--overlap-budget-frac", type=float, default=0.25,
                    help="overlap report: budget = this fraction of the input's bytes "
                         "(default 0.25)")
    ap.add_argument("--overlap-repeat", type=int, default=3,
                    help="overlap report: timed runs of each part (median; default 3)")
    ap.add_argument("--emu-args", default="",
                    help="arguments passed to emu_traffic.py (no-GPU mode), e.g. "
                         "\"--size 64 --dtypes float32\"")
    ap.add_argument("--emu-timeout", type=float, default=300.0)
    a = ap.parse_args(argv)
    base = FAKE if a.fake else QUICK if a.quick else DEFAULT
    a.sizes = int_list(a.sizes or base["sizes"])
    a.dtypes = [str(np.dtype(d)) for d in str_list(a.dtypes or base["dtypes"])]
    for d in a.dtypes:
        if d not in TOL:
            ap.error(f"dtype must be float16, float32 or float64 (got {d!r})")
    a.ks = sorted(int_list(a.ks or base["ks"]))
    if a.fake and a.overlap_size == 16384:
        a.overlap_size = 256     # the emulator: a tiny image
    if a.repeat is None:
        a.repeat = 3 if a.fake else 5 if a.quick else 10
    if a.batch < 1:
        ap.error("--batch must be >= 1")
    if a.out is None:
        a.out = (os.path.join(tempfile.gettempdir(), "corrconv_gpu_bench_fake") if a.fake
                 else os.path.join(tempfile.gettempdir(), "corrconv_gpu_bench_quick") if a.quick
                 else os.path.join(HERE, "results"))
    return a


def main(argv=None):
    args = parse_args(argv)
    ok, why = gpu_available()
    if args.fake:
        args.kind = "fake (emulator)"
        return main_measured(args, fake=True)
    if ok and not args.model:
        args.kind = "measured"
        return main_measured(args, fake=False)
    args.kind = "model"
    return main_model(args, why if not ok else "--model")


if __name__ == "__main__":
    sys.exit(main())
