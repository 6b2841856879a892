"""Banded execution of inputs larger than device memory (corrconv_gpu._backends.cuda.outofcore).

The band loop runs on the emulated backend with artificially small budgets
and must reproduce the in-memory direct call exactly (same kernel, same
summation order) for every boundary, flip/conj, odd/even and tall kernels,
1-row bands, stacks and dtypes. The stream pipeline's event ordering is
checked with a lazy fake of CuPy's streams (copies run only when something
waits for them, so a missing wait corrupts the result); the real CUDA
pipeline is in the ``gpu`` tests at the end.
"""

import ctypes
import functools
import math

import numpy as np
import pytest
from scipy import signal

import corrconv_gpu as cc
from corrconv_gpu import _dispatch as dispatch
from corrconv_gpu._backends.cuda import outofcore as _banded
from corrconv_gpu._backends import cuda as _cuda_backend
from corrconv_gpu._backends.cuda.outofcore import (MemoryBudgetError, band_bytes, execute_banded,
                                  memory_budget)
from corrconv_gpu._plan import Plan, plan_2d

BOUNDARIES = ("constant", "wrap", "symmetric", "mirror", "nearest")
DTYPES = (np.float32, np.float64, np.int16, np.complex64)
FILL = {np.float32: 2.5, np.float64: -1.25, np.int16: 3, np.complex64: 1.5 - 2j}


def _data(shape, dtype, rng):
    dtype = np.dtype(dtype)
    if dtype.kind == "i":
        return rng.integers(-200, 200, shape).astype(dtype)   # products wrap in int16
    a = rng.standard_normal(shape)
    if dtype.kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def _plan(xshape, wshape, mode, flip, boundary, dtype):
    dtype = np.dtype(dtype)
    fill = np.asarray(FILL[dtype.type]) if boundary == "constant" else None
    return plan_2d(xshape[-2:], wshape, mode, flip, boundary, fill, dtype, False)


def _in_memory(plan, x, w):
    with memory_budget(None):
        _banded.last_stats = None
        out = _cuda_backend.execute(plan, x, w, "direct", emulated=True)
        assert _banded.last_stats is None, "the in-memory reference was banded"
    return out


def _banded_call(plan, x, w, budget, method="direct"):
    """The emulated call through the dispatcher (which chooses the method)."""
    _banded.last_stats = None
    with memory_budget(budget), cc.use_backend("emulated"):
        out = dispatch.run(plan, x, w, method, False)
    stats = _banded.last_stats
    assert stats is not None, "the call was not banded"
    return out, stats


def _expected_bands(plan, xshape, wshape, budget, min_bands=_banded.MIN_BANDS):
    """The band count, recomputed from band_bytes alone."""
    nb = math.prod(xshape[:-2]) if len(xshape) == 3 else 1
    o0 = plan.out_shape[0]
    if nb > 1 and band_bytes(plan, xshape, wshape, o0) <= budget:
        nf = max(f for f in range(1, nb + 1)
                 if band_bytes(plan, xshape, wshape, o0, f) <= budget)
        nbands = max(-(-nb // nf), min(min_bands, nb))
        return -(-nb // -(-nb // nbands))
    h = max(r for r in range(1, o0 + 1) if band_bytes(plan, xshape, wshape, r) <= budget)
    per = -(-o0 // h)
    if nb * per < min_bands:
        per = min(o0, -(-min_bands // nb))
    return nb * -(-o0 // -(-o0 // per))


def _same(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), np.max(np.abs(a - b))


# (x shape, kernel shape, mode, rows per band): odd, even and tall kernels,
# 1-row bands, kernels taller than a band
CASES = [((23, 17), (5, 3), "same", 1),
         ((20, 19), (4, 6), "full", 3),
         ((19, 12), (9, 2), "valid", 2),
         ((6, 9), (8, 5), "full", 2)]          # kernel taller than the input


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("flip", [False, True], ids=["corr", "conv"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_identical_to_in_memory(boundary, flip, dtype):
    rng = np.random.default_rng(hash((boundary, flip, np.dtype(dtype).name)) % 2**32)
    for xshape, wshape, mode, rows in CASES:
        x, w = _data(xshape, dtype, rng), _data(wshape, dtype, rng)
        plan = _plan(xshape, wshape, mode, flip, boundary, dtype)
        assert plan.conj == ((not flip) and np.dtype(dtype).kind == "c")
        budget = band_bytes(plan, xshape, wshape, rows)
        out, stats = _banded_call(plan, x, w, budget)
        _same(out, _in_memory(plan, x, w))
        assert stats.rows_per_band <= rows
        assert stats.bands == _expected_bands(plan, xshape, wshape, budget)
        assert stats.device_bytes <= budget


def test_band_count_matches_budget():
    rng = np.random.default_rng(1)
    x, w = _data((64, 40), np.float64, rng), _data((7, 5), np.float64, rng)
    plan = _plan(x.shape, w.shape, "same", False, "symmetric", np.float64)
    want = _in_memory(plan, x, w)
    for rows in (1, 2, 5, 9, 16, 21, 32):
        for extra in (0, band_bytes(plan, x.shape, w.shape, rows + 1)
                      - band_bytes(plan, x.shape, w.shape, rows) - 1):
            budget = band_bytes(plan, x.shape, w.shape, rows) + extra
            out = execute_banded(plan, x, w, emulated=True, budget=budget, min_bands=1)
            _same(out, want)
            st = _banded.last_stats
            assert st.bands == -(-64 // rows), (rows, extra)
            assert st.bands == _expected_bands(plan, x.shape, w.shape, budget, 1)
            assert len(st.per_band) == st.bands
            assert st.rows_per_band * st.bands >= 64
            assert st.device_bytes <= budget
    # the default keeps at least MIN_BANDS bands (pipeline overlap)
    execute_banded(plan, x, w, emulated=True, budget=10**9)
    assert _banded.last_stats.bands == _banded.MIN_BANDS


@pytest.mark.parametrize("dtype", [np.float32, np.int16])
@pytest.mark.parametrize("boundary", ["constant", "wrap", "mirror"])
def test_stacks_frame_and_row_bands(boundary, dtype):
    rng = np.random.default_rng(7)
    x, w = _data((5, 14, 11), dtype, rng), _data((4, 3), dtype, rng)
    plan = _plan(x.shape, w.shape, "same", True, boundary, dtype)
    want = _in_memory(plan, x, w)
    o0 = plan.out_shape[0]
    # whole frames per band: 2 frames fit, 5 frames -> 3 bands
    budget = band_bytes(plan, x.shape, w.shape, o0, 2)
    out, st = _banded_call(plan, x, w, budget)
    _same(out, want)
    assert (st.frames_per_band, st.rows_per_band, st.bands) == (2, o0, 3)
    # one frame does not fit: row bands inside each frame
    budget = band_bytes(plan, x.shape, w.shape, 4)
    out, st = _banded_call(plan, x, w, budget)
    _same(out, want)
    assert st.frames_per_band == 1 and st.rows_per_band == 4
    assert st.bands == 5 * -(-o0 // 4) == _expected_bands(plan, x.shape, w.shape, budget)
    # a stack of one frame and 2-D input agree
    out2, _ = _banded_call(plan, x[2], w, budget)
    _same(out2, want[2])


def test_constant_bands_without_real_rows_and_float16_fill():
    # rows needed by some bands lie wholly outside the input: nothing uploaded
    rng = np.random.default_rng(3)
    x, w = _data((6, 9), np.float32, rng), _data((3, 4), np.float32, rng)
    plan = Plan((16, 10), (-8, -2), False, False, "constant", np.asarray(np.float32(7)),
                np.dtype(np.float32), np.dtype(np.float32))
    out, st = _banded_call(plan, x, w, band_bytes(plan, x.shape, w.shape, 1))
    _same(out, _in_memory(plan, x, w))
    assert st.bands == 16
    np.testing.assert_allclose(out[:6], np.full((6, 10), 7 * w.sum()), rtol=1e-5)
    # float16: the fill stays the kernel's float32 parameter (0.1 is not a half)
    xh, wh = x.astype(np.float16), w.astype(np.float16)
    plan = plan_2d(xh.shape, wh.shape, "full", False, "constant", np.asarray(0.1, np.float32),
                   np.dtype(np.float16), False)
    out, _ = _banded_call(plan, xh, wh, band_bytes(plan, xh.shape, wh.shape, 2))
    _same(out, _in_memory(plan, xh, wh))


@pytest.mark.parametrize("dt", [np.complex64, np.float32])
def test_large_kernel_keeps_the_whole_launch_config(dt):
    # a 40 x 40 kernel of the generic kernel (complex64) is chunked; 1-row
    # bands would pick another tiling and other chunks (another summation
    # order) on their own. float32 takes corr2d_large, whose chunks depend on
    # the weight shape only: the bands agree with the whole call all the same
    from corrconv_gpu._backends.cuda.launch import launch_config
    rng = np.random.default_rng(5)
    x, w = _data((60, 70), dt, rng), _data((40, 40), dt, rng)
    plan = _plan(x.shape, w.shape, "same", False, "wrap", dt)
    whole = launch_config(dt, w.shape, plan.out_shape)
    band = launch_config(dt, w.shape, (1, plan.out_shape[1]))
    assert (whole.kc0, whole.kc1) != (band.kc0, band.kc1)
    out, st = _banded_call(plan, x, w, band_bytes(plan, x.shape, w.shape, 1))
    _same(out, _in_memory(plan, x, w))
    assert st.bands == 60 and st.forced_config == 60


@pytest.mark.parametrize("method", ["auto", "fft", "separable"])
def test_other_methods_fall_back_to_direct(method):
    rng = np.random.default_rng(11)
    x = _data((40, 33), np.float64, rng)
    w = np.outer(rng.standard_normal(5), rng.standard_normal(4))   # rank 1
    plan = _plan(x.shape, w.shape, "same", False, "nearest", np.float64)
    out, st = _banded_call(plan, x, w, band_bytes(plan, x.shape, w.shape, 6), method)
    _same(out, _in_memory(plan, x, w))


def test_public_api_and_mixed_dtypes():
    rng = np.random.default_rng(2)
    x = rng.integers(-50, 50, (3, 31, 26)).astype(np.int16)
    w = rng.standard_normal((5, 4)).astype(np.float32)        # result float32
    xs = x[:, ::-1, :]                                        # a strided view
    with cc.use_backend("emulated"):
        want = cc.correlate2d(xs, w, "same", "symm", method="direct", axes=(-2, -1))
        _banded.last_stats = None
        with memory_budget(6000):
            got = cc.correlate2d(xs, w, "same", "symm", method="direct", axes=(-2, -1))
        assert _banded.last_stats is not None and _banded.last_stats.bands > 3
        _same(got, want)
        ref = np.stack([signal.correlate2d(f.astype(np.float64), w, "same", "symm")
                        for f in xs])
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-3)
        # 'fill' with a value, convolution, 2-D
        want = cc.convolve2d(x[0], w, "full", "fill", 4, method="direct")
        with memory_budget(3000):
            got = cc.convolve2d(x[0], w, "full", "fill", 4)
        _same(got, want)
        # scipy.ndimage modes
        xf = x[1].astype(np.float64)
        want = cc.ndimage.correlate(xf, w, mode="mirror", method="direct")
        with memory_budget(5000):
            got = cc.ndimage.correlate(xf, w, mode="mirror")
        _same(got, want)


def test_budget_settings(monkeypatch):
    rng = np.random.default_rng(4)
    x, w = _data((30, 20), np.float64, rng), _data((3, 3), np.float64, rng)
    plan = _plan(x.shape, w.shape, "same", False, "wrap", np.float64)
    ws = _banded.working_set_bytes(plan, x, w, "direct")
    assert ws == (30 * 20 + 30 * 20 + 9) * 8
    assert _banded.get_memory_budget() is None
    # above the working set: in memory
    _banded.last_stats = None
    with memory_budget(ws):
        _cuda_backend.execute(plan, x, w, "direct", emulated=True)
    assert _banded.last_stats is None
    # the environment variable (bytes, K/M/G suffixes) and the context manager
    monkeypatch.setenv(_banded.ENV_VAR, "2K")
    assert _banded.get_memory_budget() == 2048
    out = _cuda_backend.execute(plan, x, w, "direct", emulated=True)
    assert _banded.last_stats is not None and _banded.last_stats.budget == 2048
    _same(out, _in_memory(plan, x, w))
    with memory_budget(3000):
        assert _banded.get_memory_budget() == 3000
        with memory_budget(None):                 # lifts the env var too
            assert _banded.get_memory_budget() is None
        assert _banded.get_memory_budget() == 3000
    assert _banded.get_memory_budget() == 2048
    monkeypatch.setenv(_banded.ENV_VAR, "lots")
    with pytest.raises(ValueError, match=_banded.ENV_VAR):
        _banded.get_memory_budget()
    monkeypatch.delenv(_banded.ENV_VAR)
    for bad in (0, -5, float("nan")):
        with pytest.raises(ValueError):
            with memory_budget(bad):
                pass
    with memory_budget("1.5G"):
        assert _banded.get_memory_budget() == 3 * 2**29
    for bad in ([1000], True):
        with pytest.raises(TypeError):
            with memory_budget(bad):
                pass
    # CuPy-free checks: empty problems are never banded
    empty = _plan((0, 5), (2, 2), "full", False, "constant", np.float64)
    assert _banded.banding_budget(empty, np.zeros((0, 5)), w, "direct", True) is None


def test_budget_too_small_for_one_row():
    rng = np.random.default_rng(6)
    x, w = _data((50, 400), np.float32, rng), _data((31, 3), np.float32, rng)
    plan = _plan(x.shape, w.shape, "same", False, "constant", np.float32)
    need = band_bytes(plan, x.shape, w.shape, 1)
    with pytest.raises(MemoryBudgetError, match=f"budget of {need - 1} bytes") as err:
        _banded_call(plan, x, w, need - 1)
    assert isinstance(err.value, MemoryError) and isinstance(err.value, ValueError)
    assert str(need) in str(err.value)
    out, st = _banded_call(plan, x, w, need)
    assert st.rows_per_band == 1 and st.bands == 50
    _same(out, _in_memory(plan, x, w))


def test_stats_fields():
    rng = np.random.default_rng(8)
    x, w = _data((2, 30, 20), np.complex64, rng), _data((3, 2), np.complex64, rng)
    plan = _plan(x.shape, w.shape, "valid", False, "constant", np.complex64)
    _, st = _banded_call(plan, x, w, band_bytes(plan, x.shape, w.shape, 4))
    assert st.backend == "emulated"
    assert st.bands == len(st.per_band) == 2 * -(-28 // 4)
    for key in ("h2d_s", "compute_s", "d2h_s"):
        assert getattr(st, key) == pytest.approx(sum(b[key] for b in st.per_band))
        assert getattr(st, key) >= 0
    assert st.copy_s == st.h2d_s + st.d2h_s
    assert st.wall_s >= st.compute_s > 0
    assert st.bytes_d2h == 2 * 28 * 19 * 8
    assert st.bytes_h2d == 14 * (4 + 2) * 20 * 8        # 4 rows + a halo of 2 per band


# ------------------------------------------------- the stream pipeline, faked

class _FakeCuda:
    """A lazy stand-in for the parts of ``cupy`` that _StreamPipeline uses.

    Work queued on a stream runs only when something waits for it (an event
    synchronize, a stream synchronize, a stream waiting on an event, or
    entering the stream as the current one for a launch), so a missing
    dependency leaves a copy undone or done late and corrupts the result.
    """

    def __init__(self):
        self.clock = 0
        fake = self

        class Event:
            def __init__(self):
                self.stream, self.done, self.t = None, False, None

            def record(self, stream=None):
                self.stream, self.done = stream, False
                stream.q.append(self)

            def synchronize(self):
                if not self.done:
                    self.stream.run(until=self)

        class Stream:
            def __init__(self, non_blocking=False):
                self.q = []

            def run(self, until=None):
                while self.q:
                    op = self.q.pop(0)
                    if isinstance(op, Event):
                        fake.clock += 1
                        op.done, op.t = True, fake.clock
                        if op is until:
                            return
                    else:
                        op()

            def wait_event(self, ev):
                self.q.append(ev.synchronize)

            def synchronize(self):
                self.run()

            def __enter__(self):
                self.run()
                return self

            def __exit__(self, *exc):
                return False

        class Ptr:
            def __init__(self, arr):
                self.arr = arr

            def copy_from_host_async(self, src, nbytes, stream=None):
                dst = self.arr.ctypes.data
                stream.q.append(lambda: ctypes.memmove(dst, src, nbytes))

            def copy_to_host_async(self, dst, nbytes, stream=None):
                src = self.arr.ctypes.data
                stream.q.append(lambda: ctypes.memmove(dst, src, nbytes))

        class DevArray(np.ndarray):
            @property
            def data(self):
                return Ptr(self)

        class cuda:
            pass

        cuda.Stream, cuda.Event = Stream, Event
        cuda.alloc_pinned_memory = staticmethod(bytearray)
        cuda.get_current_stream = staticmethod(lambda: Stream())
        cuda.get_elapsed_time = staticmethod(lambda a, b: float(b.t - a.t))
        self.cuda = cuda
        self.empty = lambda n, dtype: np.empty(n, dtype).view(DevArray)


@pytest.mark.parametrize("boundary", ["constant", "symmetric"])
def test_stream_pipeline_ordering_with_lazy_fake(boundary):
    fake = _FakeCuda()
    pipeline = functools.partial(_banded._StreamPipeline, cupy=fake)
    rng = np.random.default_rng(9)
    for xshape, wshape, rows in (((37, 21), (5, 4), 2), ((3, 12, 9), (3, 3), 12),
                                 ((3, 12, 9), (2, 3), 1)):
        x, w = _data(xshape, np.float64, rng), _data(wshape, np.float64, rng)
        plan = _plan(xshape, wshape, "same", True, boundary, np.float64)
        o0 = plan.out_shape[0]
        frames = 2 if rows == o0 else 1
        budget = band_bytes(plan, xshape, wshape, rows, frames)
        out = execute_banded(plan, x, w, emulated=True, budget=budget, _pipeline=pipeline)
        st = _banded.last_stats
        assert st.backend == "cuda" and st.bands >= 2
        assert all(b["compute_s"] > 0 and b["d2h_s"] > 0 for b in st.per_band)
        _same(out, _in_memory(plan, x, w))


def test_lazy_fake_catches_a_missing_wait(monkeypatch):
    # drop the wait of the copy-back before the host reads the result: the
    # fake must then deliver wrong (stale) data -- the fake is strict enough
    fake = _FakeCuda()
    pipeline = functools.partial(_banded._StreamPipeline, cupy=fake)
    orig = _banded._StreamPipeline.result

    def no_wait(self, slot, shape):
        return self.host_out[slot][:math.prod(shape)].reshape(shape)
    monkeypatch.setattr(_banded._StreamPipeline, "result", no_wait)
    rng = np.random.default_rng(10)
    x, w = _data((40, 16), np.float64, rng), _data((3, 3), np.float64, rng)
    plan = _plan(x.shape, w.shape, "same", False, "wrap", np.float64)
    out = execute_banded(plan, x, w, emulated=True,
                         budget=band_bytes(plan, x.shape, w.shape, 5), _pipeline=pipeline)
    assert not np.array_equal(out, _in_memory(plan, x, w))
    monkeypatch.setattr(_banded._StreamPipeline, "result", orig)


# --------------------------------------------------------------- real GPU

@pytest.mark.gpu
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_gpu_banded_identical(boundary):
    import cupy
    rng = np.random.default_rng(12)
    x, w = _data((4, 300, 257), np.float32, rng), _data((9, 8), np.float32, rng)
    plan = _plan(x.shape, w.shape, "same", True, boundary, np.float32)
    want = cupy.asnumpy(_cuda_backend.execute(plan, cupy.asarray(x), w, "direct"))
    budget = band_bytes(plan, x.shape, w.shape, 37)
    _banded.last_stats = None
    with memory_budget(budget):
        got = _cuda_backend.execute(plan, x, w, "direct")
        st = _banded.last_stats
        assert st is not None and st.backend == "cuda"
        # CuPy inputs are never banded
        _banded.last_stats = None
        _cuda_backend.execute(plan, cupy.asarray(x), w, "direct")
        assert _banded.last_stats is None
    assert isinstance(got, np.ndarray)
    _same(got, want)
    assert st.bands == 4 * -(-300 // 37)
    assert st.h2d_s > 0 and st.compute_s > 0 and st.d2h_s > 0 and st.wall_s > 0


@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap"])
def test_volumes_band_along_the_first_axis(mode):
    """A NumPy volume over the device budget: each 2-D pass of the leading
    taps runs in bands of whole planes along the first axis (frames of the
    stack), and the result equals the in-memory call on the same backend."""
    from corrconv_gpu import ndimage as cnd
    rng = np.random.default_rng(11)
    x = rng.standard_normal((12, 10, 9)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3))
    with cc.use_backend("emulated"):
        with memory_budget(None):
            _banded.last_stats = None
            want = cnd.correlate(x, w, mode=mode, cval=0.5, method="direct")
            assert _banded.last_stats is None
        plan = plan_2d((10, 9), (2, 3), "same", False, "constant", np.asarray(0.0),
                       np.dtype(np.float64), False)
        # three planes (and their results) per band
        budget = band_bytes(plan, (12, 10, 9), (2, 3), 10, 3)
        with memory_budget(budget):
            got = cnd.correlate(x, w, mode=mode, cval=0.5, method="direct")
            st = _banded.last_stats
    assert st is not None and st.frames_per_band == 3 and st.bands == 4
    assert got.dtype == want.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_wide_plan_bands_in_float64():
    """A float32 plan summed in float64 (the device kernel that reads and
    writes float32) whose float32 working set is over the budget: banded in
    float64, the result cast to float32 -- the in-memory float64 call's
    values, rounded once."""
    import dataclasses
    rng = np.random.default_rng(11)
    x, w = _data((2, 40, 30), np.float32, rng), _data((3, 3), np.float32, rng)
    plan64 = plan_2d(x.shape[-2:], w.shape, "same", False, "symmetric", None,
                     np.float64, False)
    wide = dataclasses.replace(plan64, dtype=np.dtype(np.float32))
    assert _cuda_backend.wide(wide) and _cuda_backend.wide_kernel(w.shape)
    budget = _banded.working_set_bytes(wide, x, w) // 2
    _banded.last_stats = None
    with memory_budget(budget):
        got = _cuda_backend.execute(wide, x, w, "direct", emulated=True)
    assert _banded.last_stats is not None and _banded.last_stats.bands > 1
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, _in_memory(plan64, x, w).astype(np.float32))
