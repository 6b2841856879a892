"""``kernels/corr2d_large.cu`` on the CPU emulator: the variant for float16 /
float32 / float64 weights with rows of more than 7 taps, against a NumPy reference,
and the paths it must and must not take.

* every (FLIP, BOUNDARY) at 9 x 9 and a spread of other sizes (8 x 8, even,
  one-sided, wider than one column chunk, tall and thin), on odd images with
  edge tiles on every side and interior tiles, offsets inside and outside
  the input, batches, a row-reversed view;
* weights in chunks: forced small chunks of tap rows and columns (the input
  re-staged per chunk), the tail of a row shorter than CQ taps (predicated,
  not zero-padded: an infinite input beside the footprint stays out);
* thread orders, poisoned shared memory and grids small enough that blocks
  loop over tiles;
* the selection: ``launch_corr2d(..., large=...)`` takes it for these
  dtypes and sizes only;
* 16-byte accesses only where x / out rows are 16-byte aligned (counting
  build);
* ThreadSanitizer and ASan + UBSan on edge and interior tiles and chunked
  weights, and ThreadSanitizer catching the mutants of corr2d_large.cu and
  corr2d.cu without the barrier before a weight chunk is re-staged (marker
  ``sanitizer``).
"""
import functools

import numpy as np
import pytest

import corrconv_gpu as cc
from corrconv_gpu import reference as ref
from corrconv_gpu._backends.cuda import kernels as _kernels
from corrconv_gpu._backends.cuda.launch import (launch_config, launch_corr2d, launch_large,
                                                large_chunks, large_smem_bytes, smem_bytes)
from corrconv_gpu._emu import EmuModule, EmuSanitizerError

from test_small_kernel import _check, _data, _reference

DTYPES = ("float32", "float16", "float64")
BOUNDARIES = ("constant", "wrap", "symmetric", "mirror", "nearest")

_modules = {}


def large_module(factory=EmuModule, key="emu", source=None):
    """``large=`` for launch_corr2d: one emulator module per dtype holding
    its 10 variants."""
    def get(dtype, flip, boundary):
        k = (key, np.dtype(dtype).name)
        if k not in _modules:
            names = tuple(_kernels.large_name_expression(dtype, f, b)
                          for f, b in _kernels.small_variants())
            _modules[k] = factory(source or _kernels.large_source(),
                                  options=_kernels.compile_options(dtype), name_expressions=names)
        return _modules[k]
    return get


class _NoGeneric:
    def get_function(self, name):
        raise AssertionError(f"the generic kernel was launched: {name}")


def _no_small(*a):
    raise AssertionError(f"corr2d_small asked for {a}")


def _run(x, w, o, r, flip, boundary, fill, large=None, max_grid=None, out=None):
    out = np.full(x.shape[:-2] + tuple(o), np.nan, x.dtype) if out is None else out
    cfg = launch_corr2d(_NoGeneric(), x, w, out, r[0], r[1], flip, False, boundary, fill,
                        max_grid=max_grid, small=_no_small, large=large or large_module())
    g = _kernels.large_geometry(x.dtype)
    assert cfg.block == (g.bx * g.by, 1, 1) and cfg.tile == _kernels.large_tile(x.dtype)
    assert (cfg.kc0, cfg.kc1) == large_chunks(x.dtype, *w.shape)
    return out


def _run_chunks(x, w, o, r, flip, boundary, fill, chunks, module=None, max_grid=None):
    dt = x.dtype
    mod = module or large_module()(dt, flip, boundary)
    out = np.full(x.shape[:-2] + tuple(o), np.nan, dt)
    cfg = launch_large(mod, x, w, out, r[0], r[1], flip, boundary, fill, max_grid=max_grid,
                       chunks=chunks)
    assert (cfg.kc0, cfg.kc1) == tuple(chunks)
    assert cfg.shared_mem == large_smem_bytes(dt, chunks[0])
    return out


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("flip", [False, True], ids=["corr", "conv"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_every_variant_9x9(dt, flip, boundary):
    """Every FLIP x BOUNDARY: 'same' on an image with interior tiles and
    ragged edge tiles, a 'full'-like window reaching past the input, and an
    inner window."""
    x, w = _data(dt, (90, 300), (9, 9))
    for o, r in (((90, 300), (-4, -4)), ((98, 308), (-8, -8)), ((40, 150), (33, 141))):
        got = _run(x, w, o, r, flip, boundary, 1.5)
        _check(got, _reference(x, w, o, r, flip, boundary, 1.5), x, w, 1.5)


# (K, boundary, flip, output, offset): even, one-sided, wider than a column
# chunk (KCM = 32), tall and thin, every boundary somewhere
SIZES = [((8, 8), "constant", True, (70, 133), (-3, -4)),
         ((3, 8), "wrap", False, (72, 135), (-1, -4)),
         ((1, 33), "symmetric", True, (71, 131), (0, -16)),
         ((12, 40), "mirror", False, (70, 133), (-6, -20)),
         ((40, 9), "nearest", True, (70, 133), (-20, -4)),
         ((10, 17), "constant", False, (75, 130), (-30, 50)),
         ((16, 9), "wrap", True, (40, 60), (20, 30))]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("case", range(len(SIZES)))
def test_sizes_offsets_boundaries(dt, case):
    K, boundary, flip, o, r = SIZES[case]
    x, w = _data(dt, (70, 133), K, seed=case)
    got = _run(x, w, o, r, flip, boundary, -2)
    _check(got, _reference(x, w, o, r, flip, boundary, -2), x, w, -2)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("chunks", [(1, 1), (3, 8), (5, 13), (7, 32)], ids=str)
def test_forced_weight_chunks(dt, chunks):
    """Weights in chunks of (tap rows, tap columns): the chunk's input rows
    and columns re-staged per chunk (edge and interior chunks), rows of taps
    shorter than CQ; the same values as the reference."""
    x, w = _data(dt, (77, 290), (11, 37), seed=sum(chunks))
    for flip, boundary, o, r in ((False, "constant", (77, 290), (-5, -18)),
                                 (True, "symmetric", (60, 200), (-9, 40))):
        got = _run_chunks(x, w, o, r, flip, boundary, 0.5, chunks)
        _check(got, _reference(x, w, o, r, flip, boundary, 0.5), x, w, 0.5)


def test_chunk_choice():
    """Columns up to KCM in one chunk, beyond it even chunks rounded to CQ;
    rows: the whole kernel where the shared memory allows, else even chunks
    that fit 48 KiB; the choice depends on dtype and weight shape only."""
    for dt in DTYPES:
        g = _kernels.large_geometry(dt)
        for K0, K1 in ((8, 8), (9, 31), (31, 31), (64, 64), (200, 3), (3, 200)):
            kr, kc = large_chunks(dt, K0, K1)
            assert large_smem_bytes(dt, kr) <= 48 * 1024
            if K1 <= g.kcm:
                assert kc == K1
            else:
                assert kc % g.cq == 0 and -(-K1 // kc) == -(-K1 // g.kcm)
            n = -(-K0 // kr)
            assert kr == -(-K0 // n)
            if n > 1:
                assert large_smem_bytes(dt, -(-K0 // (n - 1))) > 48 * 1024
    assert large_chunks("float32", 31, 31) == (31, 31)


def test_tail_is_predicated_not_zero_padded():
    """A row of taps shorter than CQ runs predicated: an infinite input just
    right of an output's footprint (inside the CQ-tap window the last chunk
    would cover with zero weights) must not turn that output into NaN."""
    x, w = _data("float32", (64, 300), (9, 9), seed=5)
    x[30, 150] = np.inf
    o, r = x.shape, (-4, -4)
    got = _run(x, w, o, r, False, "constant", 0)
    want = _reference(x, w, o, r, False, "constant", 0)
    finite = np.isfinite(want)
    assert not finite.all() and np.isfinite(got[finite]).all()
    _check(np.where(finite, got, 0), np.where(finite, want, 0), np.where(np.isfinite(x), x, 0), w)


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_batch_and_negative_strides(dt):
    """A stack in one launch, and a row-reversed view (negative row stride)."""
    x, w = _data(dt, (3, 70, 150), (9, 12))
    o, r = (70, 150), (-4, -6)
    got = _run(x, w, o, r, False, "symmetric", 0)
    _check(got, _reference(x, w, o, r, False, "symmetric", 0), x, w)
    xr = x[1, ::-1]
    got = _run(xr, w, o, r, True, "constant", 0.5)
    _check(got, _reference(xr, w, o, r, True, "constant", 0.5), xr, w, 0.5)


@pytest.mark.parametrize("order", ["forward", "reverse", "shuffle"])
@pytest.mark.parametrize("max_grid", [1, (2, 1, 1), None], ids=str)
@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_thread_orders_poisoned_shared_looping_grids(dt, order, max_grid):
    factory = functools.partial(EmuModule, thread_order=order, poison_shared=True, workers=2)
    large = large_module(factory, ("rigor", order))
    x, w = _data(dt, (70, 170), (9, 10), seed=3)
    for flip, boundary, o, r in ((False, "constant", (70, 170), (-4, -5)),
                                 (True, "mirror", (73, 168), (-6, -7))):
        got = _run(x, w, o, r, flip, boundary, 3, large=large, max_grid=max_grid)
        _check(got, _reference(x, w, o, r, flip, boundary, 3), x, w, 3)
    # chunked weights (re-staged per chunk) with the same rigor
    mod = large(dt, True, 4)
    got = _run_chunks(x, w, (70, 170), (-4, -5), True, "nearest", 0, (4, 8), module=mod,
                      max_grid=max_grid)
    _check(got, _reference(x, w, (70, 170), (-4, -5), True, "nearest", 0), x, w)


def test_selection():
    """float16/32/64 with rows of more than 7 taps take corr2d_large; <= 7
    a side corr2d_small; tall narrow weights and other dtypes the generic
    kernel."""
    assert _kernels.large_applies("float32", 3, 8)
    assert _kernels.large_applies("float16", 1, 9)
    assert _kernels.large_applies("float64", 31, 31)
    assert not _kernels.large_applies("float32", 7, 7)
    assert not _kernels.large_applies("float32", 31, 7)
    assert not _kernels.large_applies("float64", 9, 1)
    assert not _kernels.large_applies("float32", 0, 9)
    for dt in ("complex64", "int32", "int8", "bool", "uint64"):
        assert not _kernels.large_applies(dt, 9, 9)
    # 7x7 goes to corr2d_small even when large= is given
    x, w = _data("float32", (40, 50), (7, 7))
    asked = []

    def small(*a):
        asked.append(a)
        from test_small_kernel import small_module
        return small_module()(*a)

    def never(*a):
        raise AssertionError(f"corr2d_large asked for {a}")
    out = np.empty((40, 50), np.float32)
    launch_corr2d(_NoGeneric(), x, w, out, -3, -3, False, False, "constant", 0,
                  small=small, large=never)
    assert asked
    # tall narrow float32 weights: the generic kernel, the large factory never asked
    from corrconv_gpu._backends.cuda.kernels import get_module
    xt, wt = _data("float32", (60, 50), (31, 3), seed=4)
    outt = np.empty((60, 50), np.float32)
    launch_corr2d(get_module("emu", np.float32, module_factory=EmuModule), xt, wt, outt,
                  -15, -1, True, False, "mirror", 0, small=never, large=never)
    _check(outt, _reference(xt, wt, (60, 50), (-15, -1), True, "mirror", 0), xt, wt)
    # int32: the generic kernel, the large factory never asked
    from corrconv_gpu._backends.cuda.kernels import get_module
    rng = np.random.default_rng(2)
    xi = rng.integers(-50, 50, (40, 50)).astype(np.int32)
    wi = rng.integers(-5, 5, (9, 9)).astype(np.int32)
    outi = np.empty((40, 50), np.int32)
    launch_corr2d(get_module("emu", np.int32, module_factory=EmuModule), xi, wi, outi,
                  -4, -4, False, False, "constant", 0, small=never, large=never)
    np.testing.assert_array_equal(outi, _reference(xi, wi, (40, 50), (-4, -4), False,
                                                   "constant", 0).astype(np.int32))


def test_public_calls_use_it(monkeypatch):
    """The emulated backend's direct method launches corr2d_large for 9x9
    float32 (correlation, symmetric; convolution, fill) and matches the
    reference."""
    from corrconv_gpu._backends.cuda import device as _device
    asked = []
    orig = _device._Device.large_module

    def spy(self, dtype, flip, boundary):
        asked.append((np.dtype(dtype).name, bool(flip), boundary))
        return orig(self, dtype, flip, boundary)
    monkeypatch.setattr(_device._Device, "large_module", spy)
    x, w = _data("float32", (45, 77), (9, 9), seed=9)
    with cc.use_backend("emulated"):
        got = cc.correlate2d(x, w, "same", "symm", method="direct")
        got2 = cc.convolve2d(x, w, "full", "fill", 2, method="direct")
    np.testing.assert_allclose(got, ref.correlate2d(x, w, "same", "symm"), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(got2, ref.convolve2d(x, w, "full", "fill", 2), rtol=1e-5, atol=1e-4)
    assert ("float32", False, 2) in asked and ("float32", True, 0) in asked, asked


# ------------------------------------------------------------ vector paths
def _counted(x, w, o, r, out=None):
    dt = x.dtype
    large = large_module(functools.partial(EmuModule, sanitize="count"), "count")
    out = _run(x, w, o, r, False, "constant", 0, large=large, out=out)
    fn = large(dt, False, 0).get_function(_kernels.large_name_expression(dt, False, 0))
    return out, fn.last_counters


@pytest.mark.parametrize("dt", DTYPES)
def test_aligned_rows_take_16_byte_accesses(dt):
    """Aligned rows: every store 16 bytes (1/V requests per output), the
    interior tiles read 16 bytes at a time."""
    g = _kernels.large_geometry(dt)
    th, tw = _kernels.large_tile(dt)
    x, w = _data(dt, (3 * th, 3 * tw), (9, 9))
    o, r = x.shape, (-4, -4)
    out, c = _counted(x, w, o, r)
    _check(out, _reference(x, w, o, r, False, "constant", 0), x, w)
    n = o[0] * o[1]
    assert c["global_writes"] * g.v == n
    assert c["global_write_bytes"] == n * x.itemsize
    # the interior tile (1 of 9) read in 16-byte loads
    assert c["global_read_bytes"] > 1.05 * c["global_reads"] * x.itemsize


@pytest.mark.parametrize("dt", ["float32", "float16"])
@pytest.mark.parametrize("layout", ["x_offset", "out_offset"])
def test_misaligned_views_take_scalar_paths(dt, layout):
    """Views whose rows are not 16-byte aligned do not take the vector
    path; same values as the aligned call."""
    th, tw = _kernels.large_tile(dt)
    d = np.dtype(dt)
    base, w = _data(dt, (3 * th, 3 * tw), (9, 9))
    o, r = base.shape, (-4, -4)
    want = _run(base, w, o, r, False, "constant", 0)
    x, out = base, None
    if layout == "x_offset":
        buf = np.zeros((base.shape[0], base.shape[1] + 8), d)
        x = buf[:, 1:base.shape[1] + 1]
        x[...] = base
    else:
        obuf = np.zeros((o[0], o[1] + 8), d)
        out = obuf[:, 1:o[1] + 1]
    got, c = _counted(x, w, o, r, out=out)
    np.testing.assert_array_equal(got, want)
    n = o[0] * o[1]
    if layout == "out_offset":
        assert c["global_writes"] == n
    else:
        # scalar loads only (x's and, as always, the weights')
        assert c["global_read_bytes"] == c["global_reads"] * d.itemsize
        assert c["global_writes"] * _kernels.large_geometry(dt).v == n


# ------------------------------------------------------------ sanitizers
@pytest.mark.sanitizer
@pytest.mark.parametrize("sanitize", ["thread", "address"])
def test_sanitizers_clean(sanitize):
    """ThreadSanitizer (fibers = CUDA threads) and ASan + UBSan find nothing
    in corr2d_large: interior and edge tiles, chunked weights, looping grids,
    two workers."""
    dt = "float32"
    # the two variants launched, not all 10 (a sanitizer build per variant costs seconds)
    names = tuple(_kernels.large_name_expression(dt, f, b) for f, b in ((False, 0), (True, 2)))
    mod = EmuModule(_kernels.large_source(), options=_kernels.compile_options(dt),
                    name_expressions=names, sanitize=sanitize, workers=2)
    x, w, o, r = _san_case(dt)
    got = _run(x, w, o, r, False, "constant", 1, large=lambda *a: mod, max_grid=(2, 2, 1))
    _check(got, _reference(x, w, o, r, False, "constant", 1), x, w, 1)
    got = _run_chunks(x, w, o, r, True, "symmetric", 1, _SAN_CHUNKS, module=mod,
                      max_grid=(2, 2, 1))
    _check(got, _reference(x, w, o, r, True, "symmetric", 1), x, w, 1)


_SAN_CHUNKS = (4, 8)


def _san_case(dt):
    """Edge and interior tiles (2 x 2 tiles and a ragged rim), 9 x 11 weights."""
    th, tw = _kernels.large_tile(dt)
    x, w = _data(dt, (2 * th + 5, 2 * tw + 3), (9, 11))
    return x, w, x.shape, (-4, -5)


_LARGE_BARRIER = ("                        __syncthreads();   // everyone is done with sx and sw "
                  "(previous chunk / tile)\n")
_GENERIC_BARRIER = "                                    __syncthreads();   // everyone is done with sW\n"


def _mutant(source, barrier):
    assert source.count(barrier) == 1, "the barrier to remove is not in the source"
    return source.replace(barrier, "")


@pytest.mark.sanitizer
def test_tsan_catches_the_large_kernel_without_its_chunk_barrier():
    """The mutant of corr2d_large.cu without the barrier before a weight
    chunk (and its input rows) is re-staged: ThreadSanitizer reports the
    race; the original is clean in the same launch (test_sanitizers_clean)."""
    dt = "float32"
    src = _mutant(_kernels.large_source(), _LARGE_BARRIER)
    name = _kernels.large_name_expression(dt, True, 2)
    mod = EmuModule(src, options=_kernels.compile_options(dt), name_expressions=(name,),
                    sanitize="thread", workers=2)
    x, w, o, r = _san_case(dt)          # the chunked launch of test_sanitizers_clean
    with pytest.raises(EmuSanitizerError) as e:
        _run_chunks(x, w, o, r, True, "symmetric", 1, _SAN_CHUNKS, module=mod,
                    max_grid=(2, 2, 1))
    assert "data race" in e.value.report


@pytest.mark.sanitizer
def test_tsan_catches_the_generic_kernel_without_its_chunk_barrier():
    """The mutant of corr2d.cu without the barrier before a weight chunk is
    re-staged: ThreadSanitizer reports the race once the weights are
    streamed in chunks (the launch forced to chunks smaller than the
    kernel); before, only a traffic test noticed this mutant."""
    dt = np.dtype("float32")
    src = _mutant(_kernels.kernel_source(), _GENERIC_BARRIER)
    name = _kernels.name_expression(dt, False, False, 0)
    mod = EmuModule(src, options=_kernels.compile_options(dt), name_expressions=(name,),
                    sanitize="thread", workers=1)
    x, w = _data(dt, (40, 60), (9, 9))
    out = np.zeros(x.shape, x.dtype)
    cfg = launch_config(dt, w.shape, x.shape, 1, max_grid=(1, 1, 1))
    vec = _kernels.smem_vec(dt)
    kc0, kc1 = 3, 4
    shared = smem_bytes(cfg.tile, kc0, kc1, _kernels.smem_itemsize(dt), cfg.along_row,
                        9, 9, vec)
    cfg = cfg._replace(kc0=kc0, kc1=kc1, xc0=9, xc1=9, shared_mem=shared)
    with pytest.raises(EmuSanitizerError) as e:
        launch_corr2d(mod, x, w, out, -4, -4, False, False, "constant", 0, config=cfg)
    assert "data race" in e.value.report
    # the original in the same launch: clean, and right
    good = EmuModule(_kernels.kernel_source(), options=_kernels.compile_options(dt),
                     name_expressions=(name,), sanitize="thread", workers=1)
    launch_corr2d(good, x, w, out, -4, -4, False, False, "constant", 0, config=cfg)
    _check(out, _reference(x, w, x.shape, (-4, -4), False, "constant", 0), x, w)
