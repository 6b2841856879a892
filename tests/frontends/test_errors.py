"""Every error users can see: type and message as NumPy/SciPy raise them.

Wherever NumPy or SciPy define the case, the test calls them to get the
expected exception and compares type and message with ours.
"""

import re

import numpy as np
import pytest
from scipy import signal

import corrconv_gpu as cc
from conftest import outcome   # ('ok', result) or ('raise', type, message)


def assert_same_outcome(ours, theirs):
    o, t = outcome(ours), outcome(theirs)
    assert o[0] == t[0], (o, t)
    if t[0] == "raise":
        assert o[1] is t[1], (o, t)
        assert o[2] == t[2], (o, t)
        return t
    got, want = o[1], t[1]
    assert type(got) is np.ndarray
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    return t


# -------------------------------------------------------------- 1-D modes

MODE_CASES = ["Valid", "VALID", "Same", "FULL", "f", "x", "", "abc", 3, -1, 7,
              None, 1.0, 0.0, True, False, np.bool_(True), np.int64(1), np.int32(2),
              np.uint8(0), [1], b"valid"]


@pytest.mark.parametrize("mode", MODE_CASES, ids=repr)
def test_mode_1d_like_numpy(mode):
    a, v = [1, 2, 3, 4], [1, 10, 100]
    t = assert_same_outcome(lambda: cc.correlate(a, v, mode), lambda: np.correlate(a, v, mode))
    assert_same_outcome(lambda: cc.convolve(a, v, mode), lambda: np.convolve(a, v, mode))
    if mode in ("x",):
        assert t[1] is ValueError and t[2] == "mode must be one of 'valid', 'same', or 'full' (got 'x')"


def test_mode_1d_messages():
    a, v = [1, 2, 3], [1]
    with pytest.raises(ValueError, match=re.escape(
            "Use one of 'valid', 'same', or 'full' for convolve/correlate mode")):
        cc.correlate(a, v, "Valid")
    with pytest.raises(ValueError, match=re.escape(
            "mode must be one of 'valid', 'same', or 'full' (got 'x')")):
        cc.convolve(a, v, "x")
    with pytest.raises(ValueError, match=re.escape(
            "integer convolve/correlate mode must be 0, 1, or 2")):
        cc.correlate(a, v, 3)
    with pytest.raises(ValueError, match=re.escape(
            "integer convolve/correlate mode must be 0, 1, or 2")):
        cc.convolve(a, v, -1)
    for bad in (None, 1.0, True):
        with pytest.raises(TypeError, match=re.escape("convolve/correlate mode not understood")):
            cc.correlate(a, v, bad)
        with pytest.raises(TypeError, match=re.escape("convolve/correlate mode not understood")):
            cc.convolve(a, v, bad)
    assert cc.correlate(a, v, np.int64(1)).tolist() == [1, 2, 3]


# -------------------------------------------------------------- 1-D shapes

SHAPE_CASES = [
    (3, [1, 2]), ([1, 2], 3), (np.float64(2.0), [1.0]), (np.array(3), np.array(4)),
    ([[1, 2]], [1]), ([1, 2], [[1]]), (np.ones((2, 2)), np.ones(2)), (np.ones(2), np.ones((1, 1))),
    ([], [1]), ([1], []), (np.zeros(0), np.zeros(0)), ([[]], [1]), (np.zeros((0, 3)), [1]),
    ([], 3), (3, []), (np.zeros((1, 0)), [1]),
]


@pytest.mark.parametrize("a,v", SHAPE_CASES, ids=lambda x: repr(np.shape(x)))
@pytest.mark.parametrize("mode", ["valid", "full", "bogus"])
def test_shapes_1d_like_numpy(a, v, mode):
    assert_same_outcome(lambda: cc.correlate(a, v, mode), lambda: np.correlate(a, v, mode))
    assert_same_outcome(lambda: cc.convolve(a, v, mode), lambda: np.convolve(a, v, mode))


def test_shape_messages_1d():
    with pytest.raises(ValueError, match="^object of too small depth for desired array$"):
        cc.correlate(3, [1, 2])
    with pytest.raises(ValueError, match="^object too deep for desired array$"):
        cc.correlate(np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="^object too deep for desired array$"):
        cc.convolve(np.ones((2, 2)), np.ones(2))
    assert cc.convolve(3, 4).tolist() == [12]
    with pytest.raises(ValueError, match="^first array argument cannot be empty$"):
        cc.correlate([], [1])
    with pytest.raises(ValueError, match="^second array argument cannot be empty$"):
        cc.correlate([1], [])
    with pytest.raises(ValueError, match="^a cannot be empty$"):
        cc.convolve([], [1])
    with pytest.raises(ValueError, match="^v cannot be empty$"):
        cc.convolve([1], [])
    # convolve checks emptiness before the mode
    with pytest.raises(ValueError, match="^a cannot be empty$"):
        cc.convolve([], [1], "bogus")


# ------------------------------------------------------------- 2-D checks

FUNCS = [(cc.correlate2d, signal.correlate2d), (cc.convolve2d, signal.convolve2d)]
X = np.arange(12).reshape(3, 4)
W = np.ones((2, 2), np.int64)


# a 3-D in1 with a 2-D in2 is a stack of frames (the `axes` extension,
# tests/frontends/test_batched.py); a 3-D kernel is still refused
@pytest.mark.parametrize("in1,in2", [
    (np.ones(3), W), (X, np.ones(2)), (X, np.ones((2, 2, 2))), (5, W), (X, 5), ([1, 2], [[1]]),
])
def test_2d_check(in1, in2):
    for fn, sfn in FUNCS:
        t = assert_same_outcome(lambda: fn(in1, in2), lambda: sfn(in1, in2))
        assert t[1] is ValueError
        name = fn.__name__
        assert t[2] == f"{name} inputs must both be 2-D arrays"


def test_valid_swap_check():
    a, b = np.ones((3, 2)), np.ones((2, 3))
    for fn, sfn in FUNCS:
        t = assert_same_outcome(lambda: fn(a, b, "valid"), lambda: sfn(a, b, "valid"))
        assert t[2] == ("For 'valid' mode, one must be at least as large as the other "
                        "in every dimension")
        # no check in other modes
        for mode in ("full", "same"):
            assert_same_outcome(lambda: fn(a, b, mode), lambda: sfn(a, b, mode))


@pytest.mark.parametrize("mode", ["FULL", "Valid", "f", 0, 1, 2, None, 1.0, "", b"full"],
                         ids=repr)
def test_mode_2d(mode):
    for fn, sfn in FUNCS:
        t = assert_same_outcome(lambda: fn(X, W, mode), lambda: sfn(X, W, mode))
        assert t[1] is ValueError
        assert t[2] == "Acceptable mode flags are 'valid', 'same', or 'full'."


def test_unhashable_mode_and_boundary_2d():
    # SciPy looks flags up in a dict: an unhashable flag is its TypeError
    for fn, sfn in FUNCS:
        t = assert_same_outcome(lambda: fn(X, W, ["full"]), lambda: sfn(X, W, ["full"]))
        assert t[1] is TypeError and "unhashable" in t[2]
        t = assert_same_outcome(lambda: fn(X, W, "full", ["fill"]),
                                lambda: sfn(X, W, "full", ["fill"]))
        assert t[1] is TypeError and "unhashable" in t[2]


@pytest.mark.parametrize("boundary", ["reflect", "Fill", "mirror", "nearest", "constant", "", None, 0],
                         ids=repr)
def test_boundary_2d(boundary):
    for fn, sfn in FUNCS:
        t = assert_same_outcome(lambda: fn(X, W, "full", boundary), lambda: sfn(X, W, "full", boundary))
        assert t[1] is ValueError
    with pytest.raises(ValueError, match="^Incorrect boundary value.$"):
        cc.correlate2d(X, W, "full", "reflect")
    if boundary != "reflect":
        with pytest.raises(ValueError, match=re.escape(
                "Acceptable boundary flags are 'fill', 'circular' (or 'wrap'), and "
                "'symmetric' (or 'symm').")):
            cc.convolve2d(X, W, "same", boundary)


@pytest.mark.parametrize("dt", [np.bool_, object, np.float16])
def test_dtype_2d(dt):
    a = np.ones((3, 3), dtype=dt)
    b = np.ones((2, 2), dtype=dt)
    for fn, sfn in FUNCS:
        t = outcome(lambda: sfn(a, b))
        assert t[0] == "raise" and t[1] is ValueError
        assert t[2] == "convolve2d not available for this type."
        if dt is np.float16:  # our extension: computed
            got = fn(a, b)
            assert got.dtype == np.float16 and got.tolist() == signal.correlate2d(
                a.astype(np.float32), b.astype(np.float32)).tolist()
        else:
            assert_same_outcome(lambda: fn(a, b), lambda: sfn(a, b))
    # float16 with a bool kernel also float16
    assert cc.correlate2d(a.astype(np.float16), b.astype(bool)).dtype == np.float16


def test_object_with_number_2d():
    a = np.ones((3, 3), dtype=object)
    for fn, sfn in FUNCS:
        assert_same_outcome(lambda: fn(a, W), lambda: sfn(a, W))
        assert_same_outcome(lambda: fn(X, a), lambda: sfn(X, a))


# ------------------------------------------------------------- error order

ORDER_CASES = [
    # (in1, in2, mode, boundary, fillvalue): several checks fail at once
    (np.ones(3), W, "bogus", "bogus", "abc"),            # 2-D first
    (np.ones((3, 2)), np.ones((2, 3)), "valid", "bogus", "abc"),  # then the swap check
    (X, W, "bogus", "bogus", "abc"),                    # then the mode
    (X, W, "full", "bogus", "abc"),                     # then the boundary
    (X, W, "full", "reflect", [1, 2]),
    (X, W, "full", "fill", "abc"),                      # then the fillvalue
    (np.ones((3, 3), bool), np.ones((2, 2), bool), "full", "fill", [1, 2]),  # before the dtype
    (np.ones((3, 3), bool), np.ones((2, 2), bool), "full", "fill", "abc"),
    (np.ones((3, 3), object), W, "full", "fill", []),
    (np.ones((3, 3), bool), np.ones((2, 2), bool), "full", "bogus", 0),
    (np.ones((3, 3), bool), np.ones((2, 2), bool), "bogus", "fill", 0),
    (np.ones((3, 3), bool), np.ones((2, 2), bool), "full", "fill", 0),  # the dtype last
    (np.ones((3, 3), object), np.ones((2, 2), object), "full", "wrap", "abc"),
    (np.ones((3, 3), np.uint8), W.astype(np.uint8), "full", "fill", 300),
]


@pytest.mark.parametrize("case", range(len(ORDER_CASES)))
def test_error_order(case):
    in1, in2, mode, boundary, fill = ORDER_CASES[case]
    for fn, sfn in FUNCS:
        t = assert_same_outcome(lambda: fn(in1, in2, mode, boundary, fill),
                                lambda: sfn(in1, in2, mode, boundary, fill))
        assert t[0] == "raise"


def test_fillvalue_ignored_unless_fill():
    # SciPy does not look at the fillvalue for wrap/symm
    for fn, sfn in FUNCS:
        for b in ("wrap", "symm", "circular", "symmetric"):
            for fill in ("abc", [1, 2], [], None, 1j):
                assert_same_outcome(lambda: fn(X, W, "full", b, fill),
                                    lambda: sfn(X, W, "full", b, fill))


# --------------------------------------------------------------- fillvalue

class _Weird:
    pass


FILL_CASES = [
    (np.uint8, 300), (np.uint8, -1), (np.uint8, 255), (np.uint8, np.int64(300)),
    (np.uint8, np.array(300)), (np.uint8, 2 ** 70), (np.uint8, True), (np.uint8, np.uint8(7)),
    (np.int64, 1.7), (np.int64, -1.7), (np.int64, np.array([1.7])), (np.int64, np.float64(1.7)),
    (np.int64, None), (np.int64, "abc"), (np.int64, "2"), (np.int64, [[3]]), (np.int64, [1, 2]),
    (np.int64, []), (np.int64, True), (np.int64, np.nan), (np.int64, np.inf), (np.int64, 2 ** 70),
    (np.int64, np.array([[[4]]])), (np.int64, np.array([3], object)), (np.int64, np.array(3, object)),
    (np.int64, np.array(["2"])), (np.int64, _Weird()), (np.int64, 1j), (np.int64, np.int8(-3)),
    (np.int8, np.array([5], np.int64)), (np.int8, np.array([5], np.int8)), (np.int8, 200),
    (np.int8, np.int16(200)), (np.int8, 1e300),
    (np.float64, 1j), (np.float64, np.array([1j])), (np.float64, np.complex128(1j)),
    (np.float64, np.complex128(2 + 0j)), (np.float64, 2 + 0j), (np.float64, None),
    (np.float64, "abc"), (np.float64, "2.5"), (np.float64, np.nan), (np.float64, -np.inf),
    (np.float64, True), (np.float64, [[2.5]]), (np.float64, np.array([1.5], object)),
    (np.float64, np.array([[1, 2]])), (np.float64, np.array([], float)), (np.float64, 2 ** 70),
    (np.float64, 10 ** 400),
    (np.float32, np.array(2.5)), (np.float32, np.array(2.5, np.float32)), (np.float32, np.float64(1e300)),
    (np.float32, 1e300), (np.float32, np.nan),
    (np.complex128, 1j), (np.complex128, np.array([2 - 1j])), (np.complex128, "1+2j"), (np.complex128, None),
    (np.complex64, np.complex128(1 + 1j)), (np.complex64, np.array(1 + 1j)),
    (np.int32, np.array(7, np.int32)), (np.int32, np.array(7, np.int64)), (np.uint64, -1),
    (np.uint64, np.array(-1)),
]


@pytest.mark.parametrize("dt,fill", FILL_CASES,
                         ids=[f"{np.dtype(d).name}-{type(f).__name__}-{f!r}"[:60] for d, f in FILL_CASES])
def test_fillvalue_like_scipy(dt, fill):
    x = np.array([[1, 2], [3, 4]], dtype=dt)
    w = np.ones((1, 2), dtype=dt)  # 'full' reads the fill at both ends of every row
    for fn, sfn in FUNCS:
        for mode in ("full", "same"):
            t = assert_same_outcome(lambda: fn(x, w, mode, "fill", fill),
                                    lambda: sfn(x, w, mode, "fill", fill))
            if t[0] == "ok" and mode == "full":
                assert t[1].dtype == np.dtype(dt)  # the fillvalue never changes the dtype


def test_fillvalue_messages():
    x = np.array([[1, 2]], np.uint8)
    w = np.ones((1, 2), np.uint8)
    cast = "could not cast `fillvalue` directly to the output type (it was first converted to complex)."
    for fn in (cc.correlate2d, cc.convolve2d):
        with pytest.raises(ValueError, match="^" + re.escape(cast) + "$"):
            fn(x, w, "full", "fill", 300)
        with pytest.raises(ValueError, match="^" + re.escape(cast) + "$"):
            fn(x, w, "full", "fill", None)
        with pytest.raises(ValueError, match="^" + re.escape(cast) + "$"):
            fn(x.astype(float), w, "full", "fill", 1j)
        with pytest.raises(ValueError, match="^" + re.escape(
                "`fillvalue` must be scalar or an array with one element.") + "$"):
            fn(x, w, "full", "fill", [1, 2])
        with pytest.raises(ValueError, match="^" + re.escape("`fillvalue` cannot be an empty array.") + "$"):
            fn(x, w, "full", "fill", [])
    got = cc.convolve2d([[1, 2]], [[1, 1]], "full", "fill", 1.7)
    assert got.dtype == np.int64 and got.tolist() == [[2, 3, 3]]


# ------------------------------------------------------------------ method

@pytest.mark.parametrize("method", ["bogus", "FFT", "Direct", None, 1, ""], ids=repr)
def test_bad_method(method):
    for call in (lambda: cc.correlate([1, 2, 3], [1], method=method),
                 lambda: cc.convolve([1, 2, 3], [1], method=method),
                 lambda: cc.correlate2d(X, W, method=method),
                 lambda: cc.convolve2d(X, W, "valid", "wrap", method=method)):
        with pytest.raises(ValueError) as info:
            call()
        msg = str(info.value)
        assert "method" in msg and repr(method) in msg
        assert "'auto'" in msg and "'direct'" in msg and "'fft'" in msg


# ---------------------------------------------------------------- backends

@pytest.mark.parametrize("name", ["gpu", "CPU", "", None, "cuda ", 1])
def test_bad_backend_name(name):
    with pytest.raises(ValueError) as info:
        with cc.use_backend(name):
            pass
    assert repr(name) in str(info.value)


@pytest.mark.parametrize("value", ["gpu", "numba", "cpu,cuda"])
def test_bad_backend_env(monkeypatch, value):
    monkeypatch.setenv("CORRCONV_GPU_BACKEND", value)
    with pytest.raises(ValueError) as info:
        cc.correlate2d(X, W)
    assert "CORRCONV_GPU_BACKEND" in str(info.value) and repr(value) in str(info.value)
    with pytest.raises(ValueError, match="CORRCONV_GPU_BACKEND"):
        cc.correlate([1, 2], [1])
    # a valid context wins over a bad environment variable
    with cc.use_backend("cpu"):
        assert cc.correlate2d(X, W, "valid").tolist() == signal.correlate2d(X, W, "valid").tolist()
