"""Inputs larger than device memory: the direct method in pipelined row bands.

A NumPy input whose device working set (:func:`working_set_bytes`) exceeds
the budget -- :func:`memory_budget` / ``CORRCONV_GPU_MEMORY_BUDGET`` and, on
a GPU, ``SAFETY`` times the free device memory -- is filtered by
:func:`execute_banded` in bands of whole frames or of output rows, each with
its ``K0 - 1`` row halo gathered on the host (:func:`band_geometry`,
:func:`band_rows`). Every band runs the direct kernel in the whole problem's
launch configuration (``launch_corr2d(config=...)``), so the result equals the
in-memory ``method='direct'`` call. Copies and compute overlap on three
streams (:class:`_StreamPipeline`; the emulator runs the same band loop
synchronously). :data:`last_stats` describes the last banded run.
"""

import contextlib
import contextvars
import math
import os
import re
import time
from dataclasses import dataclass, field

import numpy as np

from ..._util.arrays import is_cupy_array
from ..._boundary import extend_index

ENV_VAR = "CORRCONV_GPU_MEMORY_BUDGET"
SAFETY = 0.8         # fraction of the free device memory a call may use
NSLOTS = 2           # buffers per direction: copy of one band while another is in use
MIN_BANDS = 4        # at least this many bands when banding (pipeline overlap)

_budget = contextvars.ContextVar("corrconv_gpu_memory_budget", default=None)

last_stats = None    # BandStats of the last banded run


class MemoryBudgetError(MemoryError, ValueError):
    """Not even one output row fits the device memory budget."""


# ------------------------------------------------------------------ budget

_SUFFIX = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def _parse_bytes(text, source):
    """``"1000000"``, ``"1e9"``, ``"512M"``, ``"2GiB"`` (binary units) -> bytes."""
    m = re.fullmatch(r"\s*([0-9.eE+]+)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", text)
    try:
        value = float(m.group(1)) * _SUFFIX[m.group(2).lower()]
    except (AttributeError, ValueError):
        raise ValueError(f"{source} must be a number of bytes (optionally with a "
                         f"K/M/G/T suffix), got {text!r}") from None
    return _check_budget(value, source)


def _check_budget(nbytes, source="memory budget"):
    if nbytes is None:
        return None
    if isinstance(nbytes, str):
        return _parse_bytes(nbytes, source)
    if isinstance(nbytes, (bool, np.bool_)):
        raise TypeError(f"{source} must be a number of bytes or None, got {nbytes!r}")
    try:
        value = float(nbytes)
    except (TypeError, ValueError):
        raise TypeError(f"{source} must be a number of bytes or None, "
                        f"got {nbytes!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{source} must be a positive number of bytes, got {nbytes!r}")
    return int(value)


def get_memory_budget():
    """The user-set device memory budget in bytes, or None (no limit).

    The innermost :func:`memory_budget` wins over ``CORRCONV_GPU_MEMORY_BUDGET``.
    """
    value = _budget.get()
    if value is not None:
        return None if value == 0 else value
    env = os.environ.get(ENV_VAR, "").strip()
    return _parse_bytes(env, f"environment variable {ENV_VAR}") if env else None


@contextlib.contextmanager
def memory_budget(nbytes):
    """Limit the device memory a call on the CUDA backend may use, in bytes
    (a number, or a string such as ``"512M"`` / ``"2GiB"``: binary units).

    NumPy inputs whose working set exceeds it are filtered in pipelined row
    bands (same result as the in-memory call). ``None`` lifts an outer limit
    (and the environment variable ``CORRCONV_GPU_MEMORY_BUDGET``) inside the
    block. On a GPU the free device memory is always a limit too.

    Examples
    --------
    >>> import numpy as np, corrconv_gpu as cc
    >>> from corrconv_gpu._backends.cuda import outofcore
    >>> with cc.use_backend("emulated"), outofcore.memory_budget("16K"):
    ...     out = cc.correlate2d(np.ones((64, 64)), np.ones((3, 3)), "same")
    >>> float(out[10, 10]), outofcore.last_stats.bands, outofcore.last_stats.rows_per_band
    (9.0, 11, 6)
    """
    value = _check_budget(nbytes)
    token = _budget.set(0 if value is None else value)
    try:
        yield
    finally:
        _budget.reset(token)


def _device_free_bytes():
    """Free device memory: the driver's free bytes plus CuPy's pooled free blocks."""
    import cupy
    free = int(cupy.cuda.runtime.memGetInfo()[0])
    try:
        free += int(cupy.get_default_memory_pool().free_bytes())
    except Exception:  # a custom allocator without a pool
        pass
    return free


def working_set_bytes(plan, x, w, method="direct"):
    """Estimated device bytes of the in-memory call on the CUDA backend.

    The input in the result dtype (plus the uploaded original when the dtype
    differs), the output, the weights and, for methods other than 'direct'
    (which 'auto' may pick), about four boundary-extended frames of
    separable/FFT temporaries.
    """
    s = np.dtype(plan.dtype).itemsize
    shape = tuple(x.shape)
    batch = math.prod(shape[:-2])
    o0, o1 = plan.out_shape
    k0, k1 = w.shape
    total = math.prod(shape) * s + batch * o0 * o1 * s + k0 * k1 * s
    if np.dtype(x.dtype) != plan.dtype:
        total += math.prod(shape) * np.dtype(x.dtype).itemsize
    if method != "direct":
        total += 4 * (o0 + k0 - 1) * (o1 + k1 - 1) * s
    return int(total)


def banding_budget(plan, x, w, method="direct", emulated=False):
    """The budget to band with when the call should be banded, else None.

    Never for CuPy inputs or empty problems. The budget is the user's
    (:func:`get_memory_budget`) on the emulator and the smaller of it and
    ``SAFETY`` times the free device memory on a GPU.
    """
    if is_cupy_array(x) or is_cupy_array(w):
        return None
    if math.prod(x.shape[:-2]) * math.prod(plan.out_shape) == 0 or math.prod(w.shape) == 0:
        return None
    budget = get_memory_budget()
    if not emulated:
        free = int(_device_free_bytes() * SAFETY)
        budget = free if budget is None else min(budget, free)
    if budget is None:
        return None
    return budget if working_set_bytes(plan, x, w, method) > budget else None


# ---------------------------------------------------------------- geometry

@dataclass(frozen=True)
class Band:
    b0: int          # frames [b0, b1)
    b1: int
    i0: int          # output rows [i0, i1)
    i1: int


@dataclass(frozen=True)
class Geometry:
    frames: int          # frames per band (nf)
    rows: int            # output rows per band (h)
    bands: tuple         # Band, in order
    slot_in: int         # elements of one device input buffer
    slot_out: int        # elements of one device output buffer
    device_bytes: int    # band_bytes(...) of the chosen (nf, h)


def band_bytes(plan, x_shape, w_shape, rows, frames=1):
    """Device bytes of the band pipeline with bands of ``frames`` x ``rows``
    output rows: ``NSLOTS`` input and output buffers plus the weights."""
    s = np.dtype(plan.dtype).itemsize
    m1 = x_shape[-1]
    o1 = plan.out_shape[1]
    k0, k1 = w_shape
    return (NSLOTS * frames * ((rows + k0 - 1) * m1 + rows * o1) + k0 * k1) * s


def band_geometry(plan, x_shape, w_shape, budget, min_bands=MIN_BANDS):
    """The bands of a call: the largest that fit ``budget``, evened out."""
    nbatch = max(1, math.prod(x_shape[:-2]))
    o0 = plan.out_shape[0]
    k0 = w_shape[0]
    m1 = x_shape[-1]
    min_bands = max(1, int(min_bands))
    per_frame = band_bytes(plan, x_shape, w_shape, o0) - band_bytes(plan, x_shape, w_shape, 0, 0)
    fixed = band_bytes(plan, x_shape, w_shape, 0, 0)
    if nbatch > 1 and fixed + per_frame <= budget:
        nf = min(nbatch, (budget - fixed) // per_frame)
        nb = max(-(-nbatch // nf), min(min_bands, nbatch))
        nf = -(-nbatch // nb)
        bands = tuple(Band(b, min(b + nf, nbatch), 0, o0) for b in range(0, nbatch, nf))
        h = o0
    else:
        one = band_bytes(plan, x_shape, w_shape, 1)
        if one > budget:
            raise MemoryBudgetError(
                f"a band of one output row needs {one} bytes of device memory "
                f"({NSLOTS} input buffers of {k0} rows x {m1} columns, {NSLOTS} "
                f"output rows of {plan.out_shape[1]}, the {w_shape[0]}x{w_shape[1]} "
                f"weights, {np.dtype(plan.dtype)}), more than the memory budget of "
                f"{budget} bytes (memory_budget(), {ENV_VAR} or free device memory "
                f"x {SAFETY})")
        per_row = band_bytes(plan, x_shape, w_shape, 2) - one
        hmax = min(o0, 1 + (budget - one) // per_row)
        nper = -(-o0 // hmax)
        if nbatch * nper < min_bands:
            nper = min(o0, -(-min_bands // nbatch))
        h = -(-o0 // nper)
        nf = 1
        bands = tuple(Band(b, b + 1, i, min(i + h, o0))
                      for b in range(nbatch) for i in range(0, o0, h))
    return Geometry(nf, h, bands, nf * (h + k0 - 1) * m1, nf * h * plan.out_shape[1],
                    band_bytes(plan, x_shape, w_shape, h, nf))


def band_rows(plan, m0, k0, i0, i1):
    """The input rows of output rows ``[i0, i1)`` and the launch row offset.

    Returns ``(runs, nrows, r0)``: ``runs`` a list of ``(dst, src, n)`` --
    band rows ``dst:dst+n`` are input rows ``src:src+n`` --, ``nrows`` the
    band's input rows and ``r0`` the row offset to launch with.
    """
    lo, hi = i0 + plan.offset[0], i1 + plan.offset[0] + k0 - 1
    if plan.boundary == "constant":
        a = min(max(lo, 0), m0)
        b = max(min(hi, m0), a)
        return ([(0, a, b - a)] if b > a else []), b - a, lo - a
    idx, _ = extend_index(np.arange(lo, hi), m0, plan.boundary)
    if len(idx) == 0:
        return [], 0, 0
    brk = np.flatnonzero(np.diff(idx) != 1) + 1
    starts = np.concatenate(([0], brk))
    ends = np.concatenate((brk, [len(idx)]))
    return [(int(a), int(idx[a]), int(b - a)) for a, b in zip(starts, ends)], len(idx), 0


# ------------------------------------------------------------ statistics

@dataclass
class BandStats:
    backend: str = ""            # 'cuda' or 'emulated'
    bands: int = 0
    frames_per_band: int = 0
    rows_per_band: int = 0
    budget: int = 0              # bytes the bands were sized for
    device_bytes: int = 0        # device bytes of the pipeline buffers + weights
    bytes_h2d: int = 0
    bytes_d2h: int = 0
    h2d_s: float = 0.0           # summed per-band copy / launch times
    compute_s: float = 0.0
    d2h_s: float = 0.0
    pack_s: float = 0.0          # host: building bands in staging, unpacking results
    wall_s: float = 0.0          # the whole banded call
    per_band: list = field(default_factory=list)   # dicts h2d_s, compute_s, d2h_s
    forced_config: int = 0       # band launches given the whole problem's config

    @property
    def copy_s(self):
        """Host-device copy time, both directions."""
        return self.h2d_s + self.d2h_s

    @property
    def overlap(self):
        """(copies + compute) / wall: above 1 when stages overlapped."""
        return (self.copy_s + self.compute_s) / self.wall_s if self.wall_s else 0.0


# ---------------------------------------------------------------- pipelines

class _Slots:
    """Views of a slot's device buffers shaped for one band (both pipelines)."""

    def device_in(self, slot, shape):
        return self.dev_in[slot][:math.prod(shape)].reshape(shape)

    def device_out(self, slot, shape):
        return self.dev_out[slot][:math.prod(shape)].reshape(shape)


class _SyncPipeline(_Slots):
    """The emulator's stand-in for :class:`_StreamPipeline`: NumPy buffers,
    every step runs at once and is timed with ``perf_counter``."""

    backend = "emulated"

    def __init__(self, dtype, slot_in, slot_out):
        self.host_in = [np.empty(slot_in, dtype) for _ in range(NSLOTS)]
        self.host_out = [np.empty(slot_out, dtype) for _ in range(NSLOTS)]
        self.dev_in = [np.empty(slot_in, dtype) for _ in range(NSLOTS)]
        self.dev_out = [np.empty(slot_out, dtype) for _ in range(NSLOTS)]
        self.times = []

    def staging_in(self, slot, shape):
        """Host buffer of slot to pack a band into (free to overwrite)."""
        return self.host_in[slot][:math.prod(shape)].reshape(shape)

    def submit(self, slot, in_shape, out_shape, launch):
        """Copy the staged input in, ``launch()``, copy the output back."""
        n_in, n_out = math.prod(in_shape), math.prod(out_shape)
        t0 = time.perf_counter()
        self.dev_in[slot][:n_in] = self.host_in[slot][:n_in]
        t1 = time.perf_counter()
        launch()
        t2 = time.perf_counter()
        self.host_out[slot][:n_out] = self.dev_out[slot][:n_out]
        t3 = time.perf_counter()
        self.times.append((t1 - t0, t2 - t1, t3 - t2))

    def result(self, slot, shape):
        """Host buffer holding the slot's finished output band."""
        return self.host_out[slot][:math.prod(shape)].reshape(shape)

    def finish(self):
        """Per-band ``(h2d_s, compute_s, d2h_s)``."""
        return self.times

    def close(self):
        pass


class _StreamPipeline(_Slots):
    """Three non-blocking streams, pinned staging, device slots and events.

    ``submit`` enqueues, for one band in ``slot``: the host-to-device copy
    (after the compute that last read the slot's device input), the launch on
    the compute stream (after that copy and after the copy-back that last
    read the slot's device output) and the device-to-host copy into pinned
    staging. ``staging_in`` / ``result`` block on the slot's previous copy.
    """

    backend = "cuda"

    def __init__(self, dtype, slot_in, slot_out, cupy=None):
        if cupy is None:
            import cupy
        self.cupy = cupy
        dtype = np.dtype(dtype)
        self.itemsize = dtype.itemsize
        S = cupy.cuda.Stream
        self.s_h2d = S(non_blocking=True)
        self.s_comp = S(non_blocking=True)
        self.s_d2h = S(non_blocking=True)
        self._pinned = []
        self.host_in, self.host_out = [], []
        for n, lst in ((slot_in, self.host_in), (slot_out, self.host_out)):
            for _ in range(NSLOTS):
                mem = cupy.cuda.alloc_pinned_memory(max(1, n) * dtype.itemsize)
                self._pinned.append(mem)
                lst.append(np.frombuffer(mem, dtype, n))
        self.dev_in = [cupy.empty(max(1, slot_in), dtype) for _ in range(NSLOTS)]
        self.dev_out = [cupy.empty(max(1, slot_out), dtype) for _ in range(NSLOTS)]
        # the allocations (and the caller's weights) were made on the current
        # stream, which the non-blocking streams do not wait for
        cupy.cuda.get_current_stream().synchronize()
        self.events = []                      # per band: 6 timing events
        self.last = [None] * NSLOTS           # events of the slot's last band

    def _event(self):
        return self.cupy.cuda.Event()

    def staging_in(self, slot, shape):
        ev = self.last[slot]
        if ev is not None:
            ev[1].synchronize()               # its previous host-to-device copy
        return self.host_in[slot][:math.prod(shape)].reshape(shape)

    def submit(self, slot, in_shape, out_shape, launch):
        ev = [self._event() for _ in range(6)]
        prev = self.last[slot]
        n_in = math.prod(in_shape) * self.itemsize
        n_out = math.prod(out_shape) * self.itemsize
        # host -> device, once the slot's device input is no longer read
        if prev is not None:
            self.s_h2d.wait_event(prev[3])
        ev[0].record(self.s_h2d)
        if n_in:
            self.dev_in[slot].data.copy_from_host_async(
                self.host_in[slot].ctypes.data, n_in, self.s_h2d)
        ev[1].record(self.s_h2d)
        # compute, after the copy and once the slot's device output is read back
        self.s_comp.wait_event(ev[1])
        if prev is not None:
            self.s_comp.wait_event(prev[5])
        ev[2].record(self.s_comp)
        with self.s_comp:
            launch()
        ev[3].record(self.s_comp)
        # device -> host
        self.s_d2h.wait_event(ev[3])
        ev[4].record(self.s_d2h)
        self.dev_out[slot].data.copy_to_host_async(
            self.host_out[slot].ctypes.data, n_out, self.s_d2h)
        ev[5].record(self.s_d2h)
        self.last[slot] = ev
        self.events.append(ev)

    def result(self, slot, shape):
        self.last[slot][5].synchronize()
        return self.host_out[slot][:math.prod(shape)].reshape(shape)

    def finish(self):
        self.close()
        t = self.cupy.cuda.get_elapsed_time
        return [(t(e[0], e[1]) / 1e3, t(e[2], e[3]) / 1e3, t(e[4], e[5]) / 1e3)
                for e in self.events]

    def close(self):
        """Wait for every stream (also on errors: the buffers outlive the copies)."""
        for s in (self.s_h2d, self.s_comp, self.s_d2h):
            s.synchronize()


# ---------------------------------------------------------------- executor

def execute_banded(plan, x, w, *, emulated=False, budget=None, max_grid=None,
                   min_bands=MIN_BANDS, _pipeline=None):
    """Run ``plan`` with the direct kernel over bands of a NumPy input.

    ``x``: (M0, M1) or (B, M0, M1) NumPy array; ``w``: (K0, K1). ``budget``:
    device bytes for the bands (default: :func:`get_memory_budget`, on a GPU
    at most ``SAFETY`` x the free memory). Returns a new NumPy array of
    ``plan.dtype`` with the in-memory call's shape and values, and sets
    :data:`last_stats`. (``_pipeline``: tests substitute the pipeline class.)
    """
    global last_stats
    from .device import device as _device, supports
    from .launch import launch_config

    t_start = time.perf_counter()
    dtype = np.dtype(plan.dtype)
    if not supports(plan):
        raise TypeError(f"dtype {dtype} has no CUDA kernel")
    if is_cupy_array(x):
        raise TypeError("execute_banded takes a NumPy input (CuPy inputs already fit)")
    x = np.asarray(x)
    if x.ndim not in (2, 3):
        raise ValueError("x must be (M0, M1) or (B, M0, M1)")
    x3 = x if x.ndim == 3 else x[None]
    dev = _device(emulated)
    xp = dev.xp
    o0, o1 = plan.out_shape
    out3 = np.empty((x3.shape[0], o0, o1), dtype)
    out = out3 if x.ndim == 3 else out3[0]
    w_host = w.get() if is_cupy_array(w) else np.asarray(w)
    if out.size == 0:
        return out
    if w_host.size == 0:
        out[...] = 0
        return out
    if budget is None:
        budget = get_memory_budget()
        if not emulated:
            free = int(_device_free_bytes() * SAFETY)
            budget = free if budget is None else min(budget, free)
        if budget is None:
            raise ValueError("execute_banded needs a budget: pass budget= or set "
                             f"memory_budget() / {ENV_VAR}")
    budget = _check_budget(budget)
    geom = band_geometry(plan, x3.shape, w_host.shape, budget, min_bands)
    wd = xp.ascontiguousarray(xp.asarray(w_host), dtype=dtype)
    k0, k1 = wd.shape
    module = dev.module(dtype)
    whole = launch_config(dtype, (k0, k1), (o0, o1), x3.shape[0], max_grid)
    fill = plan.fillvalue if plan.boundary == "constant" else 0
    if _pipeline is None:
        _pipeline = _SyncPipeline if emulated else _StreamPipeline
    pipe = _pipeline(dtype, geom.slot_in, geom.slot_out)
    stats = BandStats(backend=pipe.backend, bands=len(geom.bands),
                      frames_per_band=geom.frames, rows_per_band=geom.rows,
                      budget=budget, device_bytes=geom.device_bytes)
    try:
        _run_bands(pipe, plan, x3, wd, out3, geom, module, whole, fill, max_grid, stats,
                   dev.small_module, dev.large_module)
        times = pipe.finish()
    finally:
        pipe.close()
    stats.per_band = [dict(h2d_s=a, compute_s=b, d2h_s=c) for a, b, c in times]
    stats.h2d_s = float(sum(t[0] for t in times))
    stats.compute_s = float(sum(t[1] for t in times))
    stats.d2h_s = float(sum(t[2] for t in times))
    stats.wall_s = time.perf_counter() - t_start
    last_stats = stats
    return out


def _run_bands(pipe, plan, x3, wd, out3, geom, module, whole, fill, max_grid, stats,
               small=None, large=None):
    """The band loop: pack band k, submit it, unpack band k - NSLOTS; each
    band launched in the whole problem's configuration ``whole``."""
    from .launch import config_differs, launch_config, launch_corr2d
    m0, m1 = x3.shape[-2:]
    k0 = wd.shape[0]
    o1 = plan.out_shape[1]
    pending = []                  # (slot, band, out_shape), oldest first

    def drain():
        slot, band, shape = pending.pop(0)
        t = time.perf_counter()
        res = pipe.result(slot, shape)
        out3[band.b0:band.b1, band.i0:band.i1] = res
        stats.pack_s += time.perf_counter() - t
        stats.bytes_d2h += res.nbytes

    for k, band in enumerate(geom.bands):
        slot = k % NSLOTS
        if len(pending) >= NSLOTS:
            drain()
        runs, nrows, r0 = band_rows(plan, m0, k0, band.i0, band.i1)
        nf, h = band.b1 - band.b0, band.i1 - band.i0
        in_shape, out_shape = (nf, nrows, m1), (nf, h, o1)
        t = time.perf_counter()
        stage = pipe.staging_in(slot, in_shape)
        for dst, src, n in runs:
            stage[:, dst:dst + n] = x3[band.b0:band.b1, src:src + n]
        stats.pack_s += time.perf_counter() - t
        stats.bytes_h2d += stage.nbytes
        xin = pipe.device_in(slot, in_shape)
        xout = pipe.device_out(slot, out_shape)

        if config_differs(launch_config(wd.dtype, wd.shape, (h, o1), nf, max_grid), whole):
            stats.forced_config += 1

        def launch(xin=xin, xout=xout, r0=r0):
            launch_corr2d(module, xin, wd, xout, r0, plan.offset[1], plan.flip,
                          plan.conj, plan.boundary, fill, max_grid=max_grid, config=whole,
                          small=small, large=large)
        pipe.submit(slot, in_shape, out_shape, launch)
        pending.append((slot, band, out_shape))
    while pending:
        drain()
