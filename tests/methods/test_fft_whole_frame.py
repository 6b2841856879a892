"""The GPU path's whole-frame FFT (corrconv_gpu._methods.fft.frame_spectrum /
fft_correlate_frame), run here through the emulated backend with scipy.fft in
place of cupy.fft: fast lengths, the transforms' dtypes, every result dtype
against the reference, one kernel spectrum per call (kept for the next call
with the same weights), and the tiles where a frame is too large."""
import collections

import numpy as np
import pytest

import corrconv_gpu as cc
from corrconv_gpu import reference
from corrconv_gpu._methods import fft as _fft


def test_fast_len_is_the_next_7_smooth_length():
    def smooth(n):
        for p in (2, 3, 5, 7):
            while n % p == 0:
                n //= p
        return n == 1
    for n in list(range(1, 400)) + [4096 + 62, 8192 + 62, 8193, 12345]:
        L = _fft.fast_len(n)
        assert L >= n and smooth(L)
        assert all(not smooth(m) for m in range(n, L))
    assert _fft.fast_len(8193) == 8232           # 2^3 3 7^3
    assert _fft.fast_len(8192 + 62) == 8400      # 2^4 3 5^2 7


@pytest.mark.parametrize("dt,fast,want", [
    ("float16", False, "float32"), ("float16", True, "float32"),
    ("float32", False, "float64"), ("float32", True, "float32"),
    ("float64", True, "float64"), ("complex64", False, "complex128"),
    ("complex64", True, "complex64"), ("complex128", True, "complex128")])
def test_transform_dtypes(dt, fast, want):
    assert _fft.frame_work_dtype(np.dtype(dt), fast) == np.dtype(want)


def _data(shape, dt, rng):
    x = rng.standard_normal(shape)
    if np.dtype(dt).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dt)


@pytest.mark.parametrize("dt", ["float16", "float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("ks", [(5, 4), (1, 7), (6, 1), (1, 1), (9, 9)])
def test_frames_against_reference(dt, ks):
    rng = np.random.default_rng(sum(ks) + len(dt))
    x = _data((3, 23, 30), dt, rng)
    w = _data(ks, dt, rng)
    x0, w0 = x.copy(), w.copy()
    tol = 4e-3 if dt == "float16" else 1e-10 if dt in ("float64", "complex128") else 1e-6
    acc = np.complex128 if np.dtype(dt).kind == "c" else np.float64
    for fn, ref in ((cc.correlate2d, reference.correlate2d),
                    (cc.convolve2d, reference.convolve2d)):
        for mode, boundary in (("same", "fill"), ("full", "wrap"), ("valid", "symm")):
            with cc.use_backend("emulated"):
                got = fn(x, w, mode, boundary, method="fft", axes=(-2, -1))
            assert got.dtype == np.dtype(dt)
            for b in range(x.shape[0]):
                want = ref(x[b].astype(acc), w.astype(acc), mode, boundary)
                scale = np.abs(x[b].astype(acc)).max() * np.abs(w.astype(acc)).sum()
                assert np.abs(got[b].astype(acc) - want).max() <= tol * scale
    assert np.array_equal(x, x0) and np.array_equal(w, w0)


def test_one_spectrum_per_call_and_tiles_for_large_frames(monkeypatch):
    calls = {"spectrum": 0, "frame": 0, "tiles": 0}

    def count(name, fn):
        def wrapped(*a, **k):
            calls[name] += 1
            return fn(*a, **k)
        return wrapped

    monkeypatch.setattr(_fft, "frame_spectrum", count("spectrum", _fft.frame_spectrum))
    monkeypatch.setattr(_fft, "fft_correlate_frame", count("frame", _fft.fft_correlate_frame))
    monkeypatch.setattr(_fft, "fft_correlate_window", count("tiles", _fft.fft_correlate_window))
    rng = np.random.default_rng(3)
    x = rng.random((4, 40, 37)).astype(np.float32)
    w = rng.standard_normal((7, 7)).astype(np.float32)
    with cc.use_backend("emulated"):
        whole = cc.correlate2d(x, w, "same", method="fft", axes=(-2, -1))
    assert calls == {"spectrum": 1, "frame": 4, "tiles": 0}
    monkeypatch.setattr(_fft, "WHOLE_FRAME_MAX_ELEMS", 100)
    with cc.use_backend("emulated"):
        tiled = cc.correlate2d(x, w, "same", method="fft", axes=(-2, -1))
    assert calls["tiles"] == 4 and calls["frame"] == 4
    np.testing.assert_allclose(whole, tiled, rtol=0, atol=1e-5)


@pytest.mark.parametrize("backend", [pytest.param("emulated", id="emulated"),
                                     pytest.param("cuda", id="cuda", marks=pytest.mark.gpu)])
def test_kernel_spectrum_kept_across_calls_and_renewed_when_weights_change(backend,
                                                                           monkeypatch):
    xp = np if backend == "emulated" else pytest.importorskip("cupy")
    made = []
    kept = _fft._spectrum_cached

    def counting(key, compute, device=False):
        def counted():
            made.append(key)
            return compute()
        return kept(key, counted, device)

    monkeypatch.setattr(_fft, "_spectrum_cached", counting)
    monkeypatch.setattr(_fft, "_SPECTRA", collections.OrderedDict())
    rng = np.random.default_rng(8)
    xh = rng.random((2, 40, 37)).astype(np.float32)
    wh = rng.standard_normal((7, 6)).astype(np.float32)
    x, w = xp.asarray(xh), xp.asarray(wh)

    def run(fn):
        with cc.use_backend(backend):
            got = fn(x, w, "same", method="fft", axes=(-2, -1))
        return got if xp is np else got.get()

    def check(got, ref_fn):
        for b in range(2):
            want = ref_fn(xh[b].astype(np.float64), wh.astype(np.float64), "same")
            assert np.abs(got[b] - want).max() <= 1e-5 * np.abs(wh).sum()

    first, again = run(cc.correlate2d), run(cc.correlate2d)
    assert len(made) == 1 and np.array_equal(first, again)
    check(first, reference.correlate2d)
    check(run(cc.convolve2d), reference.convolve2d)   # another spectrum (flipped)
    assert len(made) == 2
    w[3, 2] += 1                                      # changed in place: a new spectrum
    wh[3, 2] += 1
    check(run(cc.correlate2d), reference.correlate2d)
    assert len(made) == 3
    assert len(_fft._SPECTRA) == 3


def test_device_spectra_kept_up_to_their_byte_budget(monkeypatch):
    monkeypatch.setattr(_fft, "_SPECTRA", collections.OrderedDict())
    monkeypatch.setattr(_fft, "DEVICE_SPECTRUM_CACHE_BYTES", 3000)
    monkeypatch.setattr(_fft, "SPECTRUM_CACHE_MAX_BYTES", 100)
    made = []

    def spectrum(n):
        def compute():
            made.append(n)
            return np.zeros(n, np.complex128)       # n * 16 bytes
        return compute

    for n in (100, 60, 100):                         # 1600 + 960 <= 3000; then 1600 more
        _fft._spectrum_cached(("d", n), spectrum(n), device=True)
    assert made == [100, 60] and list(_fft._SPECTRA) == [("d", 60), ("d", 100)]
    _fft._spectrum_cached(("d", 120), spectrum(120), device=True)   # 1920: the rest go
    assert list(_fft._SPECTRA) == [("d", 120)]
    _fft._spectrum_cached(("d", 200), spectrum(200), device=True)   # over the budget: not kept
    _fft._spectrum_cached(("h", 10), spectrum(10))                  # host: 160 > 100 bytes
    assert list(_fft._SPECTRA) == [("d", 120)] and made[-2:] == [200, 10]


def test_float16_is_fft_capable_on_the_gpu_path_but_never_separable():
    from corrconv_gpu._backends import cuda
    assert cuda.fft_capable(np.dtype(np.float16))
    assert cuda.factor_dtype(np.dtype(np.float16)) is None   # separable: direct kernel
