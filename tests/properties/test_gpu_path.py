"""The GPU path: the differential matrix on the emulated CUDA backend (CI) and
on a real device (``pytest -m gpu``), plus the kernel's own rigor checks.

The ``emulated`` backend runs the exact ``kernels/corr2d.cu`` source, compiled
by g++ under ``corrconv_gpu._emu``, through the same Python launch code that
drives CuPy on a GPU (``corrconv_gpu._backends.cuda.launch.launch_corr2d``). The ``cuda``
variant of each test is marked ``gpu``: skipped with the reason where there is
no device, never passed vacuously.
"""

import functools
import itertools
import mmap

import numpy as np
import pytest

import corrconv_gpu as cc
from corrconv_gpu import reference as ref
from corrconv_gpu._backends.cuda.kernels import get_module
from corrconv_gpu._backends.cuda.launch import launch_corr2d
from corrconv_gpu._emu import EmuModule
from conftest import assert_matches
from test_differential import (BOUNDARIES, DTYPES, FILLS, LAYOUTS, METHODS, MODES,
                               SHAPES, _split, _values, check_case)

BACKENDS = [pytest.param("emulated", id="emulated"),
            pytest.param("cuda", id="cuda", marks=pytest.mark.gpu)]
DEVICE_DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
                 "float16", "float32", "float64", "complex64", "complex128"]

_CASES = list(itertools.product(MODES, BOUNDARIES, DTYPES))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("idx", range(len(_CASES)), ids=["-".join(c) for c in _CASES])
def test_matrix(backend, idx):
    """mode x boundary x dtype on the device path."""
    mode, boundary, dt = _CASES[idx]
    shapes = SHAPES[idx % len(SHAPES)]
    layout = LAYOUTS[(idx // 3) % len(LAYOUTS)]
    fill = FILLS[(idx // 2) % len(FILLS)]
    d = np.result_type(*_split(dt))
    methods = METHODS + ["separable"] if d.kind in "fc" else ["auto", "direct", "separable"]
    with cc.use_backend(backend):
        check_case(mode, boundary, dt, shapes, layout, fill, methods, seed=idx)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_shapes(backend, shapes):
    """Every shape (1x1, 1xN, Nx1, odd/even kernels, kernel larger than the image)."""
    with cc.use_backend(backend):
        for dt, layout in (("int16", "F"), ("float64", "negstride"), ("complex64", "view")):
            check_case("same", "symm", dt, shapes, layout, 2.5, ["direct"], seed=5)
            check_case("full", "fill", dt, shapes, layout, -3, ["auto"], seed=6)
            check_case("valid", "wrap", dt, shapes, layout, 0, ["direct"], seed=7)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dt", DEVICE_DTYPES)
def test_big_odd_sizes_every_dtype(backend, dt):
    """Sizes that are not multiples of the tile, kernels up to 31 (weight chunks)."""
    rng = np.random.default_rng(1)
    d = np.dtype(dt)
    x = _values(rng, d, (70, 133))
    with cc.use_backend(backend):
        for k, mode, b in (((3, 3), "same", "fill"), ((4, 6), "full", "symm"),
                           ((31, 2), "same", "wrap"), ((9, 33), "valid", "symm")):
            w = _values(rng, d, k)
            for fn, rfn in ((cc.correlate2d, ref.correlate2d), (cc.convolve2d, ref.convolve2d)):
                got = fn(x, w, mode, b, 1, method="direct")
                assert got.dtype == d
                assert_matches(got, rfn(x, w, mode, b, 1), x, w, 1)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dt", ["int8", "uint64", "float16", "float32", "complex128"])
def test_1d_on_device(backend, dt):
    rng = np.random.default_rng(2)
    d = np.dtype(dt)
    with cc.use_backend(backend):
        for n, k in ((1, 1), (100, 7), (7, 100), (2000, 33)):
            a, v = _values(rng, d, (n,)), _values(rng, d, (k,))
            for mode in ("valid", "same", "full"):
                with np.errstate(all="ignore"):
                    assert_matches(cc.correlate(a, v, mode), np.correlate(a, v, mode), a, v)
                    assert_matches(cc.convolve(a, v, mode), np.convolve(a, v, mode), a, v)


@pytest.mark.parametrize("backend", BACKENDS)
def test_stack_in_one_launch(backend):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 2, 20, 31))
    w = rng.standard_normal((5, 4))
    with cc.use_backend(backend):
        got = cc.correlate2d(x, w, "same", "symm", axes=(-2, -1))
    want = np.stack([[ref.correlate2d(f, w, "same", "symm") for f in s] for s in x])
    assert_matches(got, want, x, w)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_propagates_through_zero_weights(backend):
    with cc.use_backend(backend):
        got = cc.convolve2d(np.array([[np.nan, 1, 2]]), np.array([[0.0, 1]]))
    np.testing.assert_array_equal(got, [[np.nan, np.nan, 1, 2]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_inputs_unchanged(backend):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((30, 40)).astype(np.float32)
    w = rng.standard_normal((5, 5)).astype(np.float32)
    xs, ws = x.copy(), w.copy()
    with cc.use_backend(backend):
        for method in ("direct", "fft", "separable", "auto"):
            for fn in (cc.correlate2d, cc.convolve2d):
                for mode, b in itertools.product(MODES, BOUNDARIES):
                    fn(x, w, mode, b, 2, method=method)
    np.testing.assert_array_equal(x, xs)
    np.testing.assert_array_equal(w, ws)


# ------------------------------------------------- emulator rigor on corr2d

def _direct_case(dtype, seed=0, shape=(45, 77), k=(5, 4)):
    rng = np.random.default_rng(seed)
    d = np.dtype(dtype)
    return _values(rng, d, shape), _values(rng, d, k)


@pytest.mark.parametrize("order", ["forward", "reverse", "shuffle"])
@pytest.mark.parametrize("max_grid", [1, 2, (3, 1, 1), None])
@pytest.mark.parametrize("dt", ["float32", "int16", "complex64"])
def test_thread_orders_poisoned_shared_and_looping_grids(dt, max_grid, order):
    """Poisoned shared memory, every thread order and grids small enough that
    blocks must loop: results identical to the reference."""
    x, w = _direct_case(dt)
    factory = functools.partial(EmuModule, thread_order=order, poison_shared=True,
                                workers=2)
    mod = get_module(("rigor", order), x.dtype, module_factory=factory)
    for flip, boundary, (r0, r1) in ((False, "constant", (-4, -3)), (True, "symmetric", (-2, -1)),
                                     (False, "wrap", (0, 0)), (True, "mirror", (-4, -3)),
                                     (False, "nearest", (-10, 5))):
        o = (x.shape[0] + 3, x.shape[1] - 2)
        out = np.empty(o, x.dtype)
        launch_corr2d(mod, x, w, out, r0, r1, flip, x.dtype.kind == "c", boundary, 3,
                      max_grid=max_grid)
        want = _window_reference(x, w, o, (r0, r1), flip, boundary, 3)
        assert_matches(out, want, x, w, 3)


_PAD = {"constant": "constant", "wrap": "wrap", "symmetric": "symmetric",
        "mirror": "reflect", "nearest": "edge"}


def _window_reference(x, w, o, r, flip, boundary, fill, conj=True):
    """out[i, j] = sum X[i+r0+p, j+r1+q] W[p, q], X padded by numpy.pad."""
    k0, k1 = w.shape
    pad0 = max(0, -r[0]), max(0, o[0] + r[0] + k0 - 1 - x.shape[0])
    pad1 = max(0, -r[1]), max(0, o[1] + r[1] + k1 - 1 - x.shape[1])
    wide = np.complex128 if x.dtype.kind == "c" else (np.int64 if x.dtype.kind in "iu" else np.float64)
    xa = x.astype(wide)
    kw = {"constant_values": fill} if boundary == "constant" else {}
    xp = np.pad(xa, (pad0, pad1), mode=_PAD[boundary], **kw)
    ww = w.astype(wide)
    ww = ww[::-1, ::-1] if flip else ww
    ww = np.conj(ww) if conj and x.dtype.kind == "c" else ww
    s0, s1 = r[0] + pad0[0], r[1] + pad1[0]
    acc = np.zeros(o, wide)
    with np.errstate(over="ignore"):
        for p in range(k0):
            for q in range(k1):
                acc += xp[s0 + p:s0 + p + o[0], s1 + q:s1 + q + o[1]] * ww[p, q]
    with np.errstate(all="ignore"):
        return acc.astype(x.dtype)


def test_64bit_offsets_sparse_rows():
    """Rows more than 2**31 elements apart (a MAP_NORESERVE view): the kernel's
    offsets are 64-bit."""
    rows, cols = 3, 24
    stride = 2**31 + 64                       # elements between rows
    nbytes = ((rows - 1) * stride + cols) * 4
    buf = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
                    | getattr(mmap, "MAP_NORESERVE", 0))
    try:
        x = np.ndarray((rows, cols), np.float32, buffer=buf, strides=(stride * 4, 4))
        dense = np.arange(rows * cols, dtype=np.float32).reshape(rows, cols) / 7
        x[...] = dense
        w = np.array([[1, 2, 0.5], [-1, 3, 0.25]], np.float32)
        mod = get_module("emu", np.float32, module_factory=EmuModule)
        out = np.empty((rows + 1, cols + 2), np.float32)
        launch_corr2d(mod, x, w, out, -1, -2, False, False, "constant", 0)
        np.testing.assert_allclose(out, ref.correlate2d(dense, w, "full"), rtol=1e-6, atol=1e-5)
        del x
    finally:
        buf.close()


@pytest.mark.sanitizer
@pytest.mark.parametrize("sanitize", ["thread", "address"])
def test_corr2d_sanitizers_clean(sanitize):
    """ThreadSanitizer (fibers = CUDA threads) and ASan+UBSan find nothing in
    corr2d: small and chunked kernels, every boundary, two workers."""
    factory = functools.partial(EmuModule, sanitize=sanitize, workers=2)
    for dt in ("float32", "complex64"):
        x, w = _direct_case(dt, shape=(40, 70))
        mod = get_module(("san", sanitize), x.dtype, module_factory=factory)
        for boundary, kshape in (("constant", (5, 4)), ("symmetric", (40, 3))):
            w2 = _direct_case(dt, seed=1, k=kshape)[1]
            o = (x.shape[0], x.shape[1])
            out = np.empty(o, x.dtype)
            r = (-(kshape[0] // 2), -(kshape[1] // 2))
            launch_corr2d(mod, x, w2, out, r[0], r[1], True, False, boundary, 1,
                          max_grid=(2, 2, 1))
            assert_matches(out, _window_reference(x, w2, o, r, True, boundary, 1, conj=False),
                           x, w2, 1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bool_1d_on_the_device(backend):
    """bool runs the device kernel (it counts the nonzero products and stores
    ``acc != 0``), as NumPy's bool correlate/convolve."""
    rng = np.random.default_rng(8)
    for n, k in ((1, 1), (17, 3), (40, 41), (300, 9)):
        a, v = rng.random(n) < 0.3, rng.random(k) < 0.5
        with cc.use_backend(backend):
            for mode in ("valid", "same", "full"):
                for ours, theirs in ((cc.correlate, np.correlate), (cc.convolve, np.convolve)):
                    got, want = ours(a, v, mode, method="direct"), theirs(a, v, mode)
                    assert got.dtype == np.bool_
                    np.testing.assert_array_equal(got, want)


def _to_device_and_back(backend):
    """``(to the backend's arrays, back to NumPy)``: CuPy for 'cuda', NumPy
    (as it is) for the emulator."""
    if backend == "cuda":
        import cupy
        return cupy.asarray, cupy.asnumpy
    return np.asarray, np.asarray


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("wdt", ["float16", "float32", "float64", "int32", "complex128"])
def test_ndimage_tiny_weights(backend, wdt):
    """ndimage.correlate/convolve zero what SciPy skips (|w| <= DBL_EPSILON
    and NaN, per real component) on the device path; CuPy weights take one
    elementwise kernel for that and their float64 conversion. Results as
    scipy.ndimage's."""
    from scipy import ndimage as sn
    from corrconv_gpu import ndimage as cn
    dev, host = _to_device_and_back(backend)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((40, 50)).astype(np.float32)
    x[20, 25] = 1e30     # read by the tiny weights: 1e13 in outputs near 1 if not skipped
    w = np.array([[1.0, 1e-17, 2.0], [np.nan, 1.0, -3e-17], [0.5, 0.0, -1.0]])
    if np.dtype(wdt).kind == "c":
        w = w + 1j * w[::-1]
    elif np.dtype(wdt).kind == "i":
        w = np.nan_to_num(w)
    w = w.astype(wdt)
    with cc.use_backend(backend):
        for mine, theirs in ((cn.correlate, sn.correlate), (cn.convolve, sn.convolve)):
            for mode in ("reflect", "constant"):
                got = mine(dev(x), dev(w), mode=mode)
                assert type(got) is type(dev(x))
                want = theirs(x, w, mode=mode)
                assert got.dtype == want.dtype
                assert np.isfinite(want).all()
                np.testing.assert_allclose(host(got), want, rtol=1e-6, atol=0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("wdt", ["float32", "int16", "float64"])
def test_ndimage_float32_sums_in_float64(backend, wdt):
    """A float32 image's ndimage sums are float64 sums, as SciPy's, also
    where the device reads and writes float32 (weights exact in float32):
    +-1e8 next to small integers cancel exactly in float64 and lose the small
    ones in float32. Every sum here is exact in float64, so the results equal
    SciPy's bit for bit whatever the order of the taps."""
    from scipy import ndimage as sn
    from corrconv_gpu import ndimage as cn
    dev, host = _to_device_and_back(backend)
    rng = np.random.default_rng(11)
    x = rng.integers(-3, 4, (40, 50)).astype(np.float32)
    x[::7, ::5], x[::7, 2::5] = 1e8, -1e8
    x[3::7, ::3], x[4::7, ::3] = 1e8, -1e8
    cases = [(cn.correlate, sn.correlate, rng.integers(-2, 3, (3, 3))),
             (cn.convolve, sn.convolve, rng.integers(-2, 3, (5, 4))),
             (cn.correlate1d, sn.correlate1d, np.ones(5)),
             (cn.convolve1d, sn.convolve1d, np.array([1, 1, 2]))]
    with cc.use_backend(backend):
        for mine, theirs, w in cases:
            w = w.astype(wdt)
            for mode in ("reflect", "constant", "wrap"):
                kw = dict(mode=mode, cval=2.0)
                got = mine(dev(x), dev(w), **kw)
                want = theirs(x, w, **kw)
                assert got.dtype == want.dtype == np.float32
                np.testing.assert_array_equal(host(got), want)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["fft", "separable"])
def test_ndimage_float32_other_methods(backend, method):
    """A float32 image whose direct method reads float32 and sums in float64:
    the FFT and separable methods run in float64 and cast the result."""
    from scipy import ndimage as sn
    from corrconv_gpu import ndimage as cn
    dev, host = _to_device_and_back(backend)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 48)).astype(np.float32)
    w = np.outer([1, 2, 1], [1, 0, -1]).astype(np.float32)
    with cc.use_backend(backend):
        got = cn.correlate(dev(x), dev(w), mode="wrap", method=method)
    want = sn.correlate(x, w, mode="wrap")
    assert got.dtype == want.dtype == np.float32
    np.testing.assert_allclose(host(got), want, rtol=1e-5, atol=1e-5)
