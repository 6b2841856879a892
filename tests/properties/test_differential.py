"""The differential matrix: corrconv_gpu against the reference and SciPy/NumPy.

Axes: mode x boundary x dtype (every combination), with shapes, layouts,
fillvalues and methods rotated through so that every value of every axis is
covered in the default run. ``@pytest.mark.slow`` holds the full cartesian
sweep.

Integers (and bool) must match exactly, wrap-around included (the values are
drawn over the whole range of the type, so sums overflow); floats within
``rel * sum|w| * max|x|`` (1e-5 for float32/complex64, 1e-2 for float16,
1e-12 for float64/complex128).
"""

import itertools
import warnings

import numpy as np
import pytest
from scipy import signal

import corrconv_gpu as cc
from corrconv_gpu import reference as ref
from conftest import assert_matches

MODES = ["full", "same", "valid"]
BOUNDARIES = ["fill", "wrap", "symm"]
DTYPES = ["bool", "int8", "uint8", "int16", "int32", "int64", "uint64", "float16", "float32",
          "float64", "complex64", "complex128", "int8+uint8", "int32+float32", "float32+complex64",
          "uint8+int64", "float16+float32"]
SHAPES = [((1, 1), (1, 1)), ((1, 17), (1, 3)), ((19, 1), (4, 1)), ((37, 23), (5, 3)),
          ((37, 23), (4, 6)), ((5, 9), (7, 3)), ((3, 4), (6, 7)), ((16, 16), (16, 16)),
          ((23, 37), (2, 2)), ((8, 13), (1, 9)), ((6, 6), (6, 2)), ((2, 3), (9, 1))]
LAYOUTS = ["C", "F", "negstride", "view", "readonly", "bigendian"]
FILLS = [0, 2.5, -3, "nan"]
METHODS = ["auto", "direct", "fft"]


def _split(dt):
    a, _, b = dt.partition("+")
    return np.dtype(a), np.dtype(b or a)


def _values(rng, dtype, shape):
    """Values over the whole range of integer types (sums overflow), moderate floats."""
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    scale = 4.0 if dtype == np.float16 else 10.0
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * scale).astype(dtype)
    return (rng.standard_normal(shape) * scale + 1j * rng.standard_normal(shape) * scale).astype(dtype)


def _layout(a, layout):
    if layout == "C":
        return np.ascontiguousarray(a)
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "negstride":
        big = np.ascontiguousarray(a[::-1, ::-1])
        return big[::-1, ::-1]
    if layout == "view":
        big = np.zeros((a.shape[0] * 2 + 1, a.shape[1] * 3 + 2), a.dtype)
        big[1::2, 2::3] = a
        return big[1::2, 2::3]
    if layout == "readonly":
        out = a.copy()
        out.setflags(write=False)
        return out
    if layout == "bigendian":
        if a.dtype.itemsize == 1 or a.dtype.kind == "b":
            return a
        return a.astype(a.dtype.newbyteorder(">"))
    raise AssertionError(layout)


def _fill(fill, dtype):
    if fill == "nan":
        return np.nan if dtype.kind in "fc" else 0
    return fill


def _outcome(call):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                return "ok", call()
    except Exception as exc:  # noqa: BLE001
        return "raise", (type(exc), str(exc))


def check_case(mode, boundary, dt, shapes, layout, fill, methods, seed):
    d1, d2 = _split(dt)
    rng = np.random.default_rng(seed)
    s1, s2 = shapes
    x0 = _values(rng, d1, s1)
    w0 = _values(rng, d2, s2)
    x = _layout(x0, layout)
    w = _layout(w0, "C" if layout == "view" else ("negstride" if layout == "F" else layout))
    assert np.array_equal(x, x0) and np.array_equal(w, w0)
    rdt = np.result_type(d1, d2)
    fv = _fill(fill, rdt)
    snap_x, snap_w = x.copy(), w.copy()
    scipy_defined = rdt.kind in "iufc" and rdt != np.float16
    checked = 0
    for fn, sfn, rfn in ((cc.correlate2d, signal.correlate2d, ref.correlate2d),
                         (cc.convolve2d, signal.convolve2d, ref.convolve2d)):
        s_kind, s_val = _outcome(lambda: sfn(x0, w0, mode, boundary, fv))
        if s_kind == "raise" and (scipy_defined or "at least as large" in s_val[1]
                                  or "could not cast" in s_val[1]):
            # SciPy refuses this case: so must we, with its type and message
            for method in methods:
                o_kind, o_val = _outcome(lambda: fn(x, w, mode, boundary, fv, method=method))
                assert o_kind == "raise", (method, s_val)
                assert o_val == s_val
            checked += 1
            continue
        if not scipy_defined:
            # bool (and bool/object combinations) raise like SciPy; float16 is our extension
            if rdt.kind == "b":
                assert s_kind == "raise" and s_val == (ValueError, "convolve2d not available for this type.")
                for method in methods:
                    assert _outcome(lambda: fn(x, w, mode, boundary, fv, method=method))[1] == s_val
                checked += 1
                continue
            assert rdt == np.float16
        want = rfn(x0, w0, mode, boundary, fv)
        if scipy_defined:
            assert s_kind == "ok"
            assert_matches(want, s_val, x0, w0, fv)  # the oracle agrees with SciPy
        for method in methods:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got = fn(x, w, mode, boundary, fv, method=method)
            assert_matches(got, want, x0, w0, fv if np.isfinite(complex(fv)) else 0)
            if scipy_defined and rdt.kind not in "fc":
                assert np.array_equal(got, s_val)
            checked += 1
    np.testing.assert_array_equal(x, snap_x)
    np.testing.assert_array_equal(w, snap_w)
    assert checked >= 2


# every mode x boundary x dtype; the other axes rotate with the case index
_CASES = list(itertools.product(MODES, BOUNDARIES, DTYPES))


@pytest.mark.parametrize("idx", range(len(_CASES)),
                         ids=["-".join(c) for c in _CASES])
def test_matrix(idx):
    mode, boundary, dt = _CASES[idx]
    shapes = SHAPES[idx % len(SHAPES)]
    layout = LAYOUTS[(idx // 3) % len(LAYOUTS)]
    fill = FILLS[(idx // 2) % len(FILLS)]
    d = np.result_type(*_split(dt))
    methods = METHODS if d.kind in "fc" else ["auto", "direct"]
    check_case(mode, boundary, dt, shapes, layout, fill, methods, seed=idx)


def test_matrix_covers_every_axis_value():
    seen = {"shape": set(), "layout": set(), "fill": set()}
    for idx in range(len(_CASES)):
        seen["shape"].add(idx % len(SHAPES))
        seen["layout"].add((idx // 3) % len(LAYOUTS))
        seen["fill"].add((idx // 2) % len(FILLS))
    assert seen == {"shape": set(range(len(SHAPES))), "layout": set(range(len(LAYOUTS))),
                    "fill": set(range(len(FILLS)))}
    # (every shape x layout pair: test_shapes_by_layouts)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_shapes_by_layouts(shapes, layout):
    """Every shape with every layout, on one integer and one float type."""
    for dt in ("int16", "float64"):
        check_case("same", "symm", dt, shapes, layout, 2.5, ["auto"], seed=7)
        check_case("full", "fill", dt, shapes, layout, -3, ["direct"], seed=8)


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("dt", ["float32", "float64", "complex64", "complex128", "float16", "int8", "uint64"])
def test_fills(fill, dt):
    for mode in MODES:
        check_case(mode, "fill", dt, ((9, 11), (3, 4)), "C", fill, ["auto", "direct"], seed=3)


# ------------------------------------------------------------------ 1-D

DTYPES_1D = DTYPES + ["object"]


def _values_1d(rng, dtype, n):
    if dtype == object:
        return np.array([int(v) for v in rng.integers(-50, 50, n)], dtype=object)
    return _values(rng, dtype, (n,))


@pytest.mark.parametrize("dt", DTYPES_1D)
@pytest.mark.parametrize("mode", ["valid", "same", "full"])
def test_matrix_1d(dt, mode):
    d1, d2 = _split(dt) if dt != "object" else (np.dtype(object), np.dtype(object))
    rng = np.random.default_rng(hash((dt, mode)) % 2 ** 32)
    rdt = np.result_type(d1, d2)
    for n, k in [(1, 1), (17, 3), (16, 4), (3, 17), (4, 16), (9, 9), (40, 1)]:
        a = _values_1d(rng, d1, n)
        v = _values_1d(rng, d2, k)
        for fn, nfn, rfn in ((cc.correlate, np.correlate, ref.correlate),
                             (cc.convolve, np.convolve, ref.convolve)):
            with np.errstate(all="ignore"):
                want = nfn(a, v, mode)
            assert want.dtype == rdt
            if rdt != object:
                assert_matches(rfn(a, v, mode), want, a, v)
            for method in (METHODS if rdt.kind in "fc" else ["auto", "direct"]):
                for aa, vv in ((a, v), (a[::-1].copy()[::-1], v.astype(v.dtype.newbyteorder(">"))
                                        if v.dtype.itemsize > 1 and v.dtype != object else v)):
                    got = fn(aa, vv, mode, method=method)
                    if rdt == object:
                        assert got.dtype == object and got.tolist() == want.tolist()
                    elif rdt == np.float16:
                        # NumPy accumulates float16 in float32 as we do: same up to order
                        assert_matches(got, want, a, v)
                    else:
                        assert_matches(got, want, a, v)


# ----------------------------------------------------------------- slow

_SLOW = list(itertools.product(MODES, BOUNDARIES, DTYPES, range(len(SHAPES)), LAYOUTS))


@pytest.mark.slow
@pytest.mark.parametrize("idx", range(len(_SLOW)), ids=lambda i: "-".join(map(str, _SLOW[i])))
def test_matrix_full_cartesian(idx):
    mode, boundary, dt, si, layout = _SLOW[idx]
    d = np.result_type(*_split(dt))
    methods = METHODS if d.kind in "fc" else ["auto", "direct"]
    for fill in FILLS:
        check_case(mode, boundary, dt, SHAPES[si], layout, fill, methods, seed=idx)


@pytest.mark.slow
@pytest.mark.parametrize("k", [(k0, k1) for k0 in (1, 2, 3, 5, 8, 13, 31) for k1 in (1, 2, 4, 7, 16, 33)])
@pytest.mark.parametrize("dt", ["float32", "float64", "complex64", "int32", "uint8"])
def test_big_sweep(k, dt):
    for mode, boundary in itertools.product(MODES, BOUNDARIES):
        d = np.dtype(dt)
        methods = METHODS if d.kind in "fc" else ["auto", "direct"]
        check_case(mode, boundary, dt, ((131, 170), k), "C", 2.5, methods, seed=sum(k))
