"""scipy.ndimage.correlate/convolve over three and four axes (volumes), against SciPy.

A filter over more than two axes runs on the CPU as one pass of the planes
kernel (every tap summed in SciPy's C order, so equal to SciPy bit for bit
where the kernel fits in the volume), on the device backends as the 2-D
kernels once per tap of its leading axes; every mode, origin, dtype, layout
and backend must give SciPy's values (float tolerance; integer outputs
exactly where the sums are exact).
"""

import itertools

import numpy as np
import pytest
import scipy.ndimage as ndi

import corrconv_gpu as cc
from corrconv_gpu import ndimage as cnd

MODES = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-mirror",
         "grid-constant", "grid-wrap"]
FUNCS = [(cnd.correlate, ndi.correlate), (cnd.convolve, ndi.convolve)]


def _close(got, want, x, w):
    assert got.dtype == want.dtype and got.shape == want.shape
    scale = max(float(np.abs(w).sum()) * max(float(np.abs(x).max()), 2.5), 1.0)
    assert np.abs(got.astype(np.complex128) - want).max() <= 1e-12 * scale


def _origins(kshape, which):
    """Per axis: the smallest, zero or the largest origin SciPy accepts."""
    lo = [-(k // 2) for k in kshape]
    hi = [(k - 1) // 2 for k in kshape]
    return {"lo": lo, "zero": [0] * len(kshape), "hi": hi,
            "mixed": [lo[0], hi[1]] + [0] * (len(kshape) - 2)}[which]


@pytest.mark.parametrize("backend", ["cpu", "emulated"])
@pytest.mark.parametrize("mode", MODES)
def test_3d_every_mode_and_origin(backend, mode, rng):
    x = rng.standard_normal((7, 8, 9))
    with cc.use_backend(backend):
        for (ours, theirs), kshape in itertools.product(FUNCS, [(3, 3, 3), (2, 3, 4), (4, 1, 3)]):
            w = rng.standard_normal(kshape)
            for which in ("lo", "zero", "hi", "mixed"):
                o = _origins(kshape, which)
                got = ours(x, w, mode=mode, cval=-1.5, origin=o)
                _close(got, theirs(x, w, mode=mode, cval=-1.5, origin=o), x, w)


@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap", "mirror", "nearest"])
def test_4d_and_axes(mode, rng):
    x = rng.standard_normal((4, 5, 6, 7))
    w = rng.standard_normal((2, 3, 3, 2))
    for ours, theirs in FUNCS:
        _close(ours(x, w, mode=mode, cval=0.5), theirs(x, w, mode=mode, cval=0.5), x, w)
        w3 = rng.standard_normal((3, 2, 3))
        for axes in ((0, 1, 3), (1, 2, 3), (-4, 2, -1)):
            _close(ours(x, w3, mode=mode, axes=axes, origin=(1, 0, -1)),
                   theirs(x, w3, mode=mode, axes=axes, origin=(1, 0, -1)), x, w3)


@pytest.mark.parametrize("mode", ["reflect", "mirror", "wrap", "nearest", "constant"])
def test_kernels_larger_than_the_volume(mode, rng):
    x = rng.standard_normal((2, 3, 4))
    w = rng.standard_normal((5, 7, 6))
    for ours, theirs in FUNCS:
        _close(ours(x, w, mode=mode, cval=2.0), theirs(x, w, mode=mode, cval=2.0), x, w)
    one = rng.standard_normal((1, 3, 4))               # a singleton axis, filtered
    _close(cnd.correlate(one, w, mode=mode), ndi.correlate(one, w, mode=mode), one, w)


def test_dtypes_and_outputs(rng):
    xi = rng.integers(0, 256, (6, 7, 8)).astype(np.uint8)
    wi = rng.integers(-3, 4, (3, 3, 2)).astype(np.float64)   # exact sums: exact results
    for ours, theirs in FUNCS:
        for mode in ("reflect", "constant"):
            got, want = ours(xi, wi, mode=mode, cval=7), theirs(xi, wi, mode=mode, cval=7)
            assert got.dtype == np.uint8
            np.testing.assert_array_equal(got, want)        # wraps as SciPy stores
            for out in (np.int16, np.float32):
                np.testing.assert_array_equal(ours(xi, wi, output=out, mode=mode),
                                              theirs(xi, wi, output=out, mode=mode))
        arr = np.empty(xi.shape, np.int32)
        assert ours(xi, wi, output=arr) is arr
        np.testing.assert_array_equal(arr, theirs(xi, wi, output=np.int32))
    xf = rng.standard_normal((5, 6, 7)).astype(np.float32)
    wc = rng.standard_normal((3, 2, 3)) + 1j * rng.standard_normal((3, 2, 3))
    xc = xf + 1j * rng.standard_normal(xf.shape)
    for ours, theirs in FUNCS:
        got = ours(xf, wi[:, :2])
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, theirs(xf, wi[:, :2]), rtol=1e-6, atol=1e-5)
        _close(ours(xf, wc, mode="wrap"), theirs(xf, wc, mode="wrap"), xf, wc)
        _close(ours(xc, wc, mode="constant", cval=1 - 2j),
               theirs(xc, wc, mode="constant", cval=1 - 2j), xc, wc)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_output_array_written_in_place(dt, rng, monkeypatch):
    """A C-contiguous ``output`` apart from the input is written by the planes
    kernel itself (no second array, no copy); an output that is the input,
    or a strided one, still gets SciPy's values."""
    from corrconv_gpu._backends import cpu
    x = rng.standard_normal((6, 9, 10)).astype(dt)
    w = rng.standard_normal((3, 3, 3))
    want = ndi.correlate(x, w, mode="mirror")
    seen = []
    real = cpu.execute_planes
    monkeypatch.setattr(cpu, "execute_planes",
                        lambda *a: seen.append(a[-1]) or real(*a))
    out = np.full(x.shape, np.nan, dt)
    assert cnd.correlate(x, w, output=out, mode="mirror") is out
    assert seen[-1] is not None and np.shares_memory(seen[-1], out)
    np.testing.assert_array_equal(out, want)
    x0 = x.copy()
    same = x.copy()
    assert cnd.correlate(same, w, output=same, mode="mirror") is same   # overlaps its input
    assert seen[-1] is None
    np.testing.assert_array_equal(same, want)
    np.testing.assert_array_equal(x, x0)
    wide = np.full((6, 9, 20), np.nan, dt)
    assert cnd.correlate(x, w, output=wide[:, :, ::2], mode="mirror").base is wide
    np.testing.assert_array_equal(wide[:, :, ::2], want)
    assert np.isnan(wide[:, :, 1::2]).all()


@pytest.mark.parametrize("mode", ["reflect", "constant", "wrap", "grid-mirror", "nearest"])
def test_cpu_planes_kernel_equals_scipy_bitwise(mode, rng, monkeypatch):
    """The CPU's one-pass kernel sums in SciPy's order: float64 and float32
    results equal SciPy's exactly, and so do integer outputs of inexact
    sums (the truncation sees the same float64 value)."""
    import corrconv_gpu._backends.cpu as cpu
    calls = []
    real = cpu.execute_planes
    monkeypatch.setattr(cpu, "execute_planes", lambda *a: calls.append(1) or real(*a))
    cases = [(rng.standard_normal((6, 7, 9)), (3, 3, 3)),
             (rng.standard_normal((6, 7, 9)).astype(np.float32), (2, 5, 4)),
             (rng.integers(0, 4000, (5, 6, 8)).astype(np.uint16), (3, 2, 3)),
             (rng.integers(0, 255, (5, 6, 8)).astype(np.uint8), (3, 3, 3)),
             (rng.standard_normal((3, 4, 5, 6)), (2, 3, 2, 3))]
    for x, kshape in cases:
        w = rng.standard_normal(kshape)
        for (ours, theirs), method in itertools.product(FUNCS, ("direct", "auto")):
            with cc.use_backend("cpu"):
                got = ours(x, w, mode=mode, cval=1.25, origin=-(kshape[0] // 2),
                           method=method)
            want = theirs(x, w, mode=mode, cval=1.25, origin=-(kshape[0] // 2))
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want, err_msg=str((x.dtype, kshape, method)))
    assert len(calls) == len(cases) * 4


def test_views_and_inputs_unchanged(rng):
    base = rng.standard_normal((9, 10, 12))
    w = rng.standard_normal((3, 2, 3))
    for view in (base[::2, 1:, ::-1], base.transpose(2, 0, 1), base[::-1, ::-1, ::3],
                 np.asfortranarray(base)):
        x0, w0 = view.copy(), w.copy()
        for ours, theirs in FUNCS:
            _close(ours(view, w, mode="mirror"), theirs(view, w, mode="mirror"), view, w)
        np.testing.assert_array_equal(view, x0)
        np.testing.assert_array_equal(w, w0)


def test_zero_planes_of_the_kernel_skip_as_scipy(rng):
    """SciPy skips weights with |w| <= DBL_EPSILON; a NaN under a zero plane
    stays out of the result there too."""
    x = rng.standard_normal((5, 6, 7))
    x[0, 3, 3] = np.nan
    w = rng.standard_normal((3, 3, 3))
    w[0] = 0.0
    w[2] = 1e-17
    for ours, theirs in FUNCS:
        got, want = ours(x, w, mode="nearest"), theirs(x, w, mode="nearest")
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        ok = ~np.isnan(want)
        np.testing.assert_allclose(got[ok], want[ok], rtol=1e-12, atol=1e-12)


def test_empty_and_dask(rng):
    e = np.empty((0, 4, 5))
    assert cnd.correlate(e, np.ones((3, 3, 3))).shape == (0, 4, 5)
    da = pytest.importorskip("dask.array")
    import corrconv_gpu.dask as ccd
    x = rng.standard_normal((11, 9, 10))
    w = rng.standard_normal((3, 4, 2))
    d = da.from_array(x, chunks=(4, 5, 3))
    for name in ("correlate", "convolve"):
        for mode in ("reflect", "constant", "wrap"):
            got = getattr(ccd, name)(d, w, mode=mode, cval=1.0, origin=(1, -1, 0)).compute()
            want = getattr(ndi, name)(x, w, mode=mode, cval=1.0, origin=(1, -1, 0))
            _close(got, want, x, w)


@pytest.mark.parametrize("backend", ["cpu", "emulated"])
@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "mirror", "wrap"])
def test_whole_array_fft(backend, mode, rng):
    """method='fft' (and 'auto' for large kernels): whole-array transforms of
    the extended input, SciPy's values within float tolerance."""
    x = rng.standard_normal((8, 9, 10))
    xc = x + 1j * rng.standard_normal(x.shape)
    w = rng.standard_normal((3, 4, 5))
    wc = w - 1j * rng.standard_normal(w.shape)
    with cc.use_backend(backend):
        for ours, theirs in FUNCS:
            o = (1, -2, 0)
            _close(ours(x, w, mode=mode, cval=0.5, origin=o, method="fft"),
                   theirs(x, w, mode=mode, cval=0.5, origin=o), x, w)
            _close(ours(xc, wc, mode=mode, cval=0.5 - 1j, method="fft"),
                   theirs(xc, wc, mode=mode, cval=0.5 - 1j), xc, wc)
    big = rng.standard_normal((40, 40, 40))
    wb = rng.standard_normal((13, 13, 13))
    from corrconv_gpu import _dispatch
    assert _dispatch.choose_nd(big, {0: 13, 1: 13, 2: 13}, "auto", mode, 0.0) == "fft"
    with cc.use_backend(backend):
        _close(cnd.correlate(big, wb, mode=mode), ndi.correlate(big, wb, mode=mode), big, wb)


def test_fft_keeps_nan_where_scipy_does(rng):
    """NaN/Inf in the input (or the fill) keep the filter off the FFT, which
    would spread them over the whole volume."""
    from corrconv_gpu import _dispatch
    x = rng.standard_normal((40, 40, 40))
    w = rng.standard_normal((13, 13, 13))
    k = {0: 13, 1: 13, 2: 13}
    assert _dispatch.choose_nd(x, k, "auto", "reflect", 0.0) == "fft"
    x[10, 10, 10] = np.nan
    assert _dispatch.choose_nd(x, k, "auto", "reflect", 0.0) == "direct"
    for method in ("auto", "fft"):
        got = cnd.correlate(x, w, mode="nearest", method=method)
        want = ndi.correlate(x, w, mode="nearest")
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        assert np.isfinite(got).sum() > 0
    y = rng.standard_normal((40, 40, 40))
    assert _dispatch.choose_nd(y, k, "fft", "constant", np.inf) == "direct"


@pytest.mark.parametrize("backend", ["cpu", "emulated"])
def test_float16_volumes_are_computed(backend, rng):
    """SciPy refuses float16; here it is summed in float64 (SciPy's sum of
    the same values) and rounded once: its float64 result cast to float16."""
    x = rng.standard_normal((6, 7, 8)).astype(np.float16)
    w = rng.standard_normal((3, 2, 3))
    with pytest.raises(RuntimeError, match="not supported"):
        ndi.correlate(x, w)
    with cc.use_backend(backend):
        for (ours, theirs), mode in itertools.product(FUNCS, ("reflect", "constant")):
            got = ours(x, w, mode=mode, cval=0.5)
            want = theirs(x.astype(np.float64), w, mode=mode, cval=0.5)
            assert got.dtype == np.float16
            np.testing.assert_array_equal(got, want.astype(np.float16))
        got = cnd.correlate1d(x, [1.0, -2.0, 0.5], axis=0, output=np.float16)
        np.testing.assert_array_equal(
            got, ndi.correlate1d(x.astype(np.float64), [1.0, -2.0, 0.5], axis=0)
            .astype(np.float16))
