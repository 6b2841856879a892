"""Property tests (hypothesis) against the reference, SciPy and NumPy.

Example budget: ``BUDGET`` below, in the default profile (>= 2,000 in total);
the ``slow`` profile multiplies every entry by 50 (>= 100,000), see conftest.
"""

import warnings

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import signal

import corrconv_gpu as cc
from corrconv_gpu import reference as ref
from conftest import assert_matches, examples

BUDGET = {
    "test_2d_against_reference_and_scipy": 600,
    "test_2d_integers_wrap_exactly": 300,
    "test_1d_against_numpy": 400,
    "test_convolve_is_correlate_with_flipped_kernel": 250,
    "test_linearity_integers": 250,
    "test_valid_swap_reverses": 200,
    "test_methods_agree": 200,
    "test_ndimage_volumes_against_scipy": 150,
}

MODES = st.sampled_from(["full", "same", "valid"])
BOUNDARIES = st.sampled_from(["fill", "wrap", "symm", "pad", "circular", "symmetric"])
INT_DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
FLOAT_DTYPES = [np.float16, np.float32, np.float64, np.complex64, np.complex128]
IMG = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12)
KER = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=9)


def test_budget():
    assert sum(BUDGET.values()) >= 2000
    assert set(BUDGET) == {n for n in globals() if n.startswith("test_") and n != "test_budget"}
    # the slow profile: 50x
    assert sum(BUDGET.values()) * 50 >= 100_000


def _elements(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind in "iub":
        return None  # the whole range: sums overflow and must wrap
    if dtype == np.float16:
        return st.floats(-8, 8, width=16)
    width = 32 if dtype in (np.float32, np.complex64) else 64
    if dtype.kind == "f":
        return st.floats(-100, 100, width=width)
    return st.complex_numbers(max_magnitude=100, width=2 * width)


@st.composite
def pair(draw, dtypes=INT_DTYPES + FLOAT_DTYPES, same_dtype=False):
    d1 = np.dtype(draw(st.sampled_from(dtypes)))
    d2 = d1 if same_dtype else np.dtype(draw(st.sampled_from(dtypes)))
    x = draw(hnp.arrays(d1, draw(IMG), elements=_elements(d1)))
    w = draw(hnp.arrays(d2, draw(KER), elements=_elements(d2)))
    return x, w


def _fill_for(draw, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return draw(st.integers(max(info.min, -1000), min(info.max, 1000)))
    if dtype.kind == "f":
        return draw(st.one_of(st.floats(-50, 50), st.just(np.nan)))
    return draw(st.one_of(st.complex_numbers(max_magnitude=50), st.floats(-5, 5)))


def _valid_ok(s1, s2):
    return all(a >= b for a, b in zip(s1, s2)) or all(b >= a for a, b in zip(s1, s2))


def _quiet(fn, *a, **k):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*a, **k)


@settings(max_examples=examples(BUDGET["test_2d_against_reference_and_scipy"]))
@given(data=st.data(), xw=pair(), mode=MODES, boundary=BOUNDARIES, conv=st.booleans(),
       method=st.sampled_from(["auto", "direct", "fft"]))
def test_2d_against_reference_and_scipy(data, xw, mode, boundary, conv, method):
    x, w = xw
    assume(mode != "valid" or _valid_ok(x.shape, w.shape))
    rdt = np.result_type(x, w)
    fill = _fill_for(data.draw, rdt)
    fn, sfn, rfn = ((cc.convolve2d, signal.convolve2d, ref.convolve2d) if conv else
                    (cc.correlate2d, signal.correlate2d, ref.correlate2d))
    want = _quiet(rfn, x, w, mode, boundary, fill)
    got = _quiet(fn, x, w, mode, boundary, fill, method=method)
    finite_fill = fill if np.isfinite(complex(fill)) else 0
    assert_matches(got, want, x, w, finite_fill)
    if rdt != np.float16:
        sc = _quiet(sfn, x, w, mode, boundary, fill)
        assert_matches(got, sc, x, w, finite_fill)
        if rdt.kind in "iu":
            assert np.array_equal(got, sc)


@settings(max_examples=examples(BUDGET["test_2d_integers_wrap_exactly"]))
@given(xw=pair(INT_DTYPES), mode=MODES, boundary=BOUNDARIES, conv=st.booleans(),
       layout=st.sampled_from(["C", "F", "rev", "be"]))
def test_2d_integers_wrap_exactly(xw, mode, boundary, conv, layout):
    x, w = xw
    assume(mode != "valid" or _valid_ok(x.shape, w.shape))
    sfn = signal.convolve2d if conv else signal.correlate2d
    fn = cc.convolve2d if conv else cc.correlate2d
    want = _quiet(sfn, x, w, mode, boundary)
    if layout == "F":
        x2, w2 = np.asfortranarray(x), np.asfortranarray(w)
    elif layout == "rev":
        x2, w2 = x[::-1, ::-1].copy()[::-1, ::-1], w[::-1].copy()[::-1]
    else:
        x2 = x.astype(x.dtype.newbyteorder(">"))
        w2 = w.astype(w.dtype.newbyteorder(">"))
    got = fn(x2, w2, mode, boundary, method="direct")
    assert got.dtype == want.dtype
    if want.dtype.kind in "iu":
        assert np.array_equal(got, want)
        assert np.array_equal(fn(x, w, mode, boundary), want)
    else:  # e.g. int64 + uint64 -> float64
        assert_matches(got, want, x, w)
        assert_matches(fn(x, w, mode, boundary), want, x, w)


@settings(max_examples=examples(BUDGET["test_1d_against_numpy"]))
@given(data=st.data(), dtypes=st.tuples(st.sampled_from(INT_DTYPES + FLOAT_DTYPES + [np.bool_]),
                                        st.sampled_from(INT_DTYPES + FLOAT_DTYPES + [np.bool_])),
       n=st.integers(1, 30), k=st.integers(1, 30), mode=st.sampled_from(["valid", "same", "full", 0, 1, 2]),
       conv=st.booleans(), method=st.sampled_from(["auto", "direct", "fft"]))
def test_1d_against_numpy(data, dtypes, n, k, mode, conv, method):
    a = data.draw(hnp.arrays(dtypes[0], n, elements=_elements(dtypes[0])))
    v = data.draw(hnp.arrays(dtypes[1], k, elements=_elements(dtypes[1])))
    fn, nfn = (cc.convolve, np.convolve) if conv else (cc.correlate, np.correlate)
    want = _quiet(nfn, a, v, mode)
    got = _quiet(fn, a, v, mode, method=method)
    assert_matches(got, want, a, v)
    if want.dtype.kind in "biu":
        assert np.array_equal(got, want)


@settings(max_examples=examples(BUDGET["test_convolve_is_correlate_with_flipped_kernel"]))
@given(xw=pair([np.int8, np.int32, np.uint16, np.float32, np.float64], same_dtype=True),
       mode=MODES, boundary=BOUNDARIES)
def test_convolve_is_correlate_with_flipped_kernel(xw, mode, boundary):
    x, w = xw
    assume(mode != "valid" or _valid_ok(x.shape, w.shape))
    a = cc.convolve2d(x, w, mode, boundary, 1)
    b = cc.correlate2d(x, w[::-1, ::-1], mode, boundary, 1)
    if mode == "same" and x.shape[0] >= 1 and (w.shape[0] % 2 == 0 or w.shape[1] % 2 == 0):
        # 'same' windows differ for even kernels: correlate2d starts at K//2,
        # convolve2d at (K-1)//2, so compare inside the full outputs instead
        a = cc.convolve2d(x, w, "full", boundary, 1)
        b = cc.correlate2d(x, w[::-1, ::-1], "full", boundary, 1)
    assert a.dtype == b.dtype
    if a.dtype.kind in "iu":
        assert np.array_equal(a, b)
    else:
        assert_matches(a, b, x, w, 1)


@settings(max_examples=examples(BUDGET["test_linearity_integers"]))
@given(data=st.data(), shapes=st.tuples(IMG, KER), mode=MODES, boundary=BOUNDARIES,
       dt=st.sampled_from([np.int8, np.int16, np.int64, np.uint8, np.uint64]),
       alpha=st.integers(-3, 3), conv=st.booleans())
def test_linearity_integers(data, shapes, mode, boundary, dt, alpha, conv):
    assume(mode != "valid" or _valid_ok(*shapes))
    x = data.draw(hnp.arrays(dt, shapes[0]))
    y = data.draw(hnp.arrays(dt, shapes[0]))
    w = data.draw(hnp.arrays(dt, shapes[1]))
    fn = cc.convolve2d if conv else cc.correlate2d
    a = np.array(alpha).astype(dt)
    with np.errstate(all="ignore"):
        lhs = fn(x * a + y, w, mode, boundary)          # wraps in dt, as does the sum
        rhs = fn(x, w, mode, boundary) * a + fn(y, w, mode, boundary)
    # exact modulo 2**bits, the ring the integer types compute in
    assert lhs.dtype == rhs.dtype == np.dtype(dt)
    assert np.array_equal(lhs, rhs)


@st.composite
def small_big(draw):
    dt = np.dtype(draw(st.sampled_from([np.int16, np.float64, np.complex128])))
    s = draw(KER)
    extra = draw(st.tuples(st.integers(0, 4), st.integers(0, 4)).filter(lambda e: e != (0, 0)))
    small = draw(hnp.arrays(dt, s, elements=_elements(dt)))
    big = draw(hnp.arrays(dt, (s[0] + extra[0], s[1] + extra[1]), elements=_elements(dt)))
    return small, big


@settings(max_examples=examples(BUDGET["test_valid_swap_reverses"]))
@given(xw=small_big())
def test_valid_swap_reverses(xw):
    small, big = xw  # big >= small in every dimension, larger in one at least
    # SciPy swaps when in1 is smaller: correlate2d reverses, convolve2d is unchanged
    c = cc.correlate2d(small, big, "valid")
    want = signal.correlate2d(small, big, "valid")
    assert_matches(c, want, big, small)
    # after the swap in2 (= small) is conjugated: the reversed unswapped result
    c2 = cc.correlate2d(big, small, "valid")
    assert_matches(c, c2[::-1, ::-1], big, small)
    # ... which for complex input is the conjugate of signal.correlate's
    sc = signal.correlate(small, big, "valid", method="direct")
    assert_matches(c, np.conj(sc) if small.dtype.kind == "c" else sc, big, small)
    assert_matches(cc.convolve2d(small, big, "valid"), cc.convolve2d(big, small, "valid"), big, small)


@settings(max_examples=examples(BUDGET["test_methods_agree"]))
@given(xw=pair([np.float32, np.float64, np.complex64, np.complex128, np.float16]),
       mode=MODES, boundary=BOUNDARIES, conv=st.booleans(), fast=st.booleans())
def test_methods_agree(xw, mode, boundary, conv, fast):
    x, w = xw
    assume(mode != "valid" or _valid_ok(x.shape, w.shape))
    fn = cc.convolve2d if conv else cc.correlate2d
    d = fn(x, w, mode, boundary, 0.5, method="direct")
    f = fn(x, w, mode, boundary, 0.5, method="fft", fast_float32=fast)
    a = fn(x, w, mode, boundary, 0.5, method="auto")
    if fast and np.result_type(x, w) in (np.float32, np.complex64):
        # documented: float32 FFTs lose up to ~1e-2 relative to the local values
        np.testing.assert_allclose(f, d, rtol=0, atol=2e-4 * max(1.0, float(np.abs(w).sum()))
                                   * max(1.0, float(np.abs(x).max())))
    else:
        assert_matches(f, d, x, w, 0.5)
    assert_matches(a, d, x, w, 0.5)


VOL = hnp.array_shapes(min_dims=3, max_dims=4, min_side=1, max_side=7)


@settings(max_examples=examples(BUDGET["test_ndimage_volumes_against_scipy"]))
@given(data=st.data(), shape=VOL, conv=st.booleans(), method=st.sampled_from(["auto", "direct", "fft"]),
       mode=st.sampled_from(["reflect", "constant", "nearest", "mirror", "wrap"]))
def test_ndimage_volumes_against_scipy(data, shape, conv, method, mode):
    """scipy.ndimage.correlate/convolve over 3 and 4 axes: any shapes (kernels
    larger than the volume included), origins and modes."""
    from scipy import ndimage as sn
    from corrconv_gpu import ndimage as cn
    kshape = data.draw(hnp.array_shapes(min_dims=len(shape), max_dims=len(shape),
                                        min_side=1, max_side=5))
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-100, 100)))
    w = data.draw(hnp.arrays(np.float64, kshape, elements=st.floats(-4, 4)))
    origin = [data.draw(st.integers(-(k // 2), (k - 1) // 2)) for k in kshape]
    cval = data.draw(st.floats(-5, 5))
    ours, theirs = (cn.convolve, sn.convolve) if conv else (cn.correlate, sn.correlate)
    got = ours(x, w, mode=mode, cval=cval, origin=origin, method=method)
    want = theirs(x, w, mode=mode, cval=cval, origin=origin)
    scale = max(float(np.abs(w).sum()) * max(float(np.abs(x).max()), abs(cval), 1.0), 1.0)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert np.abs(got - want).max() <= 1e-11 * scale
