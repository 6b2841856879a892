"""Tests of the CPU CUDA-kernel emulator (corrconv_gpu._emu).

Sanitizer tests carry the `sanitizer` marker (they build instrumented
libraries and launch in a child process): deselect with -m "not sanitizer".
"""
import mmap
import pathlib
import time
import uuid

import numpy as np
import pytest

from corrconv_gpu._emu import (EmuCompileError, EmuLaunchError, EmuModule, EmuSanitizerError, build_count)

KDIR = pathlib.Path(__file__).resolve().parent / "emu_kernels"


def src(name):
    return (KDIR / name).read_text()


def box_ref(x, r):
    return np.convolve(x.astype(np.float64), np.ones(2 * r + 1), mode="same")


@pytest.fixture(scope="module")
def stencil_mod():
    return EmuModule(src("stencil1d.cu"), name_expressions=("stencil1d", "read_uninit", "smem_overflow",
                                                            "divergent_barrier", "early_exit_barrier"))


TRANSPOSE_NAMES = ("transpose<float, 16>", "transpose<double, 8>", "transpose<complex<float>, 16>",
                   "cscale<float>", "cscale<double>")


@pytest.fixture(scope="module")
def transpose_mod():
    return EmuModule(src("transpose.cu"), name_expressions=TRANSPOSE_NAMES)


def run_stencil(f, x, block=128, r=3):
    n = x.size
    out = np.full(n, -7.0, np.float32)
    f(((n + block - 1) // block,), (block,), (out, x, np.int32(n)), shared_mem=(block + 2 * r) * 4)
    return out


# ------------------------------------------------------------------ basics
def test_stencil_dynamic_shared_and_syncthreads(stencil_mod):
    rng = np.random.default_rng(0)
    x = rng.random(1000, dtype=np.float32)
    f = stencil_mod.get_function("stencil1d")
    assert f.num_params == 3 and f.param_sizes == (8, 8, 4)
    out = run_stencil(f, x)
    np.testing.assert_allclose(out, box_ref(x, 3), rtol=1e-5, atol=1e-5)


def test_forward_reverse_shuffle_thread_order_identical(stencil_mod):
    x = np.random.default_rng(1).random(777, dtype=np.float32)
    f = stencil_mod.get_function("stencil1d")
    results = {}
    for order in ("forward", "reverse", "shuffle"):
        stencil_mod.thread_order = order
        try:
            results[order] = run_stencil(f, x, block=64)
        finally:
            stencil_mod.thread_order = "forward"
    np.testing.assert_array_equal(results["forward"], results["reverse"])
    np.testing.assert_array_equal(results["forward"], results["shuffle"])
    np.testing.assert_allclose(results["forward"], box_ref(x, 3), rtol=1e-5, atol=1e-5)


def test_template_name_expressions_transpose(transpose_mod):
    rng = np.random.default_rng(2)
    for name, dt, tile, by in (("transpose<float, 16>", np.float32, 16, 4),
                               ("transpose<double, 8>", np.float64, 8, 8),
                               ("transpose<complex<float>, 16>", np.complex64, 16, 16)):
        a = rng.random((37, 53)).astype(dt)
        if dt == np.complex64:
            a = a + 1j * rng.random((37, 53)).astype(np.float32)
        out = np.zeros((53, 37), dt)
        f = transpose_mod.get_function(name)
        f(((53 + tile - 1) // tile, (37 + tile - 1) // tile), (tile, by), (out, a, np.int32(37), np.int32(53)))
        np.testing.assert_array_equal(out, a.T)


def test_complex_scalar_parameter(transpose_mod):
    z = (np.arange(300) + 1j * np.arange(300)[::-1]).astype(np.complex128)
    want = z * (0.5 - 2j)
    f = transpose_mod.get_function("cscale<double>")
    assert f.param_sizes == (8, 16, 8)
    f((3,), (128,), (z, np.complex128(0.5 - 2j), np.int64(z.size)))
    np.testing.assert_allclose(z, want, rtol=1e-15)


def test_large_grid_many_workers(transpose_mod):
    rng = np.random.default_rng(3)
    rows, cols = 301, 517           # 33 x 19 = 627 blocks of 16x16
    a = rng.random((rows, cols), dtype=np.float32)
    f = transpose_mod.get_function("transpose<float, 16>")
    outs = []
    for workers, border in ((1, "forward"), (4, "forward"), (3, "reverse")):
        transpose_mod.workers, transpose_mod.block_order = workers, border
        out = np.zeros((cols, rows), np.float32)
        f(((cols + 15) // 16, (rows + 15) // 16), (16, 16), (out, a, np.int32(rows), np.int32(cols)))
        outs.append(out)
    transpose_mod.workers, transpose_mod.block_order = 2, "forward"
    for out in outs:
        np.testing.assert_array_equal(out, a.T)


def test_get_function_by_plain_name_without_name_expressions():
    mod = EmuModule(src("stencil1d.cu"))
    x = np.linspace(0, 1, 300, dtype=np.float32)
    np.testing.assert_allclose(run_stencil(mod.get_function("stencil1d"), x), box_ref(x, 3), rtol=1e-5, atol=1e-5)


def test_options_define_macro():
    mod = EmuModule(src("stencil1d.cu"), options=("-DRADIUS=1", "--use_fast_math", "-arch=sm_90"),
                    name_expressions=("stencil1d",))
    x = np.random.default_rng(4).random(200, dtype=np.float32)
    out = run_stencil(mod.get_function("stencil1d"), x, r=1)
    np.testing.assert_allclose(out, box_ref(x, 1), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ argument checks
def test_scalar_and_pointer_argument_checks(stencil_mod):
    f = stencil_mod.get_function("stencil1d")
    x = np.ones(128, np.float32)
    out = np.zeros(128, np.float32)
    with pytest.raises(TypeError, match="4 bytes"):
        f((1,), (128,), (out, x, np.int64(128)), shared_mem=134 * 4)          # int64 for an int param
    with pytest.raises(TypeError, match="numpy scalar"):
        f((1,), (128,), (out, x, 128), shared_mem=134 * 4)                    # Python int
    with pytest.raises(TypeError, match="kind"):
        f((1,), (128,), (out, x, np.float32(128)), shared_mem=134 * 4)        # float for an int param
    with pytest.raises(TypeError, match="takes 3 arguments, 2 given"):
        f((1,), (128,), (out, x), shared_mem=134 * 4)
    with pytest.raises(TypeError, match="ndarray"):
        f((1,), (128,), (out, np.float32(1), np.int32(128)), shared_mem=134 * 4)
    with pytest.raises(TypeError, match="dtype float64"):
        f((1,), (128,), (out, x.astype(np.float64), np.int32(128)), shared_mem=134 * 4)
    with pytest.raises(ValueError, match="block"):
        f((1,), (2048,), (out, x, np.int32(128)))
    with pytest.raises(ValueError, match="max_dynamic_shared_size_bytes"):
        f((1,), (128,), (out, x, np.int32(128)), shared_mem=64 * 1024)
    assert np.all(out == 0)  # nothing ran


# ------------------------------------------------------------------ rigor options
def test_poisoned_shared_memory_is_visible(stencil_mod):
    f = stencil_mod.get_function("read_uninit")
    out = np.zeros(128, np.float32)
    bits = np.zeros(128, np.uint32)
    stencil_mod.poison_shared = True
    try:
        f((2,), (64,), (out, bits), shared_mem=64 * 4)
    finally:
        stencil_mod.poison_shared = False
    assert np.all(np.isnan(out))                 # static __shared__ poisoned (0xFF bytes = NaN)
    assert np.all(bits == 0xFFFFFFFF)            # dynamic shared memory poisoned
    stencil_mod.poison_shared = 0x3F             # 0x3F3F3F3F = 0.7473...f
    try:
        f((2,), (64,), (out, bits), shared_mem=64 * 4)
    finally:
        stencil_mod.poison_shared = False
    assert np.all(out == np.frombuffer(b"\x3f" * 4, np.float32)[0])
    assert np.all(bits == 0x3F3F3F3F)


def test_dynamic_shared_memory_canary(stencil_mod):
    f = stencil_mod.get_function("smem_overflow")
    out = np.zeros(64, np.float32)
    f((1,), (64,), (out, np.int32(100), np.int32(0)), shared_mem=100 * 4)    # exact fit: fine
    assert np.all(out == 1.0)
    with pytest.raises(EmuLaunchError, match="dynamic shared memory overflow.*400 bytes"):
        f((3,), (64,), (out, np.int32(100), np.int32(1)), shared_mem=100 * 4)


def test_divergent_syncthreads_detected(stencil_mod):
    out = np.zeros(128, np.float32)
    with pytest.raises(EmuLaunchError, match="divergent __syncthreads"):
        stencil_mod.get_function("divergent_barrier")((1,), (64,), (out,))
    f = stencil_mod.get_function("early_exit_barrier")
    f((1,), (128,), (out, np.int32(128)))                      # uniform: fine
    np.testing.assert_array_equal(out, (np.arange(128) + 1) % 128)
    with pytest.raises(EmuLaunchError, match="divergent __syncthreads"):
        f((1,), (128,), (out, np.int32(100)))


def test_kernel_assert_raises():
    mod = EmuModule(src("pitched.cu"), name_expressions=("checked",))
    f = mod.get_function("checked")
    f((1,), (32,), (np.arange(32, dtype=np.int32),))
    v = np.arange(32, dtype=np.int32)
    v[5] = -1
    with pytest.raises(EmuLaunchError, match=r"assertion failed: v\[threadIdx.x\] >= 0.*thread \(5,0,0\)"):
        f((1,), (32,), (v,))


def test_warp_shuffle_ballot_and_atomics():
    mod = EmuModule(src("warp.cu"), name_expressions=("warp_sum", "count_and_atomics"))
    rng = np.random.default_rng(5)
    x = rng.random(256, dtype=np.float32)
    out = np.zeros(8, np.float32)
    ballots = np.zeros(8, np.uint32)
    mod.get_function("warp_sum")((2,), (128,), (x, out, ballots))
    np.testing.assert_allclose(out, x.reshape(8, 32).sum(1), rtol=1e-5)
    want = [(np.sum((x[w * 32:(w + 1) * 32] > 0.5) << np.arange(32, dtype=np.uint64))) for w in range(8)]
    np.testing.assert_array_equal(ballots, np.array(want, np.uint64).astype(np.uint32))
    counts = np.zeros(4, np.int32)
    total = np.zeros(1, np.uint64)
    mod.get_function("count_and_atomics")((2,), (128,), (x, counts, total))
    per_block = (x.reshape(2, 128) > 0.5).sum(1)
    np.testing.assert_array_equal(counts, np.repeat(per_block, 2))
    assert total[0] == per_block.sum()


def test_half_precision():
    mod = EmuModule(src("half.cu"), name_expressions=("axpy_half",))
    x = np.linspace(-2, 2, 100).astype(np.float16)
    y = np.linspace(1, 3, 100).astype(np.float16)
    want = (np.float32(np.float16(0.5)) * x.astype(np.float32) + y.astype(np.float32)).astype(np.float16)
    mod.get_function("axpy_half")((1,), (128,), (y, x, np.float16(0.5), np.int32(100)))
    np.testing.assert_array_equal(y, want)


def test_huge_sparse_view_64bit_offsets():
    pitch = 2**31 + 1024                      # rows more than 2**31 elements apart
    rows, cols = 3, 300
    nbytes = ((rows - 1) * pitch + cols) * 4  # ~24 GiB of address space, never touched
    mm = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_NORESERVE", 0x4000))
    try:
        base = np.frombuffer(mm, dtype=np.float32)
        view = np.lib.stride_tricks.as_strided(base, shape=(rows, cols), strides=(pitch * 4, 4))
        view[:] = np.arange(rows * cols, dtype=np.float32).reshape(rows, cols)
        mod = EmuModule(src("pitched.cu"), name_expressions=("pitched_scale",))
        mod.get_function("pitched_scale")((3, rows), (128,), (view, np.int64(pitch), np.int32(rows),
                                                               np.int32(cols), np.float32(2.0)))
        np.testing.assert_array_equal(view, 2 * np.arange(rows * cols, dtype=np.float32).reshape(rows, cols))
        assert base[cols] == 0 and base[pitch - 1] == 0   # nothing outside the rows was written
        del base, view
    finally:
        mm.close()


def test_compile_error_reports_compiler_output():
    with pytest.raises(EmuCompileError, match="no_such_identifier"):
        EmuModule('extern "C" __global__ void k(float* a) { a[0] = no_such_identifier; }', name_expressions=("k",))


def test_build_cache_reused():
    code = src("stencil1d.cu") + f"\n// cache test {uuid.uuid4().hex}\n"
    n0 = build_count()
    t0 = time.perf_counter()
    m1 = EmuModule(code, name_expressions=("stencil1d",))
    t1 = time.perf_counter()
    assert build_count() == n0 + 1 or (build_count() == n0 + 2)  # (+ runtime object on a cold cache)
    assert not m1.from_cache
    n1 = build_count()
    t2 = time.perf_counter()
    m2 = EmuModule(code, name_expressions=("stencil1d",))
    t3 = time.perf_counter()
    assert m2.from_cache and build_count() == n1
    assert (t3 - t2) < (t1 - t0)
    x = np.ones(64, np.float32)
    np.testing.assert_allclose(run_stencil(m2.get_function("stencil1d"), x, block=32), box_ref(x, 3), rtol=1e-6)


def tiled_ref(x, ntiles):
    t = x.reshape(ntiles, 64).astype(np.float64)
    return np.roll(t, -1, axis=1).sum(0)


def test_thread_order_exposes_write_after_read_hazard():
    x = np.random.default_rng(8).random(4 * 64, dtype=np.float32)
    good = EmuModule(src("stencil1d.cu"), name_expressions=("tiled_shift_sum",))
    out = np.zeros(64, np.float32)
    good.get_function("tiled_shift_sum")((1,), (64,), (x, out, np.int32(4)))
    np.testing.assert_allclose(out, tiled_ref(x, 4), rtol=1e-6)
    bad = EmuModule(src("stencil1d.cu"), options=("-DDROP_SECOND_SYNC",), name_expressions=("tiled_shift_sum",))
    wrong = 0
    for order in ("forward", "reverse"):
        bad.thread_order = order
        bad.get_function("tiled_shift_sum")((1,), (64,), (x, out, np.int32(4)))
        wrong += not np.allclose(out, tiled_ref(x, 4), rtol=1e-6)
    assert wrong == 2   # each order makes some thread read a tile of the next iteration


# ------------------------------------------------------------------ sanitizers
@pytest.mark.sanitizer
def test_tsan_clean_on_correct_stencil():
    mod = EmuModule(src("stencil1d.cu"), name_expressions=("stencil1d",), sanitize="thread", workers=2)
    x = np.random.default_rng(6).random(300, dtype=np.float32)
    f = mod.get_function("stencil1d")
    out = run_stencil(f, x, block=64)
    np.testing.assert_allclose(out, box_ref(x, 3), rtol=1e-5, atol=1e-5)   # results come back
    assert "ThreadSanitizer" not in f.last_sanitizer_report


@pytest.mark.sanitizer
def test_tsan_reports_race_without_syncthreads():
    mod = EmuModule(src("stencil1d.cu"), options=("-DEMU_TEST_REMOVE_SYNC",), name_expressions=("stencil1d",),
                    sanitize="thread", workers=1)
    x = np.random.default_rng(7).random(128, dtype=np.float32)
    with pytest.raises(EmuSanitizerError, match="data race") as ei:
        run_stencil(mod.get_function("stencil1d"), x, block=64)
    assert "stencil1d" in ei.value.report


@pytest.mark.sanitizer
def test_tsan_reports_write_after_read_race():
    x = np.random.default_rng(9).random(3 * 64, dtype=np.float32)
    out = np.zeros(64, np.float32)
    # one block: every block of this kernel writes the same out[threadIdx.x],
    # so a grid of two would race between blocks (a real race, found when the
    # blocks run on two workers); here only the intra-block hazard is left
    good = EmuModule(src("stencil1d.cu"), name_expressions=("tiled_shift_sum",), sanitize="thread")
    good.get_function("tiled_shift_sum")((1,), (64,), (x, out, np.int32(3)))
    np.testing.assert_allclose(out, tiled_ref(x, 3), rtol=1e-6)
    bad = EmuModule(src("stencil1d.cu"), options=("-DDROP_SECOND_SYNC",), name_expressions=("tiled_shift_sum",),
                    sanitize="thread")
    with pytest.raises(EmuSanitizerError, match="data race") as ei:
        bad.get_function("tiled_shift_sum")((1,), (64,), (x, out, np.int32(3)))
    assert "CUDA threadIdx=" in ei.value.report


@pytest.mark.sanitizer
def test_asan_ubsan_clean_and_catch_static_shared_oob():
    mod = EmuModule(src("oob.cu"), name_expressions=("oob_static",), sanitize="address", workers=1)
    f = mod.get_function("oob_static")
    out = np.zeros(64, np.float32)
    f((1,), (64,), (out, np.int32(0)))
    np.testing.assert_array_equal(out, np.arange(64) + 3.0)
    with pytest.raises(EmuSanitizerError, match="out of bounds") as ei:
        f((1,), (64,), (out, np.int32(1)))
    assert "index 64 out of bounds for type 'float [64]'" in ei.value.report


@pytest.mark.sanitizer
def test_asan_catches_dynamic_shared_overflow():
    mod = EmuModule(src("stencil1d.cu"), name_expressions=("smem_overflow",), sanitize="address", workers=1)
    f = mod.get_function("smem_overflow")
    out = np.zeros(64, np.float32)
    f((1,), (64,), (out, np.int32(100), np.int32(0)), shared_mem=400)
    assert np.all(out == 1.0)
    with pytest.raises(EmuSanitizerError, match="AddressSanitizer: use-after-poison") as ei:
        f((1,), (64,), (out, np.int32(100), np.int32(1)), shared_mem=400)
    assert "smem_overflow" in ei.value.report
