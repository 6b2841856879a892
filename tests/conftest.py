"""Shared test configuration: hypothesis profiles and the GPU skip rule.

Hypothesis profiles
-------------------
``default``  loaded unless another is asked for. Every property test in
             ``test_hypothesis.py`` states its own ``max_examples`` as
             ``examples(n)``; the ``n`` add up to >= 2,000 (checked there).
``slow``     ``python -m pytest -m slow --hypothesis-profile=slow``: the same
             property tests with 50x the examples (>= 100,000 in total). With
             this profile loaded the property tests are also marked ``slow``,
             so ``-m slow`` selects them.
``ci``       the default budget, derandomized (reproducible CI runs); chosen
             automatically when the ``CI`` environment variable is set.

All profiles have ``deadline=None`` (Numba compiles kernels on first use).

GPU tests
---------
Tests marked ``@pytest.mark.gpu`` are skipped, with
``corrconv_gpu.backends()['cuda'].reason`` as the reason, when the CUDA
backend is unavailable. No ``--gpu`` option is needed: the check is made once,
lazily (it imports CuPy), only if a collected test carries the marker.
"""

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from corrconv_gpu._boundary import extended_block

# examples per unit of ``examples(n)``: default 1x, slow 50x
_BASE = 100
_SLOW_FACTOR = 50
_COMMON = dict(deadline=None,
               suppress_health_check=[HealthCheck.too_slow,
                                      HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])

settings.register_profile("default", max_examples=_BASE, **_COMMON)
settings.register_profile("ci", max_examples=_BASE, derandomize=True, **_COMMON)
settings.register_profile("slow", max_examples=_BASE * _SLOW_FACTOR, **_COMMON)
# the hypothesis pytest plugin loads --hypothesis-profile after this (it wins)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE",
                                     "ci" if os.environ.get("CI") else "default"))


def examples(n):
    """``n`` examples in the default profile, scaled by the loaded profile."""
    return max(1, int(round(n * settings().max_examples / _BASE)))


def slow_profile_loaded():
    return settings().max_examples > _BASE


def pytest_collection_modifyitems(config, items):
    # with the slow profile the property tests belong to the slow suite
    if slow_profile_loaded():
        for item in items:
            if item.module is not None and item.module.__name__.endswith("test_hypothesis"):
                item.add_marker(pytest.mark.slow)


_CUDA_INFO = []


def _cuda_info():
    if not _CUDA_INFO:
        import corrconv_gpu
        _CUDA_INFO.append(corrconv_gpu.backends()["cuda"])
    return _CUDA_INFO[0]


def pytest_runtest_setup(item):
    if item.get_closest_marker("gpu") is not None:
        info = _cuda_info()
        if not info.available:
            pytest.skip(f"CUDA backend unavailable: {info.reason}")


@pytest.fixture
def cuda_info():
    """The CUDA BackendInfo (imports CuPy if installed)."""
    return _cuda_info()


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


# ------------------------------------------------------------- helpers

def float_tol(dtype, x, w, fill=0.0):
    """Absolute tolerance for a float/complex result: eps_class * sum|w| * max|x|."""
    dtype = np.dtype(dtype)
    scale = float(np.sum(np.abs(np.asarray(w, dtype=np.complex128))))
    xa = np.abs(np.asarray(x, dtype=np.complex128))
    xm = float(xa.max()) if xa.size else 0.0
    xm = max(xm, abs(complex(fill)) if np.isfinite(complex(fill)) else 0.0, 1.0)
    if dtype in (np.float16,):
        rel = 1e-2
    elif dtype in (np.float32, np.complex64):
        rel = 1e-5
    else:
        rel = 1e-12
    return rel * max(scale, 1.0) * xm


def assert_matches(got, expected, x=None, w=None, fill=0.0, exact=None):
    """``got`` equals ``expected``: dtype and shape always; values exactly for
    integer/bool/object, within :func:`float_tol` for floats (NaN at the same
    places, infinities equal)."""
    got = np.asarray(got) if not isinstance(got, np.ndarray) else got
    expected = np.asarray(expected)
    assert type(got) is np.ndarray, type(got)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if exact is None:
        exact = expected.dtype.kind not in "fc"
    if exact:
        if expected.dtype.kind in "fc":
            np.testing.assert_array_equal(got, expected)
        else:
            assert np.array_equal(got, expected), (got, expected)
        return
    tol = float_tol(expected.dtype, x if x is not None else expected,
                    w if w is not None else np.ones(1), fill)
    g = got.astype(np.complex128)
    e = expected.astype(np.complex128)
    for part in (np.real, np.imag):
        gp, ep = part(g), part(e)
        assert np.array_equal(np.isnan(gp), np.isnan(ep)), (got, expected)
        fin = np.isfinite(ep)
        assert np.array_equal(gp[~fin & ~np.isnan(ep)], ep[~fin & ~np.isnan(ep)]), (got, expected)
        if fin.any():
            err = float(np.max(np.abs(gp[fin] - ep[fin])))
            assert err <= tol, f"max error {err} > tol {tol}"


# ------------------------------------------------------- shared test helpers

ROOT = Path(__file__).resolve().parents[1]     # the repository checkout


def outcome(call):
    """('ok', result) or ('raise', type, message) of ``call()``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                return ("ok", call())
    except Exception as exc:  # noqa: BLE001 - we compare whatever they raise
        return ("raise", type(exc), str(exc))


def window_data(shape, dtype, rng):
    dt = np.dtype(dtype)
    if dt.kind == "i":
        return rng.integers(-50, 50, size=shape).astype(dt)
    x = rng.standard_normal(shape)
    if dt.kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dt)


def window_expected(x, xr0, xc0, w, flip, conj, n0, n1, boundary, fill):
    """The window from a boundary-extended copy, summed by the reference."""
    k0, k1 = w.shape
    ext = extended_block(x, (xr0, xr0 + n0 + k0 - 1), (xc0, xc0 + n1 + k1 - 1),
                         boundary, fill)
    wk = w[::-1, ::-1] if flip else w
    if conj:
        wk = np.conj(wk)
    acc = np.zeros((n0, n1), dtype=np.result_type(x.dtype, np.float64)
                   if x.dtype.kind != "i" else np.int64)
    for p in range(k0):
        for q in range(k1):
            acc = acc + ext[p:p + n0, q:q + n1] * wk[p, q]
    return acc
