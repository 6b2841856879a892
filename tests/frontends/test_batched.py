"""Stacks of 2-D frames through correlate2d/convolve2d (``axes=``) and ``output=``.

A stack (..., H, W) filtered with one 2-D kernel must equal a Python loop of
the 2-D function over the frames and the NumPy reference, for every mode and
boundary; ``output=`` follows scipy.ndimage.
"""

import itertools
import warnings

import numpy as np
import pytest

import corrconv_gpu as cc
from corrconv_gpu import reference

FUNCS = ((cc.correlate2d, reference.correlate2d), (cc.convolve2d, reference.convolve2d))
MODES = ("full", "same", "valid")
BOUNDARIES = ("fill", "wrap", "symm", "pad", "circular", "symmetric")


@pytest.fixture(autouse=True)
def _cpu_backend():
    with cc.use_backend("cpu"):
        yield


def _frames(x, axes):
    """The 2-D frames of ``x`` with the filtered axes last, and the batch shape."""
    xm = np.moveaxis(x, axes, (-2, -1))
    return xm.reshape((-1,) + xm.shape[-2:]), xm.shape[:-2]


def _loop(fn, x, k, axes, *args, **kwargs):
    frames, batch = _frames(x, axes)
    outs = np.stack([fn(f, k, *args, **kwargs) for f in frames])
    return np.moveaxis(outs.reshape(batch + outs.shape[-2:]), (-2, -1), axes)


def _check(got, exp, exact):
    assert type(got) is np.ndarray
    assert got.dtype == exp.dtype and got.shape == exp.shape, (got.dtype, exp.dtype,
                                                               got.shape, exp.shape)
    if exact:
        np.testing.assert_array_equal(got, exp)
    else:
        np.testing.assert_allclose(got, exp, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.int16, np.float64, np.complex128])
def test_stack_equals_loop_and_reference(rng, dtype):
    x = rng.integers(-9, 9, (2, 3, 5, 6))
    k = rng.integers(-3, 4, (3, 2))
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.integers(-9, 9, x.shape)
        k = k - 2j
    x, k = x.astype(dtype), k.astype(dtype)
    exact = np.dtype(dtype).kind != "c"
    for (fn, ref), mode, boundary in itertools.product(FUNCS, MODES, BOUNDARIES):
        got = fn(x, k, mode, boundary, 3, axes=(-2, -1))
        _check(got, _loop(fn, x, k, (2, 3), mode, boundary, 3), exact)
        _check(got, _loop(ref, x, k, (2, 3), mode, boundary, 3).astype(got.dtype), exact)
        with pytest.raises(ValueError, match="inputs must both be 2-D arrays"):
            fn(x, k, mode, boundary, 3)                     # no axes=: SciPy's error


@pytest.mark.parametrize("axes", [(0, 2), (2, 0), (-1, 1), (3, 0), (1, -4)])
def test_stack_any_axes(rng, axes):
    x = rng.standard_normal((3, 4, 5, 2))
    k = rng.standard_normal((2, 3))
    for (fn, ref), mode in itertools.product(FUNCS, MODES):
        ax = tuple(a % x.ndim for a in axes)
        got = fn(x, k, mode, "symm", axes=axes)
        _check(got, _loop(fn, x, k, ax, mode, "symm"), False)
        _check(got, _loop(ref, x, k, ax, mode, "symm"), False)
        assert got.flags.c_contiguous


def test_valid_swap_in_a_stack(rng):
    # the kernel is larger than every frame: SciPy swaps (and correlate2d
    # reverses and conjugates); the stack must do the same per frame
    x = rng.standard_normal((3, 2, 3)) + 1j * rng.standard_normal((3, 2, 3))
    k = rng.standard_normal((4, 5)) + 1j * rng.standard_normal((4, 5))
    for fn, ref in FUNCS:
        for xx, kk in ((x, k), (x.real, k.real), (x[:, :, :1], k[:2])):
            got = fn(xx, kk, "valid", axes=(-2, -1))
            _check(got, _loop(fn, xx, kk, (1, 2), "valid"), False)
            _check(got, _loop(ref, xx, kk, (1, 2), "valid"), False)
    with pytest.raises(ValueError, match="one must be at least as large"):
        cc.correlate2d(np.ones((2, 3, 5)), np.ones((4, 4)), "valid", axes=(-2, -1))


def test_2d_with_axes_is_transpose(rng):
    x = rng.standard_normal((5, 7))
    k = rng.standard_normal((2, 3))
    for fn, _ in FUNCS:
        for mode in MODES:
            _check(fn(x, k, mode, axes=(1, 0)), fn(x.T, k, mode).T, True)
            _check(fn(x, k, mode, axes=(0, 1)), fn(x, k, mode), True)
            _check(fn(x, k, mode, axes=(-2, -1)), fn(x, k, mode), True)


def test_empty_stacks(rng):
    k = rng.standard_normal((2, 2))
    for fn, _ in FUNCS:
        assert fn(np.ones((0, 4, 5)), k, axes=(-2, -1)).shape == (0, 5, 6)
        assert fn(np.ones((3, 0, 5)), k, "full", axes=(-2, -1)).shape == (3, 1, 6)
        with pytest.raises(ValueError, match="cannot extend an empty in1"):
            fn(np.ones((3, 0, 5)), k, "same", "wrap", axes=(-2, -1))


def test_one_backend_call_for_a_stack(rng, monkeypatch):
    from corrconv_gpu._backends import cpu as _cpu
    calls = []
    real = _cpu.execute

    def counting(plan, x, *a, **kw):
        calls.append(x.shape)
        return real(plan, x, *a, **kw)

    monkeypatch.setattr(_cpu, "execute", counting)
    cc.correlate2d(rng.standard_normal((2, 3, 4, 5)), np.ones((2, 2)), axes=(-2, -1))
    cc.convolve2d(rng.standard_normal((4, 5, 3)), np.ones((2, 2)), "valid", axes=(0, 1))
    assert calls == [(6, 4, 5), (3, 4, 5)]


def test_inputs_unchanged(rng):
    x = rng.standard_normal((2, 4, 5))
    k = rng.standard_normal((2, 2))
    x0, k0 = x.copy(), k.copy()
    for fn, _ in FUNCS:
        for mode, b in itertools.product(MODES, ("fill", "wrap", "symm")):
            fn(x, k, mode, b, axes=(2, 0))
            fn(x, k, mode, b, output=np.float32, axes=(-2, -1))
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(k, k0)


# ----------------------------------------------------------------- output=

def test_output_dtype(rng):
    x = rng.integers(0, 100, (2, 4, 5)).astype(np.int32)
    k = rng.integers(0, 9, (2, 2)).astype(np.int32)
    for fn, _ in FUNCS:
        full = fn(x, k, axes=(-2, -1))
        for dt in (np.float32, np.uint8, "int16", np.dtype(np.float64), np.bool_):
            got = fn(x, k, output=dt, axes=(-2, -1))
            _check(got, full.astype(dt), True)
        got2 = fn(x[0], k, output=np.int8)                        # 2-D too
        _check(got2, fn(x[0], k).astype(np.int8), True)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
def test_output_array_in_place(rng, mode, boundary):
    x = rng.standard_normal((3, 4, 6))
    k = rng.standard_normal((2, 3))
    for fn, _ in FUNCS:
        exp = fn(x, k, mode, boundary, 1.5, axes=(-2, -1))
        for out in (np.empty(exp.shape), np.empty(exp.shape, np.float32),
                    np.empty(exp.shape, order="F"), np.empty(exp.shape[::-1]).T):
            r = fn(x, k, mode, boundary, 1.5, output=out, axes=(-2, -1))
            assert r is out
            _check(out, exp.astype(out.dtype), out.dtype == exp.dtype)


def test_output_overlapping_input(rng):
    for fn, _ in FUNCS:
        x = rng.standard_normal((3, 5, 6))
        exp = fn(x, np.ones((3, 3)), "same", "wrap", axes=(-2, -1))
        r = fn(x, np.ones((3, 3)), "same", "wrap", output=x, axes=(-2, -1))  # fully in place
        assert r is x
        _check(x, exp, True)
        x = rng.standard_normal((3, 5, 6))
        exp = fn(x, np.ones((2, 2)), "same", "symm", axes=(-2, -1))
        view = x[::-1, :, ::-1]
        fn(x, np.ones((2, 2)), "same", "symm", output=view, axes=(-2, -1))  # reversed view
        _check(view, exp, True)
        x = rng.standard_normal((4, 6))
        exp = fn(x, np.ones((2, 2)), "valid", axes=(-2, -1))
        fn(x, np.ones((2, 2)), "valid", output=x[1:, 1:])            # shifted view
        _check(x[1:, 1:], exp, True)


def test_output_shape_mismatch(rng):
    x = rng.standard_normal((2, 4, 5))
    for fn, _ in FUNCS:
        for shape in ((2, 4, 5), (4, 5), (2, 5, 6, 1), (5, 6)):
            with pytest.raises(RuntimeError, match="^output shape not correct$"):
                fn(x, np.ones((2, 2)), output=np.empty(shape), axes=(-2, -1))
        with pytest.raises(RuntimeError, match="output shape not correct"):
            fn(x[0], np.ones((2, 2)), "valid", output=np.empty((4, 5)))
        with pytest.raises(RuntimeError, match="output must have numeric dtype"):
            fn(x, np.ones((2, 2)), output="bool", axes=(-2, -1))


def test_output_complex_rules(rng):
    x = rng.standard_normal((2, 4, 5)) + 1j
    k = np.ones((2, 2))
    for fn, _ in FUNCS:
        exp = fn(x, k, axes=(-2, -1))
        with pytest.raises(RuntimeError, match="output must have complex dtype"):
            fn(x, k, output=np.empty(exp.shape), axes=(-2, -1))
        with pytest.raises(RuntimeError, match="output must have complex dtype"):
            fn(x, k, output="float64", axes=(-2, -1))
        with pytest.warns(UserWarning, match="promoting specified output dtype to complex"):
            got = fn(x, k, output=np.float32, axes=(-2, -1))
        _check(got, exp.astype(np.complex64), False)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _check(fn(x, k, output=np.complex64, axes=(-2, -1)), exp.astype(np.complex64), False)


# ----------------------------------------------------------------- errors

def test_stack_errors(rng):
    for fn, name in ((cc.correlate2d, "correlate2d"), (cc.convolve2d, "convolve2d")):
        # 2-D in1 keeps SciPy's message for every bad in2
        with pytest.raises(ValueError, match=f"^{name} inputs must both be 2-D arrays$"):
            fn(np.ones((3, 3)), np.ones((2, 2, 2)))
        with pytest.raises(ValueError, match=f"^{name} inputs must both be 2-D arrays$"):
            fn(np.ones(3), np.ones((2, 2)), axes=(0, 1))
        with pytest.raises(ValueError, match=f"^{name} inputs must both be 2-D arrays$"):
            fn(np.ones(3), np.ones((2, 2)), output=np.float32)
        # a stack needs a 2-D kernel, named
        with pytest.raises(ValueError, match=rf"{name}: in2 \(the kernel\) must be a 2-D"):
            fn(np.ones((2, 3, 3)), np.ones((2, 2, 2)), axes=(-2, -1))
        with pytest.raises(ValueError, match=rf"{name}: in2 \(the kernel\) must be a 2-D"):
            fn(np.ones((2, 3, 3)), np.ones(2), axes=(-2, -1))
        # axes
        with pytest.raises(ValueError, match="axes must be unique"):
            fn(np.ones((2, 3, 3)), np.ones((2, 2)), axes=(1, -2))
        with pytest.raises(ValueError, match="specified axis: 3 is out of range"):
            fn(np.ones((2, 3, 3)), np.ones((2, 2)), axes=(0, 3))
        with pytest.raises(ValueError, match="specified axis: -3 is out of range"):
            fn(np.ones((3, 3)), np.ones((2, 2)), axes=(-3, 1))
        with pytest.raises(ValueError, match="exactly two axes"):
            fn(np.ones((2, 3, 3)), np.ones((2, 2)), axes=(0, 1, 2))
        with pytest.raises(TypeError, match="axes must be a pair of integers"):
            fn(np.ones((2, 3, 3)), np.ones((2, 2)), axes=(0, 1.0))
        with pytest.raises(ValueError, match=f"^{name} inputs must both be 2-D arrays$"):
            fn(np.ones((2, 3, 3)), np.ones((2, 2)), axes=None)      # the default
        # the other checks keep SciPy's messages on a stack
        with pytest.raises(ValueError, match="Acceptable mode flags"):
            fn(np.ones((2, 3, 3)), np.ones((2, 2)), "FULL", axes=(-2, -1))
        with pytest.raises(ValueError, match="Acceptable boundary flags"):
            fn(np.ones((2, 3, 3)), np.ones((2, 2)), boundary="x", axes=(-2, -1))
        with pytest.raises(ValueError, match="`fillvalue` must be scalar"):
            fn(np.ones((2, 3, 3)), np.ones((2, 2)), fillvalue=[1, 2], axes=(-2, -1))
        with pytest.raises(ValueError, match="convolve2d not available for this type."):
            fn(np.ones((2, 3, 3), bool), np.ones((2, 2), bool), axes=(-2, -1))


def test_stack_dtype_rules(rng):
    x = rng.integers(0, 200, (2, 3, 4)).astype(np.uint8)
    k = np.full((2, 2), 2, np.uint8)
    for fn, ref in FUNCS:
        got = fn(x, k, "same", axes=(-2, -1))
        assert got.dtype == np.uint8                       # wraps like SciPy
        _check(got, _loop(ref, x, k, (1, 2), "same"), True)
        got = fn(x, k.astype(np.int8), axes=(-2, -1))
        assert got.dtype == np.int16
        got = fn(x.astype(np.float16), k.astype(np.float16), axes=(-2, -1))
        assert got.dtype == np.float16
