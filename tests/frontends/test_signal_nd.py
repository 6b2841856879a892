"""corrconv_gpu.signal: scipy.signal.correlate/convolve/fftconvolve/oaconvolve,
N-D, against SciPy (values, shapes, dtypes, swaps, conjugation, errors)."""

import warnings

import numpy as np
import pytest
import scipy.signal as ss

import corrconv_gpu as cc
from corrconv_gpu import signal as cs
from conftest import outcome

DTYPES = [np.float64, np.float32, np.int16, np.uint8, np.complex128]


def _data(rng, shape, dt, scale):
    if np.dtype(dt).kind == "c":
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    return (rng.standard_normal(shape) * scale).astype(dt)


def _same(got, want, x, w, exact):
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape,
                                                                  got.dtype, want.dtype)
    if got.size == 0:
        return
    diff = np.abs(got.astype(np.complex128) - want).max()
    if exact:
        assert diff == 0
    else:
        tol = 1e-4 if np.dtype(got.dtype) in (np.float32, np.complex64) else 1e-9
        assert diff <= tol * max(float(np.abs(w).sum() * np.abs(x).max()), 1.0)


@pytest.mark.parametrize("backend", ["cpu", "emulated"])
@pytest.mark.parametrize("ndim,trials", [
    (1, 12), (2, 12), (3, 3), (4, 1),
    # every new 3-D/4-D weight shape compiles kernels (Numba, the emulator):
    # the longer draws run in the slow suite
    pytest.param(3, 8, marks=pytest.mark.slow), pytest.param(4, 3, marks=pytest.mark.slow)])
def test_against_scipy(backend, ndim, trials, rng):
    with cc.use_backend(backend), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(trials):
            s1 = tuple(int(v) for v in rng.integers(1, 7 if ndim < 4 else 4, ndim))
            s2 = tuple(int(v) for v in rng.integers(1, 5 if ndim < 4 else 3, ndim))
            for dt in DTYPES:
                x, w = _data(rng, s1, dt, 5), _data(rng, s2, dt, 3)
                ints = np.dtype(dt).kind in "iu"
                for mode in ("full", "same", "valid"):
                    for f in ("correlate", "convolve"):
                        for method in ("direct", "fft", "auto"):
                            o = outcome(lambda: getattr(cs, f)(x, w, mode, method=method))
                            t = outcome(lambda: getattr(ss, f)(x, w, mode, method=method))
                            assert o[0] == t[0], (f, s1, s2, dt, mode, method, o, t)
                            if t[0] == "raise":
                                assert o[1:] == t[1:]
                                continue
                            # integers: exact, but SciPy's FFT rounds its own
                            # float sums (off by one at worst where they tie)
                            _same(o[1], t[1], x, w, ints and method == "direct")
                    o = outcome(lambda: cs.fftconvolve(x, w, mode))
                    t = outcome(lambda: ss.fftconvolve(x, w, mode))
                    assert o[0] == t[0], (s1, s2, dt, mode, o, t)
                    if t[0] == "raise":
                        assert o[1:] == t[1:]
                        continue
                    _same(o[1], t[1], x, w, False)
                    _same(cs.oaconvolve(x, w, mode), t[1], x, w, False)


def test_fftconvolve_axes(rng):
    x = rng.standard_normal((3, 4, 5))
    for y in (rng.standard_normal((1, 2, 3)), rng.standard_normal((3, 1, 2))):
        for axes in ([0], [1], (0, 2), -1, [1, 2], None, [], [3], [0, 0]):
            for mode in ("full", "same", "valid"):
                o = outcome(lambda: cs.fftconvolve(x, y, mode, axes=axes))
                t = outcome(lambda: ss.fftconvolve(x, y, mode, axes=axes))
                assert o[0] == t[0], (axes, mode, o, t)
                if t[0] == "ok":
                    _same(o[1], t[1], x, y, False)
                else:
                    assert o[1:] == t[1:]


def test_errors_and_edges(rng):
    a, b = rng.standard_normal((4, 5)), rng.standard_normal((2, 3))
    cases = [((np.array(2.0), np.array(3.0 + 1j)), {}), ((a, b[0]), {}), ((a, b, "x"), {}),
             ((a, b, 1), {}), ((a, b, "full"), {"method": "x"}),
             ((np.ones((2, 5)), np.ones((3, 2)), "valid"), {}), ((b, a, "valid"), {}),
             ((b + 1j, a - 2j, "valid"), {}), ((a > 0, b > 0), {"method": "direct"}),
             ((a.astype(object), b.astype(object)), {"method": "direct"}),
             ((np.arange(12).reshape(3, 4), b.astype(np.float32)), {}),
             (([[1, 2], [3, 4]], [[1, 1]]), {})]
    for args, kw in cases:
        for f in ("correlate", "convolve"):
            o, t = outcome(lambda: getattr(cs, f)(*args, **kw)), outcome(lambda: getattr(ss, f)(*args, **kw))
            assert o[0] == t[0], (f, args, kw, o, t)
            if t[0] == "raise":
                assert o[1:] == t[1:]
            else:
                _same(o[1], t[1], np.asarray(args[0]), np.asarray(args[1]), False)
        o, t = outcome(lambda: cs.fftconvolve(*args[:3])), outcome(lambda: ss.fftconvolve(*args[:3]))
        if t[0] == "raise":
            assert o[1:] == t[1:]


def test_extensions_where_scipy_refuses_or_crashes(rng):
    """float16 direct (SciPy: 'Unsupported type') is computed with float32
    accumulation; an empty input gives the zeros of its output shape (SciPy's
    'full' fails on a broadcast)."""
    x, w = rng.standard_normal((4, 5)), rng.standard_normal((2, 3))
    got = cs.correlate(x.astype(np.float16), w.astype(np.float16), method="direct")
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, ss.correlate(x, w), rtol=2e-2, atol=2e-2)
    z = cs.correlate(np.ones((0, 3)), w)
    assert z.shape == (1, 5) and not z.any()


def test_choose_conv_method(rng):
    x, w = rng.standard_normal((4, 5)), rng.standard_normal((2, 3))
    assert cs.choose_conv_method(x.astype(np.int32), w.astype(np.int32)) == "direct"
    assert cs.choose_conv_method(rng.standard_normal((60, 60, 60)),
                                 rng.standard_normal((15, 15, 15))) == "fft"
    xn = x.copy()
    xn[0, 0] = np.nan
    assert cs.choose_conv_method(np.tile(xn, (20, 20)), rng.standard_normal((40, 40))) == "direct"
    method, times = cs.choose_conv_method(x, w, measure=True)
    assert method in ("direct", "fft") and set(times) == {"direct", "fft"}


def test_top_level_names_stay_numpys():
    assert cc.correlate is not cs.correlate and cc.convolve is not cs.convolve
    np.testing.assert_array_equal(cc.correlate([1, 2, 3], [0, 1]), np.correlate([1, 2, 3], [0, 1]))
    assert cs.correlate2d is cc.correlate2d and cs.convolve2d is cc.convolve2d


def test_cpu_direct_volumes_run_the_planes_kernel(rng, monkeypatch):
    """'direct' over three or four axes on the CPU is one pass of the planes
    kernel (the zero padding as planes and rows outside the input), exact for
    integers (wrapping as SciPy), every mode, convolution and conjugation;
    kernel sides over its limit take the 2-D pass per leading tap."""
    import corrconv_gpu._backends.cpu as cpu
    calls = []            # one entry per call the planes kernel ran

    def spy(*args, real=cpu.execute_planes):
        out = real(*args)
        if out is not None:
            calls.append(args[2].shape)
        return out
    monkeypatch.setattr(cpu, "execute_planes", spy)
    cases = [((6, 7, 9), (3, 2, 4)), ((5, 6, 7, 8), (2, 3, 2, 3)), ((4, 9, 6), (6, 3, 3))]
    with cc.use_backend("cpu"):
        for (shape, kshape), dt in zip(cases * 2, [np.int16, np.float64, np.complex128,
                                                     np.uint8, np.float32, np.int16]):
            x = _data(rng, shape, dt, 40)
            w = _data(rng, kshape, dt, 3)
            for name in ("correlate", "convolve"):
                for mode in ("full", "same", "valid"):
                    want = outcome(lambda: getattr(ss, name)(x, w, mode, method="direct"))
                    if want[0] == "raise":
                        assert outcome(lambda: getattr(cs, name)(x, w, mode, method="direct")) \
                            == want
                        continue
                    got = getattr(cs, name)(x, w, mode, method="direct")
                    _same(got, want[1], x, w, exact=np.dtype(dt).kind in "iu")
        n = len(calls)
        assert n >= 30
        x = rng.standard_normal((5, 6, 12))
        w = rng.standard_normal((2, 3, 11))      # 11 > the kernel's largest side
        _same(cs.correlate(x, w, "same", method="direct"),
              ss.correlate(x, w, "same", method="direct"), x, w, exact=False)
        assert len(calls) == n
