"""corrconv_gpu.ndimage against scipy.ndimage (SciPy 1.17) on the CPU backend.

Differential over modes x origins x odd/even kernels x dtypes for 1-D
(correlate1d/convolve1d), 2-D and stacked 2-D (axes) inputs; output=; errors
with SciPy's messages; inputs never modified.
"""

import warnings

import numpy as np
import pytest
from scipy import ndimage as sn

import corrconv_gpu
from corrconv_gpu import ndimage as cn

MODES = ("reflect", "constant", "nearest", "mirror", "wrap",
         "grid-wrap", "grid-constant", "grid-mirror")
DTYPES = (np.uint8, np.int16, np.int32, np.float32, np.float64, np.complex128)
PAIRS = ((cn.correlate, sn.correlate), (cn.convolve, sn.convolve))
PAIRS_1D = ((cn.correlate1d, sn.correlate1d), (cn.convolve1d, sn.convolve1d))


@pytest.fixture(autouse=True)
def _cpu_backend():
    with corrconv_gpu.use_backend("cpu"):
        yield


def _data(rng, shape, dtype):
    x = rng.integers(0, 60, shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.integers(-20, 20, shape)
    return x.astype(dtype)


def _weights(rng, shape, dtype):
    # integer weights (halves for floats): float64 sums are exact, so the
    # truncation of integer outputs cannot amplify rounding differences
    w = rng.integers(-3, 4, shape).astype(np.float64)
    if np.dtype(dtype).kind in "fc":
        w = w / 2
    return w


def _origins(k):
    return range(-(k // 2), (k - 1) // 2 + 1)


def _same(got, exp):
    assert type(got) is np.ndarray
    assert got.dtype == exp.dtype, (got.dtype, exp.dtype)
    assert got.shape == exp.shape
    if exp.dtype.kind in "fc":
        np.testing.assert_allclose(got, exp, rtol=1e-6, atol=1e-4)
    else:
        np.testing.assert_array_equal(got, exp)


def _f16_as_f64(v):
    """A float16 array or dtype as SciPy can take it: float64."""
    if isinstance(v, np.ndarray) and v.dtype == np.float16:
        return v.astype(np.float64)
    if v is np.float16 or (isinstance(v, str) and v == "float16"):
        return np.float64
    return v


def _call_both(f, g, *args, **kwargs):
    try:
        exp = g(*args, **kwargs)
    except Exception as e:       # noqa: BLE001 - compare SciPy's error
        f16 = [v for v in (*args, *kwargs.values()) if _f16_as_f64(v) is not v]
        if f16 and "not supported" in str(e):
            return _call_float16(f, g, args, kwargs)
        with pytest.raises(type(e)) as info:
            f(*args, **kwargs)
        assert str(info.value) == str(e)
        return None
    got = f(*args, **kwargs)
    _same(got, exp)
    return got


def _call_float16(f, g, args, kwargs):
    """float16 (refused by SciPy, an extension here): SciPy's float64 sum of
    the same values, rounded once to float16 (complex: complex64); where the
    float64 call raises, the same error."""
    args64 = [_f16_as_f64(v) for v in args]
    kw64 = {k: _f16_as_f64(v) for k, v in kwargs.items()}
    try:
        exp = g(*args64, **kw64)
    except Exception as e:       # noqa: BLE001 - compare SciPy's error
        with pytest.raises(type(e)) as info:
            f(*args, **kwargs)
        assert str(info.value) == str(e)
        return None
    got = f(*args, **kwargs)
    out = kwargs.get("output")
    want = (np.dtype(out.dtype if isinstance(out, np.ndarray) else out) if out is not None
            else np.dtype(np.complex64 if exp.dtype.kind == "c" else np.float16))
    assert got.dtype == want and got.shape == exp.shape
    np.testing.assert_array_equal(got, exp.astype(want))
    return got


# ------------------------------------------------------------ 1-D filters

@pytest.mark.parametrize("dtype", DTYPES)
def test_1d_signal_all_modes_origins(rng, dtype):
    x = _data(rng, (11,), dtype)
    for k in (1, 2, 3, 4, 5, 14):     # 14 > len(x): periodic modes repeat
        w = _weights(rng, (k,), dtype)
        for mode in MODES:
            for origin in _origins(k):
                for f, g in PAIRS_1D:
                    _call_both(f, g, x, w, mode=mode, cval=3, origin=origin)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_1d_along_axis_of_image(rng, dtype, axis):
    x = _data(rng, (6, 7), dtype)
    for k in (2, 3, 4):
        w = _weights(rng, (k,), dtype)
        for mode in ("reflect", "constant", "mirror", "wrap", "nearest"):
            for origin in _origins(k):
                for f, g in PAIRS_1D:
                    _call_both(f, g, x, w, axis=axis, mode=mode, cval=-2, origin=origin)


def test_1d_scipy_docstring_examples():
    assert cn.correlate1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3]).tolist() == \
        [8, 26, 8, 12, 7, 28, 36, 9]
    assert cn.convolve1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3]).tolist() == \
        [14, 24, 4, 13, 12, 36, 27, 0]


def test_1d_stack_of_three_axes(rng):
    x = rng.standard_normal((3, 4, 5))
    w = rng.standard_normal(4)
    for axis in range(3):
        for f, g in PAIRS_1D:
            _call_both(f, g, x, w, axis=axis, mode="mirror", origin=1)


# ------------------------------------------------------------ 2-D filters

@pytest.mark.parametrize("dtype", DTYPES)
def test_2d_all_modes_origins(rng, dtype):
    x = _data(rng, (7, 8), dtype)
    for kshape in ((3, 3), (2, 4), (1, 5), (4, 1), (5, 2)):
        w = _weights(rng, kshape, dtype)
        for mode in MODES:
            for o0 in _origins(kshape[0]):
                for o1 in _origins(kshape[1]):
                    for f, g in PAIRS:
                        _call_both(f, g, x, w, mode=mode, cval=2.5, origin=(o0, o1))


def test_2d_kernel_larger_than_image(rng):
    x = rng.standard_normal((3, 4))
    w = rng.standard_normal((7, 9))
    for mode in ("reflect", "mirror", "wrap", "nearest", "constant"):
        for f, g in PAIRS:
            _call_both(f, g, x, w, mode=mode, origin=(1, -2))


def test_2d_invalid_origins_as_scipy(rng):
    x = rng.standard_normal((5, 6))
    for kshape in ((3, 3), (2, 4)):
        w = rng.standard_normal(kshape)
        for origin in (-3, -2, 2, 3, (0, 2), (-2, 0)):
            for f, g in PAIRS:
                _call_both(f, g, x, w, origin=origin)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.complex128])
def test_stacked_2d_axes(rng, dtype):
    x = _data(rng, (3, 6, 2, 5), dtype)
    w = _weights(rng, (3, 2), dtype)
    for axes in ((1, 3), (3, 1), (0, 2), (-1, -3)):
        for mode in ("reflect", "constant", "wrap", "mirror", "nearest"):
            for origin in ((0, 0), (-1, 0), (1, -1)):
                for f, g in PAIRS:
                    _call_both(f, g, x, w, mode=mode, cval=1, origin=origin, axes=axes)


def test_stacked_equals_loop_over_frames(rng):
    x = rng.standard_normal((4, 6, 7))
    w = rng.standard_normal((3, 4))
    got = cn.correlate(x, w, mode="wrap", origin=(1, -1), axes=(1, 2))
    loop = np.stack([cn.correlate(f, w, mode="wrap", origin=(1, -1)) for f in x])
    np.testing.assert_allclose(got, loop, rtol=1e-13, atol=1e-13)


def test_axes_none_nd_kernel_with_singleton_axes(rng):
    x = rng.standard_normal((3, 5, 6))
    for wshape in ((1, 3, 3), (2, 1, 3), (1, 1, 4), (1, 1, 1)):
        w = rng.standard_normal(wshape)
        for f, g in PAIRS:
            _call_both(f, g, x, w, mode="reflect")


def test_one_axis_filtering_with_axes(rng):
    x = rng.standard_normal((4, 5, 6))
    w = rng.standard_normal(4)
    for axes in ((0,), (1,), (-1,)):
        for f, g in PAIRS:
            _call_both(f, g, x, w, axes=axes, origin=-1, mode="nearest")


def test_complex_weights_and_inputs(rng):
    x = rng.standard_normal((5, 6)) + 1j * rng.standard_normal((5, 6))
    xr = rng.standard_normal((5, 6))
    w = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    for a, b in ((x, w), (x, w.real), (xr, w), (x.astype(np.complex64), w),
                 (xr.astype(np.int8), w)):
        for f, g in PAIRS:
            _call_both(f, g, a, b, mode="constant", cval=0.5)
        for f, g in PAIRS_1D:
            _call_both(f, g, a, b[0], mode="wrap")
    for f, g in PAIRS:   # complex cval with complex input
        _call_both(f, g, x, w, mode="constant", cval=1 - 2j)


def test_integer_truncation_and_wrap():
    x = np.array([1, 2, 3, 4, 5], np.uint8)
    # negative results wrap like SciPy's C cast; fractions truncate toward 0
    _call_both(cn.correlate1d, sn.correlate1d, x, [-1.5, 0, 0])
    _call_both(cn.correlate1d, sn.correlate1d, x.astype(np.int16), [1.75])
    _call_both(cn.correlate1d, sn.correlate1d, x.astype(np.int16), [-1.75])
    _call_both(cn.correlate1d, sn.correlate1d, x, [100.0])   # 300 -> 44
    b = np.array([[True, False, True], [False, True, True]])
    _call_both(cn.correlate, sn.correlate, b, [[1, -1]])
    _call_both(cn.correlate1d, sn.correlate1d, np.array([0, .5, 1, 2, -.3]), [1.0],
               output=np.bool_)


def test_tiny_weights_skipped_like_scipy(rng):
    x = rng.standard_normal((4, 5)) * 1e17
    w = np.array([[1.0, 1e-17], [np.nan, 1.0]])
    _call_both(cn.correlate, sn.correlate, x, w)
    _call_both(cn.convolve, sn.convolve, x, w)


def test_empty_and_0d():
    for mode in ("reflect", "wrap", "constant"):
        _call_both(cn.correlate, sn.correlate, np.ones((0, 5)), np.ones((3, 3)), mode=mode)
        _call_both(cn.correlate1d, sn.correlate1d, np.ones((0, 5)), np.ones(3),
                   axis=0, mode=mode)
    _call_both(cn.correlate, sn.correlate, np.array(5.0), np.array(2.0))


def test_scipy_docstring_examples():
    img = np.arange(25).reshape(5, 5)
    _call_both(cn.correlate, sn.correlate, img, [[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    a = np.array([[1, 2, 0, 0], [5, 3, 0, 4], [0, 0, 0, 7], [9, 3, 0, 0]])
    k = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0]])
    for cval in (0.0, 1.0):
        _call_both(cn.convolve, sn.convolve, a, k, mode="constant", cval=cval)


# ----------------------------------------------------------------- output=

@pytest.mark.parametrize("output", [np.float32, np.int32, "float64", "int16",
                                    np.dtype(np.uint8), np.bool_])
def test_output_dtype(rng, output):
    x = rng.standard_normal((5, 6)) * 10
    w = rng.integers(-2, 3, (3, 3)).astype(float)
    for f, g in PAIRS:
        _call_both(f, g, x, w, output=output)
    for f, g in PAIRS_1D:
        _call_both(f, g, x, w[0], output=output)


def test_output_array_in_place(rng):
    x = rng.integers(0, 50, (5, 6)).astype(np.int32)
    w = rng.integers(-2, 3, (3, 2)).astype(float)
    for make in (lambda: np.zeros((5, 6), np.float32),
                 lambda: np.zeros((5, 6), order="F"),
                 lambda: np.zeros((5, 6), ">f8"),
                 lambda: np.zeros((6, 5)).T):
        for f, g in PAIRS + PAIRS_1D:
            o1, o2 = make(), make()
            ww = w if f in (cn.correlate, cn.convolve) else w[:, 0]
            r = f(x, ww, output=o1)
            g(x, ww, output=o2)
            assert r is o1
            np.testing.assert_array_equal(o1, o2)


def test_output_overlapping_input(rng):
    for f, g in PAIRS:
        a = rng.standard_normal((5, 6))
        b = a.copy()
        r = f(a, np.ones((3, 3)), output=a[::-1])
        g(b, np.ones((3, 3)), output=b[::-1])
        np.testing.assert_allclose(a, b, rtol=1e-13)
        assert r.base is a
        a = rng.standard_normal((5, 6))
        b = a.copy()
        f(a, np.ones((2, 3)), output=a, mode="wrap")     # fully in place
        g(b, np.ones((2, 3)), output=b, mode="wrap")
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_output_complex_rules(rng):
    x = rng.standard_normal((4, 5)) + 1j
    w = np.ones((3, 3))
    for f, g in PAIRS:
        for output in (np.zeros((4, 5)), "f8", np.zeros((4, 5), np.complex64)):
            _call_both(f, g, x, w, output=output)
        with pytest.warns(UserWarning, match="promoting specified output dtype to complex"):
            got = f(x, w, output=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _same(got, g(x, w, output=np.float64))


def test_output_errors(rng):
    x = rng.standard_normal((4, 5))
    for f, g in PAIRS:
        for output in (np.zeros((4, 4)), np.zeros((1, 4, 5)), [1, 2], "bool",
                       np.complex64, np.float16, np.zeros((4, 5), np.float16)):
            _call_both(f, g, x, np.ones((3, 3)), output=output)
    for f, g in PAIRS_1D:
        for output in (np.zeros((4, 4)), "bool", np.complex64, np.float16):
            _call_both(f, g, x, np.ones(3), output=output)
    with pytest.raises(RuntimeError, match="output shape not correct"):
        cn.correlate(x, np.ones((3, 3)), output=np.zeros((5, 4)))


# ----------------------------------------------------------------- errors

def test_errors_match_scipy(rng):
    x = rng.standard_normal((4, 5))
    w = np.ones((3, 3))
    cases = [
        dict(mode="foo"), dict(mode=None), dict(mode=["reflect", "reflect"]),
        dict(mode="Reflect"), dict(origin=2), dict(origin=(0, 0, 0)),
        dict(origin=1.5), dict(origin=0.5), dict(origin=(0, -2)),
        dict(axes=(0, 0)), dict(axes=(0, 2)), dict(axes=(0,)), dict(axes=[0, -3]),
        dict(axes=(-1, -2)), dict(axes=1.5),
        dict(cval=1j, mode="constant"), dict(cval="a", mode="constant"),
    ]
    for kw in cases:
        for f, g in PAIRS:
            _call_both(f, g, x, w, **kw)
    for ww in (np.ones(3), np.ones((0, 3)), np.ones((3, 3, 1))):
        for f, g in PAIRS:
            _call_both(f, g, x, ww)
    for f, g in PAIRS:   # real input, complex weights: complex cval refused
        _call_both(f, g, x, w * 1j, cval=1j)
        for dt in (np.float16, np.longdouble, object):
            _call_both(f, g, x.astype(dt), w)


def test_errors_1d_match_scipy(rng):
    x = rng.standard_normal((4, 5))
    cases = [dict(weights=np.ones(0)), dict(weights=np.ones((2, 2))),
             dict(weights=np.ones(3), axis=2), dict(weights=np.ones(3), origin=2),
             dict(weights=np.ones(4), origin=-3), dict(weights=np.ones(4), origin=2),
             dict(weights=np.ones(3), mode=["reflect"]), dict(weights=np.ones(3), mode="x"),
             dict(weights=np.ones(3), origin=0.5)]
    for kw in cases:
        for f, g in PAIRS_1D:
            _call_both(f, g, x, **kw)
    for f, g in PAIRS_1D:
        for dt in (np.float16, np.longdouble, np.clongdouble):
            _call_both(f, g, x.astype(dt), np.ones(3))
        _call_both(f, g, np.array(5.0), np.ones(3))


def test_3d_kernel_as_scipy(rng):
    """A kernel over three axes is filtered (it was refused before volumes
    were supported; tests/frontends/test_ndimage_nd.py covers them)."""
    x = rng.standard_normal((3, 4, 5))
    for f, g in ((cn.correlate, sn.correlate), (cn.convolve, sn.convolve)):
        np.testing.assert_allclose(f(x, np.ones((2, 2, 2))), g(x, np.ones((2, 2, 2))),
                                   rtol=1e-12, atol=1e-12)


def test_inputs_unchanged(rng):
    x = rng.standard_normal((3, 5, 6))
    w = rng.standard_normal((3, 3))
    x0, w0 = x.copy(), w.copy()
    for f in (cn.correlate, cn.convolve):
        f(x, w, axes=(1, 2), mode="constant", cval=2)
        f(x + 1j, w * 1j, axes=(2, 0))
    for f in (cn.correlate1d, cn.convolve1d):
        f(x, w[0], axis=1)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)


def test_one_backend_call_per_stack(rng, monkeypatch):
    from corrconv_gpu._backends import cpu as _cpu
    calls = []
    real = _cpu.execute

    def counting(plan, x, *a, **k):
        calls.append(x.shape)
        return real(plan, x, *a, **k)

    monkeypatch.setattr(_cpu, "execute", counting)
    cn.correlate(rng.standard_normal((5, 4, 6)), np.ones((3, 3)), axes=(0, 2))
    cn.correlate1d(rng.standard_normal((5, 4, 6)), np.ones(3), axis=1)
    assert calls == [(4, 5, 6), (30, 4)]

