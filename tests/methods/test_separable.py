"""The separable / low-rank method (corrconv_gpu._methods.separable).

Every window is compared with a float64 / complex128 sliding-window sum
(integers: uint64 arithmetic, i.e. exact modulo 2**64) and, for integers, with
the direct method bit for bit.
"""

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from corrconv_gpu._backends.cpu.direct import correlate_window as direct
from corrconv_gpu._methods.separable import (
    MAX_RANK, RTOL, decompose, separable_correlate_window,
    separable_cost_estimate)

FLOATS = [np.float32, np.float64, np.complex64, np.complex128]
FLIPCONJ = [(False, False), (True, False), (False, True), (True, True)]


def _W(w, flip, conj):
    W = w[::-1, ::-1] if flip else w
    return np.conj(W) if conj else W


def reference(x, xr0, xc0, w, flip, conj, n0, n1):
    """Window contract from the definition, in a wide accumulator."""
    K0, K1 = w.shape
    W = _W(w, flip, conj)
    if w.dtype.kind == "i":
        xs = x.astype(np.uint64)
        W = W.astype(np.uint64)
        acc = np.uint64
    else:
        acc = np.complex128 if w.dtype.kind == "c" else np.float64
        xs = x.astype(acc)
        W = W.astype(acc)
    win = sliding_window_view(xs[xr0:xr0 + n0 + K0 - 1, xc0:xc0 + n1 + K1 - 1],
                              (K0, K1))
    out = np.zeros((n0, n1), acc)
    with np.errstate(over="ignore"):
        for p in range(K0):
            for q in range(K1):
                out = out + win[:, :, p, q] * W[p, q]
    return out.view(np.int64) if acc is np.uint64 else out


def _data(rng, shape, dt):
    dt = np.dtype(dt)
    a = rng.standard_normal(shape)
    if dt.kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dt)


def _tol(w, x):
    dt = w.dtype
    scale = float(np.abs(w.astype(np.complex128)).sum()
                  * np.abs(x.astype(np.complex128)).max())
    return (1e-5 if dt in (np.float32, np.complex64) else 1e-12) * scale


def run_window(x, w, flip, conj, n0, n1, xr0=0, xc0=0, or0=0, oc0=0,
               out_shape=None, factors=None, fn=None):
    """Run the separable window into a sentinel-filled output; check that
    nothing outside the window was touched; return the window."""
    if out_shape is None:
        out_shape = (or0 + n0, oc0 + n1)
    sentinel = 7
    out = np.full(out_shape, sentinel, dtype=x.dtype)
    separable_correlate_window(x, xr0, xc0, w, flip, conj, out, or0, oc0,
                               n0, n1, factors=factors, direct=fn or direct)
    mask = np.ones(out_shape, bool)
    mask[or0:or0 + n0, oc0:oc0 + n1] = False
    assert (out[mask] == sentinel).all()
    return out[or0:or0 + n0, oc0:oc0 + n1]


def check_float(x, w, flip, conj, n0, n1, **kw):
    got = run_window(x, w, flip, conj, n0, n1, **kw)
    ref = reference(x, kw.get("xr0", 0), kw.get("xc0", 0), w, flip, conj, n0, n1)
    err = np.abs(got.astype(ref.dtype) - ref).max()
    assert err <= _tol(w, x), (err, _tol(w, x))


def gauss(k, s=None):
    t = np.arange(k) - (k - 1) / 2
    g = np.exp(-0.5 * (t / (s or max(k / 4, 0.5))) ** 2)
    return g / g.sum()


# ------------------------------------------------------------ decomposition

@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("K", [(5, 5), (7, 3), (4, 6), (2, 9)])
def test_rank1_gaussian_decomposes(dt, K):
    w = np.outer(gauss(K[0]), gauss(K[1], 1.3)).astype(dt)
    f = decompose(w)
    assert f is not None and len(f) == 1
    u, v = f[0]
    assert u.shape == (K[0],) and v.shape == (K[1],)
    assert u.dtype == dt and v.dtype == dt
    rec = np.outer(u.astype(np.complex128), v.astype(np.complex128))
    assert np.abs(rec - w).sum() <= 1e-6 * np.abs(w).sum()


def test_box_and_rank2_and_full_rank():
    assert len(decompose(np.ones((5, 5), np.float32) / 25)) == 1
    rng = np.random.default_rng(1)
    w2 = (np.outer(gauss(7), gauss(7, 0.8)) - 0.3 * np.outer(rng.random(7), rng.random(7)))
    assert len(decompose(w2)) == 2
    assert len(decompose(w2.astype(np.float32))) == 2
    w3 = sum(np.outer(rng.random(9), rng.random(9)) for _ in range(3))
    assert decompose(w3) is None
    assert len(decompose(w3, max_rank=3)) == 3
    assert decompose(rng.standard_normal((5, 5))) is None      # full rank
    assert decompose(rng.standard_normal((5, 5)).astype(np.complex64)) is None
    assert MAX_RANK == 2


def test_tolerance_and_special_kernels():
    rng = np.random.default_rng(2)
    w = np.outer(gauss(9), gauss(9))
    noise = rng.standard_normal(w.shape)
    # within the float32 rtol (1e-7 relative), far outside the float64 one
    w_near = (w + 1e-10 * noise * np.abs(w).max())
    assert decompose(w_near.astype(np.float32)) is not None
    assert decompose(w_near) is None
    assert decompose(w_near, rtol=RTOL[np.dtype(np.float32)]) is not None
    assert decompose((w + 1e-4 * noise * w.max()).astype(np.float32)) is None
    assert decompose(np.zeros((3, 3))) is None
    assert decompose(np.zeros((3, 3), np.int64)) is None
    bad = w.copy()
    bad[1, 1] = np.nan
    assert decompose(bad) is None
    assert decompose(np.ones((3, 3), np.float16)) is None    # not a compute dtype
    # rank 2 always has growth >= 1: a limit below 1 refuses it
    w2 = np.outer(gauss(7), gauss(7)) + np.outer(np.arange(7.0), np.sin(np.arange(7.0)))
    assert len(decompose(w2)) == 2
    assert decompose(w2, max_growth=0.999) is None


def test_memoized():
    w = np.outer(gauss(11), gauss(5)).astype(np.float32)
    a = decompose(w)
    b = decompose(w.copy())
    assert a is b
    with pytest.raises(ValueError):
        a[0][0][0] = 1          # cached factors are read-only
    assert decompose(w.astype(np.float64)) is not a


def test_integer_exact_rank1():
    sobel = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], np.int64)
    (u, v), = decompose(sobel)
    assert u.dtype == np.int64 and v.dtype == np.int64
    assert (np.outer(u, v) == sobel).all()
    assert (np.outer(*decompose(sobel.T)[0]) == sobel.T).all()
    big = np.outer(np.array([3, -(2**31) + 1, 0, 5]), np.array([2**31 - 7, 6, -4]))
    (u, v), = decompose(big.astype(np.int64))
    assert (np.outer(u, v) == big).all()
    assert decompose(np.array([[1, 2], [3, 4]], np.int64)) is None      # rank 2
    assert decompose(np.array([[2, 4], [3, 6]], np.int64)) is not None  # 1/2 * ...
    # rank 1 over the rationals only with non-integer factors is still exact:
    # [[2, 3], [4, 6]] = [1, 2] x [2, 3]
    (u, v), = decompose(np.array([[2, 3], [4, 6]], np.int64))
    assert (np.outer(u, v) == [[2, 3], [4, 6]]).all()
    # factors beyond int64 are stored modulo 2**64 (exact there)
    edge = np.array([[-1, -(2**63)], [-1, -(2**63)]], np.int64)
    (u, v), = decompose(edge)
    with np.errstate(over="ignore"):
        assert (np.outer(u, v) == edge).all()
    x = np.random.default_rng(3).integers(-(2**62), 2**62, (9, 9), dtype=np.int64)
    got = run_window(x, edge, False, False, 8, 8)
    assert (got == reference(x, 0, 0, edge, False, False, 8, 8)).all()
    # rank 1 only: an integer rank-2 kernel is refused even if max_rank allows
    assert decompose(np.array([[1, 0], [0, 1]], np.int64), max_rank=3) is None


# ------------------------------------------------------------------ windows

@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("flip,conj", FLIPCONJ)
@pytest.mark.parametrize("K", [(5, 5), (4, 6), (7, 2), (3, 8)])
def test_rank1_window(dt, flip, conj, K):
    rng = np.random.default_rng([np.dtype(dt).num, flip, conj, K[0], K[1]])
    u = _data(rng, K[0], dt)
    v = _data(rng, K[1], dt)
    w = np.outer(u, v).astype(dt)
    assert len(decompose(w)) == 1
    x = _data(rng, (40, 37), dt)
    check_float(x, w, flip, conj, 23, 19, xr0=3, xc0=5, or0=2, oc0=4,
                out_shape=(30, 30))


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("flip,conj", FLIPCONJ)
def test_rank2_window(dt, flip, conj):
    rng = np.random.default_rng(5)
    K0, K1 = 6, 9
    w = (np.outer(_data(rng, K0, dt), _data(rng, K1, dt))
         + np.outer(_data(rng, K0, dt), _data(rng, K1, dt))).astype(dt)
    f = decompose(w)
    assert f is not None and len(f) == 2
    x = _data(rng, (50, 60), dt)
    check_float(x, w, flip, conj, 31, 40, xr0=4, xc0=7, or0=5, oc0=1,
                out_shape=(40, 45), factors=f)


@pytest.mark.parametrize("dt", [np.float32, np.complex128, np.int64])
@pytest.mark.parametrize("K", [(1, 7), (6, 1), (1, 1)])
def test_one_dimensional_kernels(dt, K):
    rng = np.random.default_rng(6)
    if np.dtype(dt).kind == "i":
        w = rng.integers(-5, 6, K).astype(dt)
        w.flat[0] = 3
        x = rng.integers(-100, 100, (20, 25)).astype(dt)
    else:
        w = _data(rng, K, dt)
        x = _data(rng, (20, 25), dt)
    f = decompose(w)
    assert len(f) == 1
    for flip, conj in FLIPCONJ:
        got = run_window(x, w, flip, conj, 12, 9, xr0=2, xc0=3, or0=1, oc0=2,
                         out_shape=(15, 15))
        ref = reference(x, 2, 3, w, flip, conj, 12, 9)
        if np.dtype(dt).kind == "i":
            assert (got == ref).all()
        else:
            assert np.abs(got - ref).max() <= _tol(w, x)


@pytest.mark.parametrize("flip", [False, True])
def test_integer_exact_with_wraparound(flip):
    rng = np.random.default_rng(7)
    u = np.array([3, -(2**30) + 11, 0, 2**29 + 1, -5], np.int64)
    v = np.array([2**31 - 1, 7, -(2**30), 1], np.int64)
    w = np.outer(u, v)                       # |entries| < 2**62: exact in int64
    (fu, fv), = decompose(w)
    assert (np.outer(fu, fv) == w).all()
    x = rng.integers(-(2**62), 2**62, (30, 33), dtype=np.int64)
    n0, n1 = 20, 25
    got = run_window(x, w, flip, False, n0, n1, xr0=3, xc0=2, or0=1, oc0=3,
                     out_shape=(24, 30))
    ref = reference(x, 3, 2, w, flip, False, n0, n1)
    assert (got == ref).all()
    # and the direct method agrees bit for bit
    d = np.zeros((n0, n1), np.int64)
    direct(x, 3, 2, w, flip, False, d, 0, 0, n0, n1)
    assert (got == d).all()


def test_sobel_integer_window():
    rng = np.random.default_rng(8)
    sobel = np.outer([1, 2, 1], [1, 0, -1]).astype(np.int64)
    x = rng.integers(0, 256, (64, 48)).astype(np.int64)
    for flip in (False, True):
        got = run_window(x, sobel, flip, False, 62, 46)
        assert (got == reference(x, 0, 0, sobel, flip, False, 62, 46)).all()


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_gaussian_and_box_windows_accuracy(dt):
    rng = np.random.default_rng(9)
    x = (rng.random((140, 130)) * 100).astype(dt)
    for w in (np.outer(gauss(15), gauss(9)), np.ones((7, 7)) / 49,
              np.outer(gauss(31), gauss(31))):
        w = w.astype(dt)
        assert len(decompose(w)) == 1
        for flip in (False, True):
            n0, n1 = 140 - w.shape[0] + 1, 130 - w.shape[1] + 1
            check_float(x, w, flip, False, n0, n1)


def test_thin_windows_and_default_factors():
    """Border-strip-like windows; factors computed from w when omitted."""
    rng = np.random.default_rng(10)
    w = np.outer(gauss(9), gauss(5)).astype(np.float64)
    x = _data(rng, (30, 40), np.float64)
    for n0, n1 in [(1, 36), (30 - 8, 1), (1, 1), (3, 2)]:
        check_float(x, w, True, False, n0, n1)
    # empty window: nothing written
    run_window(x, w, False, False, 0, 5, out_shape=(2, 5))
    with pytest.raises(ValueError):
        separable_correlate_window(x, 0, 0, rng.standard_normal((5, 5)), False,
                                   False, np.zeros((4, 4)), 0, 0, 4, 4, direct=direct)


def test_passes_use_the_given_direct_function():
    """Two 1-D calls per pair of factors, with the 2-D kernel never copied."""
    calls = []

    def spy(x, xr0, xc0, w, flip, conj, out, or0, oc0, n0, n1):
        calls.append((w.shape, n0, n1, flip, conj))
        direct(x, xr0, xc0, w, flip, conj, out, or0, oc0, n0, n1)

    rng = np.random.default_rng(11)
    w = (np.outer(rng.random(5), rng.random(7))
         + np.outer(rng.random(5), rng.random(7))).astype(np.complex128)
    x = _data(rng, (30, 30), np.complex128)
    check_float(x, w, True, True, 12, 10, xr0=2, xc0=1, fn=spy)
    assert calls == [((1, 7), 16, 10, True, True), ((5, 1), 12, 10, True, True)] * 2


def test_matches_direct_large_float32():
    """A 300x300 float32 window: separable vs direct vs the float64 truth."""
    rng = np.random.default_rng(12)
    w = np.outer(gauss(21), gauss(21)).astype(np.float32)
    x = rng.standard_normal((320, 320)).astype(np.float32)
    got = run_window(x, w, False, False, 300, 300)
    d = np.zeros((300, 300), np.float32)
    direct(x, 0, 0, w, False, False, d, 0, 0, 300, 300)
    ref = reference(x, 0, 0, w, False, False, 300, 300)
    assert np.abs(got - ref).max() <= _tol(w, x)
    assert np.abs(d - ref).max() <= _tol(w, x)


def test_cost_estimate():
    f32 = np.dtype(np.float32)
    c3 = separable_cost_estimate(2048, 2048, 3, 3, 1, f32)
    c63 = separable_cost_estimate(2048, 2048, 63, 63, 1, f32)
    c63r2 = separable_cost_estimate(2048, 2048, 63, 63, 2, f32)
    assert 0 < c3 < c63 < c63r2
    assert separable_cost_estimate(2048, 2048, 15, 15, 1, np.float64) > \
        separable_cost_estimate(2048, 2048, 15, 15, 1, np.float32)
    for dt in (np.complex64, np.complex128, np.int64):
        assert separable_cost_estimate(64, 64, 5, 5, 1, dt) > 0
    assert separable_cost_estimate(0, 64, 5, 5, 1, f32) >= 0
