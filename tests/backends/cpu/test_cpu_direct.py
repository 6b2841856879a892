"""The CPU direct kernel: its two variants, boundaries read in the kernel,
thread splits, and the object-code cache (compiled once, loaded without Numba)."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import window_data as _data, window_expected as _expected
from corrconv_gpu import reference
from corrconv_gpu._backends.cpu import direct as _direct
from corrconv_gpu._backends.cpu import direct_kernel as _direct_kernel
from corrconv_gpu._backends.cpu import native as _native

# each dtype compiles its own kernels: complex64 and int64 (whose sums the
# other tests of this file also cover) sweep every size in the slow suite
DTYPES = [np.float32, np.float64, np.complex128] + [
    pytest.param(d, marks=pytest.mark.slow) for d in (np.complex64, np.int64)]
BOUNDARIES = ["constant", "wrap", "symmetric", "mirror", "nearest"]


def _run(x, xr0, xc0, w, n0, n1, boundary="constant", fill=0, flip=False,
         conj=False, out=None):
    if out is None:
        out = np.full((n0, n1), 99, dtype=x.dtype)
    _direct.correlate_window(x, xr0, xc0, w, flip, conj, out, 0, 0, n0, n1,
                             boundary=boundary, fill=fill)
    return out


def _close(got, want, dtype):
    dt = np.dtype(dtype)
    if dt.kind == "i":
        return np.array_equal(got, want)
    tol = 2e-4 if dt in (np.dtype(np.float32), np.dtype(np.complex64)) else 1e-11
    return np.allclose(got, want, rtol=tol, atol=tol * (1 + np.abs(want).max()))


@pytest.fixture(params=["ring", "exact"])
def variant(request, monkeypatch):
    """Force one kernel variant for every window size."""
    monkeypatch.setattr(_direct, "_EXACT_MIN_OUTPUTS",
                        0 if request.param == "exact" else 1 << 62)
    return request.param


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_window_with_boundary_matches_extended_copy(dtype, boundary, variant):
    rng = np.random.default_rng(hash((np.dtype(dtype).str, boundary)) % 2**32)
    x = _data((23, 31), dtype, rng)
    fill = 3 if boundary == "constant" else None
    for kshape, (xr0, xc0), (n0, n1) in [
            ((3, 3), (-1, -1), (23, 31)),          # 'same'
            ((5, 4), (-4, -3), (27, 34)),          # 'full'
            ((3, 3), (2, 5), (9, 11)),             # inside: read in place
            ((7, 2), (-6, -1), (28, 32)),          # a tall exact kernel
            ((9, 2), (-8, -1), (30, 32)),          # exact for real dtypes only
            ((10, 2), (-9, -1), (31, 32)),         # ring kernel only (K0 > EXACT_MAX)
            ((5, 4), (-9, 20), (40, 30)),          # beyond every edge
            ((1, 5), (-3, -2), (5, 40))]:
        w = _data(kshape, dtype, rng)
        for flip, conj in ((False, False), (True, np.dtype(dtype).kind == "c")):
            got = _run(x, xr0, xc0, w, n0, n1, boundary, fill, flip, conj)
            want = _expected(x, xr0, xc0, w, flip, conj, n0, n1, boundary, fill)
            assert _close(got, want, dtype), (kshape, xr0, xc0, flip, variant)


@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
@pytest.mark.parametrize("boundary", ["constant", "wrap", "symmetric"])
def test_wide_windows_with_edge_chunks(dtype, boundary, variant):
    """Windows wider than a column chunk: the widened edge chunks (which copy
    their rows) and the interior chunks between them (read in place)."""
    rng = np.random.default_rng(17)
    x = _data((9, 1300), dtype, rng)
    fill = 2 if boundary == "constant" else None
    for kshape, (xr0, xc0), (n0, n1) in [
            ((3, 3), (-1, -1), (9, 1300)),          # 'same'
            ((5, 13), (-4, -12), (13, 1312)),       # 'full'
            ((3, 5), (0, 700), (7, 620)),           # right edge only
            ((3, 3), (-1, -1), (9, 600)),           # left edge only
            ((13, 5), (-6, -2), (9, 1300))]:        # ring kernel, tall kernel
        w = _data(kshape, dtype, rng)
        got = _run(x, xr0, xc0, w, n0, n1, boundary, fill)
        want = _expected(x, xr0, xc0, w, False, False, n0, n1, boundary, fill)
        assert _close(got, want, dtype), (kshape, xr0, xc0, variant)


@pytest.mark.parametrize("dtype", DTYPES)
def test_exact_and_ring_variants_are_bitwise_equal(dtype, monkeypatch):
    rng = np.random.default_rng(7)
    x = _data((70, 90), dtype, rng)
    for kshape in [(1, 1), (3, 3), (5, 4), (1, 5), (7, 6), (9, 8)]:
        w = _data(kshape, dtype, rng)
        outs = []
        for threshold in (0, 1 << 62):
            monkeypatch.setattr(_direct, "_EXACT_MIN_OUTPUTS", threshold)
            outs.append(_run(x, -1, -2, w, 70, 90, "symmetric"))
        assert np.array_equal(outs[0], outs[1]), kshape


def test_exact_variant_sizes_per_dtype(monkeypatch):
    """Real dtypes get exact-size kernels up to 9x9, complex up to 7x7 (a
    complex 9x9 compiles beyond the first-call budget); larger: the ring."""
    asked = []
    real_kernel = _direct.kernel
    monkeypatch.setattr(_direct, "kernel",
                        lambda dt, v: asked.append((np.dtype(dt).name, v[0])) or real_kernel(dt, v))
    for dtype, kshape, want in [(np.float32, (9, 9), "exact"), (np.int64, (2, 9), "exact"),
                                (np.float64, (10, 3), "ring"), (np.complex64, (7, 3), "exact"),
                                (np.complex128, (3, 8), "ring")]:
        x = np.ones((300, 300), dtype)
        _run(x, 0, 0, np.ones(kshape, dtype), 300 - kshape[0] + 1, 300 - kshape[1] + 1)
        assert asked[-1] == (np.dtype(dtype).name, want), (dtype, kshape)
    assert _direct_kernel.exact_max(np.dtype(np.float32)) == _direct_kernel.EXACT_MAX == 9
    assert _direct_kernel.exact_max(np.dtype(np.complex64)) == 7


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_order_is_the_naive_one(dtype, variant):
    rng = np.random.default_rng(3)
    x = _data((40, 50), dtype, rng)
    w = _data((5, 4), dtype, rng)
    got = _run(x, 0, 0, w, 36, 47)
    want = np.zeros((36, 47), dtype=dtype)
    for p in range(5):
        for q in range(4):
            want = want + x[p:p + 36, q:q + 47] * w[p, q]   # same order, same dtype
    assert np.array_equal(got, want)


@pytest.mark.parametrize("kshape", [(3, 3), (9, 13)])
def test_thread_split_does_not_change_the_result(kshape, monkeypatch, variant):
    rng = np.random.default_rng(11)
    x = _data((301, 203), np.float32, rng)
    w = _data(kshape, np.float32, rng)
    results, splits = [], []
    real_run_shared = _direct.run_shared

    def spy(nitems, fn, threads):
        splits.append((nitems, threads))
        real_run_shared(nitems, fn, threads)

    monkeypatch.setattr(_direct, "run_shared", spy)
    monkeypatch.setattr(_direct, "_SERIAL_WORK", 0)
    for threads in (1, 2, 3):
        monkeypatch.setattr(_direct, "num_threads", lambda t=threads: t)
        results.append(_run(x, -2, -1, w, 301, 203, "wrap"))
    assert [t for _, t in splits] == [2, 3] and all(n >= t for n, t in splits)
    assert all(np.array_equal(results[0], r) for r in results[1:])
    assert _close(results[0], _expected(x, -2, -1, w, False, False, 301, 203,
                                        "wrap", None), np.float32)


def test_empty_input_reads_the_fill(variant):
    x = np.zeros((0, 4), dtype=np.float64)
    w = np.ones((2, 3))
    got = _run(x, -1, -2, w, 3, 5, "constant", 1.5)
    assert np.array_equal(got, np.full((3, 5), 9.0))


def test_output_window_in_a_larger_array(variant):
    rng = np.random.default_rng(5)
    x = _data((30, 40), np.float64, rng)
    w = _data((3, 3), np.float64, rng)
    big = np.full((50, 70), -7.0)
    _direct.correlate_window(x, -1, -1, w, False, False, big[5:, 3:], 2, 4, 30, 40,
                             boundary="constant", fill=0.0)
    want = _expected(x, -1, -1, w, False, False, 30, 40, "constant", 0.0)
    assert _close(big[7:37, 7:47], want, np.float64)
    untouched = np.ones(big.shape, bool)
    untouched[7:37, 7:47] = False
    assert (big[untouched] == -7.0).all()


def test_inputs_unchanged_and_readonly_input(variant):
    rng = np.random.default_rng(9)
    x = _data((20, 20), np.float32, rng)
    w = _data((3, 3), np.float32, rng)
    x.flags.writeable = False
    w.flags.writeable = False
    x0, w0 = x.copy(), w.copy()
    _run(x[::-1, ::2], -1, -1, w, 20, 10, "mirror")
    assert np.array_equal(x, x0) and np.array_equal(w, w0)


def test_tap_groups():
    assert _direct_kernel.taps(1) == (1,)
    assert _direct_kernel.taps(3) == (3,)
    assert _direct_kernel.taps(4) == (4,)
    assert _direct_kernel.taps(8) == (4,)
    assert _direct_kernel.taps(63) == (4, 3)
    for k in range(1, 40):
        groups = _direct_kernel.taps(k)
        assert all(1 <= t <= 4 for t in groups)
        assert (k - 1) % 4 + 1 in groups


def test_generated_sources_compile_to_python():
    for tset in [(1,), (2,), (3,), (4,), (4, 1), (4, 2), (4, 3)]:
        compile(_direct_kernel.source(tset), "ring", "exec")
    for k0 in range(1, _direct_kernel.EXACT_MAX + 1):
        for k1 in range(1, _direct_kernel.EXACT_MAX + 1):
            compile(_direct_kernel.source_exact(k0, k1), "exact", "exec")
    with pytest.raises(ValueError):
        _direct_kernel.source((5,))
    with pytest.raises(ValueError):
        _direct_kernel.source_exact(10, 3)


# ---------------------------------------------------------------- the cache

_CHILD = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    t0 = time.perf_counter()
    from corrconv_gpu._backends.cpu import direct as _direct
    x = np.arange(35 * 29, dtype=np.float64).reshape(35, 29) % 13 - 6
    w = np.arange(12, dtype=np.float64).reshape(3, 4) - 5
    out = np.empty((35, 29))
    _direct.correlate_window(x, -1, -1, w, False, False, out, 0, 0, 35, 29,
                             boundary="symmetric")
    t1 = time.perf_counter()
    print(json.dumps({"numba": "numba" in sys.modules, "seconds": t1 - t0,
                      "out": out.tolist()}))
""")


def _child(cache):
    env = dict(os.environ, CORRCONV_GPU_CPU_CACHE=str(cache))
    res = subprocess.run([sys.executable, "-c", _CHILD], env=env, check=True,
                         capture_output=True, text=True, timeout=600)
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_cache_is_loaded_without_numba(tmp_path):
    first = _child(tmp_path)
    files = list(tmp_path.glob("direct-float64-t4-*.nbo"))
    assert first["numba"] and len(files) == 1      # compiled, then written
    second = _child(tmp_path)
    assert not second["numba"]                     # mapped with llvmlite only
    assert second["out"] == first["out"]
    x = np.arange(35 * 29, dtype=np.float64).reshape(35, 29) % 13 - 6
    w = np.arange(12, dtype=np.float64).reshape(3, 4) - 5
    want = reference.correlate2d(x, w, "same", "symm")
    assert np.array_equal(np.array(second["out"]), want)


def test_bad_cache_file_falls_back_to_compiling(tmp_path):
    _child(tmp_path)
    (path,) = tmp_path.glob("direct-float64-t4-*.nbo")
    path.write_bytes(b"not a pickle")
    again = _child(tmp_path)
    assert again["numba"]                          # recompiled ...
    x = np.arange(35 * 29, dtype=np.float64).reshape(35, 29) % 13 - 6
    w = np.arange(12, dtype=np.float64).reshape(3, 4) - 5
    assert np.array_equal(np.array(again["out"]),
                          reference.correlate2d(x, w, "same", "symm"))
    assert path.read_bytes() != b"not a pickle"    # ... and rewritten


def test_cache_dir_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CORRCONV_GPU_CPU_CACHE", str(tmp_path / "a"))
    assert _native.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("CORRCONV_GPU_CPU_CACHE")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "b"))
    assert _native.cache_dir() == tmp_path / "b" / "corrconv_gpu"


def test_object_code_names_only_known_symbols():
    """What the loader resolves: the C library, the Python C API, and
    Numba's error-path helpers (stubbed)."""
    pytest.importorskip("numba")
    _, _, obj = _native._compile(("float64",) * 3, _direct_kernel.source((3,)), "t3", _native._PARAMS)
    if obj is None or obj[:4] != b"\x7fELF":
        pytest.skip("no ELF object code on this platform")
    names = _native._undefined_symbols(obj)
    assert names, "an object with no external symbols at all is unexpected"
    for name in names:
        assert (name.startswith(("Py", "_Py", "numba_", "NRT_"))
                or name in ("memset", "memcpy", "memmove")), name


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.complex128])
def test_repeated_windows_take_each_calls_fill_and_weights(dtype, variant):
    """The launch setup and the fill row are memoized per window: calls that
    repeat a window with other fill values and weights still get their own."""
    rng = np.random.default_rng(11)
    x = _data((20, 24), dtype, rng)
    for fill in (0, 5, np.array(-3, dtype=dtype), 5):
        w = _data((3, 4), dtype, rng)
        got = _run(x, -2, -3, w, 22, 27, "constant", fill)
        want = _expected(x, -2, -3, w, False, False, 22, 27, "constant", fill)
        assert _close(got, want, dtype), fill
    got = _run(x, -2, -3, w, 22, 27, "wrap", None)       # no fill: 'wrap'
    assert _close(got, _expected(x, -2, -3, w, False, False, 22, 27, "wrap", None), dtype)
