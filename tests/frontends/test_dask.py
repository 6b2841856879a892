"""corrconv_gpu.dask: chunked results equal the in-memory call.

Most tests run on a ``dask.distributed`` LocalCluster of two single-threaded
worker *processes* (module-scoped, so started once), which also proves that
the task functions pickle; a few use the threaded scheduler without it. All
run on the CPU backend. Integers must be identical; floats within 1e-12.
"""

import functools
import itertools
import pickle
import zlib

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")

import dask  # noqa: E402

import corrconv_gpu as cc  # noqa: E402
import corrconv_gpu.dask as ccd  # noqa: E402

try:
    from corrconv_gpu import ndimage as cndi
except ImportError:  # pragma: no cover - the ndimage frontend is not there yet
    cndi = None

needs_ndimage = pytest.mark.skipif(cndi is None, reason="corrconv_gpu.ndimage missing")

SIGNAL_MODES = ("full", "same", "valid")
BOUNDARIES = ("fill", "wrap", "symm")
NDI_MODES = ("reflect", "constant", "nearest", "mirror", "wrap")
# odd, even, and larger than the (4, 3) chunks on both axes
KERNELS = ((3, 5), (4, 2), (7, 6))
CHUNKS = ((4, 3), (2, 5), (16, 13))   # small, tiny, one chunk


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        env={"CORRCONV_GPU_BACKEND": "cpu"})
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _same(got, ref):
    assert type(got) is np.ndarray
    assert got.dtype == ref.dtype, (got.dtype, ref.dtype)
    assert got.shape == ref.shape, (got.shape, ref.shape)
    if ref.dtype.kind in "fc":
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    else:
        assert np.array_equal(got, ref)


def _check_all(client, pairs):
    """Compute every lazy result in one round trip and compare."""
    lazy = [p[0] for p in pairs]
    for (_, ref), got in zip(pairs, client.gather(client.compute(lazy))):
        _same(got, ref)


def _check_sync(pairs):
    """The same comparison in this process (synchronous scheduler)."""
    for (_, ref), got in zip(pairs, dask.compute(*[p[0] for p in pairs],
                                                 scheduler="sync")):
        _same(got, ref)


def _image(rng, shape, dtype):
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(-50, 50, shape).astype(dtype)


# --------------------------------------------------------------- signal

def _signal_pairs(name, mode, boundary, dtypes, kernels, chunkings, seed):
    rng = np.random.default_rng(seed)
    pairs = []
    for dtype in dtypes:
        x = _image(rng, (16, 13), dtype)
        for k in kernels:
            w = _image(rng, k, dtype)
            ref = getattr(cc, name)(x, w, mode, boundary, 3)
            for chunks in chunkings:
                y = getattr(ccd, name)(da.from_array(x, chunks=chunks), w, mode,
                                       boundary, 3)
                assert y.shape == ref.shape and y.dtype == ref.dtype
                pairs.append((y, ref))
    return pairs


def test_signal_on_cluster(client):
    """Every mode x boundary, odd/even/larger-than-chunk kernels, on 2 processes."""
    pairs = []
    for i, (name, mode, boundary) in enumerate(itertools.product(
            ("correlate2d", "convolve2d"), SIGNAL_MODES, BOUNDARIES)):
        pairs += _signal_pairs(name, mode, boundary, (np.int64, np.float64)[i % 2:][:1],
                               KERNELS, ((6, 5),), seed=i)
    _check_all(client, pairs)


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("mode", SIGNAL_MODES)
@pytest.mark.parametrize("name", ["correlate2d", "convolve2d"])
def test_signal_matches_in_memory(name, mode, boundary):
    seed = zlib.crc32(f"{name}{mode}{boundary}".encode())
    pairs = _signal_pairs(name, mode, boundary, (np.int64, np.float64), KERNELS,
                          CHUNKS, seed)
    _check_sync(pairs)


def test_signal_same_keeps_chunks():
    x = da.ones((40, 30), chunks=(10, 15))
    assert ccd.correlate2d(x, np.ones((5, 4)), "same").chunks == x.chunks
    assert ccd.convolve2d(x, np.ones((5, 4)), "same", "wrap").chunks == x.chunks


def test_signal_dtypes_and_fillvalue():
    rng = np.random.default_rng(7)
    x8 = rng.integers(0, 256, (11, 9)).astype(np.uint8)
    cases = [
        (x8, np.array([[2, 1], [1, 3]], np.uint8), 200),          # wraps in uint8
        (x8, np.array([[2, -1, 1]], np.int8), 300),               # int16, fill 300
        (x8, np.array([[2]], np.int64), 0),                       # 1x1 kernel
        (x8.astype(np.float32), np.ones((3, 3), np.int32), 1.5),  # float64
        (rng.standard_normal((9, 8)) + 1j * rng.standard_normal((9, 8)),
         rng.standard_normal((3, 4)) - 2j, 1 - 1j),                # conj, complex fill
        (x8.astype(np.float16), np.ones((2, 3), np.float16), 0.5),
    ]
    pairs = []
    for x, w, fill in cases:
        for name in ("correlate2d", "convolve2d"):
            for mode in SIGNAL_MODES:
                ref = getattr(cc, name)(x, w, mode, "fill", fill)
                y = getattr(ccd, name)(da.from_array(x, chunks=(3, 2)), w, mode,
                                       "fill", fill)
                pairs.append((y, ref))
    _check_sync(pairs)


def test_signal_stacks_with_axes(client):
    rng = np.random.default_rng(3)
    x = rng.integers(-9, 9, (3, 14, 12))
    w = rng.integers(-3, 4, (5, 4))
    pairs = []
    for axes in ((-2, -1), (1, 2), (2, 1), (0, 2)):
        kw = {"axes": axes}
        for mode in ("full", "same") + (("valid",) if axes != (0, 2) else ()):
            for boundary in BOUNDARIES:
                ref = cc.convolve2d(x, w, mode, boundary, -1, **kw)
                y = ccd.convolve2d(da.from_array(x, chunks=(2, 4, 3)), w, mode,
                                   boundary, -1, **kw)
                pairs.append((y, ref))
    _check_sync(pairs[1:])
    _check_all(client, pairs[:1] + pairs[-1:])   # the stack on the cluster too


def test_signal_valid_swap_empty_and_errors():
    rng = np.random.default_rng(4)
    small = rng.standard_normal((4, 5)) + 1j
    big = rng.standard_normal((6, 7)) - 1j
    for name in ("correlate2d", "convolve2d"):   # SciPy's 'valid' swap
        got = getattr(ccd, name)(da.from_array(small, chunks=2), big, "valid")
        _same(got.compute(scheduler="threads"), getattr(cc, name)(small, big, "valid"))
    empty = da.zeros((0, 3), chunks=1)
    for mode in ("full", "same"):
        _same(ccd.correlate2d(empty, np.ones((2, 2)), mode).compute(),
              cc.correlate2d(np.zeros((0, 3)), np.ones((2, 2)), mode))
    x = da.ones((5, 5), chunks=2)
    for args, exc in [((np.ones((2, 2)), "Full"), ValueError),
                      ((np.ones((2, 2)), "same", "reflect"), ValueError),
                      ((np.ones((2, 2)), "same", "bogus"), ValueError),
                      ((np.ones((2, 2)), "same", "fill", [1, 2]), ValueError),
                      ((np.ones((6, 3)), "valid"), ValueError),
                      ((np.ones(3),), ValueError)]:
        with pytest.raises(exc) as got:
            ccd.correlate2d(x, *args)
        with pytest.raises(exc) as ref:
            cc.correlate2d(np.ones((5, 5)), *args)
        assert str(got.value) == str(ref.value)
    with pytest.raises(ValueError, match="cannot extend an empty"):
        ccd.convolve2d(empty, np.ones((2, 2)), "full", "wrap")
    with pytest.raises(TypeError, match="output"):
        ccd.correlate2d(x, np.ones((2, 2)), output=np.empty((6, 6)))


# -------------------------------------------------------------- ndimage

def _origins(k):
    """Centred, leftmost and rightmost origins of a kernel shape."""
    return [(0,) * len(k), tuple(-(n // 2) for n in k), tuple((n - 1) // 2 for n in k)]


def _ndimage_pairs(name, mode, kernels, origins_of, chunkings, seed, real=(0, 1)):
    rng = np.random.default_rng(seed)
    images = (rng.integers(0, 256, (16, 13)).astype(np.uint8),
              rng.standard_normal((16, 13)))
    pairs = []
    for x in (images[i] for i in real):
        for k in kernels:
            w = rng.standard_normal(k)
            for origin in origins_of(k):
                ref = getattr(cndi, name)(x, w, mode=mode, cval=-2.5, origin=origin)
                for chunks in chunkings:
                    y = getattr(ccd, name)(da.from_array(x, chunks=chunks), w,
                                           mode=mode, cval=-2.5, origin=origin)
                    assert y.dtype == ref.dtype and y.shape == ref.shape
                    pairs.append((y, ref))
    return pairs


def _ndimage_1d_pairs(mode, ks, chunks, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-100, 100, (15, 12)).astype(np.int32)
    pairs = []
    for name in ("correlate1d", "convolve1d"):
        for k in ks:
            w = rng.standard_normal(k)
            for origin in sorted({0, -(k // 2), (k - 1) // 2}):
                for axis in (0, -1):
                    ref = getattr(cndi, name)(x, w, axis=axis, mode=mode, cval=5,
                                              origin=origin)
                    y = getattr(ccd, name)(da.from_array(x, chunks=chunks), w,
                                           axis=axis, mode=mode, cval=5, origin=origin)
                    pairs.append((y, ref))
    return pairs


@needs_ndimage
def test_ndimage_on_cluster(client):
    """Every mode, odd/even/larger-than-chunk kernels, shifted origins, 2 processes."""
    pairs = []
    for i, (name, mode) in enumerate(itertools.product(("correlate", "convolve"),
                                                       NDI_MODES)):
        pairs += _ndimage_pairs(name, mode, KERNELS,
                                lambda k, i=i: _origins(k)[i % 3:][:1], ((6, 5),),
                                seed=i, real=(i % 2,))
        pairs += _ndimage_1d_pairs(mode, (4,), (4, 5), seed=i)[i % 2::4]
    _check_all(client, pairs)


# the full sweep per (function, mode) is in the slow suite; the default run
# keeps two (test_ndimage_on_cluster covers every mode with fewer kernels)
_DEFAULT_SWEEPS = {("correlate", "reflect"), ("convolve", "wrap")}


@needs_ndimage
@pytest.mark.parametrize("name,mode", [
    pytest.param(n, m, marks=() if (n, m) in _DEFAULT_SWEEPS else pytest.mark.slow)
    for n in ("correlate", "convolve") for m in NDI_MODES])
def test_ndimage_matches_in_memory(name, mode):
    seed = zlib.crc32(f"{name}{mode}".encode())
    _check_sync(_ndimage_pairs(name, mode, KERNELS, _origins, CHUNKS, seed))


@needs_ndimage
@pytest.mark.parametrize("mode", [
    pytest.param(m, marks=() if m in ("reflect", "constant") else pytest.mark.slow)
    for m in NDI_MODES])
def test_ndimage_1d_matches_in_memory(mode):
    _check_sync(_ndimage_1d_pairs(mode, (1, 4, 7), (3, 5), seed=11))


@needs_ndimage
def test_ndimage_against_scipy_and_axes(client):
    sndi = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 18, 17))
    pairs = []
    for axes, w in [((1, 2), rng.standard_normal((5, 4))),
                    ((0, 2), rng.standard_normal((3, 6))),
                    ((2,), rng.standard_normal(5))]:
        origin = (1, -1)[:len(axes)]
        for mode in NDI_MODES:
            ref = sndi.correlate(x, w, mode=mode, cval=0.5, origin=origin, axes=axes)
            _same(cndi.correlate(x, w, mode=mode, cval=0.5, origin=origin, axes=axes),
                  ref)
            y = ccd.correlate(da.from_array(x, chunks=(3, 4, 5)), w, mode=mode,
                              cval=0.5, origin=origin, axes=axes)
            if 0 not in axes:   # an unfiltered axis keeps its chunks
                assert y.chunks[0] == (3, 1)
            pairs.append((y, ref))
    _check_sync(pairs[1:])
    _check_all(client, pairs[:1])


@needs_ndimage
def test_ndimage_output_dtype_and_errors():
    x = np.arange(30, dtype=np.int16).reshape(5, 6)
    w = np.array([[0.5, -1.25, 2.0]])
    dx = da.from_array(x, chunks=2)
    for output in (None, np.float32, "uint8"):
        _same(ccd.convolve(dx, w, output=output, mode="mirror").compute(scheduler="threads"),
              cndi.convolve(x, w, output=output, mode="mirror"))
    for kwargs in ({"mode": "bogus"}, {"origin": 2}, {"axes": (0, 0)}):
        with pytest.raises(Exception) as got:
            ccd.correlate(dx, w, **kwargs)
        with pytest.raises(Exception) as ref:
            cndi.correlate(x, w, **kwargs)
        assert type(got.value) is type(ref.value) and str(got.value) == str(ref.value)
    with pytest.raises(TypeError, match="output"):
        ccd.correlate1d(dx, [1, 2], output=np.empty((5, 6)))


# ----------------------------------------------------------- machinery

def test_threaded_scheduler_without_cluster():
    rng = np.random.default_rng(9)
    x = rng.integers(0, 1000, (37, 29))
    w = rng.integers(-5, 5, (6, 5))
    dx = da.from_array(x, chunks=(8, 7))
    with dask.config.set(scheduler="threads"):
        for mode in SIGNAL_MODES:
            for boundary in BOUNDARIES:
                _same(ccd.correlate2d(dx, w, mode, boundary, 2).compute(),
                      cc.correlate2d(x, w, mode, boundary, 2))
        if cndi is not None:
            _same(ccd.correlate(dx, w.astype(float), mode="wrap").compute(),
                  cndi.correlate(x, w.astype(float), mode="wrap"))


def test_inputs_untouched_meta_and_weights_in_graph_once():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((60, 60))
    x0 = x.copy()
    w = rng.standard_normal((32, 32))        # 8 KB
    w0 = w.copy()
    y = ccd.convolve2d(da.from_array(x, chunks=6), w, "full", "symm")
    assert type(y._meta) is np.ndarray and y.dtype == np.float64
    graph = dict(y.__dask_graph__())
    # 100+ output tasks: the weights are one key, not a copy per task
    assert len(graph) > 100
    assert len(pickle.dumps(graph)) < 20 * w.nbytes
    _same(y.compute(scheduler="threads"), cc.convolve2d(x, w, "full", "symm"))
    assert np.array_equal(x, x0) and np.array_equal(w, w0)


def test_task_functions_pickle():
    from corrconv_gpu.dask import _ndimage_task, _signal_task
    for f in (functools.partial(_signal_task, name="correlate2d", mode="valid",
                                kwargs={}),
              functools.partial(_ndimage_task, name="correlate", kwargs={},
                                halo=((1, True),))):
        assert pickle.loads(pickle.dumps(f)).func is f.func
