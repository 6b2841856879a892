"""corrconv_gpu.correlate / convolve against numpy.correlate / convolve."""

from decimal import Decimal

import numpy as np
import pytest

import corrconv_gpu as cc

METHODS = ["auto", "direct", "fft"]


def same_as_numpy(fn_ours, fn_np, a, v, mode, method="auto", exact=True):
    expected = fn_np(a, v, mode)
    got = fn_ours(a, v, mode, method=method)
    assert type(got) is np.ndarray
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape
    if exact:
        if got.dtype == object:
            assert got.tolist() == expected.tolist()
        else:
            np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
    return got


# ------------------------------------------------ docs/semantics.md examples

@pytest.mark.parametrize("method", METHODS)
def test_lengths_example(method):
    a, v = [1, 2, 3, 4], [1, 10, 100]
    for mode, want in [("valid", [321, 432]), ("same", [210, 321, 432, 43]),
                       ("full", [100, 210, 321, 432, 43, 4])]:
        got = cc.correlate(a, v, mode, method=method)
        assert got.dtype == np.int64 and got.tolist() == want
        np.testing.assert_array_equal(got, np.correlate(a, v, mode))
    # the default mode of correlate is 'valid'
    assert cc.correlate(a, v).tolist() == [321, 432]
    # the default mode of convolve is 'full'
    assert cc.convolve(a, v).tolist() == np.convolve(a, v).tolist() == [1, 12, 123, 234, 340, 400]


def _eq(got, want, method):
    assert got.dtype == np.complex128
    if method == "fft":  # an FFT rounds
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    else:
        assert got.tolist() == want


@pytest.mark.parametrize("method", METHODS)
def test_conjugation_examples(method):
    _eq(cc.correlate([1j, 2], [1j], "full", method=method), [1, -2j], method)
    _eq(cc.convolve([1j, 2], [1j], method=method), [-1, 2j], method)
    _eq(cc.correlate([1j], [1j, 2], "full", method=method), [2j, 1], method)


@pytest.mark.parametrize("method", METHODS)
def test_same_start_examples(method):
    assert cc.correlate([1, 2, 3, 4, 5], [1, 10], "same", method=method).tolist() == [10, 21, 32, 43, 54]
    assert cc.correlate([1, 10], [1, 2, 3, 4, 5], "same", method=method).tolist() == [54, 43, 32, 21, 10]


@pytest.mark.parametrize("mode", ["valid", "same", "full", 0, 1, 2])
@pytest.mark.parametrize("n,k", [(1, 1), (1, 4), (4, 1), (5, 2), (2, 5), (6, 3), (3, 6), (7, 7), (4, 9), (9, 4)])
def test_swap_quirk_complex(n, k, mode):
    rng = np.random.default_rng(n * 100 + k)
    a = rng.integers(-5, 5, n) + 1j * rng.integers(-5, 5, n)
    v = rng.integers(-5, 5, k) + 1j * rng.integers(-5, 5, k)
    for method in METHODS:
        same_as_numpy(cc.correlate, np.correlate, a, v, mode, method, exact=(method != "fft"))
        same_as_numpy(cc.convolve, np.convolve, a, v, mode, method, exact=(method != "fft"))
    # integers: exact on every method (fft falls back to direct for ints)
    ai, vi = a.real.astype(np.int32), v.imag.astype(np.int32)
    for method in METHODS:
        same_as_numpy(cc.correlate, np.correlate, ai, vi, mode, method)
        same_as_numpy(cc.convolve, np.convolve, ai, vi, mode, method)


def test_swap_identity():
    # len(v) > len(a): correlate(a, v) = conj(reverse(correlate(v, a)))
    a = np.array([1 + 2j, 3 - 1j])
    v = np.array([2 - 1j, 1j, 4, 5 + 5j])
    for mode in ("valid", "full"):
        np.testing.assert_array_equal(cc.correlate(a, v, mode),
                                      np.conj(cc.correlate(v, a, mode)[::-1]))


# ----------------------------------------------------------------- dtypes

def test_bool():
    got = cc.correlate(np.array([True]), np.array([True]))
    assert got.dtype == np.bool_ and got.tolist() == [True]
    a = np.array([True, False, True, True])
    v = np.array([True, True])
    for mode in ("valid", "same", "full"):
        same_as_numpy(cc.correlate, np.correlate, a, v, mode)
        same_as_numpy(cc.convolve, np.convolve, a, v, mode)
    # many products: True + True stays True
    same_as_numpy(cc.convolve, np.convolve, np.ones(9, bool), np.ones(5, bool), "full")


def test_int8_wraps():
    a = np.array([100, 100], np.int8)
    v = np.array([2, 2], np.int8)
    got = cc.correlate(a, v)
    assert got.dtype == np.int8 and got.tolist() == [-112]
    same_as_numpy(cc.correlate, np.correlate, a, v, "full")
    same_as_numpy(cc.convolve, np.convolve, a, v, "full")
    big = np.array([127, -128, 127, 127, -128], np.int8)
    same_as_numpy(cc.convolve, np.convolve, big, big, "full")
    same_as_numpy(cc.correlate, np.correlate, big, big[:3], "same")


@pytest.mark.parametrize("dt", [np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64])
def test_integer_wrap(dt):
    info = np.iinfo(dt)
    rng = np.random.default_rng(1)
    a = rng.integers(info.min, info.max, 31, dtype=dt, endpoint=True)
    v = rng.integers(info.min, info.max, 6, dtype=dt, endpoint=True)
    for mode in ("valid", "same", "full"):
        for method in ("auto", "direct"):
            same_as_numpy(cc.correlate, np.correlate, a, v, mode, method)
            same_as_numpy(cc.convolve, np.convolve, a, v, mode, method)
            same_as_numpy(cc.correlate, np.correlate, v, a, mode, method)


def test_int8_uint8_gives_int16():
    a = np.array([100, -100, 50], np.int8)
    v = np.array([200, 255], np.uint8)
    got = same_as_numpy(cc.correlate, np.correlate, a, v, "full")
    assert got.dtype == np.int16
    same_as_numpy(cc.convolve, np.convolve, a, v, "full")


def test_float16():
    rng = np.random.default_rng(2)
    a = (rng.standard_normal(300) * 10).astype(np.float16)
    v = rng.standard_normal(40).astype(np.float16)
    for mode in ("valid", "same", "full"):
        for fn, fnp in ((cc.correlate, np.correlate), (cc.convolve, np.convolve)):
            exp = fnp(a, v, mode)
            assert exp.dtype == np.float16
            # NumPy accumulates in float32 then rounds: the float32 computation
            ref32 = fnp(a.astype(np.float32), v.astype(np.float32), mode)
            for method in METHODS:
                got = fn(a, v, mode, method=method)
                assert got.dtype == np.float16
                # a float16 accumulation would be off by many float16 ulps
                np.testing.assert_allclose(got.astype(np.float32), ref32,
                                           rtol=2e-3, atol=2e-3 * float(np.abs(ref32).max()))
                if method == "direct":
                    close = np.isclose(got.astype(np.float32), exp.astype(np.float32),
                                       rtol=1e-3, atol=0)
                    assert close.mean() > 0.99


def test_float16_float32_gives_float32():
    a = np.array([1, 2, 3], np.float16)
    v = np.array([0.5, 0.25], np.float32)
    got = same_as_numpy(cc.correlate, np.correlate, a, v, "full")
    assert got.dtype == np.float32


def test_float16_accumulates_in_float32():
    # 2048 + 1 + 1 ... in float16 would stick at 2048; NumPy (float32 accumulation) gets 2058
    a = np.array([2048] + [1] * 10, np.float16)
    v = np.ones(11, np.float16)
    exp = np.correlate(a, v)
    got = cc.correlate(a, v)
    assert got.dtype == np.float16 and exp.dtype == np.float16
    assert got.tolist() == exp.tolist() == [2058.0]


def test_decimal_object_arrays():
    a = np.array([Decimal("1.5"), Decimal(2), Decimal("-3.25")], dtype=object)
    v = np.array([Decimal("0.1"), Decimal(3)], dtype=object)
    for mode in ("valid", "same", "full"):
        exp = np.correlate(a, v, mode)
        got = cc.correlate(a, v, mode)
        assert got.dtype == object and got.tolist() == exp.tolist()
        assert all(isinstance(g, Decimal) for g in got)
        exp = np.convolve(a, v, mode)
        got = cc.convolve(a, v, mode)
        assert got.dtype == object and got.tolist() == exp.tolist()


@pytest.mark.parametrize("pair", [(np.int32, np.float32), (np.float32, np.complex64),
                                  (np.uint64, np.int64), (np.int8, np.float16),
                                  (np.uint16, np.int16), (np.float64, np.complex64)])
def test_mixed_dtypes(pair):
    rng = np.random.default_rng(4)
    a = rng.integers(0, 9, 13).astype(pair[0])
    v = rng.integers(0, 9, 4).astype(pair[1])
    for mode in ("valid", "same", "full"):
        same_as_numpy(cc.correlate, np.correlate, a, v, mode, exact=True)
        same_as_numpy(cc.convolve, np.convolve, v, a, mode, exact=True)


def test_lists_and_scalars():
    got = cc.convolve(3, 4)
    assert got.dtype == np.int64 and got.tolist() == [12]
    got = cc.convolve([1.5], 2)
    assert got.dtype == np.float64 and got.tolist() == [3.0]
    same_as_numpy(cc.correlate, np.correlate, [1, 2, 3], [True, False], "full")
    same_as_numpy(cc.correlate, np.correlate, [1, 2, 3], [0.5], "full")
    same_as_numpy(cc.convolve, np.convolve, (1, 2, 3), (1j, 2), "same")


def test_mode_integers_and_numpy_int():
    a, v = [1, 2, 3, 4], [1, 10, 100]
    for m, name in [(0, "valid"), (1, "same"), (2, "full"), (np.int64(1), "same")]:
        assert cc.correlate(a, v, m).tolist() == np.correlate(a, v, name).tolist()
        assert cc.convolve(a, v, m).tolist() == np.convolve(a, v, name).tolist()


# ------------------------------------------------- NaN / Inf propagation

@pytest.mark.parametrize("method", ["auto", "direct"])
def test_nan_inf_through_zero_weights(method):
    a = np.array([np.nan, 1, 2, np.inf, 3, 4, -np.inf, 5])
    v = np.array([0.0, 1.0, 0.0])
    for mode in ("valid", "same", "full"):
        same_as_numpy(cc.convolve, np.convolve, a, v, mode, method)
        same_as_numpy(cc.correlate, np.correlate, a, v, mode, method)
    got = cc.convolve([np.nan, 1, 2], [0, 1], method=method)
    np.testing.assert_array_equal(got, [np.nan, np.nan, 1, 2])


# ------------------------------------------------ bigger: methods, tolerance

@pytest.mark.parametrize("n,k", [(1000, 31), (1000, 200), (257, 256), (50, 700)])
@pytest.mark.parametrize("dt", [np.float32, np.float64, np.complex64, np.complex128])
def test_long_inputs_all_methods(n, k, dt):
    rng = np.random.default_rng(n + k)
    a = rng.standard_normal(n).astype(dt)
    v = rng.standard_normal(k).astype(dt)
    if np.dtype(dt).kind == "c":
        a = a + 1j * rng.standard_normal(n).astype(dt)
        v = v + 1j * rng.standard_normal(k).astype(dt)
    rel = 1e-5 if dt in (np.float32, np.complex64) else 1e-12
    tol = rel * np.abs(v).sum() * np.abs(a).max()
    for mode in ("valid", "same", "full"):
        for fn, fnp in ((cc.correlate, np.correlate), (cc.convolve, np.convolve)):
            exp = fnp(a.astype(np.complex128), v.astype(np.complex128), mode)
            for method in METHODS:
                got = fn(a, v, mode, method=method)
                assert got.dtype == np.dtype(dt)
                assert got.shape == exp.shape
                assert np.abs(got - exp).max() <= tol, (method, mode)


# -------------------------------------------------------- array type, inputs

def test_output_is_ndarray_c_contiguous():
    a = np.arange(10.0)
    for fn in (cc.correlate, cc.convolve):
        for mode in ("valid", "same", "full"):
            out = fn(a, a[:3], mode)
            assert type(out) is np.ndarray and out.ndim == 1
            assert out.flags.c_contiguous


@pytest.mark.parametrize("method", METHODS)
def test_inputs_never_modified(method):
    rng = np.random.default_rng(5)
    cases = [rng.standard_normal(20), rng.integers(-9, 9, 20).astype(np.int8),
             (rng.standard_normal(20) + 1j).astype(np.complex64)]
    for a in cases:
        for v in (a[:4].copy(), np.concatenate([a, a])):  # also len(v) > len(a)
            a_ro, v_ro = a.copy(), v.copy()
            a_ro.setflags(write=False)
            v_ro.setflags(write=False)
            snap_a, snap_v = a.copy(), v.copy()
            for mode in ("valid", "same", "full"):
                for fn, fnp in ((cc.correlate, np.correlate), (cc.convolve, np.convolve)):
                    r1 = fn(a, v, mode, method=method)
                    r2 = fn(a_ro, v_ro, mode, method=method)
                    np.testing.assert_array_equal(r1, r2)
                    np.testing.assert_allclose(r1, fnp(a, v, mode), rtol=1e-5, atol=1e-5)
                    np.testing.assert_array_equal(a, snap_a)
                    np.testing.assert_array_equal(v, snap_v)
                    np.testing.assert_array_equal(a_ro, snap_a)
                    np.testing.assert_array_equal(v_ro, snap_v)


@pytest.mark.parametrize("layout", ["strided", "reversed", "bigendian", "fortran_col"])
def test_layouts_1d(layout):
    base = np.arange(1, 41, dtype=np.int32) * 7 - 100
    vbase = np.array([3, -1, 4, 1, -5], np.int32)
    if layout == "strided":
        a, v = base[::3], vbase[::2]
    elif layout == "reversed":
        a, v = base[::-1], vbase[::-1]
    elif layout == "bigendian":
        a, v = base.astype(">i4"), vbase.astype(">f8")
    else:
        a, v = np.asfortranarray(base.reshape(8, 5))[:, 1], vbase
    for mode in ("valid", "same", "full"):
        same_as_numpy(cc.correlate, np.correlate, a, v, mode)
        same_as_numpy(cc.convolve, np.convolve, a, v, mode)
        same_as_numpy(cc.correlate, np.correlate, v, a, mode)
