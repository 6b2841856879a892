"""The CPU FFT method: tile plans (multi-tile, odd tile counts, the shifted last
tile, thin single-tile axes), real tiles packed two per complex slot, border
tiles read through the boundary extension, threads and the reused workspace."""
import threading

import numpy as np
import pytest

from corrconv_gpu._util import threads as _threads
from corrconv_gpu._boundary import extended_block
from corrconv_gpu._methods import fft as F
from conftest import window_data as _data, window_expected as _expected

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]
BOUNDARIES = ["constant", "wrap", "symmetric", "mirror", "nearest"]


def _tol(x, w, dtype, fast=False):
    single = np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.complex64))
    rel = 2e-6 if fast and single else (2e-7 if single else 1e-12)
    return rel * np.abs(w).sum() * max(np.abs(x).max(), 1.0)


@pytest.fixture
def tiles(monkeypatch):
    """Force the FFT lengths (L0, L1) of the next plans."""
    def force(L0, L1):
        def plan(n0, n1, K0, K1, cplx, itemsize, gpu=False):
            return F._Axis(n0, K0, L0), F._Axis(n1, K1, L1), 0.0
        monkeypatch.setattr(F, "plan_tiles", plan)
    return force


# (M0, M1, K0, K1, L0, L1): 3x5 tiles (odd count, last tiles shifted back),
# 1 x 1 tile, thin single-tile axes (zero padding renewed per batch)
CASES = [
    (61, 83, 5, 7, 16, 20),
    (40, 37, 9, 3, 18, 12),
    (12, 12, 3, 3, 16, 16),
    (3, 200, 2, 9, 8, 32),
    (150, 4, 13, 4, 32, 8),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("flip,conj", [(False, False), (True, True)])
def test_forced_tiles_match_the_sum(tiles, dtype, case, flip, conj):
    M0, M1, K0, K1, L0, L1 = case
    rng = np.random.default_rng(M0 * 1000 + M1)
    x, w = _data((M0, M1), dtype, rng), _data((K0, K1), dtype, rng)
    x0, w0 = x.copy(), w.copy()
    n0, n1 = M0 - K0 + 1, M1 - K1 + 1
    tiles(L0, L1)
    out = np.full((n0 + 2, n1 + 3), 7, dtype=dtype)
    F.fft_correlate_window(x, 0, 0, w, flip, conj, out, 1, 2, n0, n1)
    want = _expected(x, 0, 0, w, flip, conj, n0, n1, "constant", 0)
    assert np.abs(out[1:1 + n0, 2:2 + n1] - want).max() <= _tol(x, w, dtype)
    # nothing outside the window is written; inputs unchanged
    mask = np.ones(out.shape, bool)
    mask[1:1 + n0, 2:2 + n1] = False
    assert (out[mask] == 7).all()
    assert np.array_equal(x, x0) and np.array_equal(w, w0)


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_fast_float32_forced_tiles(tiles, dtype):
    rng = np.random.default_rng(5)
    x, w = _data((70, 90), dtype, rng), _data((7, 11), dtype, rng)
    n0, n1 = 64, 80
    tiles(24, 30)
    out = np.empty((n0, n1), dtype=dtype)
    F.fft_correlate_window(x, 0, 0, w, False, True, out, 0, 0, n0, n1,
                           fast_float32=True)
    want = _expected(x, 0, 0, w, False, True, n0, n1, "constant", 0)
    assert np.abs(out - want).max() <= _tol(x, w, dtype, fast=True)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("dtype", [np.float64, np.complex128, np.float32])
@pytest.mark.parametrize("window", [
    # (M0, M1, K0, K1, xr0, xc0, n0, n1): 'same'-like, 'full'-like, a window
    # larger than the input, a kernel larger than the input
    (50, 41, 7, 5, -3, -2, 50, 41),
    (33, 29, 9, 9, -8, -8, 41, 37),
    (5, 6, 3, 4, -4, -7, 13, 19),
    (6, 5, 11, 9, -10, -8, 16, 13),
])
def test_border_tiles_read_the_extension(tiles, boundary, dtype, window):
    M0, M1, K0, K1, xr0, xc0, n0, n1 = window
    rng = np.random.default_rng(K0 * 100 + K1)
    x, w = _data((M0, M1), dtype, rng), _data((K0, K1), dtype, rng)
    tiles(max(16, K0 + 4), max(16, K1 + 4))
    got = np.empty((n0, n1), dtype=dtype)
    F.fft_correlate_window(x, xr0, xc0, w, False, False, got, 0, 0, n0, n1,
                           boundary=boundary, fill=1.5)
    # the same tiles from an extended copy: bitwise equal
    ext = extended_block(x, (xr0, xr0 + n0 + K0 - 1), (xc0, xc0 + n1 + K1 - 1),
                         boundary, 1.5)
    ref = np.empty_like(got)
    F.fft_correlate_window(ext, 0, 0, w, False, False, ref, 0, 0, n0, n1)
    assert np.array_equal(got, ref)
    want = _expected(x, xr0, xc0, w, False, False, n0, n1, boundary, 1.5)
    assert np.abs(got - want).max() <= _tol(ext, w, dtype)


def test_window_out_of_bounds_without_boundary():
    x = np.ones((10, 10))
    w = np.ones((3, 3))
    out = np.empty((10, 10))
    with pytest.raises(ValueError, match="out of bounds"):
        F.fft_correlate_window(x, -1, 0, w, False, False, out, 0, 0, 8, 8)
    with pytest.raises(ValueError, match="out of bounds"):
        F.fft_correlate_window(x, 0, 0, w, False, False, out, 0, 0, 9, 8)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_result_independent_of_threads(tiles, monkeypatch, dtype):
    rng = np.random.default_rng(9)
    x, w = _data((200, 170), dtype, rng), _data((9, 7), dtype, rng)
    n0, n1 = 192, 164
    tiles(40, 36)
    got = []
    for t in (1, 2, 3, 5):
        monkeypatch.setattr(_threads, "num_threads", lambda t=t: t)
        out = np.empty((n0, n1), dtype=dtype)
        F.fft_correlate_window(x, 0, 0, w, False, False, out, 0, 0, n0, n1)
        got.append(out)
    assert all(np.array_equal(got[0], g) for g in got[1:])
    want = _expected(x, 0, 0, w, False, False, n0, n1, "constant", 0)
    assert np.abs(got[0] - want).max() <= _tol(x, w, dtype)


def test_workspace_reused_per_thread():
    a = F._workspace((2, 8, 8), np.dtype(np.complex128))
    b = F._workspace((1, 8, 8), np.dtype(np.complex128))
    assert np.shares_memory(a, b)                  # same thread: reused
    other = []
    t = threading.Thread(target=lambda: other.append(
        F._workspace((2, 8, 8), np.dtype(np.complex128))))
    t.start()
    t.join()
    assert not np.shares_memory(a, other[0])       # another thread: its own
    big = F.WORKSPACE_MAX_BYTES // 16 + 1
    c = F._workspace((big,), np.dtype(np.complex128))
    assert not np.shares_memory(c, F._workspace((big,), np.dtype(np.complex128)))


def test_consecutive_calls_of_other_shapes_and_dtypes():
    """The reused workspace never leaks one call's data into the next."""
    rng = np.random.default_rng(11)
    for shape, k, dtype in [((300, 280), 31, np.float64), ((40, 50), 5, np.complex64),
                            ((300, 280), 31, np.float32), ((9, 400), 3, np.float64)]:
        x, w = _data(shape, dtype, rng), _data((k, k), dtype, rng)
        n0, n1 = shape[0] - k + 1, shape[1] - k + 1
        out = np.empty((n0, n1), dtype=dtype)
        F.fft_correlate_window(x, 0, 0, w, True, False, out, 0, 0, n0, n1)
        want = _expected(x, 0, 0, w, True, False, n0, n1, "constant", 0)
        assert np.abs(out - want).max() <= _tol(x, w, dtype)


def test_plan_prefers_tiles_over_one_huge_transform():
    ax0, ax1, est = F.plan_tiles(4034, 4034, 63, 63, False, 8)
    assert ax0.count > 1 and ax1.count > 1 and est > 0
    assert ax0.L <= F.CPU_MAX_L and ax1.L <= F.CPU_MAX_L
    # a thin window: one tile on the thin axis
    ax0, ax1, _ = F.plan_tiles(2, 4000, 3, 3, False, 8)
    assert ax0.count == 1 and ax0.lin == 4


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_spectrum_cache_keys_on_weights_flip_and_conj(dtype):
    """Memoized kernel spectra: a new kernel of the same shape, or the same
    kernel flipped or conjugated, never reuses a stale spectrum."""
    rng = np.random.default_rng(13)
    x = _data((120, 110), dtype, rng)
    w1, w2 = _data((9, 9), dtype, rng), _data((9, 9), dtype, rng)
    n0, n1 = 112, 102
    for w in (w1, w2, w1):
        for flip, conj in [(False, False), (True, False), (False, True), (True, True)]:
            out = np.empty((n0, n1), dtype=dtype)
            F.fft_correlate_window(x, 0, 0, w, flip, conj, out, 0, 0, n0, n1)
            want = _expected(x, 0, 0, w, flip, conj, n0, n1, "constant", 0)
            assert np.abs(out - want).max() <= _tol(x, w, dtype)
    assert 0 < len(F._SPECTRA) <= F.SPECTRUM_CACHE_ENTRIES
    assert all(not H.flags.writeable for H, _ in F._SPECTRA.values())


def test_gpu_plan_uses_few_large_tiles():
    """On the GPU a tile costs host-side launches (GPU_TILE_OVERHEAD): the
    plan keeps the tile count small. Without that charge it chose small
    tiles, and an H100 took 10.8 ms on 4096^2 K=3 (about 2.8 ms with it)."""
    for K in (3, 15, 63):
        ax0, ax1, est = F.plan_tiles(4096, 4096, K, K, False, 8, True)
        assert ax0.count * ax1.count <= 4, (K, ax0, ax1)
        assert est > 0
