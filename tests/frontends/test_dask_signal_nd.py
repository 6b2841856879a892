"""corrconv_gpu.dask.signal: the N-D scipy.signal namespace on Dask arrays
equals the in-memory call (shape, dtype; integers bit for bit, floats within
1e-12 of the result's scale) for every mode, 1-4 dimensions, kernels larger
than the chunks, the 'valid' swap, broadcasting axes, and SciPy's errors."""

import functools
import itertools
import pickle

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")

import dask  # noqa: E402

from corrconv_gpu import signal as sig  # noqa: E402
from corrconv_gpu.dask import signal as dsig  # noqa: E402

MODES = ("full", "same", "valid")


def _same(got, ref):
    assert type(got) is np.ndarray
    assert got.dtype == ref.dtype and got.shape == ref.shape, (got.dtype, ref.dtype,
                                                               got.shape, ref.shape)
    if ref.dtype.kind in "fc":
        scale = max(float(np.abs(ref).max(initial=0)), 1.0)
        assert np.abs(got - ref).max(initial=0) <= 1e-12 * scale
    else:
        assert np.array_equal(got, ref)


def _data(rng, shape, dtype):
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.random(shape) < 0.5
    if dt.kind in "iu":
        return rng.integers(0 if dt.kind == "u" else -20, 20, shape).astype(dt)
    x = rng.standard_normal(shape)
    if dt.kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dt)


CASES = [  # (shape, kernel, chunks)
    ((20,), (5,), (6,)),
    ((9, 10), (3, 4), (4, 3)),
    ((9, 10, 11), (3, 2, 4), (4, 3, 5)),
    ((9, 10, 11), (1, 5, 1), (2, 3, 4)),       # unit and kernel-sized axes
    ((7, 8, 9), (4, 9, 3), (3, 3, 3)),          # a kernel longer than the chunks
    ((4, 5, 6, 7), (2, 3, 1, 2), (2, 3, 3, 4)),
]


@pytest.mark.parametrize("shape,kshape,chunks", CASES)
@pytest.mark.parametrize("name", ["correlate", "convolve", "fftconvolve"])
def test_matches_in_memory(name, shape, kshape, chunks):
    rng = np.random.default_rng(len(shape) * 7 + sum(kshape))
    dtypes = (np.float64, np.int32, np.complex128, np.uint8)
    lazy, refs = [], []
    for dtype, mode in itertools.product(dtypes, MODES):
        x, w = _data(rng, shape, dtype), _data(rng, kshape, dtype)
        kw = {} if name == "fftconvolve" else {"method": "direct"}
        try:
            ref = getattr(sig, name)(x, w, mode, **kw)
        except ValueError as e:            # 'valid' with neither array larger
            with pytest.raises(ValueError, match=str(e)[:30]):
                getattr(dsig, name)(da.from_array(x, chunks=chunks), w, mode, **kw)
            continue
        y = getattr(dsig, name)(da.from_array(x, chunks=chunks), w, mode, **kw)
        assert y.shape == ref.shape and y.dtype == ref.dtype
        lazy.append(y)
        refs.append(ref)
    for got, ref in zip(dask.compute(*lazy, scheduler="sync"), refs):
        _same(got, ref)


def test_valid_swap_auto_oaconvolve_and_axes():
    """in2 larger than in1 ('valid': SciPy swaps), method 'auto' per chunk,
    oaconvolve, fftconvolve over some axes (others broadcast)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5, 6))
    big = rng.standard_normal((6, 7, 8))
    dx = da.from_array(x, chunks=(2, 3, 3))
    for name in ("correlate", "convolve"):
        _same(getattr(dsig, name)(dx, big, "valid").compute(),
              getattr(sig, name)(x, big, "valid"))
        _same(getattr(dsig, name)(dx, big[:3, :3, :3], "same").compute(),
              getattr(sig, name)(x, big[:3, :3, :3], "same"))
    w = rng.standard_normal((3, 2, 3))
    for mode in MODES:
        _same(dsig.oaconvolve(dx, w, mode).compute(), sig.oaconvolve(x, w, mode))
        for axes, ws in (((1, 2), w[:1]), ((0,), w[:, :1, :1]), ((2,), w[:1, :1])):
            _same(dsig.fftconvolve(dx, ws, mode, axes=axes).compute(),
                  sig.fftconvolve(x, ws, mode, axes=axes))


def test_errors_empty_and_bool():
    """SciPy's errors (raised when the lazy array is made), empty inputs."""
    rng = np.random.default_rng(4)
    dx = da.from_array(rng.standard_normal((6, 7)), chunks=3)
    for bad, match in (((dx, np.ones(3), "full"), "same dimensionality"),
                       ((dx, np.ones((2, 2)), "nope"), "mode"),
                       ((dx, np.ones((9, 2)), "valid"), "valid")):
        with pytest.raises(ValueError) as got:
            dsig.correlate(*bad)
        with pytest.raises(ValueError) as ref:
            sig.correlate(bad[0].compute(), *bad[1:])
        assert str(got.value) == str(ref.value) and match in str(got.value).lower() + "valid"
    with pytest.raises(ValueError, match="method"):
        dsig.convolve(dx, np.ones((2, 2)), method="nope")
    e = da.from_array(np.empty((0, 4)), chunks=2)
    _same(dsig.correlate(e, np.ones((2, 2))).compute(), sig.correlate(np.empty((0, 4)),
                                                                     np.ones((2, 2))))
    b = rng.random((8, 9)) < 0.5            # bool: refused as in memory
    for f in (lambda: sig.convolve(b, b[:3, :2], "full", method="direct"),
              lambda: dsig.convolve(da.from_array(b, chunks=4), b[:3, :2], "full",
                                    method="direct")):
        with pytest.raises(ValueError, match="Unsupported type"):
            f()


def test_on_cluster_and_tasks_pickle():
    from corrconv_gpu.dask.signal import _task
    f = functools.partial(_task, name="correlate", kwargs={"method": "direct"})
    assert pickle.loads(pickle.dumps(f)).func is f.func
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                       dashboard_address=None,
                                       env={"CORRCONV_GPU_BACKEND": "cpu"})
    try:
        with distributed.Client(cluster) as client:
            rng = np.random.default_rng(5)
            x = rng.integers(-9, 9, (10, 11, 12))
            w = rng.integers(-3, 3, (3, 4, 2))
            y = dsig.correlate(da.from_array(x, chunks=5), w, "same")
            _same(client.compute(y).result(), sig.correlate(x, w, "same"))
    finally:
        cluster.close()
