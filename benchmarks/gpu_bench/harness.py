"""The timing harness of benchmarks/run_gpu.py and the device description.

Timing: CUDA events (``cupy.cuda.Event``: device synchronized, ``start.record()``,
the call, ``end.record()``, ``end.synchronize()``, ``get_elapsed_time``) around
one call (``--batch B``: B back-to-back calls, time / B). Every library is
called once per point untimed first (warm-up, cuDNN's algorithm search, and
the result check against ours), then the libraries run interleaved, the order
rotating each round, until ``--repeat`` runs or ``--budget`` seconds each; the
table shows medians. A device-to-device copy of the input (``x.copy()``)
takes part in the same rounds, under the same rules: the point's ``copy_s``,
a bound measured on the same device in the same conditions (one read and one
write of N^2 elements, what a 'same' correlation cannot go below). A failing
call (out of memory, unsupported dtype) is recorded and the run goes on.
``--fake-gpu-with-emulator``: the same on the CPU emulator, timed with
``perf_counter`` (the copy: ``np.copy``).

Without a GPU: the emulator traffic table (``benchmarks/emu_traffic.py`` run
as a subprocess) and the roofline PREDICTION of ``corrconv_gpu._dispatch.cost`` for
every grid point (``run_model``). Also here: the device's peaks
(``device_spec``, ``model_spec``), the banded overlap measurement
(``overlap_report``) and the run's metadata (``meta``).
"""

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
import time

import numpy as np

import corrconv_gpu
from corrconv_gpu._dispatch import cost as _cost

from . import peers
from .peers import OURS, PEERS, TOL
from .report import format_progress

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # benchmarks/
ROOT = os.path.dirname(BENCH)

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

def log(msg=""):
    print(msg, flush=True)


# ----------------------------------------------------------------- devices

def gpu_available():
    """(True, '') when the CUDA backend sees a device, else (False, why):
    corrconv_gpu.backends() is the one place that asks CuPy."""
    info = corrconv_gpu.backends()["cuda"]
    return info.available, info.reason


def model_spec():
    """The roofline model's device (corrconv_gpu._dispatch.cost, H100 SXM figures)."""
    return {"name": "H100 SXM roofline model", "source": "corrconv_gpu._dispatch.cost constants",
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


# ------------------------------------------------------- the environment

class Env:
    """What differs between the GPU run and the emulator self-check."""

    def __init__(self, fake):
        self.fake = fake
        if fake:
            self.xp, self.backend = np, "emulated"
        else:
            import cupy
            self.xp, self.backend = cupy, "cuda"
        peers.load(self)   # .signal, .ndimage, .torch, .cucim (+ why not), .peer_note

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

    def rel_err(self, r, ref, scale):
        xp = self.xp
        r = peers.as_xp(self, r)
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

COPY = "copy"   # the input's copy in time_point's rounds (not a library)


def time_point(env, libs, x, w, args, skip):
    """One point: untimed first call of each library and of the input's copy
    (warm-up + check), then interleaved timed rounds. Returns ({lib: record},
    the copy's record)."""
    recs = {name: {"times": [], "host_times": [], "skipped": name in skip} for name in libs}
    copy_rec = {"times": [], "host_times": []}
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
    # the copy joins the rounds after the checks: its result is not a correlation
    copy_call = (lambda: np.copy(x)) if env.fake else x.copy
    try:
        env.sync()
        copy_call()
        env.sync()
        calls[COPY] = copy_call
    except Exception as exc:
        copy_rec["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        log(f"    {COPY} failed: {copy_rec['error']}")
        env.free()
    recs[COPY] = copy_rec
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
    del recs[COPY]
    tol = TOL.get(str(x.dtype), 1e-5)
    for rec in list(recs.values()) + [copy_rec]:
        rec["runs"] = len(rec["times"])
        rec["median"] = statistics.median(rec["times"]) if rec["times"] else None
        rec["host_median"] = statistics.median(rec["host_times"]) if rec["host_times"] else None
        if "err" in rec:
            rec["check_ok"] = bool(rec["err"] <= tol)
    return recs, copy_rec


def run_measured(args, env, spec):
    libs = peers.libraries(env, with_torch=not args.no_torch, with_cucim=not args.no_cucim)
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
                recs, copy_rec = time_point(env, libs, x, w, args, skip)
                for p in PEERS:
                    rec = recs.get(p)
                    if (rec and rec.get("first_call_s") and args.skip_slow_peers_above
                            and rec["first_call_s"] > args.skip_slow_peers_above):
                        slow_k[p] = min(slow_k.get(p, k), k)
                pt = point_record(n, dt, k, recs)
                pt["copy_s"], pt["copy_runs"] = copy_rec["median"], copy_rec["runs"]
                if copy_rec.get("error"):
                    pt["copy_error"] = copy_rec["error"]
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
    """The roofline prediction of corrconv_gpu._dispatch.cost for every grid point."""
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
         "flops": "2 * K^2 * N^2 (one FMA per tap per output)",
         "copy": "copy_s: median time of x.copy() (device to device; np.copy when "
                 "emulated), timed in the same interleaved rounds as the libraries"}
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
        m["cucim"] = None
        if env.cucim is not None:
            m["cucim"] = {"version": env.cucim_version, "module": env.cucim.__name__}
        else:
            m["cucim_absent"] = env.cucim_why
        for nm in ("signal_why", "ndimage_why"):
            if hasattr(env, nm):
                m[nm] = getattr(env, nm)
    return m


# ---------------------------------------------- emulator traffic (no GPU)

def emu_traffic(args):
    """benchmarks/emu_traffic.py's table, run as a subprocess (its interface
    may change under us); (text, ok)."""
    cmd = [sys.executable, os.path.join(BENCH, "emu_traffic.py")] + shlex.split(args.emu_args or "")
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
    ``corrconv_gpu.memory_budget``, then ``corrconv_gpu._backends.cuda.outofcore.memory_budget``
    (with ``execute_banded``), then a ``budget`` option of correlate2d."""
    fn = getattr(corrconv_gpu, "memory_budget", None)
    if callable(fn):
        return fn, "corrconv_gpu.memory_budget"
    try:
        mod = importlib.import_module("corrconv_gpu._backends.cuda.outofcore")
    except ImportError:
        mod = None
    if mod is not None and callable(getattr(mod, "memory_budget", None)):
        return mod.memory_budget, "corrconv_gpu._backends.cuda.outofcore.memory_budget"
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
        return None, ("corrconv_gpu._backends.cuda.outofcore.execute_banded exists but no budget option "
                      "(memory_budget / budget=) reaches it: skipped")
    return None, ("corrconv_gpu exposes no banded out-of-core execution (no "
                  "corrconv_gpu._backends.cuda.outofcore, no memory_budget / budget option): skipped")


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
        bmod = importlib.import_module("corrconv_gpu._backends.cuda.outofcore")
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
            # drop the arrays (rebinding, not del: pyflakes takes a del after the
            # lambdas above for an undefined name)
            xd = od = host = out = None
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


