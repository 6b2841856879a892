"""The host path of a CuPy call, without a GPU: the public functions run with
the CuPy stand-in of ``benchmarks/cupy_standin.py`` installed as ``cupy``
(launches recorded, not run; any device-to-host copy or synchronisation
raises ``DeviceToHost``). Checked: no such traffic on the CuPy path, the
packed launch arguments (the same kernel, grid, block, shared memory and
parameters as the 23-argument launches before the parameter struct), the
layout of the struct, and that repeated calls hit the launch memo.
No timing here: ``benchmarks/host_overhead.py`` measures it.
"""
import importlib.util

import numpy as np
import pytest

import corrconv_gpu as cc
from corrconv_gpu import ndimage as cndi
from corrconv_gpu._backends.cuda import launch as _launch
from corrconv_gpu._dispatch import _LAUNCHES

from conftest import ROOT

_spec = importlib.util.spec_from_file_location(
    "cupy_standin", ROOT / "benchmarks" / "cupy_standin.py")
standin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(standin)


@pytest.fixture
def cp():
    with standin.installed() as fake:
        yield fake


def _last():
    return standin.LAUNCHES[-1]


# ------------------------------------------------- no device-to-host traffic

CALLS = [
    ("correlate2d direct 3x3", lambda cp, x, w: cc.correlate2d(x, w[3], "same", method="direct")),
    ("correlate2d auto 3x3", lambda cp, x, w: cc.correlate2d(x, w[3], "same")),
    ("correlate2d auto 7x7", lambda cp, x, w: cc.correlate2d(x, w[7], "same")),
    ("correlate2d auto 15x15", lambda cp, x, w: cc.correlate2d(x, w[15], "same")),
    ("correlate2d direct 15x15 full wrap",
     lambda cp, x, w: cc.correlate2d(x, w[15], "full", boundary="wrap", method="direct")),
    ("convolve2d auto 7x7 symm fill", lambda cp, x, w: cc.convolve2d(x, w[7], "same", "symm")),
    ("convolve2d valid, fillvalue", lambda cp, x, w: cc.convolve2d(x, w[3], "valid", fillvalue=2)),
    ("correlate2d stack axes", lambda cp, x, w: cc.correlate2d(
        cp.empty((3, 64, 80), np.float32), w[3], "same", axes=(-2, -1))),
    ("ndimage.correlate 3x3", lambda cp, x, w: cndi.correlate(x, w[3], mode="constant")),
    ("ndimage.correlate 15x15", lambda cp, x, w: cndi.correlate(x, w[15])),
    ("ndimage.convolve 7x7 reflect", lambda cp, x, w: cndi.convolve(x, w[7], mode="reflect")),
    ("ndimage.correlate1d", lambda cp, x, w: cndi.correlate1d(x, w[1], axis=0)),
    ("ndimage.convolve1d", lambda cp, x, w: cndi.convolve1d(x, w[1], mode="wrap")),
]


@pytest.mark.parametrize("label,call", CALLS, ids=[c[0] for c in CALLS])
def test_no_device_to_host_traffic(cp, label, call):
    """First and repeated calls: nothing comes back from the device (the
    stand-in raises on get(), asnumpy, __float__/__bool__/..., synchronize)."""
    x = cp.empty((256, 320), np.float32)
    w = {k: cp.empty((k, k), np.float32) for k in (3, 7, 15)}
    w[1] = cp.empty((5,), np.float32)
    for _ in range(3):
        n = standin.COUNTS["launch"]
        out = call(cp, x, w)
        assert type(out) is cp.ndarray
        assert standin.COUNTS["launch"] > n          # a kernel was launched
    assert standin.COUNTS["h2d"] == 0                # nor a copy from the host


def test_standin_raises_on_device_to_host(cp):
    a = cp.empty((4, 4), np.float32)
    for read in (lambda: a.get(), lambda: cp.asnumpy(a), lambda: np.asarray(a),
                 lambda: float(a[0, 0]), lambda: bool(a.any()), lambda: a.item(),
                 lambda: cp.cuda.Stream.null.synchronize(),
                 lambda: cp.cuda.runtime.deviceSynchronize()):
        with pytest.raises(standin.DeviceToHost):
            read()


def test_auto_never_reads_device_weights(cp, monkeypatch):
    """'auto' with device weights decides from shapes: the rank probe (which
    copies the weights back) is not called; 'separable' asked for reads them."""
    from corrconv_gpu._methods import separable

    def fail(*a, **k):
        raise AssertionError("decompose called")
    monkeypatch.setattr(separable, "decompose", fail)
    x = cp.empty((512, 512), np.float32)
    for k in (3, 9, 15, 31):
        cc.correlate2d(x, cp.empty((k, k), np.float32), "same")
    with pytest.raises((AssertionError, standin.DeviceToHost)):
        cc.correlate2d(x, cp.empty((15, 15), np.float32), "same", method="separable")


@pytest.mark.parametrize("wdt", ["float32", "float64", "int16", "bool"])
def test_ndimage_float32_device_arrays(cp, wdt, monkeypatch):
    """A float32 image's ndimage call: the CuPy weights are converted and
    their tiny values zeroed by one elementwise kernel; with weights exact in
    float32 (by dtype) the kernel reads and writes float32 and sums in
    float64 (2 new device arrays: the weights and the result), with float64
    weights the image is converted to float64 and the result cast back (4).
    First and repeated calls alike."""
    from corrconv_gpu._util import arrays
    made = []
    kernel_of = arrays._real_above_kernel
    monkeypatch.setattr(arrays, "_real_above_kernel", lambda out: (
        lambda w, eps: made.append((w.dtype, out, eps)) or kernel_of(out)(w, eps)))
    x = cp.empty((300, 257), np.float32)
    w = cp.empty((5, 7), wdt)
    exact = wdt != "float64"
    for _ in range(3):
        allocs = standin.COUNTS["alloc"]
        out = cndi.correlate(x, w, mode="reflect")
        assert out.dtype == np.float32
        assert standin.COUNTS["alloc"] - allocs == (2 if exact else 4)
        name, _, _, args, _ = _last()
        assert name.startswith("corr2d<float, double," if exact else "corr2d_small<double,")
        assert args[0].dtype == (np.float32 if exact else np.float64)
    want = (np.dtype(wdt), np.dtype(np.float32 if exact else np.float64),
            np.finfo(np.float64).eps)
    assert made == [want] * 3


def test_ndimage_wide_kernel_only_for_small_weights(cp):
    """Weights over 7 a side are bound by float64 multiply-adds: they keep
    the float64 kernels (corr2d_large here), and the result is cast back."""
    x = cp.empty((300, 257), np.float32)
    out = cndi.correlate(x, cp.empty((9, 9), np.float32))
    assert out.dtype == np.float32
    assert _last()[0].startswith("corr2d_large<double,")


# ------------------------------------------------------- launch arguments

_OLD_GENERIC = ("x_stride", "x_bstride", "M0", "M1", "w_stride", "K0", "K1", "out_stride",
                "out_bstride", "O0", "O1", "nbatch", "r0", "r1", "fillvalue", "along_row",
                "kc0", "kc1", "xc0", "xc1")
_OLD_SMALL = ("x_stride", "x_bstride", "M0", "M1", "out_stride", "out_bstride", "O0", "O1",
              "nbatch", "r0", "r1", "fillvalue")
# corr2d_large's scalars before the struct; its weight chunk (kr, kc) is in kc0, kc1
_OLD_LARGE = ("x_stride", "x_bstride", "M0", "M1", "w_stride", "K0", "K1", "out_stride",
              "out_bstride", "O0", "O1", "nbatch", "r0", "r1", "fillvalue", "kc0", "kc1")

# recorded from the 23-argument launches before the parameter struct (the
# scalars in their old order; the small kernel then took its taps by value;
# corr2d_large from its 20-argument launch before it took the struct)
BEFORE = [
    (lambda cp: cc.correlate2d(cp.empty((4096, 4096), np.float32),
                               cp.empty((31, 5), np.float32), "same", method="direct"),
     "corr2d<float, float, false, false, 0, 8>", (128, 128, 1), (32, 4, 1), 10432,
     [4096, 0, 4096, 4096, 5, 31, 5, 4096, 0, 4096, 4096, 1, -15, -2, 0.0, 0, 31, 5, 31, 5]),
    (lambda cp: cc.correlate2d(cp.empty((4096, 4096), np.float32),
                               cp.empty((15, 15), np.float32), "same", method="direct"),
     "corr2d_large<float, false, 0>", (32, 128, 1), (128, 1, 1), 33568,
     [4096, 0, 4096, 4096, 15, 15, 15, 4096, 0, 4096, 4096, 1, -7, -7, 0.0, 15, 15]),
    (lambda cp: cc.convolve2d(cp.empty((1000, 777), np.float64), cp.empty((9, 4), np.float64),
                              "full", boundary="wrap"),
     "corr2d<double, double, true, false, 1, 4>", (25, 32, 1), (32, 8, 1), 12080,
     [777, 0, 1000, 777, 4, 9, 4, 780, 0, 1008, 780, 1, -8, -3, 0.0, 0, 9, 4, 9, 4]),
    (lambda cp: cc.correlate2d(cp.empty((300, 200), np.complex64),
                               cp.empty((8, 8), np.complex64), "valid", fillvalue=2),
     "corr2d<complex<float>, complex<float>, false, true, 0, 4>", (7, 10, 1), (8, 32, 1), 12680,
     [200, 0, 300, 200, 8, 8, 8, 193, 0, 293, 193, 1, 0, 0, 2 + 0j, 1, 8, 8, 8, 8]),
    (lambda cp: cc.correlate2d(cp.empty((64, 64), np.int32), cp.empty((1, 1), np.int32), "same"),
     "corr2d<int, unsigned int, false, false, 0, 4>", (2, 2, 1), (8, 32, 1), 16,
     [64, 0, 64, 64, 1, 1, 1, 64, 0, 64, 64, 1, 0, 0, 0, 1, 1, 1, 1, 1]),
    (lambda cp: cc.correlate2d(cp.empty((512, 512), np.float32), np.ones((3, 3), np.float32),
                               "same", boundary="symm", method="direct"),
     "corr2d_small<float, false, 2, 3, 3, 8, 8>", (8, 8, 1), (16, 8, 1), 0,
     [512, 0, 512, 512, 512, 0, 512, 512, 1, -1, -1, 0.0]),
    (lambda cp: cc.convolve2d(cp.empty((257, 300), np.float16), np.ones((5, 7), np.float16),
                              "same", fillvalue=1.5),
     "corr2d_small<__half, true, 0, 5, 7, 4, 8>", (3, 9, 1), (16, 8, 1), 0,
     [300, 0, 257, 300, 300, 0, 257, 300, 1, -2, -3, 1.5]),
]


@pytest.mark.parametrize("case", range(len(BEFORE)))
def test_launch_arguments_as_before(cp, case):
    call, name, grid, block, smem, old = BEFORE[case]
    out = call(cp)
    got_name, got_grid, got_block, args, got_smem = _last()
    assert (got_name, got_grid, got_block, got_smem) == (name, grid, block, smem)
    assert len(args) == 4
    x, w, o, params = args
    assert type(x) is cp.ndarray and type(w) is cp.ndarray and o is out
    assert params.dtype == _launch.params_dtype(x.dtype)
    fields = (_OLD_SMALL if name.startswith("corr2d_small") else
              _OLD_LARGE if name.startswith("corr2d_large") else _OLD_GENERIC)
    assert {f: params[f].item() for f in fields} == dict(zip(fields, old))
    assert w.shape == (params["K0"], params["K1"]) and params["w_stride"] == w.shape[1]


# corrconv_params<S> (corr2d.cu): S at 0, 12 int64 from the next multiple
# of 8, 7 int32, the whole padded to max(8, sizeof(S)) -- (x_stride, size)
LAYOUT = {"float16": (8, 136), "float32": (8, 136), "int32": (8, 136), "bool": (8, 136),
          "int8": (8, 136), "int16": (8, 136), "float64": (8, 136), "int64": (8, 136),
          "complex64": (8, 136), "complex128": (16, 144)}


@pytest.mark.parametrize("dt", sorted(LAYOUT))
def test_params_struct_layout(dt):
    d = _launch.params_dtype(np.dtype(dt))
    at, size = LAYOUT[dt]
    assert (d.fields["fillvalue"][1], d.fields["x_stride"][1], d.itemsize) == (0, at, size)
    assert [d.fields[f][1] - at for f in ("r1", "K0", "xc1")] == [88, 96, 120]


# ------------------------------------------------------------- the memo

def test_repeated_calls_hit_the_memo(cp, monkeypatch):
    x = cp.empty((1024, 1024), np.float32)
    w = cp.empty((15, 15), np.float32)
    ws = cp.empty((5, 5), np.float32)
    for _ in range(2):     # the first call plans, the second prepares the launch
        cc.correlate2d(x, w, "same")
        cc.correlate2d(x, ws, "same")
    made = []
    real = _launch._setup
    monkeypatch.setattr(_launch, "_setup", lambda *a: made.append(a) or real(*a))
    n_setups, n_prepared = len(_launch._SETUPS), len(_LAUNCHES)
    n_fn = standin.COUNTS["get_function"]
    for _ in range(5):
        cc.correlate2d(x, w, "same")
        cc.correlate2d(x, ws, "same")
    assert made == [] and len(_launch._SETUPS) == n_setups and len(_LAUNCHES) == n_prepared
    assert standin.COUNTS["get_function"] == n_fn
    assert any(k[-1] == "cuda" and v for k, v in _LAUNCHES.items())
    # another image layout is another setup (strides are part of the key)
    cc.correlate2d(x[:, :1000], w, "same")
    assert len(made) == 1


def test_prepared_launch_is_execute_launch(cp):
    """The prepared short path launches exactly what the full path launches."""
    x = cp.empty((700, 900), np.float32)
    for k in (3, 9):
        w = cp.empty((k, k), np.float32)
        cc.convolve2d(x, w, "same", boundary="wrap")       # full path (prepares)
        first = _last()
        cc.convolve2d(x, w, "same", boundary="wrap")       # prepared path
        second = _last()
        assert first[:3] == second[:3] and first[4] == second[4]
        assert first[3][3].tobytes() == second[3][3].tobytes()


@pytest.mark.parametrize("call", [
    lambda x, w: cndi.correlate(x, w, mode="constant", cval=1.5),
    lambda x, w: cndi.convolve(x, w, mode="mirror", origin=(1, 0)),
    lambda x, w: cndi.correlate(x[None], w[None], mode="wrap"),
    lambda x, w: cndi.correlate(x, w[:1], mode="nearest", axes=(0, 1)),
], ids=["constant", "mirror-origin", "stack", "one-row"])
def test_ndimage_repeated_calls_launch_as_the_first(cp, call):
    """The memoized validation and prepared launch of ndimage calls launch
    what the full path launches, and keep launching it."""
    x = cp.empty((300, 257), np.float32)
    w = cp.empty((5, 7), np.float32)
    seen = []
    for _ in range(4):
        call(x, w)
        name, grid, block, args, smem = _last()
        seen.append((name, grid, block, smem, args[3].tobytes(), args[0].shape))
    assert all(s == seen[0] for s in seen), seen


@pytest.mark.parametrize("dt", ["float16", "float32", "float64", "complex64", "complex128",
                                "int8", "int64"])
def test_cupy_passes_the_struct_by_value(dt):
    """CuPy's own kernel-argument wrapper (no GPU needed) holds the packed
    parameters field for field: the struct reaches the kernel as packed."""
    scalar = pytest.importorskip("cupy._core._scalar", reason="CuPy not installed")
    import ctypes
    d = np.dtype(dt)
    sdt = np.float32 if d == np.float16 else d.type
    p = _launch.pack_params(d, sdt(3), x_stride=-5, M0=7, w_stride=9, r1=-2, xc1=31)
    c = scalar.CScalar(p)
    got = np.frombuffer(ctypes.string_at(c.ptr, p.dtype.itemsize), dtype=p.dtype)[0]
    assert all(got[f] == p[f] for f in p.dtype.names)
