"""Memory-traffic counters of the CPU emulator (EmuModule(..., sanitize='count')).

Toy kernels with known traffic get EXACT counts; the real corr2d kernel gets
consistency checks only (budgets belong to another issue) and prints its
table (run with -s to see it).
"""
import importlib.util

import numpy as np
import pytest

from corrconv_gpu._emu import COUNTER_KEYS, EmuLaunchError, EmuModule

from conftest import ROOT

TOY = r"""
#include <cupy/complex.cuh>
extern "C" __global__ void copy_f32(float* out, const float* in, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = in[i];
}
extern "C" __global__ void copy_f64(double* out, const double* in, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = in[i];
}
// every element of `in` is read twice (by thread i and by thread i-1)
extern "C" __global__ void read_twice(float* out, const float* in, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = in[i] + in[(i + 1) % n];
}
// 1-D box stencil of radius R through dynamic shared memory (halo of R each side)
#define R 3
extern "C" __global__ void stencil_smem(float* out, const float* in, int n) {
    extern __shared__ float s[];
    const int g = blockIdx.x * blockDim.x + threadIdx.x;
    const int l = threadIdx.x + R;
    s[l] = g < n ? in[g] : 0.f;
    if (threadIdx.x < R) {
        const int gl = g - R, gr = g + blockDim.x;
        s[threadIdx.x] = gl >= 0 && gl < n ? in[gl] : 0.f;
        s[l + blockDim.x] = gr < n ? in[gr] : 0.f;
    }
    __syncthreads();
    float acc = 0.f;
    for (int k = -R; k <= R; ++k) acc += s[l + k];
    if (g < n) out[g] = acc;
}
// block-wise reversal through a STATIC __shared__ array
extern "C" __global__ void reverse_static(float* out, const float* in) {
    __shared__ float t[256];
    const int g = blockIdx.x * blockDim.x + threadIdx.x;
    t[threadIdx.x] = in[g];
    __syncthreads();
    out[g] = t[blockDim.x - 1 - threadIdx.x];
}
// in-place: the same array is read and written
extern "C" __global__ void scale_inplace(double* a, double s, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) a[i] *= s;
}
// one atomicAdd per thread onto a per-block counter
extern "C" __global__ void count_atomic(unsigned int* c) {
    atomicAdd(&c[blockIdx.x], 1u);
}
extern "C" __global__ void ccopy(complex<double>* out, const complex<double>* in, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = in[i] * 2.0;
}
extern "C" __global__ void fails(float* a) {
    a[threadIdx.x] = 1.f;
    assert(threadIdx.x < 16);
}
"""
NAMES = ("copy_f32", "copy_f64", "read_twice", "stencil_smem", "reverse_static", "scale_inplace", "count_atomic",
         "ccopy", "fails")
R = 3


@pytest.fixture(scope="module")
def toy():
    return EmuModule(TOY, name_expressions=NAMES, sanitize="count", workers=2)


def _blocks(n, b):
    return (n + b - 1) // b


def test_copy_exact(toy):
    n, b = 1000, 128
    for name, dt in (("copy_f32", np.float32), ("copy_f64", np.float64)):
        f = toy.get_function(name)
        x = np.arange(n, dtype=dt)
        o = np.zeros_like(x)
        f((_blocks(n, b),), (b,), (o, x, np.int32(n)))
        np.testing.assert_array_equal(o, x)
        c = f.last_counters
        assert set(COUNTER_KEYS) <= set(c)
        nb = n * x.itemsize
        assert c["global_read_bytes"] == c["global_write_bytes"] == nb
        assert c["global_reads"] == c["global_writes"] == n
        assert c["global_read_bytes_by_arg"] == [0, nb, 0]
        assert c["global_write_bytes_by_arg"] == [nb, 0, 0]
        assert c["shared_loads"] == c["shared_stores"] == c["shared_load_bytes"] == c["shared_store_bytes"] == 0
        assert c["other_stores"] == 0


def test_global_read_twice_counted_twice(toy):
    n, b = 777, 64
    f = toy.get_function("read_twice")
    x = np.random.default_rng(0).random(n, dtype=np.float32)
    o = np.zeros_like(x)
    f((_blocks(n, b),), (b,), (o, x, np.int32(n)))
    np.testing.assert_array_equal(o, x + np.roll(x, -1))
    c = f.last_counters
    assert c["global_reads"] == 2 * n and c["global_read_bytes"] == 2 * n * 4
    assert c["global_write_bytes"] == n * 4


def stencil_expected(n, b):
    nblk = _blocks(n, b)
    reads = 0
    for k in range(nblk):
        g0 = k * b
        reads += sum(1 for g in range(g0, g0 + b) if g < n)                 # centre
        reads += sum(1 for t in range(R) if 0 <= g0 + t - R < n)            # left halo
        reads += sum(1 for t in range(R) if g0 + t + b < n)                 # right halo
    return dict(global_reads=reads, global_read_bytes=4 * reads, global_writes=n, global_write_bytes=4 * n,
                shared_stores=nblk * (b + 2 * R), shared_store_bytes=4 * nblk * (b + 2 * R),
                shared_loads=nblk * b * (2 * R + 1), shared_load_bytes=4 * nblk * b * (2 * R + 1))


@pytest.mark.parametrize("n,b", [(1024, 128), (1000, 64), (50, 32)])
def test_shared_stencil_exact(toy, n, b):
    f = toy.get_function("stencil_smem")
    x = np.random.default_rng(1).random(n, dtype=np.float32)
    o = np.zeros_like(x)
    f((_blocks(n, b),), (b,), (o, x, np.int32(n)), shared_mem=(b + 2 * R) * 4)
    want_out = np.convolve(x.astype(np.float64), np.ones(2 * R + 1), mode="same")
    np.testing.assert_allclose(o, want_out, rtol=1e-5, atol=1e-5)
    c = f.last_counters
    got = {k: c[k] for k in stencil_expected(n, b)}
    assert got == stencil_expected(n, b)


def test_static_shared_exact(toy):
    n, b = 1024, 256
    f = toy.get_function("reverse_static")
    x = np.arange(n, dtype=np.float32)
    o = np.zeros_like(x)
    f((n // b,), (b,), (o, x))
    np.testing.assert_array_equal(o, x.reshape(-1, b)[:, ::-1].ravel())
    c = f.last_counters
    assert c["shared_stores"] == c["shared_loads"] == n
    assert c["shared_store_bytes"] == c["shared_load_bytes"] == 4 * n
    assert c["global_read_bytes"] == c["global_write_bytes"] == 4 * n


def test_inplace_and_strided_view(toy):
    f = toy.get_function("scale_inplace")
    a = np.arange(300, dtype=np.float64)
    f((3,), (128,), (a, np.float64(2.0), np.int32(300)))
    np.testing.assert_array_equal(a, 2 * np.arange(300))
    c = f.last_counters
    assert c["global_read_bytes_by_arg"] == [2400, 0, 0] and c["global_write_bytes_by_arg"] == [2400, 0, 0]
    # a view: only its byte extent counts as the argument; accesses past it are "other"
    base = np.zeros(400, np.float64)
    f((4,), (128,), (base[:300], np.float64(2.0), np.int32(400)))
    c = f.last_counters
    assert c["global_read_bytes"] == c["global_write_bytes"] == 2400
    assert c["other_loads"] >= 100 and c["other_stores"] == 100


def test_counters_per_launch_and_thread_independent(toy):
    n, b = 5000, 64
    f = toy.get_function("stencil_smem")
    x = np.ones(n, np.float32)
    o = np.zeros_like(x)
    seen = []
    for workers, order in ((1, "forward"), (2, "forward"), (2, "reverse"), (1, "forward")):
        toy.workers, toy.block_order = workers, order
        f((_blocks(n, b),), (b,), (o, x, np.int32(n)), shared_mem=(b + 2 * R) * 4)
        seen.append(f.last_counters)
    toy.workers, toy.block_order = 2, "forward"
    assert all(s == seen[0] for s in seen)          # reset at each launch, same sum over any workers
    assert seen[0]["shared_loads"] == stencil_expected(n, b)["shared_loads"]


def test_atomics_performed_and_counted(toy):
    c = np.zeros(3, np.uint32)
    f = toy.get_function("count_atomic")
    f((3,), (200,), (c,))
    np.testing.assert_array_equal(c, [200, 200, 200])
    k = f.last_counters
    # a read-modify-write: one load and one store of the element each
    assert k["global_reads"] == k["global_writes"] == 600
    assert k["global_read_bytes"] == k["global_write_bytes"] == 2400


def test_complex_elements_counted(toy):
    n = 300
    z = (np.arange(n) + 1j * np.arange(n)[::-1]).astype(np.complex128)
    o = np.zeros_like(z)
    f = toy.get_function("ccopy")
    f((3,), (128,), (o, z, np.int32(n)))
    np.testing.assert_array_equal(o, 2 * z)
    k = f.last_counters
    # element-wise complex code touches the real and imaginary parts separately: bytes are exact
    assert k["global_read_bytes"] == k["global_write_bytes"] == 16 * n
    assert k["global_reads"] in (n, 2 * n)


def test_failed_launch_still_raises(toy):
    a = np.zeros(32, np.float32)
    with pytest.raises(EmuLaunchError, match="assertion failed"):
        toy.get_function("fails")((1,), (32,), (a,))


def test_counting_build_is_cached():
    code = TOY + "\n// counters cache test\n"
    m1 = EmuModule(code, name_expressions=("copy_f32",), sanitize="count")
    m2 = EmuModule(code, name_expressions=("copy_f32",), sanitize="count")
    assert m2.from_cache
    assert m1._builds[0].path == m2._builds[0].path
    plain = EmuModule(code, name_expressions=("copy_f32",))
    assert plain.get_function("copy_f32").last_counters is None
    x = np.ones(10, np.float32)
    plain.get_function("copy_f32")((1,), (32,), (np.zeros_like(x), x, np.int32(10)))
    assert plain.get_function("copy_f32").last_counters is None


def test_bad_sanitize_value():
    with pytest.raises(ValueError, match="count"):
        EmuModule(TOY, name_expressions=("copy_f32",), sanitize="counts")


# ------------------------------------------------------------------ corr2d
def _traffic_module():
    spec = importlib.util.spec_from_file_location("emu_traffic", ROOT / "benchmarks" / "emu_traffic.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_corr2d_counters_table():
    et = _traffic_module()
    rows = [et.corr2d_traffic(np.float32, (K, K), size=64) for K in (3, 7)]
    print("\ncorr2d float32, 64x64 image, 'valid', constant boundary (counting emulator)")
    print(et.HEADER)
    for c in rows:
        print(et.format_row(c))
    for c in rows:
        (O0, O1), (K0, K1) = c["O"], c["K"]
        assert c["global_write_bytes"] == 4 * O0 * O1          # every output written once
        # arguments (x, w, out, params)
        assert c["global_write_bytes_by_arg"][2] == c["global_write_bytes"]
        assert sum(c["global_read_bytes_by_arg"]) == c["global_read_bytes"]
        rd = c["global_read_bytes_by_arg"]
        assert rd[0] > 0 and rd[1] >= 4 * K0 * K1 and rd[2] == 0   # x, w read; out not read
        assert c["global_read_bytes"] >= c["ideal_read_bytes"] > 0
        assert 0 < c["shared_loads"] <= 0.5 * c["fmas"]         # register reuse (issue 4 budget)
        # shared loads are one float or a 16-byte vector (float4) each
        assert c["shared_stores"] > 0
        assert 4 * c["shared_loads"] <= c["shared_load_bytes"] <= 16 * c["shared_loads"]
    # more taps: more shared loads per output
    assert rows[1]["shared_loads"] / rows[1]["outputs"] > rows[0]["shared_loads"] / rows[0]["outputs"]
