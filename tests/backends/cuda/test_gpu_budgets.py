"""Budgets of the direct kernel ``kernels/corr2d.cu`` (issue 4, section 1),
checked without a GPU: traffic on the emulator's counting build, registers
and spills through NVRTC (``ptxas -v``), occupancy from those with
``_params.occupancy``.

For float32 and float64, K x K kernels K in {1, 3, 5, 7, 9, 15, 31} and the
rectangular 3x15, 15x3, 1x31, 31x1, at the default tile (the table in
``_params.py``):

* global bytes read per output <= 1.15 x the ideal (``benchmarks/
  emu_traffic.py:ideal_read_bytes``: per output tile its input + halo,
  clipped to the output and the input, read once, plus the weights once);
* shared-memory load instructions per useful FMA <= 0.5;
* 0 spill bytes and >= 50% theoretical occupancy on sm_80 and sm_90;
* the vector (16-byte) and the scalar staging paths both run and agree.

The table is printed with ``-s``.  ~1 minute on 2 cores (NVRTC: 4 programs;
emulator: small images, cached builds).
"""
import importlib.util

import numpy as np
import pytest

import corrconv_gpu as cc
from corrconv_gpu import reference as ref
from corrconv_gpu._backends.cuda import launch as _launch
from corrconv_gpu._backends.cuda import params as _params

from conftest import ROOT
KS = [(k, k) for k in (1, 3, 5, 7, 9, 15, 31)] + [(3, 15), (15, 3), (1, 31), (31, 1)]
DTYPES = ("float32", "float64")
# (mode, image shape): valid mode keeps partial tiles (their padded work
# counts against shared loads per FMA), 'same' on 96x160 a non-square image
CASES = [("valid", (128, 128)), ("same", (96, 160))]


def _et():
    spec = importlib.util.spec_from_file_location("emu_traffic", ROOT / "benchmarks" / "emu_traffic.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


et = _et()


def _nvrtc_available():
    try:
        from cupy.cuda import nvrtc
        nvrtc.getVersion()
        return True
    except Exception:
        return False


NVRTC = _nvrtc_available()


@pytest.fixture(scope="module")
def table():
    rows = {}
    for dt in DTYPES:
        for mode, shape in CASES:
            print(f"\ncorr2d {dt}, {shape[0]}x{shape[1]} image, mode {mode!r} "
                  f"(counting emulator{', NVRTC sm_80/sm_90' if NVRTC else ''})")
            print(et.HEADER)
            for K in KS:
                c = et.budget_row(et.corr2d_traffic(dt, K, mode=mode, shape=shape), nvrtc=NVRTC)
                rows[(dt, mode, K)] = c
                print(et.format_row(c), flush=True)
    return rows


def _ids(params):
    return [f"{d}-{m}-{k[0]}x{k[1]}" for d, m, k in params]


PARAMS = [(d, m, k) for d in DTYPES for m, _ in CASES for k in KS]


@pytest.mark.parametrize("dt,mode,K", PARAMS, ids=_ids(PARAMS))
def test_read_traffic_within_budget(table, dt, mode, K):
    c = table[(dt, mode, K)]
    assert c["global_read_bytes"] >= c["ideal_read_bytes"]            # the ideal is a lower bound
    assert c["ratio"] <= et.BUDGETS["read_ratio"], et.format_row(c)
    # the input tile is staged once per output tile (x resident), one write per output
    assert c["x_chunks"] == 1
    assert c["global_write_bytes"] == c["outputs"] * np.dtype(dt).itemsize


@pytest.mark.parametrize("dt,mode,K", PARAMS, ids=_ids(PARAMS))
def test_shared_loads_per_fma_within_budget(table, dt, mode, K):
    c = table[(dt, mode, K)]
    assert c["shared_loads_per_fma"] <= et.BUDGETS["shared_loads_per_fma"], et.format_row(c)


@pytest.mark.skipif(not NVRTC, reason="cupy / NVRTC not importable")
@pytest.mark.parametrize("dt,mode,K", PARAMS, ids=_ids(PARAMS))
def test_registers_spills_occupancy(table, dt, mode, K):
    c = table[(dt, mode, K)]
    for a in et.OCC_ARCHS:
        assert c["spill"][a] == 0, et.format_row(c)
        assert c["occ"][a].fraction >= et.BUDGETS["occupancy"], (a, c["occ"][a], et.format_row(c))
        assert c["cfg"].shared_mem <= _params.SMEM_LIMIT


@pytest.mark.parametrize("dt", DTYPES)
def test_table_choice_is_static(dt):
    """Tile, outputs per thread and chunks come from the table: the same for
    any image large enough, whatever the call."""
    for K in KS:
        a = _launch.launch_config(dt, K, (500, 700))
        b = _launch.launch_config(dt, K, (2000, 3000), nbatch=3)
        assert (a.block, a.along_row, a.tile, a.kc0, a.kc1, a.xc0, a.xc1) == \
            (b.block, b.along_row, b.tile, b.kc0, b.kc1, b.xc0, b.xc1)
        assert a.along_row == (0 if K[0] > K[1] else 1)
        assert (a.xc0, a.xc1) == K                     # input tile + halo resident


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("K", [(3, 3), (15, 3), (1, 31)], ids=str)
def test_vector_and_scalar_staging_paths(dt, K):
    """16-byte aligned rows take the vector path (global_reads ~ bytes / 16),
    misaligned rows the scalar one (one read per element); same result, same bytes."""
    vec = et.corr2d_traffic(dt, K, mode="same", shape=(64, 96))
    sca = et.corr2d_traffic(dt, K, mode="same", shape=(64, 96), misalign=True)
    isz = np.dtype(dt).itemsize
    assert sca["global_read_bytes"] == vec["global_read_bytes"]
    w_reads = 0  # weights are scalar reads in both
    nb = vec["global_read_bytes"] // isz
    assert sca["global_reads"] >= nb                      # scalar: one access per element
    assert vec["global_reads"] < 0.6 * sca["global_reads"], (vec["global_reads"], sca["global_reads"], w_reads)


def test_occupancy_calculator():
    occ = _params.occupancy
    # 256 threads, 64 regs: 4 blocks by registers -> 50% on sm_80 / sm_90
    o = occ("sm_80", 64, 256, 0)
    assert (o.blocks, o.fraction, o.limit) == (4, 0.5, "regs")
    assert occ("sm_90", 64, 256, 0).fraction == 0.5
    # 65 regs round up to 72 per thread (256-register units per warp): 3 blocks
    assert occ("sm_80", 65, 256, 0).blocks == 3
    # 32 regs: 8 blocks of 256 = 2048 threads: 100%, limited by threads
    o = occ("sm_80", 32, 256, 0)
    assert (o.blocks, o.fraction) == (8, 1.0) and o.by_threads == 8
    # shared memory: 40 KiB + 1 KiB reserved per block -> 4 blocks in 164 KiB
    o = occ("sm_80", 32, 256, 40 * 1024)
    assert (o.blocks, o.limit) == (4, "smem")
    assert occ("sm_80", 32, 256, 40 * 1024 + 1).blocks == 3
    assert occ("sm_90", 32, 256, 40 * 1024).blocks == 5        # 228 KiB
    assert occ("sm_80", 32, 256, 164 * 1024).blocks == 0       # > 163 KiB per block
    # block count limit: 32 blocks of 32 threads
    o = occ("sm_90", 16, 32, 0)
    assert (o.blocks, o.limit) == (32, "blocks") and o.fraction == 0.5
    # sm_75: 1024 threads per SM
    assert occ("sm_75", 32, 256, 0).blocks == 4
    with pytest.raises(KeyError):
        occ("sm_00", 32, 256, 0)


@pytest.mark.parametrize("dt", ["float32", "float64", "float16", "int16", "complex64", "complex128", "uint8"])
def test_emulated_direct_matches_reference(dt):
    """A quick differential sweep of the new kernel through the emulated
    backend: boundaries, flip, complex conj, kernels larger than the image,
    batches, 1x1 / flat / thin shapes."""
    rng = np.random.default_rng(3)
    d = np.dtype(dt)

    def arr(shape):
        if d.kind in "iu":
            return rng.integers(-5 if d.kind == "i" else 0, 7, size=shape).astype(d)
        a = rng.standard_normal(shape)
        if d.kind == "c":
            a = a + 1j * rng.standard_normal(shape)
        return a.astype(d)

    shapes = [((37, 45), (3, 3)), ((20, 70), (1, 31)), ((50, 9), (31, 1)), ((9, 11), (12, 14)),
              ((1, 300), (1, 7)), ((300, 2), (5, 1)), ((33, 29), (1, 1)), ((40, 41), (15, 15))]
    tol = dict(float16=5e-2, float32=2e-4, complex64=2e-4).get(dt, 1e-10)
    for i, (xs, ks) in enumerate(shapes):
        x, w = arr(xs), arr(ks)
        mode = ("full", "same", "valid")[i % 3]
        if mode == "valid" and (ks[0] > xs[0] or ks[1] > xs[1]):
            mode = "same"
        boundary = ("fill", "wrap", "symm")[i % 3]
        for conv in (False, True):
            f = cc.convolve2d if conv else cc.correlate2d
            with cc.use_backend("emulated"):
                got = f(x, w, mode=mode, boundary=boundary, fillvalue=2, method="direct")
            rf = ref.convolve2d if conv else ref.correlate2d
            want = rf(x, w, mode=mode, boundary=boundary, fillvalue=2)
            if d.kind in "iub":
                np.testing.assert_array_equal(got, want)
            else:
                scale = max(1.0, float(np.max(np.abs(want.astype(np.complex128)))))
                np.testing.assert_allclose(got.astype(np.complex128), want.astype(np.complex128),
                                           rtol=tol, atol=tol * scale * ks[0] * ks[1] ** 0.5)


@pytest.mark.sanitizer
@pytest.mark.parametrize("sanitize", ["thread", "address"])
def test_new_paths_sanitizer_clean(sanitize):
    """TSan / ASan+UBSan on the paths of the new kernel: vector and scalar
    staging, the row and column sliding axes, the pointwise 1x1 path, weights
    streamed next to a resident tile (fp32 31x31 along rows, 40x24 down
    columns) and x chunks (fp32 40x40 along rows, 41x40 down columns),
    small grids (grid-stride loops)."""
    import functools

    from corrconv_gpu._backends.cuda.kernels import get_module
    from corrconv_gpu._backends.cuda.launch import launch_corr2d
    from corrconv_gpu._emu import EmuModule

    factory = functools.partial(EmuModule, sanitize=sanitize, workers=2)
    rng = np.random.default_rng(0)
    cases = [("float32", (48, 80), (3, 3), False), ("float32", (48, 80), (3, 3), True),
             ("float64", (40, 70), (3, 15), False), ("float32", (40, 50), (1, 1), False),
             ("float32", (70, 75), (40, 40), False), ("float32", (60, 70), (31, 31), False),
             ("float32", (70, 75), (40, 24), False), ("float32", (70, 75), (41, 40), False),
             ("float64", (20, 300), (1, 7), False), ("float32", (300, 3), (9, 1), True)]
    seen = set()
    for dt, xs, ks, misalign in cases:
        d = np.dtype(dt)
        mod = get_module(("budgets-san", sanitize), d, module_factory=factory)
        if misalign:
            buf = np.zeros((xs[0], xs[1] + 4), d)
            x = buf[:, 1:xs[1] + 1]
            x[...] = rng.standard_normal(xs)
        else:
            x = rng.standard_normal(xs).astype(d)
        w = rng.standard_normal(ks).astype(d)
        r0, r1 = -(ks[0] // 2), -(ks[1] // 2)
        out = np.empty(xs, d)
        cfg = launch_corr2d(mod, x, w, out, r0, r1, False, False, "constant", 0, max_grid=(2, 2, 1))
        seen.add(("wchunk" if (cfg.kc0, cfg.kc1) != (cfg.xc0, cfg.xc1) else
                  "xchunk" if (cfg.xc0, cfg.xc1) != ks else "resident", cfg.along_row))
        want = et._reference(x, w, r0, r1, xs)
        tol = 1e-4 if d == np.float32 else 1e-10
        np.testing.assert_allclose(out, want, rtol=tol, atol=tol * ks[0] * ks[1])
    assert {(p, a) for p in ("wchunk", "xchunk", "resident") for a in (0, 1)} <= seen
    _check_1x1_paths(get_module(("budgets-san", sanitize), np.float64, module_factory=factory))


def _check_1x1_paths(mod):
    """1x1 weights: the pointwise path (outputs inside x) and the generic
    path (offsets reaching outside x: the boundary rule applies)."""
    from corrconv_gpu._backends.cuda.launch import launch_corr2d

    rng = np.random.default_rng(1)
    x = rng.standard_normal((30, 40))
    w = np.array([[1.5]])
    for r, O in (((0, 0), (30, 40)), ((2, 3), (25, 30)), ((-3, 2), (30, 40)), ((-1, -1), (32, 42))):
        out = np.empty(O)
        cfg = launch_corr2d(mod, x, w, out, r[0], r[1], False, False, "constant", 0, max_grid=(2, 2, 1))
        assert (cfg.shared_mem == 16) == (r[0] >= 0 and r[1] >= 0 and O[0] + r[0] <= 30
                                          and O[1] + r[1] <= 40)
        np.testing.assert_allclose(out, et._reference(x, w, r[0], r[1], O), rtol=1e-12, atol=1e-12)


def test_1x1_pointwise_and_generic_paths():
    from corrconv_gpu._backends.cuda.kernels import get_module
    from corrconv_gpu._emu import EmuModule

    _check_1x1_paths(get_module("budgets-plain", np.float64, module_factory=EmuModule))
