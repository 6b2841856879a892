"""Where SciPy/NumPy raise or answer otherwise, we must too (no silent differences).

1. N-D input to correlate2d/convolve2d is a stack only with ``axes=``; without
   it SciPy's 2-D error, in every frontend (in-memory, Dask; the ndimage
   functions keep SciPy's weights-rank error).
2. Float sums stored in integer outputs: one explicit conversion
   (:mod:`corrconv_gpu._util.cast`) that gives SciPy's value on every element, for
   every integer dtype and bool, inside and outside the type's range, whatever
   the size, layout, position, backend (CPU, emulated GPU, out-of-core bands)
   or frontend (ndimage, Dask, ``output=``).
3. Errors: every single bad argument and every pair of them raises SciPy's /
   NumPy's exception type and message (their order of checking).
"""

import itertools
import platform

import numpy as np
import pytest
import scipy.ndimage as ndi
from scipy import signal

import corrconv_gpu as cc
from corrconv_gpu._backends.cuda import outofcore as _banded
from corrconv_gpu import ndimage as cnd
from corrconv_gpu._backends.cuda.outofcore import memory_budget
from corrconv_gpu._util.cast import c_integer
from conftest import outcome    # ('ok', result) or ('raise', type, message)

x86_only = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"),
    reason="SciPy's out-of-range float->integer results are x86-64's; the rule "
           "reproduces them everywhere, but SciPy elsewhere answers otherwise")


# ------------------------------------------------- 1. N-D input to the 2-D API

@pytest.mark.parametrize("name", ["correlate2d", "convolve2d"])
def test_rgb_image_is_not_a_stack(name, rng):
    rgb = rng.random((40, 50, 3))
    w = np.ones((3, 3)) / 9
    ours, theirs = getattr(cc, name), getattr(signal, name)
    msg = f"^{name} inputs must both be 2-D arrays$"
    for mode in ("full", "same", "valid"):
        with pytest.raises(ValueError, match=msg):
            theirs(rgb, w, mode)
        with pytest.raises(ValueError, match=msg):
            ours(rgb, w, mode)
        with pytest.raises(ValueError, match=msg):
            ours(rgb, w, mode, output=np.float32)     # the general path too
        with pytest.raises(ValueError, match=msg):
            ours(rgb[None], w, mode)                  # 4-D
    # asked for, the same array is a stack of frames along the named axes
    got = ours(rgb, w, "same", axes=(0, 1))
    want = np.stack([theirs(rgb[..., c], w, "same") for c in range(3)], axis=-1)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    got = ours(rgb, w, "same", axes=(-2, -1))
    want = np.stack([theirs(f, w, "same") for f in rgb])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["correlate2d", "convolve2d"])
def test_rgb_image_is_not_a_stack_on_dask(name, rng):
    da = pytest.importorskip("dask.array")
    import corrconv_gpu.dask as ccd
    rgb = rng.random((20, 24, 3))
    x = da.from_array(rgb, chunks=(7, 9, 3))
    with pytest.raises(ValueError, match=f"^{name} inputs must both be 2-D arrays$"):
        getattr(ccd, name)(x, np.ones((3, 3)), "same")
    got = getattr(ccd, name)(x, np.ones((3, 3)), "same", axes=(0, 1)).compute()
    np.testing.assert_allclose(got, getattr(cc, name)(rgb, np.ones((3, 3)), "same",
                                                      axes=(0, 1)), rtol=1e-12)


@pytest.mark.parametrize("name", ["correlate", "convolve"])
def test_ndimage_rgb_with_2d_weights_raises_as_scipy(name, rng):
    rgb = rng.random((20, 24, 3))
    w = np.ones((3, 3))
    t = outcome(lambda: getattr(ndi, name)(rgb, w))
    assert t[1] is RuntimeError
    assert outcome(lambda: getattr(cnd, name)(rgb, w)) == t
    da = pytest.importorskip("dask.array")
    import corrconv_gpu.dask as ccd
    o = outcome(lambda: getattr(ccd, name)(da.from_array(rgb, chunks=8), w))
    assert o == t
    # with axes= the channels are a stack, as in SciPy
    np.testing.assert_allclose(getattr(cnd, name)(rgb, w, axes=(0, 1)),
                               getattr(ndi, name)(rgb, w, axes=(0, 1)), rtol=1e-12)


# ------------------------------------------- 2. float -> integer conversions

INT_TYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
             np.int64, np.uint64]


def _values(rng):
    """Sums inside and outside every integer type's range, at and next to the
    edges, fractional, huge, infinite and NaN."""
    edges = [0.0, 0.5, 1.0]
    for bits in (7, 8, 15, 16, 31, 32, 53, 62, 63, 64, 65):
        e = 2.0 ** bits
        edges += [e - 1, e - 0.5, e, e + 0.5, e + 1, e * 1.5]
    edges = np.array(edges)
    v = np.concatenate([edges, -edges, edges - 2.0 ** 64, [np.inf, -np.inf, np.nan],
                        rng.uniform(-300, 300, 64), rng.uniform(-7e4, 7e4, 64),
                        rng.uniform(-5e9, 5e9, 64), rng.uniform(-3e19, 3e19, 64),
                        rng.uniform(-1e25, 1e25, 16)])
    return rng.permutation(v)


def _same_elements(got, want):
    """Element by element; bool as truth values (SciPy stores the raw byte)."""
    if want.dtype == np.bool_:
        want = want.view(np.uint8) != 0
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    diff = got != want
    assert not diff.any(), (np.argwhere(diff)[:5], got[diff][:5], want[diff][:5])


@x86_only
@pytest.mark.parametrize("dtype", INT_TYPES + [np.bool_], ids=lambda d: np.dtype(d).name)
def test_rule_equals_scipy_on_every_element(dtype, rng):
    v = _values(rng)
    for fn in (ndi.correlate1d, ndi.correlate):   # the 1-D and the N-D C loop
        want = fn(v, [1.0], output=dtype, mode="constant")
        for shape in ((v.size,), (8, v.size // 8), (v.size // 8, 8)):
            x = v[: np.prod(shape)].reshape(shape)
            w = [1.0] if fn is ndi.correlate1d else np.ones((1,) * len(shape))
            ours = getattr(cnd, fn.__name__)
            _same_elements(ours(x, w, output=dtype, mode="constant").ravel(),
                           want[: x.size])
            # a reversed, strided view: positions change, values must not
            xr = x[..., ::-1]
            _same_elements(ours(xr, w, output=dtype, mode="constant"),
                           fn(xr, w, output=dtype, mode="constant"))


def test_c_integer_is_not_numpy_astype(rng):
    """The position-dependent answers of ``astype`` (issue example) are gone."""
    v = np.full(64, 4294967302.0)                  # 2**32 + 6 in every lane
    got = c_integer(v, np.uint32)
    assert (got == 6).all()
    assert (c_integer(v[::3], np.uint32) == 6).all()
    assert (c_integer(v[5:6], np.uint32) == 6).all()
    # NaN and infinities have one answer per type, wherever they are
    for dt in INT_TYPES:
        a = c_integer(np.array([np.nan] * 33 + [np.inf] * 33), dt)
        assert len(set(a[:33].tolist())) == 1 and len(set(a[33:].tolist())) == 1


def _overflowing_input(dtype, rng):
    """Values at a type's edges whose float64 sums with ``WEIGHTS_1D`` and
    ``WEIGHTS_2D`` are exact (64-bit types: multiples of 2**40), so that only
    the conversion, not the order of summation, decides the stored value."""
    info = np.iinfo(dtype)
    base = [info.max, info.max - 1, info.min, info.min + 1, 0, 1, 8, info.max // 2 + 3]
    if info.bits == 64:
        base = [(b >> 40) << 40 for b in base]
    return rng.permutation(np.tile(np.array(base, dtype=dtype), 5)).reshape(5, 8)


WEIGHTS_1D = ([1., 1., 1.], [3., -2., 5.], [2.0 ** 20, 1.0])
WEIGHTS_2D = np.array([[1., 2.], [-3., 2.0 ** 16]])


@x86_only
@pytest.mark.parametrize("backend", ["cpu", "emulated"])
@pytest.mark.parametrize("dtype", INT_TYPES, ids=lambda d: np.dtype(d).name)
def test_overflowing_sums_like_scipy(dtype, backend, rng):
    """The issue's case on every integer type: sums of the input's own values
    leave its range; the C conversion stores them."""
    x = _overflowing_input(dtype, rng)
    a = np.array([[4294967294, 8, 0]] * 2, np.uint32)
    with cc.use_backend(backend):
        _same_elements(cnd.correlate1d(a, [1., 1., 1.], mode="constant"),
                       np.array([[6, 6, 8], [6, 6, 8]], np.uint32))
        for kw in (dict(mode="constant"), dict(mode="wrap"), dict(mode="nearest", origin=-1)):
            for w in WEIGHTS_1D:
                _same_elements(cnd.correlate1d(x, w, **kw), ndi.correlate1d(x, w, **kw))
                _same_elements(cnd.convolve1d(x, w, axis=0, **kw),
                               ndi.convolve1d(x, w, axis=0, **kw))
            w2 = WEIGHTS_2D
            _same_elements(cnd.correlate(x, w2, **kw), ndi.correlate(x, w2, **kw))
            _same_elements(cnd.convolve(x, w2, **kw), ndi.convolve(x, w2, **kw))
            out = np.empty(x.shape, np.uint8)          # an output= array of another type
            cnd.correlate(x, w2, output=out, **kw)
            _same_elements(out, ndi.correlate(x, w2, output=np.uint8, **kw))


@x86_only
def test_overflowing_sums_in_out_of_core_bands(rng):
    x = np.repeat(_overflowing_input(np.uint32, rng), 6, axis=0).astype(np.float64)
    x *= 3.0
    w = np.array([[1., 1., 1.], [2., 0.5, 2.0 ** 10]])
    want = ndi.correlate(x, w, output=np.uint32, mode="mirror")
    with cc.use_backend("emulated"):
        _banded.last_stats = None
        with memory_budget(3000):
            got = cnd.correlate(x, w, output=np.uint32, mode="mirror", method="direct")
        assert _banded.last_stats is not None and _banded.last_stats.bands > 1
    _same_elements(got, want)


@x86_only
@pytest.mark.parametrize("dtype", [np.uint32, np.uint64, np.int16], ids=lambda d: np.dtype(d).name)
def test_overflowing_sums_on_dask(dtype, rng):
    da = pytest.importorskip("dask.array")
    import corrconv_gpu.dask as ccd
    x = np.tile(_overflowing_input(dtype, rng), (3, 2))
    d = da.from_array(x, chunks=(4, 5))
    for w in WEIGHTS_1D:
        _same_elements(ccd.correlate1d(d, w, mode="constant").compute(),
                       ndi.correlate1d(x, w, mode="constant"))
    _same_elements(ccd.correlate(d, WEIGHTS_2D, mode="reflect").compute(),
                   ndi.correlate(x, WEIGHTS_2D, mode="reflect"))


@x86_only
def test_signal_output_dtype_uses_the_rule(rng):
    """correlate2d's ``output=`` (an extension) converts floats by the same rule."""
    x = rng.uniform(-1e10, 1e10, (9, 11))
    w = np.array([[1.0]])
    for dt in INT_TYPES:
        got = cc.correlate2d(x, w, output=dt)
        _same_elements(got, ndi.correlate(x, w, output=dt, mode="constant"))
        out = np.empty(x.shape, dt)
        cc.convolve2d(x, w, output=out)
        _same_elements(out, got)
    assert (cc.correlate2d(x, w, output=np.bool_) == (x != 0)).all()   # NumPy's bool


@pytest.mark.gpu
def test_rule_on_cupy_arrays(rng):
    import cupy
    v = _values(rng)
    for dt in INT_TYPES:
        want = c_integer(v, dt)
        got = c_integer(cupy.asarray(v), dt)
        assert isinstance(got, cupy.ndarray)
        _same_elements(cupy.asnumpy(got), want)
        x = cupy.asarray(_overflowing_input(dt, rng))
        got = cnd.correlate1d(x, [1., 1., 1.], mode="constant")
        _same_elements(cupy.asnumpy(got),
                       ndi.correlate1d(cupy.asnumpy(x), [1., 1., 1.], mode="constant"))


# ----------------------------------------------- 3. errors, singly and in pairs

S2 = np.array([["a", "b"], ["c", "d"]])
M2 = np.array([[1, 2], [3, 4]], "datetime64[D]")
T2 = np.array([[1, 2], [3, 4]], "timedelta64[D]")

# (good arguments, bad values per argument)
SPECS = {
    "numpy-1d": (
        dict(a=[1., 2, 3, 4], v=[1., 10], mode="valid"),
        dict(a=[S2[0], M2[0], T2[0], np.array([None, None], object), [[1, 2]], 5, [],
                np.zeros(2, "V8"), np.array([b"a", b"b"])],
             v=[S2[0, :1], M2[0, :1], T2[0], [[1]], [], 5],
             mode=["x", 3, None, "Valid"])),
    "signal-2d": (
        dict(in1=np.ones((4, 5)), in2=np.ones((2, 2)), mode="full", boundary="fill",
             fillvalue=0),
        dict(in1=[S2, M2, T2, np.ones(3), np.ones((3, 3, 3)), np.ones((2, 2), bool),
                  np.ones((2, 2), object), np.zeros((2, 2), "V8")],
             in2=[S2, M2, T2, np.ones(2), np.ones((2, 2, 2)), np.ones((2, 2), bool),
                  np.ones((2, 2), object), np.ones((6, 6))],
             mode=["x", 1, None], boundary=["reflect", "x", None],
             fillvalue=[[1, 2], [], 1j, None, "a"])),
    "ndimage-1d": (
        dict(input=np.ones((4, 5)), weights=[1., 2, 1], axis=-1, output=None,
             mode="reflect", cval=0.0, origin=0),
        dict(input=[S2, M2, np.ones((2, 2), np.float16), np.ones((2, 2), object),
                    np.ones((2, 2), np.complex64)],
             weights=[np.ones((2, 2)), np.ones((2, 2)) + 1j, [], 3.0, np.array(["a"]),
                      np.array([1 + 1j, 2])],
             axis=[5, "a", 1.5], output=[np.ones((3, 3)), "float16", np.float16, "x",
                                         np.complex64, np.int8, [1, 2]],
             mode=["x", ["reflect", "reflect"], None, 1], cval=[5 + 1j, "a", None, [1, 2]],
             origin=[10, "a", 1.5, -10, 0.5])),
    "ndimage-nd": (
        dict(input=np.ones((4, 5)), weights=np.ones((3, 3)), output=None, mode="reflect",
             cval=0.0, origin=0, axes=None),
        dict(input=[S2, M2, np.ones((2, 2), np.float16), np.ones((2, 2), object),
                    np.ones((3, 3, 1)), np.ones((2, 2), np.complex64)],
             weights=[np.ones(3), np.ones((3, 3, 3)), np.ones((0, 3)), np.ones((3, 3)) + 1j,
                      np.array([["a"]]), 3.0],
             output=[np.ones((3, 3)), "float16", np.float16, "x", np.complex64, [1, 2]],
             mode=["x", ["reflect", "reflect"], None], cval=[5 + 1j, "a", None],
             origin=[10, "a", [0, 0, 0], 1.5, 0.5], axes=[5, -1, (0, 0), "a", (0,), 1.5])),
}
FUNCS = {"numpy-1d": [(np.correlate, cc.correlate), (np.convolve, cc.convolve)],
         "signal-2d": [(signal.correlate2d, cc.correlate2d),
                       (signal.convolve2d, cc.convolve2d)],
         "ndimage-1d": [(ndi.correlate1d, cnd.correlate1d), (ndi.convolve1d, cnd.convolve1d)],
         "ndimage-nd": [(ndi.correlate, cnd.correlate), (ndi.convolve, cnd.convolve)]}


def _describe(v):
    return f"array{v.shape}{v.dtype}" if isinstance(v, np.ndarray) else repr(v)


def _is_f16(v):
    return ((isinstance(v, np.ndarray) and v.dtype == np.float16) or v is np.float16
            or (isinstance(v, str) and v == "float16"))


def _known_difference(family, combo, theirs, ours, kw=None, theirs_fn=None):
    """The differences we keep on purpose (each documented)."""
    args = dict(combo)
    arrays = [v for v in args.values() if isinstance(v, np.ndarray)]
    if (family.startswith("ndimage") and theirs[0] == "raise" and "not supported"
            in str(theirs[-1]) and any(_is_f16(v) for v in args.values())):
        # float16 is computed (README: an extension): we do what SciPy does
        # with float64 in its place (raise the same error, or return a result)
        kw64 = {k: (np.float64 if _is_f16(v) and not isinstance(v, np.ndarray) else
                    v.astype(np.float64) if _is_f16(v) else v) for k, v in kw.items()}
        t64 = outcome(lambda: theirs_fn(**kw64))
        return ours[0] == t64[0] == "ok" or ours == t64
    if family == "signal-2d" and theirs[-1] == "convolve2d not available for this type.":
        kinds = {a.dtype.kind for a in arrays}
        # float16 is computed (README: an extension); SciPy's datetime/timedelta
        # promotion corner (the unit-less type it starts from) is not reproduced
        if np.float16 in {a.dtype.type for a in arrays} or kinds >= {"M", "m"}:
            return True
    if family == "numpy-1d" and "can't multiply sequence" in str(theirs[-1]) and any(
            isinstance(v, list) and v and isinstance(v[0], list) for v in args.values()):
        return True   # object type: NumPy keeps a nested list as one element
    return False


@pytest.mark.parametrize("family", list(SPECS))
def test_errors_singly_and_in_pairs(family):
    good, bads = SPECS[family]
    names = list(bads)
    combos = [((a, x),) for a in names for x in bads[a]]
    combos += [((a, x), (b, y)) for a, b in itertools.combinations(names, 2)
               for x in bads[a] for y in bads[b]]
    failures, raised = [], 0
    for theirs_fn, ours_fn in FUNCS[family]:
        for combo in combos:
            kw = dict(good, **dict(combo))
            t = outcome(lambda: theirs_fn(**kw))
            o = outcome(lambda: ours_fn(**kw))
            if t[0] == "raise":
                raised += 1
            same = o[0] == t[0] == "ok" or o == t
            if not same and not _known_difference(family, combo, t, o, kw, theirs_fn):
                failures.append((ours_fn.__name__, {a: _describe(v) for a, v in combo},
                                 t[0] if t[0] == "ok" else (t[1].__name__, t[2]),
                                 o[0] if o[0] == "ok" else (o[1].__name__, o[2])))
    assert raised > len(combos)    # the sweep is made of errors
    assert not failures, "\n".join(map(str, failures[:20]))


def test_issue_examples_errors():
    """The three cases the issue names, checked literally."""
    with pytest.raises(ValueError, match="^Cannot provide a complex-valued cval when "
                                         "the input is real.$"):
        cnd.convolve1d(np.ones(5), np.ones((2, 2)) + 1j, cval=5 + 1j)
    d = np.array([[1, 2]], "datetime64[D]")
    for fn in (cc.correlate2d, signal.correlate2d):
        with pytest.raises(TypeError, match="^cannot conjugate non-numeric dtype$"):
            fn(d, d)
    s = np.array(["a", "b"])
    for fn in (cc.correlate, np.correlate, cc.convolve, np.convolve):
        with pytest.raises(ValueError, match="^data type must provide an itemsize$"):
            fn(s, s)


def test_timedelta_1d_like_numpy():
    t = np.array(["NaT", 3, 2 ** 62, -5], "m8[D]")
    for ours, theirs in ((cc.correlate, np.correlate), (cc.convolve, np.convolve)):
        for v in (np.array([2, 1], "m8[s]"), np.array([True, False, True]),
                  np.array([3, -1], np.int8)):
            for mode in ("valid", "same", "full"):
                want = theirs(t, v, mode)
                got = ours(t, v, mode)
                assert got.dtype == want.dtype
                np.testing.assert_array_equal(got.view(np.int64), want.view(np.int64))
        # timedelta and float have no common type: Python objects, as NumPy
        want = theirs(t[1:2], np.array([1.5]))
        got = ours(t[1:2], np.array([1.5]))
        assert got.dtype == object and list(got) == list(want)
