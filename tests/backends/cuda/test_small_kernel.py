"""``kernels/corr2d_small.cu`` on the CPU emulator: the variant for float16 /
float32 / float64 weights up to 7 x 7 against a NumPy reference, and the
paths it must and must not take.

* every (FLIP, BOUNDARY) at 3 x 3 and a spread of other sizes (1 x 1, even,
  one-sided, 7 x 7), on odd images with edge tiles on every side and interior
  tiles, offsets inside and outside the input, batches;
* thread orders, poisoned shared memory and grids small enough that blocks
  loop over tiles;
* the selection: ``launch_corr2d(..., small=...)`` takes it for these
  dtypes and sizes only (the generic kernel elsewhere);
* 16-byte accesses only where x / out rows are 16-byte aligned: misaligned
  and odd-strided views are read and written one element at a time, with
  the same result (counting build);
* ThreadSanitizer and ASan + UBSan on edge and interior tiles (marker
  ``sanitizer``).
"""
import functools

import numpy as np
import pytest

import corrconv_gpu as cc
from corrconv_gpu import reference as ref
from corrconv_gpu._backends.cuda import kernels as _kernels
from corrconv_gpu._backends.cuda.launch import launch_corr2d
from corrconv_gpu._emu import EmuModule

DTYPES = ("float32", "float16", "float64")
BOUNDARIES = ("constant", "wrap", "symmetric", "mirror", "nearest")
_PAD = {"constant": "constant", "wrap": "wrap", "symmetric": "symmetric",
        "mirror": "reflect", "nearest": "edge"}
TOL = {"float16": 2e-3, "float32": 2e-6, "float64": 1e-13}


def _reference(x, w, o, r, flip, boundary, fill):
    """out[b, i, j] = sum_pq X[b, i+r0+p, j+r1+q] W[p, q] in float64, X
    extended by numpy.pad (the kernel's boundary modes)."""
    k0, k1 = w.shape
    pad0 = max(0, -r[0]), max(0, o[0] + r[0] + k0 - 1 - x.shape[-2])
    pad1 = max(0, -r[1]), max(0, o[1] + r[1] + k1 - 1 - x.shape[-1])
    kw = {"constant_values": fill} if boundary == "constant" else {}
    lead = ((0, 0),) * (x.ndim - 2)
    xp = np.pad(x.astype(np.float64), lead + (pad0, pad1), mode=_PAD[boundary], **kw)
    ww = w.astype(np.float64)
    ww = ww[::-1, ::-1] if flip else ww
    s0, s1 = r[0] + pad0[0], r[1] + pad1[0]
    acc = np.zeros(x.shape[:-2] + tuple(o))
    for p in range(k0):
        for q in range(k1):
            acc += xp[..., s0 + p:s0 + p + o[0], s1 + q:s1 + q + o[1]] * ww[p, q]
    return acc


def _check(out, want, x, w, fill=0):
    d = out.dtype.name
    scale = (np.abs(x.astype(np.float64)).max(initial=abs(fill)) * np.abs(w.astype(np.float64)).sum())
    err = np.abs(out.astype(np.float64) - want).max() / max(scale, 1e-300)
    assert err <= TOL[d], (d, err)


_modules = {}


def small_module(factory=EmuModule, key="emu"):
    """``small=`` for launch_corr2d: one emulator module per size holding its
    10 variants (each module is a loaded library with its own fiber stacks:
    one per variant ran the process out of memory mappings)."""
    def get(dtype, K0, K1, flip, boundary):
        k = (key, np.dtype(dtype).name, K0, K1)
        if k not in _modules:
            names = tuple(_kernels.small_name_expression(dtype, f, b, K0, K1)
                          for f, b in _kernels.small_variants())
            _modules[k] = factory(_kernels.small_source(), options=_kernels.compile_options(dtype),
                                  name_expressions=names)
        return _modules[k]
    return get


class _NoGeneric:
    def get_function(self, name):
        raise AssertionError(f"the generic kernel was launched: {name}")


def _run(x, w, o, r, flip, boundary, fill, small=None, max_grid=None, out=None):
    out = np.full(x.shape[:-2] + tuple(o), np.nan, x.dtype) if out is None else out
    cfg = launch_corr2d(_NoGeneric(), x, w, out, r[0], r[1], flip, False, boundary, fill,
                        max_grid=max_grid, small=small or small_module())
    g = _kernels.small_geometry(x.dtype, *w.shape)
    assert cfg.block == (g.bx, g.by, 1) and cfg.tile == (g.by * g.ry, g.bx * g.rx)
    return out


def _data(dtype, shape, k, seed=0):
    rng = np.random.default_rng(seed)
    d = np.dtype(dtype)
    x = (rng.random(shape) * 2 - 1).astype(d)
    w = rng.standard_normal(k).astype(d)
    return x, w


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("flip", [False, True], ids=["corr", "conv"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_every_variant_3x3(dt, flip, boundary):
    """Every FLIP x BOUNDARY: 'same' on an image with interior tiles and
    ragged edge tiles, and a 'full'-like window reaching past the input."""
    x, w = _data(dt, (150, 203), (3, 3))
    for o, r in (((150, 203), (-1, -1)), ((152, 205), (-2, -2)), ((61, 90), (40, 57))):
        got = _run(x, w, o, r, flip, boundary, 1.5)
        _check(got, _reference(x, w, o, r, flip, boundary, 1.5), x, w, 1.5)


# (K, boundary, flip, output, offset): sizes 1..7, even and one-sided ones,
# offsets in and outside the input, every boundary somewhere
SIZES = [((1, 1), "constant", False, (70, 133), (0, 0)),
         ((1, 1), "wrap", True, (72, 135), (-1, -1)),
         ((2, 5), "symmetric", True, (71, 131), (-1, -2)),
         ((7, 7), "mirror", False, (70, 133), (-3, -3)),
         ((1, 7), "nearest", True, (70, 133), (-10, 5)),
         ((6, 1), "constant", True, (75, 130), (-5, 0)),
         ((4, 6), "wrap", False, (40, 60), (20, 30))]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("case", range(len(SIZES)))
def test_sizes_offsets_boundaries(dt, case):
    K, boundary, flip, o, r = SIZES[case]
    x, w = _data(dt, (70, 133), K, seed=case)
    got = _run(x, w, o, r, flip, boundary, -2)
    _check(got, _reference(x, w, o, r, flip, boundary, -2), x, w, -2)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_batch_and_negative_strides(dt):
    """A stack in one launch, and a row-reversed view (negative row stride)."""
    x, w = _data(dt, (3, 66, 140), (3, 5))
    o, r = (66, 140), (-1, -2)
    got = _run(x, w, o, r, False, "symmetric", 0)
    _check(got, _reference(x, w, o, r, False, "symmetric", 0), x, w)
    xr = x[1, ::-1]
    got = _run(xr, w, o, r, True, "constant", 0.5)
    _check(got, _reference(xr, w, o, r, True, "constant", 0.5), xr, w, 0.5)


@pytest.mark.parametrize("order", ["forward", "reverse", "shuffle"])
@pytest.mark.parametrize("max_grid", [1, (3, 1, 1), None], ids=str)
@pytest.mark.parametrize("dt", ["float32", "float16"])
def test_thread_orders_poisoned_shared_looping_grids(dt, order, max_grid):
    factory = functools.partial(EmuModule, thread_order=order, poison_shared=True, workers=2)
    small = small_module(factory, ("rigor", order))
    x, w = _data(dt, (140, 150), (5, 3), seed=3)
    for flip, boundary, o, r in ((False, "constant", (140, 150), (-2, -1)),
                                 (True, "mirror", (143, 148), (-4, -3))):
        got = _run(x, w, o, r, flip, boundary, 3, small=small, max_grid=max_grid)
        _check(got, _reference(x, w, o, r, flip, boundary, 3), x, w, 3)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("ry,by", [(1, 16), (2, 4), (6, 8)], ids=str)
def test_other_geometries(dt, ry, by):
    """Tile shapes the tuner may write to the table: same results."""
    from corrconv_gpu._backends.cuda.launch import launch_small
    g = _kernels.small_geometry(dt, 3, 5)._replace(ry=ry, by=by)
    name = _kernels.small_name_expression(dt, True, "nearest", 3, 5, g)
    mod = EmuModule(_kernels.small_source(), options=_kernels.compile_options(dt),
                    name_expressions=(name,), poison_shared=True)
    x, w = _data(dt, (77, 301), (3, 5), seed=ry)
    o, r = (80, 299), (-2, -1)
    out = np.full(o, np.nan, x.dtype)
    cfg = launch_small(mod, x, w, out, r[0], r[1], True, "nearest", 0, max_grid=(2, 3, 1),
                       geometry=g)
    assert cfg.block == (16, by, 1)
    _check(out, _reference(x, w, o, r, True, "nearest", 0), x, w)


def test_selection():
    """float16/32/64 with both sides <= 7 take corr2d_small; larger weights
    and other dtypes the generic kernel."""
    assert _kernels.small_applies("float32", 7, 7)
    assert _kernels.small_applies("float16", 1, 1)
    assert _kernels.small_applies("float64", 3, 6)
    assert not _kernels.small_applies("float32", 8, 3)
    assert not _kernels.small_applies("float64", 1, 9)
    for dt in ("complex64", "int32", "int8", "bool", "uint64"):
        assert not _kernels.small_applies(dt, 3, 3)
    # the generic kernel runs (and the small factory is never asked) outside
    x, w = _data("float32", (40, 50), (9, 3))
    out = np.empty((40, 50), np.float32)

    def never(*a):
        raise AssertionError("small kernel asked for 9x3")
    from corrconv_gpu._backends.cuda.kernels import get_module
    launch_corr2d(get_module("emu", np.float32, module_factory=EmuModule), x, w, out,
                  -4, -1, False, False, "constant", 0, small=never)
    _check(out, _reference(x, w, (40, 50), (-4, -1), False, "constant", 0), x, w)


def test_public_calls_use_it(monkeypatch):
    """The emulated backend's direct method launches corr2d_small for 3x3
    float32 (correlation, symmetric; convolution, fill) and matches the
    reference."""
    from corrconv_gpu._backends.cuda import device as _device
    asked = []
    orig = _device._Device.small_module

    def spy(self, dtype, K0, K1, flip, boundary):
        asked.append((np.dtype(dtype).name, K0, K1, bool(flip), boundary))
        return orig(self, dtype, K0, K1, flip, boundary)
    monkeypatch.setattr(_device._Device, "small_module", spy)
    x, w = _data("float32", (45, 77), (3, 3), seed=9)
    with cc.use_backend("emulated"):
        got = cc.correlate2d(x, w, "same", "symm", method="direct")
        got2 = cc.convolve2d(x, w, "full", "fill", 2, method="direct")
    np.testing.assert_allclose(got, ref.correlate2d(x, w, "same", "symm"), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got2, ref.convolve2d(x, w, "full", "fill", 2), rtol=1e-5, atol=1e-5)
    assert ("float32", 3, 3, False, 2) in asked and ("float32", 3, 3, True, 0) in asked, asked


# ------------------------------------------------------------ vector paths
def _counted(x, w, o, r, out=None):
    dt = x.dtype
    small = small_module(functools.partial(EmuModule, sanitize="count"), "count")
    out = _run(x, w, o, r, False, "constant", 0, small=small, out=out)
    mod = small(dt, w.shape[0], w.shape[1], False, 0)
    fn = mod.get_function(_kernels.small_name_expression(dt, False, 0, *w.shape))
    return out, fn.last_counters


@pytest.mark.parametrize("dt", DTYPES)
def test_aligned_rows_take_16_byte_accesses(dt):
    """Aligned rows: every store is 16 bytes (1/V requests per output), the
    interior tiles are read 16 bytes at a time."""
    g = _kernels.small_geometry(dt, 3, 3)
    th, tw = _kernels.small_tile(dt, 3, 3)
    x, w = _data(dt, (3 * th, 4 * tw), (3, 3))
    o, r = x.shape, (-1, -1)
    out, c = _counted(x, w, o, r)
    _check(out, _reference(x, w, o, r, False, "constant", 0), x, w)
    n = o[0] * o[1]
    assert c["global_writes"] * g.vec == n
    assert c["global_write_bytes"] == n * x.itemsize
    # one interior tile (of 12) read in 16-byte loads: more bytes per read than scalars
    assert c["global_read_bytes"] > 1.05 * c["global_reads"] * x.itemsize


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("layout", ["x_offset", "x_odd_stride", "out_offset"])
def test_misaligned_views_take_scalar_paths(dt, layout):
    """Views whose rows are not 16-byte aligned must not take the vector
    path: x one element into its buffer, x with an odd row stride, out one
    element into its buffer. Same values as the aligned call."""
    th, tw = _kernels.small_tile(dt, 3, 3)
    d = np.dtype(dt)
    base, w = _data(dt, (3 * th, 4 * tw), (3, 3))
    o, r = base.shape, (-1, -1)
    want = _run(base, w, o, r, False, "constant", 0)
    x = base
    out = None
    if layout == "x_offset":
        buf = np.zeros((base.shape[0], base.shape[1] + 8), d)
        x = buf[:, 1:base.shape[1] + 1]
        x[...] = base
    elif layout == "x_odd_stride":
        buf = np.zeros((base.shape[0], base.shape[1] + 1), d)
        x = buf[:, :base.shape[1]]
        x[...] = base
    else:
        obuf = np.zeros((o[0], o[1] + 8), d)
        out = obuf[:, 1:o[1] + 1]
    got, c = _counted(x, w, o, r, out=out)
    np.testing.assert_array_equal(got, want)
    n = o[0] * o[1]
    if layout == "out_offset":
        assert c["global_writes"] == n                        # one store per output
        assert c["global_read_bytes"] > 1.05 * c["global_reads"] * d.itemsize
    else:
        assert c["global_read_bytes"] == c["global_reads"] * d.itemsize   # scalars only
        assert c["global_writes"] * _kernels.small_geometry(dt, 3, 3).vec == n


@pytest.mark.sanitizer
@pytest.mark.parametrize("sanitize", ["thread", "address"])
def test_sanitizers_clean(sanitize):
    """ThreadSanitizer (fibers = CUDA threads) and ASan + UBSan find nothing
    in corr2d_small: interior and edge tiles, looping grids, two workers."""
    factory = functools.partial(EmuModule, sanitize=sanitize, workers=2)
    small = small_module(factory, ("san", sanitize))
    for dt, K, boundary, flip in (("float32", (3, 3), "symmetric", True),
                                  ("float16", (7, 2), "constant", False),
                                  ("float64", (5, 5), "wrap", True)):
        th, tw = _kernels.small_tile(dt, 3, 3)
        x, w = _data(dt, (2 * th + 5, 2 * tw + 3), K)
        o, r = x.shape, (-(K[0] // 2), -(K[1] // 2))
        got = _run(x, w, o, r, flip, boundary, 1, small=small, max_grid=(2, 2, 1))
        _check(got, _reference(x, w, o, r, flip, boundary, 1), x, w, 1)
