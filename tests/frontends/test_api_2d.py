"""corrconv_gpu.correlate2d / convolve2d against scipy.signal and the reference."""

import numpy as np
import pytest
from scipy import signal

import corrconv_gpu as cc
from corrconv_gpu import reference as ref
from conftest import assert_matches

METHODS = ["auto", "direct", "fft"]
MODES = ["full", "same", "valid"]
BOUNDARIES = ["fill", "wrap", "symm"]
FUNCS = [(cc.correlate2d, signal.correlate2d, ref.correlate2d),
         (cc.convolve2d, signal.convolve2d, ref.convolve2d)]


def exact(got, want, dtype):
    got = np.asarray(got) if not isinstance(got, np.ndarray) else got
    assert type(got) is np.ndarray
    assert got.dtype == np.dtype(dtype), (got.dtype, dtype)
    want = np.asarray(want, dtype=dtype)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


# ------------------------------------------------ docs/semantics.md examples

def test_valid_swap_example():
    exact(cc.correlate2d([[1, 10]], [[1, 2, 3, 4, 5]], "valid"), [[54, 43, 32, 21]], np.int64)
    exact(signal.correlate2d([[1, 10]], [[1, 2, 3, 4, 5]], "valid"), [[54, 43, 32, 21]], np.int64)
    # convolve2d is unchanged by the swap
    exact(cc.convolve2d([[1, 10]], [[1, 2, 3, 4, 5]], "valid"),
          signal.convolve2d([[1, 10]], [[1, 2, 3, 4, 5]], "valid"), np.int64)
    exact(cc.convolve2d([[1, 10]], [[1, 2, 3, 4, 5]], "valid"), [[12, 23, 34, 45]], np.int64)


@pytest.mark.parametrize("method", METHODS)
def test_complex_swap_example(method):
    got = cc.correlate2d([[1 + 2j, 3 - 1j]], [[2 - 1j, 1j, 4]], "valid", method=method)
    assert got.dtype == np.complex128
    np.testing.assert_allclose(got, [[14 + 5j, -1 - 2j]], rtol=0, atol=1e-12)
    if method != "fft":
        assert got.tolist() == [[14 + 5j, -1 - 2j]]
    # the conjugate of signal.correlate's result
    sc = signal.correlate(np.array([[1 + 2j, 3 - 1j]]), np.array([[2 - 1j, 1j, 4]]), "valid")
    np.testing.assert_allclose(got, np.conj(sc), atol=1e-12)


def test_equal_shapes_do_not_swap():
    a = np.array([[1 + 2j, 3], [4j, 5 - 1j]])
    b = np.array([[2, 1j], [-1j, 7]])
    for fn, sfn, _ in FUNCS:
        got = fn(a, b, "valid")
        exact(got, sfn(a, b, "valid"), np.complex128)
    # correlate2d with equal shapes = sum(a * conj(b))
    assert cc.correlate2d(a, b, "valid")[0, 0] == np.sum(a * np.conj(b))


def test_same_anchor_example():
    a = [[1, 2, 3, 4, 5]]
    k = [[1, 10]]
    exact(cc.correlate2d(a, k, "same"), [[21, 32, 43, 54, 5]], np.int64)
    exact(cc.convolve2d(a, k, "same"), [[1, 12, 23, 34, 45]], np.int64)
    exact(signal.correlate2d(a, k, "same"), [[21, 32, 43, 54, 5]], np.int64)
    # transposed: the anchor rule is per axis
    exact(cc.correlate2d(np.array(a).T, np.array(k).T, "same"), [[21], [32], [43], [54], [5]], np.int64)


def test_boundary_examples():
    x = [[1, 2, 3]]
    imp = np.zeros((1, 9), np.int64)
    imp[0, 0] = 1  # full output i reads the extended input at i - 8
    exact(cc.correlate2d(x, imp, "full", "symm"), [[2, 1, 1, 2, 3, 3, 2, 1, 1, 2, 3]], np.int64)
    exact(cc.correlate2d(x, imp, "full", "wrap"), [[2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]], np.int64)
    exact(signal.correlate2d(x, imp, "full", "symm"), [[2, 1, 1, 2, 3, 3, 2, 1, 1, 2, 3]], np.int64)
    for i in range(9):
        imp = np.zeros((1, 9), np.int64)
        imp[0, i] = 1
        for b in ("symm", "wrap", "fill"):
            for mode in MODES:
                exact(cc.convolve2d(x, imp, mode, b), signal.convolve2d(x, imp, mode, b), np.int64)
                exact(cc.correlate2d(x, imp, mode, b), signal.correlate2d(x, imp, mode, b), np.int64)
    for b in ("symmetric", "circular", "pad"):
        alias = {"symmetric": "symm", "circular": "wrap", "pad": "fill"}[b]
        exact(cc.convolve2d(x, imp, "full", b), cc.convolve2d(x, imp, "full", alias), np.int64)
        exact(cc.correlate2d(x, imp, "same", b, 3), signal.correlate2d(x, imp, "same", b, 3), np.int64)


def test_fillvalue_examples():
    exact(cc.convolve2d([[1, 2]], [[1, 1]], "full", "fill", 5), [[6, 3, 7]], np.int64)
    exact(cc.convolve2d([[1, 2]], [[1, 1]], "full", "fill", 1.7), [[2, 3, 3]], np.int64)
    exact(signal.convolve2d([[1, 2]], [[1, 1]], "full", "fill", 1.7), [[2, 3, 3]], np.int64)
    # the fillvalue is read only for 'fill'
    for b in ("wrap", "symm"):
        exact(cc.convolve2d([[1, 2]], [[1, 1]], "full", b, 5),
              cc.convolve2d([[1, 2]], [[1, 1]], "full", b, 0), np.int64)


def test_dtype_examples():
    exact(cc.correlate2d(np.array([[200]], np.uint8), np.array([[2]], np.uint8)), [[144]], np.uint8)
    exact(cc.correlate2d(np.array([[200]], np.uint8), [[2]]), [[400]], np.int64)
    got = cc.correlate2d(np.array([[100, -100]], np.int8), np.array([[255]], np.uint8))
    exact(got, [[25500, -25500]], np.int16)
    got = cc.correlate2d(np.array([[1, 2]], np.int32), np.array([[0.5]], np.float32))
    exact(got, [[0.5, 1.0]], np.float64)


@pytest.mark.parametrize("fill", [0, 5, 1.7, -3, 300])
@pytest.mark.parametrize("dt", [np.uint8, np.int16, np.float32, np.complex64])
def test_fillvalue_never_changes_dtype(fill, dt):
    x = np.arange(6, dtype=dt).reshape(2, 3)
    w = np.ones((2, 2), dt)
    if dt == np.uint8 and (fill == -3 or fill == 300):
        with pytest.raises(ValueError):
            signal.correlate2d(x, w, "full", "fill", fill)
        with pytest.raises(ValueError):
            cc.correlate2d(x, w, "full", "fill", fill)
        return
    for fn, sfn, _ in FUNCS:
        got = fn(x, w, "full", "fill", fill)
        want = sfn(x, w, "full", "fill", fill)
        assert want.dtype == np.dtype(dt)
        if np.dtype(dt).kind in "iu":
            exact(got, want, dt)
        else:  # float32 sums may round in another order
            assert_matches(got, want, x, w, fill)


# ------------------------------------------------------------------ float16

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_float16_extension(mode, boundary):
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((40, 33)) * 8).astype(np.float16)
    w = rng.standard_normal((5, 4)).astype(np.float16)
    with pytest.raises(ValueError, match="convolve2d not available for this type."):
        signal.correlate2d(x, w, mode, boundary)
    for fn, _, rfn in FUNCS:
        for method in METHODS:
            got = fn(x, w, mode, boundary, method=method)
            assert got.dtype == np.float16
            # float32 accumulation, rounded once to float16
            want32 = rfn(x.astype(np.float32), w.astype(np.float32), mode, boundary)
            scale = float(np.abs(w.astype(np.float32)).sum() * np.abs(x.astype(np.float32)).max())
            err = np.abs(got.astype(np.float64) - want32.astype(np.float64))
            # float16 rounding of the result (half an ulp) plus float32 rounding
            bound = np.abs(want32).astype(np.float64) * 2.0 ** -11 + 1e-5 * scale
            assert np.all(err <= bound), (method, float((err - bound).max()))


def test_float16_accumulates_in_float32():
    # 2048 + 1 + ... sticks at 2048 in float16; float32 accumulation gives 2058
    x = np.array([[2048] + [1] * 10], np.float16)
    w = np.ones((1, 11), np.float16)
    for fn, _, _ in FUNCS:
        for method in ("auto", "direct"):
            exact(fn(x, w, "valid", method=method), [[2058]], np.float16)


# --------------------------------------------------------- NaN/Inf through 0

@pytest.mark.parametrize("method", ["auto", "direct"])
def test_nan_through_zero_weight_example(method):
    got = cc.convolve2d([[np.nan, 1, 2]], [[0, 1]], method=method)
    exact(got, [[np.nan, np.nan, 1, 2]], np.float64)


@pytest.mark.parametrize("method", ["auto", "direct"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", MODES)
def test_nan_inf_propagate_like_scipy(method, boundary, mode):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((30, 41))
    x[3, 4] = np.nan
    x[17, 0] = np.inf
    x[29, 40] = -np.inf
    x[0, 20] = np.nan
    w = rng.standard_normal((5, 6))
    w[1:3, :] = 0.0
    w[:, 4] = 0.0
    for fn, sfn, _ in FUNCS:
        got = fn(x, w, mode, boundary, method=method)
        want = sfn(x, w, mode, boundary)
        assert_matches(got, want, x[np.isfinite(x)], w)
    # a big image where 'auto' would pick the FFT, were it not for the NaN
    xb = rng.standard_normal((200, 220))
    xb[100, 100] = np.nan
    wb = np.zeros((21, 21))
    wb[0, 0] = 1.0
    got = cc.correlate2d(xb, wb, mode, boundary, method=method)
    want = signal.correlate2d(xb, wb, mode, boundary)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(got).sum() == np.isnan(want).sum() >= 1


@pytest.mark.parametrize("fill", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("method", ["auto", "direct"])
def test_nonfinite_fillvalue_like_scipy(fill, method):
    # a big image and kernel, where 'auto' would take the FFT for the border
    # strips: the non-finite fillvalue must keep them on the direct method
    rng = np.random.default_rng(0)
    x = rng.random((300, 400))
    w = rng.random((31, 31))  # positive weights: every border output is +-inf
    for fn, sfn, _ in FUNCS:
        for mode in ("same", "full"):
            want = sfn(x, w, mode, "fill", fill)
            with np.errstate(all="ignore"):
                got = fn(x, w, mode, "fill", fill, method=method)
            assert np.array_equal(np.isnan(got), np.isnan(want))
            assert np.array_equal(got[np.isinf(want)], want[np.isinf(want)])
            assert_matches(got, want, x, w)


# ------------------------------------------------------------ big-ish images

BIG_K = [(3, 3), (4, 4), (7, 6), (16, 9), (31, 31), (2, 30)]


@pytest.mark.parametrize("k", BIG_K)
@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_big_images_methods(k, dt):
    rng = np.random.default_rng(sum(k))
    x = rng.standard_normal((300, 400)).astype(dt)
    w = rng.standard_normal(k).astype(dt)
    for i, (mode, boundary) in enumerate([("full", "fill"), ("same", "wrap"), ("same", "symm"),
                                          ("valid", "fill"), ("same", "fill"), ("full", "symm")]):
        fn, _, rfn = FUNCS[i % 2]
        want = rfn(x, w, mode, boundary, 0.5)
        for method in METHODS:
            got = fn(x, w, mode, boundary, 0.5, method=method)
            assert_matches(got, want, x, w, 0.5)


@pytest.mark.parametrize("k", [(3, 3), (8, 5), (17, 17)])
def test_big_images_integers_exact(k):
    rng = np.random.default_rng(99)
    x = rng.integers(-128, 128, (300, 400)).astype(np.int16)
    w = rng.integers(-128, 128, k).astype(np.int16)  # overflows int16 sums
    for mode, boundary in [("full", "fill"), ("same", "symm"), ("valid", "wrap"), ("same", "wrap")]:
        for fn, _, rfn in FUNCS:
            want = rfn(x, w, mode, boundary, -7)
            for method in METHODS:
                exact(fn(x, w, mode, boundary, -7, method=method), want, np.int16)


@pytest.mark.parametrize("dt", [np.complex128, np.complex64])
def test_big_complex(dt):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((120, 150)) + 1j * rng.standard_normal((120, 150))).astype(dt)
    w = (rng.standard_normal((9, 12)) + 1j * rng.standard_normal((9, 12))).astype(dt)
    for mode, boundary in [("full", "fill"), ("same", "symm"), ("valid", "wrap")]:
        for fn, sfn, rfn in FUNCS:
            want = rfn(x, w, mode, boundary, 1 - 2j)
            for method in METHODS:
                assert_matches(fn(x, w, mode, boundary, 1 - 2j, method=method), want, x, w, 1 - 2j)


# ---------------------------------------------- kernel larger than the image

@pytest.mark.parametrize("xshape,kshape", [((3, 4), (5, 2)), ((3, 4), (2, 7)), ((3, 4), (6, 9)),
                                           ((1, 1), (4, 5)), ((2, 3), (2, 10)), ((5, 2), (13, 2))])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_kernel_larger_than_image(xshape, kshape, boundary):
    rng = np.random.default_rng(21)
    x = rng.integers(-20, 20, xshape)
    w = rng.integers(-20, 20, kshape)
    xf = x + 0.25
    for mode in MODES:
        bigger_everywhere = all(k >= m for m, k in zip(xshape, kshape))
        for fn, sfn, rfn in FUNCS:
            if mode == "valid" and not bigger_everywhere:
                with pytest.raises(ValueError, match="at least as large"):
                    sfn(x, w, mode, boundary)
                with pytest.raises(ValueError, match="at least as large"):
                    fn(x, w, mode, boundary)
                continue
            want = sfn(x, w, mode, boundary, 3)
            exact(fn(x, w, mode, boundary, 3), want, np.int64)
            exact(rfn(x, w, mode, boundary, 3), want, np.int64)
            for method in METHODS:
                got = fn(xf, w, mode, boundary, 3, method=method)
                assert_matches(got, sfn(xf, w, mode, boundary, 3), xf, w, 3)


# ------------------------------------------------------------------- empties

def test_empty_inputs_like_scipy():
    for fn, sfn, _ in FUNCS:
        got = fn(np.zeros((0, 3)), np.ones((2, 2)), "full")
        exact(got, np.zeros((1, 4)), np.float64)
        exact(sfn(np.zeros((0, 3)), np.ones((2, 2)), "full"), got, np.float64)
        got = fn(np.zeros((0, 3)), np.ones((2, 2)), "full", "fill", 5)
        exact(got, np.full((1, 4), 20.0), np.float64)
        exact(sfn(np.zeros((0, 3)), np.ones((2, 2)), "full", "fill", 5), got, np.float64)
        got = fn(np.ones((3, 3)), np.zeros((0, 2)), "valid")
        exact(got, np.zeros((4, 2)), np.float64)
        exact(sfn(np.ones((3, 3)), np.zeros((0, 2)), "valid"), got, np.float64)
        got = fn(np.ones((3, 3), np.int32), np.zeros((0, 2), np.int8), "full", "fill", 9)
        exact(got, sfn(np.ones((3, 3), np.int32), np.zeros((0, 2), np.int8), "full", "fill", 9), np.int32)
        with pytest.raises(ValueError, match="negative dimensions are not allowed"):
            sfn(np.zeros((0, 3)), np.zeros((0, 2)), "full")
        with pytest.raises(ValueError, match="negative dimensions are not allowed"):
            fn(np.zeros((0, 3)), np.zeros((0, 2)), "full")
        for b in ("wrap", "symm", "circular", "symmetric"):
            with pytest.raises(ValueError, match="cannot extend an empty"):
                fn(np.zeros((0, 3)), np.ones((2, 2)), "full", b)


def test_empty_same_mode():
    for fn, sfn, _ in FUNCS:
        for x, w in [(np.zeros((0, 3)), np.ones((2, 2))), (np.ones((3, 4)), np.zeros((2, 0)))]:
            exact(fn(x, w, "same", "fill", 2), sfn(x, w, "same", "fill", 2), np.float64)


# ------------------------------------------------------ array type and inputs

def test_output_type_and_contiguity():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((9, 8))
    w = rng.standard_normal((3, 2))
    for fn, _, _ in FUNCS:
        for mode in MODES:
            out = fn(x, w, mode)
            assert type(out) is np.ndarray and out.dtype == np.float64
            assert out.flags.c_contiguous
        out = fn(w, x, "valid")  # swapped and reversed
        assert type(out) is np.ndarray and out.flags.c_contiguous


def _inputs_for_mutation():
    rng = np.random.default_rng(1)
    yield rng.standard_normal((40, 35)), rng.standard_normal((6, 5))
    yield rng.integers(-100, 100, (20, 17)).astype(np.int8), rng.integers(-9, 9, (4, 3)).astype(np.uint8)
    yield (rng.standard_normal((24, 21)) + 1j).astype(np.complex64), rng.standard_normal((5, 4)).astype(np.float32)
    yield rng.standard_normal((19, 23)).astype(np.float16), rng.standard_normal((3, 6)).astype(np.float16)
    # swapped 'valid' (in2 larger) and a non-contiguous view
    yield rng.standard_normal((3, 4)), rng.standard_normal((60, 50))[::2, ::3]
    yield (rng.standard_normal((2, 3)) + 1j), (rng.standard_normal((7, 9)) - 2j)[::-1]
    yield rng.integers(-5, 5, (2, 2)), np.asfortranarray(rng.integers(-5, 5, (9, 8)))


@pytest.mark.parametrize("method", METHODS)
def test_inputs_never_modified(method):
    for x, w in _inputs_for_mutation():
        snap_x, snap_w = x.copy(), w.copy()
        xr, wr = x.copy(), w.copy()
        xr.setflags(write=False)
        wr.setflags(write=False)
        for fn, _, _ in FUNCS:
            for mode in MODES:
                for boundary in BOUNDARIES:
                    r1 = fn(x, w, mode, boundary, 2, method=method)
                    r2 = fn(xr, wr, mode, boundary, 2, method=method)
                    np.testing.assert_array_equal(r1, r2)
                    np.testing.assert_array_equal(x, snap_x)
                    np.testing.assert_array_equal(w, snap_w)
                    np.testing.assert_array_equal(xr, snap_x)
                    np.testing.assert_array_equal(wr, snap_w)
                    assert r1.shape != () and not np.shares_memory(r1, x)


def test_read_only_big_inputs_every_piece():
    # interior + four border strips + fft tiles, all with read-only inputs
    rng = np.random.default_rng(8)
    x = rng.standard_normal((150, 170))
    w = rng.standard_normal((13, 12))
    x.setflags(write=False)
    w.setflags(write=False)
    sx, sw = x.copy(), w.copy()
    for mode, boundary in [("full", "fill"), ("same", "wrap"), ("same", "symm")]:
        want = ref.correlate2d(x, w, mode, boundary, 1.5)
        for method in METHODS:
            assert_matches(cc.correlate2d(x, w, mode, boundary, 1.5, method=method), want, x, w, 1.5)
    np.testing.assert_array_equal(x, sx)
    np.testing.assert_array_equal(w, sw)


def test_lists_and_tuples_accepted():
    exact(cc.correlate2d([[1, 2], [3, 4]], ((1,),)), [[1, 2], [3, 4]], np.int64)
    exact(cc.convolve2d([[1.5]], [[True]]), [[1.5]], np.float64)
    exact(cc.convolve2d([[1, 2]], [[1j]]), signal.convolve2d([[1, 2]], [[1j]]), np.complex128)


# --------------------------------------------- the plan memo of repeated calls

def _fresh_plans():
    from corrconv_gpu import _dispatch
    from corrconv_gpu._frontend import signal2d as _api
    _api._FRAME_PLANS.clear()
    _dispatch._LAUNCHES.clear()
    return _api._FRAME_PLANS


def _launches(plans):
    """The one stored signature's CPU launches, by (method, fast_float32)."""
    from corrconv_gpu import _dispatch
    (key, _), = plans.items()
    return {m: _dispatch._LAUNCHES.peek((key,) + m)
            for m in (("auto", False), ("direct", False), ("auto", True), ("direct", True))}


@pytest.mark.parametrize("fn, sfn", [(cc.correlate2d, signal.correlate2d),
                                     (cc.convolve2d, signal.convolve2d)])
def test_repeated_calls_reuse_the_plan_with_scipys_results(fn, sfn):
    """A second call with the same signature takes the stored plan (the memo
    has its key) and still gives SciPy's result, for every mode, boundary,
    the valid swap of complex input, and fill values that differ only in
    value."""
    from corrconv_gpu._frontend import signal2d as _api
    plans = _fresh_plans()
    flip = fn is cc.convolve2d
    rng = np.random.default_rng(7)
    x = rng.standard_normal((9, 11)) + 1j * rng.standard_normal((9, 11))
    big = rng.standard_normal((12, 13)) + 1j * rng.standard_normal((12, 13))
    w = rng.standard_normal((3, 4)) - 2j
    cases = [(x, w, m, b, f) for m in ("full", "same", "valid")
             for b in ("fill", "wrap", "symm") for f in (0, 2.5, -1j)]
    cases.append((x, big, "valid", "fill", 0))      # in2 larger: SciPy swaps
    for a, k, mode, bnd, fill in cases:
        want = sfn(a, k, mode, bnd, fill)
        first = fn(a, k, mode, bnd, fill)
        assert _api._frame_key(a, k, mode, bnd, fill, flip) in plans
        n = len(plans)
        second = fn(a, k, mode, bnd, fill)                # the stored plan
        assert len(plans) == n
        for got in (first, second):
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_repeated_calls_still_raise_scipys_errors():
    """Only successful calls are stored: a failing call fails every time, and a
    stored signature does not stand for another array type or dtype."""
    _fresh_plans()
    x, w = np.ones((4, 4)), np.ones((2, 2))
    cc.correlate2d(x, w, "same")
    for _ in range(2):
        with pytest.raises(ValueError, match="Acceptable mode flags"):
            cc.correlate2d(x, w, "bogus")
        with pytest.raises(ValueError, match="one must be at least as large"):
            cc.correlate2d(np.ones((4, 2)), np.ones((2, 4)), "valid")
        with pytest.raises(ValueError, match="fillvalue"):
            cc.correlate2d(x, w, "same", "fill", [1, 2])
        with pytest.raises(ValueError, match="not available for this type"):
            cc.correlate2d(x.astype(bool), w.astype(bool), "same")
    got = cc.correlate2d(x.astype(np.int16), w.astype(np.int16), "same")
    assert got.dtype == np.int16
    got = cc.correlate2d(x.tolist(), w, "same")        # lists: converted each call
    np.testing.assert_array_equal(got, signal.correlate2d(x, w, "same"))


def test_stored_plans_are_read_only_and_bounded():
    from corrconv_gpu._frontend import signal2d as _api
    plans = _fresh_plans()
    cc.correlate2d(np.ones((3, 3)), np.ones((2, 2)), "same", "fill", 4)
    (plan, swapped, sizes), = plans.values()
    assert not swapped and not plan.fillvalue.flags.writeable
    with pytest.raises(ValueError):
        plan.fillvalue[...] = 0
    for n in range(_api._FRAME_PLANS_MAX + 5):
        cc.correlate2d(np.ones((2, 2 + n)), np.ones((1, 1)), "same")
    assert 0 < len(plans) <= _api._FRAME_PLANS_MAX


@pytest.mark.parametrize("fn, sfn", [(cc.correlate2d, signal.correlate2d),
                                     (cc.convolve2d, signal.convolve2d)])
@pytest.mark.parametrize("dtype, shape, kshape, mode, bnd, fill", [
    (np.float32, (300, 260), (3, 3), "same", "fill", 0),     # exact-size kernel
    (np.float32, (300, 260), (5, 4), "valid", "fill", 0),
    (np.float64, (260, 300), (5, 5), "full", "fill", -1.5),
    (np.float64, (720, 720), (5, 5), "same", "symm", 0),     # threaded bands
    (np.complex64, (260, 270), (3, 3), "same", "fill", 2 - 1j),
    (np.complex128, (20, 30), (4, 3), "full", "wrap", 0),     # ring kernel
    (np.int16, (40, 50), (3, 5), "same", "fill", 3),          # int64 accumulator
])
def test_repeated_calls_take_a_prepared_launch(fn, sfn, dtype, shape, kshape, mode,
                                               bnd, fill):
    """From the second call of a signature on, the CPU backend calls the launch
    it prepared (stored with the plan): new input and weight values each
    call, any input layout, SciPy's result, inputs unchanged."""
    plans = _fresh_plans()
    rng = np.random.default_rng(11)

    def rand(s):
        v = rng.standard_normal(s) * 4
        if np.dtype(dtype).kind == "c":
            v = v + 1j * rng.standard_normal(s)
        return v.astype(dtype)

    with cc.use_backend("cpu"):
        for call in range(4):
            x, w = rand(shape), rand(kshape)
            if call == 2:
                x = np.asfortranarray(x)
            if call == 3:
                x = rand((shape[0], 2 * shape[1]))[:, ::2]       # a strided view
            x0, w0 = x.copy(), w.copy()
            got = fn(x, w, mode, bnd, fill)
            want = sfn(x, w, mode, bnd, fill)
            assert got.dtype == want.dtype and got.shape == want.shape
            if np.dtype(dtype).kind in "iu":
                np.testing.assert_array_equal(got, want)
            else:
                tol = 1e-5 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-12
                scale = np.abs(w).sum() * np.abs(x).max()
                assert np.abs(got - want).max() <= tol * scale
            np.testing.assert_array_equal(x, x0)
            np.testing.assert_array_equal(w, w0)
    assert callable(_launches(plans)[("auto", False)])


def test_prepared_launches_only_for_a_data_independent_method():
    """'auto' that may pick the FFT (which checks the input for NaN each call)
    or the separable method (which reads the weights' rank) stores no launch,
    so a later call with NaN in the input still keeps it to its outputs."""
    plans = _fresh_plans()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((512, 512))
    w = rng.standard_normal((31, 31))
    with cc.use_backend("cpu"):
        cc.correlate2d(x, w, "same")
        cc.correlate2d(x, w, "same")
        xn = x.copy()
        xn[0, 0] = np.nan
        got = cc.correlate2d(xn, w, "same")
        got_direct = cc.correlate2d(x, w, "same", method="direct")
        cc.correlate2d(x, w, "same", method="direct")
    launches = _launches(plans)
    assert launches[("auto", False)] is False
    assert callable(launches[("direct", False)])
    assert np.isnan(got[:16, :16]).all() and np.isfinite(got[16:, :]).all()
    np.testing.assert_allclose(got_direct, signal.correlate2d(x, w, "same"),
                               rtol=0, atol=1e-9)



def _count_general_path(monkeypatch):
    """Spy on ``_api.run`` (the general path of a call): the list of its calls."""
    from corrconv_gpu._frontend import signal2d as _api
    calls = []
    run = _api.run

    def spy(*args, **kwargs):
        calls.append(args[0])
        return run(*args, **kwargs)
    monkeypatch.setattr(_api, "run", spy)
    return calls


@pytest.mark.parametrize("fn, sfn", [(cc.correlate2d, signal.correlate2d),
                                     (cc.convolve2d, signal.convolve2d)])
@pytest.mark.parametrize("dtype, shape, kshape, mode, short", [
    (np.float32, (300, 260), (3, 3), "same", True),
    (np.float64, (40, 50), (4, 3), "full", True),
    (np.complex128, (30, 20), (3, 5), "valid", True),
    (np.int16, (40, 50), (3, 5), "same", False),       # cast from the int64 sums
    (np.float16, (30, 40), (3, 3), "same", False),     # cast from float32
    (np.float64, (4, 5), (6, 7), "valid", "swap"),     # correlate2d: reversed
])
def test_repeated_numpy_calls_take_the_short_path(monkeypatch, fn, sfn, dtype, shape,
                                                  kshape, mode, short):
    """From the third call of a signature on (the second prepares the launch),
    NumPy input whose result needs no cast or reversal goes straight to the
    CPU launch (``_run`` is not called); others take the general path. Both
    give SciPy's result with new values every call."""
    plans = _fresh_plans()
    calls = _count_general_path(monkeypatch)
    rng = np.random.default_rng(5)
    swap = short == "swap"
    if swap:   # SciPy's swap reverses correlate2d's output, not convolve2d's
        short = fn is cc.convolve2d
    with cc.use_backend("cpu"):
        for call in range(4):
            x = (rng.standard_normal(shape) * 3).astype(dtype)
            w = (rng.standard_normal(kshape) * 3).astype(dtype)
            if np.dtype(dtype).kind == "c":
                x = x + 1j * rng.standard_normal(shape)
            n = len(calls)
            got = fn(x, w, mode)
            if call >= 2:
                assert len(calls) == n + (0 if short else 1)
            want = sfn(x.astype(np.float64) if dtype == np.float16 else x,
                       w.astype(np.float64) if dtype == np.float16 else w, mode)
            if dtype == np.float16:
                want = want.astype(np.float16)
            assert got.dtype == want.dtype and got.shape == want.shape
            if np.dtype(dtype).kind == "i":
                np.testing.assert_array_equal(got, want)
            else:
                tol = {np.float16: 2e-3, np.float32: 1e-5}.get(dtype, 1e-12)
                scale = np.abs(w).sum() * np.abs(x).max()
                assert np.abs(got.astype(want.dtype) - want).max() <= tol * scale
    (plan, swapped, sizes), = plans.values()
    assert (sizes is not None) == short
    assert swapped == swap


def test_short_path_reads_the_backend_and_the_method_every_call(monkeypatch):
    """A signature that took the short path still raises for a backend that
    is forced but unavailable, an invalid backend name in the environment and
    an invalid method, and goes the general way for another method."""
    from corrconv_gpu._dispatch import backend as _backends
    _fresh_plans()
    calls = _count_general_path(monkeypatch)
    x, w = np.ones((64, 64)), np.ones((3, 3))
    want = signal.correlate2d(x, w, "same")
    for _ in range(3):
        np.testing.assert_array_equal(cc.correlate2d(x, w, "same"), want)
    n = len(calls)
    np.testing.assert_array_equal(cc.correlate2d(x, w, "same"), want)
    assert len(calls) == n                       # the short path
    ok, why = _backends._cuda_status()
    if not ok:
        with cc.use_backend("cuda"):
            with pytest.raises(RuntimeError, match="unavailable"):
                cc.correlate2d(x, w, "same")
    monkeypatch.setenv("CORRCONV_GPU_BACKEND", "gpu-please")
    with pytest.raises(ValueError, match="CORRCONV_GPU_BACKEND"):
        cc.correlate2d(x, w, "same")
    monkeypatch.delenv("CORRCONV_GPU_BACKEND")
    with pytest.raises(ValueError, match="method must be one of"):
        cc.correlate2d(x, w, "same", method="fastest")
    n = len(calls)
    np.testing.assert_allclose(cc.correlate2d(x, w, "same", method="fft"), want, atol=1e-12)
    assert len(calls) == n + 1
    np.testing.assert_array_equal(cc.correlate2d(x, w, "same"), want)


def test_concurrent_repeated_calls():
    """Threads repeating one signature at once (the launch's kept scratch is
    taken by one call at a time; the others make their own) each get their
    own correct result; the inputs are unchanged."""
    import threading
    _fresh_plans()
    rng = np.random.default_rng(9)
    xs = [rng.standard_normal((256, 300)).astype(np.float32) for _ in range(6)]
    w = rng.standard_normal((5, 5)).astype(np.float32)
    wants = [signal.correlate2d(x, w, "same") for x in xs]
    copies = [x.copy() for x in xs]
    errors = []
    start = threading.Barrier(len(xs))

    def work(i):
        try:
            start.wait()
            for _ in range(25):
                got = cc.correlate2d(xs[i], w, "same")
                err = np.abs(got - wants[i]).max() / (np.abs(w).sum() * np.abs(xs[i]).max())
                assert err <= 1e-5, err
        except BaseException as exc:      # re-raised on the main thread
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    for x, x0 in zip(xs, copies):
        np.testing.assert_array_equal(x, x0)
