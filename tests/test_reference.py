"""The oracle itself (corrconv_gpu.reference) against SciPy and NumPy.

Every other test trusts the reference, so it is checked exhaustively on small
cases: every shape pair up to 4x4 image / 4x4 kernel, every mode and
boundary, integer (exact), complex (the swap quirks) and wrapping dtypes.
"""

import itertools

import numpy as np
import pytest
from scipy import signal

from corrconv_gpu import reference as ref

MODES = ["full", "same", "valid"]
BOUNDARIES = ["fill", "wrap", "symm"]
SHAPES = [(a, b) for a in range(1, 5) for b in range(1, 5)]


def _valid_ok(s1, s2):
    return (all(a >= b for a, b in zip(s1, s2)) or all(b >= a for a, b in zip(s1, s2)))


@pytest.mark.parametrize("s1", SHAPES, ids=str)
def test_reference_2d_int_all_shapes(s1):
    rng = np.random.default_rng(s1[0] * 10 + s1[1])
    x = rng.integers(-9, 10, s1)
    for s2 in SHAPES:
        w = rng.integers(-9, 10, s2)
        for mode in MODES:
            if mode == "valid" and not _valid_ok(s1, s2):
                continue
            for b in BOUNDARIES:
                for rfn, sfn in ((ref.correlate2d, signal.correlate2d),
                                 (ref.convolve2d, signal.convolve2d)):
                    got = rfn(x, w, mode, b, -2)
                    want = sfn(x, w, mode, b, -2)
                    assert got.dtype == want.dtype == np.int64
                    assert np.array_equal(got, want), (s1, s2, mode, b, rfn.__name__)


@pytest.mark.parametrize("s1,s2", [((1, 2), (1, 3)), ((2, 3), (3, 4)), ((3, 3), (3, 3)),
                                   ((1, 1), (2, 2)), ((2, 2), (2, 5)), ((4, 3), (2, 2))])
def test_reference_complex_swap_quirks(s1, s2):
    rng = np.random.default_rng(1)
    x = rng.integers(-5, 5, s1) + 1j * rng.integers(-5, 5, s1)
    w = rng.integers(-5, 5, s2) + 1j * rng.integers(-5, 5, s2)
    for mode in MODES:
        for b in BOUNDARIES:
            for rfn, sfn in ((ref.correlate2d, signal.correlate2d),
                             (ref.convolve2d, signal.convolve2d)):
                got = rfn(x, w, mode, b, 1 - 1j)
                want = sfn(x, w, mode, b, 1 - 1j)
                assert got.dtype == want.dtype == np.complex128
                assert np.array_equal(got, want), (mode, b)
    # the documented example
    got = ref.correlate2d([[1 + 2j, 3 - 1j]], [[2 - 1j, 1j, 4]], "valid")
    assert got.tolist() == [[14 + 5j, -1 - 2j]]


@pytest.mark.parametrize("dt", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
                                np.int64, np.uint64])
def test_reference_wraps_like_scipy(dt):
    info = np.iinfo(dt)
    rng = np.random.default_rng(2)
    x = rng.integers(info.min, info.max, (6, 7), dtype=dt, endpoint=True)
    w = rng.integers(info.min, info.max, (3, 2), dtype=dt, endpoint=True)
    for mode, b in itertools.product(MODES, BOUNDARIES):
        for rfn, sfn in ((ref.correlate2d, signal.correlate2d), (ref.convolve2d, signal.convolve2d)):
            got = rfn(x, w, mode, b, 5)
            want = sfn(x, w, mode, b, 5)
            assert got.dtype == want.dtype == np.dtype(dt)
            assert np.array_equal(got, want)


@pytest.mark.parametrize("pair", [(np.int8, np.uint8), (np.int32, np.float32), (np.float32, np.complex64),
                                  (np.uint8, np.int64)])
def test_reference_mixed(pair):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 100, (5, 6)).astype(pair[0])
    w = rng.integers(0, 100, (2, 3)).astype(pair[1])
    for mode, b in itertools.product(MODES, BOUNDARIES):
        got = ref.correlate2d(x, w, mode, b, 1.5)
        want = signal.correlate2d(x, w, mode, b, 1.5)
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_reference_float_nan_and_examples():
    assert np.array_equal(ref.convolve2d([[np.nan, 1, 2]], [[0, 1]]),
                          [[np.nan, np.nan, 1, 2]], equal_nan=True)
    assert ref.convolve2d([[1, 2]], [[1, 1]], "full", "fill", 5).tolist() == [[6, 3, 7]]
    assert ref.convolve2d([[1, 2]], [[1, 1]], "full", "fill", 1.7).tolist() == [[2, 3, 3]]
    assert ref.correlate2d([[1, 2, 3, 4, 5]], [[1, 10]], "same").tolist() == [[21, 32, 43, 54, 5]]
    assert ref.convolve2d([[1, 2, 3, 4, 5]], [[1, 10]], "same").tolist() == [[1, 12, 23, 34, 45]]
    assert ref.correlate2d([[1, 10]], [[1, 2, 3, 4, 5]], "valid").tolist() == [[54, 43, 32, 21]]
    imp = np.zeros((1, 9), int)
    imp[0, 0] = 1
    assert ref.correlate2d([[1, 2, 3]], imp, "full", "symm").tolist() == [[2, 1, 1, 2, 3, 3, 2, 1, 1, 2, 3]]
    assert ref.correlate2d([[1, 2, 3]], imp, "full", "wrap").tolist() == [[2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]]
    # aliases
    x = np.arange(12).reshape(3, 4)
    for a, b in (("pad", "fill"), ("circular", "wrap"), ("symmetric", "symm")):
        assert np.array_equal(ref.correlate2d(x, [[1, 2], [3, 4]], "same", a, 3),
                              ref.correlate2d(x, [[1, 2], [3, 4]], "same", b, 3))


def test_reference_empty():
    assert np.array_equal(ref.convolve2d(np.zeros((0, 3)), np.ones((2, 2))), np.zeros((1, 4)))
    assert np.array_equal(ref.convolve2d(np.zeros((0, 3)), np.ones((2, 2)), "full", "fill", 5),
                          np.full((1, 4), 20.0))


def test_reference_empty_kernel():
    # SciPy: a sum over no taps is 0, whatever the fillvalue
    for rfn, sfn in ((ref.correlate2d, signal.correlate2d), (ref.convolve2d, signal.convolve2d)):
        for x, w, mode in [(np.ones((3, 3)), np.zeros((0, 2)), "valid"),
                           (np.ones((3, 3)), np.zeros((0, 2)), "full"),
                           (np.ones((3, 4)), np.zeros((2, 0)), "same")]:
            want = sfn(x, w, mode, "fill", 4)
            got = rfn(x, w, mode, "fill", 4)
            assert got.dtype == want.dtype and got.shape == want.shape
            assert np.array_equal(got, want)
    assert np.array_equal(ref.correlate2d(np.ones((3, 3)), np.zeros((0, 2)), "valid"), np.zeros((4, 2)))


@pytest.mark.parametrize("n", range(1, 7))
def test_reference_1d_all_lengths(n):
    rng = np.random.default_rng(n)
    for k in range(1, 8):
        a = rng.integers(-5, 5, n) + 1j * rng.integers(-5, 5, n)
        v = rng.integers(-5, 5, k) + 1j * rng.integers(-5, 5, k)
        ai = rng.integers(-100, 100, n).astype(np.int8)
        vi = rng.integers(-100, 100, k).astype(np.int8)
        for mode in ("valid", "same", "full"):
            for x, y in ((a, v), (ai, vi), (ai, v.real)):
                for rfn, nfn in ((ref.correlate, np.correlate), (ref.convolve, np.convolve)):
                    got = rfn(x, y, mode)
                    want = nfn(x, y, mode)
                    assert got.dtype == want.dtype
                    assert np.array_equal(got, want), (n, k, mode, rfn.__name__)


def test_reference_1d_examples():
    assert ref.correlate([1, 2, 3, 4], [1, 10, 100], "same").tolist() == [210, 321, 432, 43]
    assert ref.correlate([1j], [1j, 2], "full").tolist() == [2j, 1]
    assert ref.correlate([1, 10], [1, 2, 3, 4, 5], "same").tolist() == [54, 43, 32, 21, 10]
    assert ref.convolve(3, 4).tolist() == [12]
    assert ref.correlate(np.array([100, 100], np.int8), np.array([2, 2], np.int8)).tolist() == [-112]
    got = ref.correlate(np.array([True, False]), np.array([True]), "full")
    assert got.dtype == np.bool_ and got.tolist() == [True, False]
