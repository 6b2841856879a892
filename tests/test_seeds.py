"""Seed cases with hand-computed answers (issue 2, section 5)."""

import numpy as np
import pytest
from scipy import signal

import corrconv_gpu as cc

F = [2, 1, 3, 5, 4]


@pytest.mark.parametrize("method", ["auto", "direct"])
def test_difference_kernel_1d(method):
    h = [1, -1]
    got = cc.convolve(F, h, "valid", method=method)
    assert got.dtype == np.int64 and got.tolist() == [-1, 2, 2, -1]
    got = cc.correlate(F, h, "valid", method=method)
    assert got.dtype == np.int64 and got.tolist() == [1, -2, -2, 1]


@pytest.mark.parametrize("method", ["auto", "direct"])
def test_difference_kernel_2d(method):
    f = np.array([F])
    h = np.array([[1, -1]])
    assert cc.convolve2d(f, h, "valid", method=method).tolist() == [[-1, 2, 2, -1]]
    assert cc.correlate2d(f, h, "valid", method=method).tolist() == [[1, -2, -2, 1]]
    # the same along the other axis
    assert cc.convolve2d(f.T, h.T, "valid", method=method).tolist() == [[-1], [2], [2], [-1]]
    assert cc.correlate2d(f.T, h.T, "valid", method=method).tolist() == [[1], [-2], [-2], [1]]


@pytest.mark.parametrize("dtype", [np.int64, np.float64, np.float32, np.int8])
def test_second_difference(dtype):
    f = np.array(F, dtype=dtype)
    h2 = np.array([-1, 2, -1], dtype=dtype)
    for fn in (cc.convolve, cc.correlate):
        got = fn(f, h2, "valid")
        assert got.dtype == np.dtype(dtype)
        assert got.tolist() == [-3, 0, 3]
    for fn in (cc.convolve2d, cc.correlate2d):
        got = fn(f[None, :], h2[None, :], "valid")
        assert got.dtype == np.dtype(dtype)
        assert got.tolist() == [[-3, 0, 3]]


KERNEL_SHAPES = [(1, 1), (1, 2), (2, 1), (2, 2), (3, 3), (2, 3), (3, 4), (4, 4), (5, 2)]


@pytest.mark.parametrize("kshape", KERNEL_SHAPES)
@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
def test_impulse_2d(kshape, boundary):
    """An impulse correlated with w gives w rotated 180 degrees; convolved gives w."""
    k0, k1 = kshape
    w = np.arange(1, k0 * k1 + 1, dtype=np.int64).reshape(kshape) * 3 - 7
    # an impulse well inside a zero image: every boundary sees only zeros
    n0, n1 = 2 * k0 + 5, 2 * k1 + 5
    x = np.zeros((n0, n1), dtype=np.int64)
    c0, c1 = k0 + 2, k1 + 2
    x[c0, c1] = 1
    full_corr = cc.correlate2d(x, w, "full", boundary)
    full_conv = cc.convolve2d(x, w, "full", boundary)
    # full output index i <-> input row i - (K0 - 1)
    # correlate: out[i] = sum_p x[i+p-K0+1] w[p]; nonzero where i+p-K0+1 = c0
    rot = w[::-1, ::-1]
    np.testing.assert_array_equal(full_corr[c0:c0 + k0, c1:c1 + k1], rot)
    np.testing.assert_array_equal(full_conv[c0:c0 + k0, c1:c1 + k1], w)
    assert np.count_nonzero(full_corr) == np.count_nonzero(w)
    assert np.count_nonzero(full_conv) == np.count_nonzero(w)
    # 'same' windows: correlate2d starts at K//2, convolve2d at (K-1)//2
    same_corr = cc.correlate2d(x, w, "same", boundary)
    same_conv = cc.convolve2d(x, w, "same", boundary)
    a0, a1 = k0 // 2, k1 // 2
    np.testing.assert_array_equal(same_corr, full_corr[a0:a0 + n0, a1:a1 + n1])
    b0, b1 = (k0 - 1) // 2, (k1 - 1) // 2
    np.testing.assert_array_equal(same_conv, full_conv[b0:b0 + n0, b1:b1 + n1])
    # 'valid'
    valid_corr = cc.correlate2d(x, w, "valid", boundary)
    valid_conv = cc.convolve2d(x, w, "valid", boundary)
    np.testing.assert_array_equal(valid_corr, full_corr[k0 - 1:n0, k1 - 1:n1])
    np.testing.assert_array_equal(valid_conv, full_conv[k0 - 1:n0, k1 - 1:n1])
    # and it is what SciPy does
    for mode in ("full", "same", "valid"):
        np.testing.assert_array_equal(cc.correlate2d(x, w, mode, boundary),
                                      signal.correlate2d(x, w, mode, boundary))
        np.testing.assert_array_equal(cc.convolve2d(x, w, mode, boundary),
                                      signal.convolve2d(x, w, mode, boundary))


@pytest.mark.parametrize("kshape", KERNEL_SHAPES)
def test_impulse_image_is_the_kernel(kshape):
    """The 1x1 impulse image itself: full output is w (conv) / rot180(w) (corr)."""
    w = np.arange(1, np.prod(kshape) + 1, dtype=np.float64).reshape(kshape)
    one = np.ones((1, 1))
    np.testing.assert_array_equal(cc.convolve2d(one, w), w)
    np.testing.assert_array_equal(cc.correlate2d(one, w), w[::-1, ::-1])
    # 'valid' with the bigger kernel swaps: convolution unchanged, correlation reversed
    np.testing.assert_array_equal(cc.convolve2d(one, w, "valid"), w)
    np.testing.assert_array_equal(cc.correlate2d(one, w, "valid"), w[::-1, ::-1])
    np.testing.assert_array_equal(signal.correlate2d(one, w, "valid"), w[::-1, ::-1])


@pytest.mark.parametrize("mode", ["full", "valid"])
@pytest.mark.parametrize("kshape", [(1, 1), (2, 2), (3, 5), (4, 3), (6, 6)])
@pytest.mark.parametrize("method", ["auto", "direct", "fft"])
def test_convolve_is_correlate_with_flipped_kernel(mode, kshape, method):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((23, 17))
    w = rng.standard_normal(kshape)
    a = cc.convolve2d(x, w, mode, method=method)
    b = cc.correlate2d(x, w[::-1, ::-1], mode, method=method)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # exact for integers
    xi = rng.integers(-50, 50, (23, 17))
    wi = rng.integers(-5, 5, kshape)
    np.testing.assert_array_equal(cc.convolve2d(xi, wi, mode, method=method),
                                  cc.correlate2d(xi, wi[::-1, ::-1], mode, method=method))


@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_symmetric_kernel_same_result(boundary, mode):
    rng = np.random.default_rng(3)
    x = rng.integers(-100, 100, (13, 11))
    # symmetric under 180-degree rotation, odd size: correlate == convolve everywhere
    w = np.array([[1, 2, 3], [4, 5, 4], [3, 2, 1]])
    assert np.array_equal(w, w[::-1, ::-1])
    a = cc.convolve2d(x, w, mode, boundary)
    b = cc.correlate2d(x, w, mode, boundary)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, signal.convolve2d(x, w, mode, boundary))
    # 1-D symmetric kernel
    v = np.array([1, -2, 5, -2, 1])
    a1 = rng.integers(-9, 9, 17)
    np.testing.assert_array_equal(cc.convolve(a1, v, mode), cc.correlate(a1, v, mode))
