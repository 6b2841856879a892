"""The CPU planes and stack kernels (filters over more than two axes in one
pass): every input type they read as it is, float32 outputs, fill planes,
every boundary, chunks and row blocks, thread splits; each output's taps
summed in C order, so the results equal a plain float64 loop bit for bit.
Tests taking the ``kernel`` fixture run once with the stack kernel where it
applies (small filters) and once with the planes kernel only."""
import numpy as np
import pytest

import corrconv_gpu._backends.cpu as _cpu
from corrconv_gpu._backends.cpu import direct as _direct
from corrconv_gpu._backends.cpu import direct_kernel as _dk
from corrconv_gpu._boundary import extended_block
from corrconv_gpu._plan import plan_ndimage

BOUNDARIES = ["constant", "wrap", "symmetric", "mirror", "nearest"]


@pytest.fixture(params=["stack", "planes"])
def kernel(request, monkeypatch):
    """Which kernel runs the small filters, whatever the volume's size: the
    stack kernel, or the planes kernel for every filter; returns the kinds
    launched."""
    if request.param == "planes":
        monkeypatch.setattr(_dk, "stack_applies", lambda *a: False)
    else:
        monkeypatch.setattr(_direct, "STACK_MIN_OUTPUTS", 0)
    seen = []
    real = _direct.kernel
    monkeypatch.setattr(_direct, "kernel", lambda dt, v: seen.append(v[0]) or real(dt, v))
    return seen


def _expected(x, pmap, w, xr0, xc0, n0, n1, flip, conj, boundary, fill, dt):
    """Output plane o: the products of every (leading tap, row, column), added
    in that order to 0 in ``dt`` (the kernel's order and type)."""
    P, H, W = x.shape
    Q, L = pmap.shape
    k0, k1 = w.shape[1:]
    out = np.zeros((Q, n0, n1), dtype=dt)
    flat = x.reshape(-1)
    for o in range(Q):
        acc = np.zeros((n0, n1), dtype=dt)
        for l in range(L):
            if pmap[o, l] < 0:
                ext = np.full((n0 + k0 - 1, n1 + k1 - 1), fill, dtype=dt)
            else:
                plane = flat[pmap[o, l]:pmap[o, l] + H * W].reshape(H, W).astype(dt)
                ext = extended_block(plane, (xr0, xr0 + n0 + k0 - 1),
                                     (xc0, xc0 + n1 + k1 - 1), boundary, fill)
            wk = w[l][::-1, ::-1] if flip else w[l]
            if conj:
                wk = np.conj(wk)
            for p in range(k0):
                for q in range(k1):
                    acc = acc + ext[p:p + n0, q:q + n1] * wk[p, q]
        out[o] = acc
    return out


def _data(shape, dt, rng):
    dt = np.dtype(dt)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(max(info.min, -1000), min(info.max, 1000), size=shape).astype(dt)
    x = rng.standard_normal(shape)
    if dt.kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dt)


def _launch(x, w, pmap, xr0, xc0, n0, n1, flip, conj, boundary, fill, dt, odt):
    launch = _direct.prepare_planes(x.shape[1:], x.dtype, xr0, xc0, w.shape[1:], flip, conj,
                                    n0, n1, np.dtype(dt), np.dtype(odt), boundary,
                                    _direct.fill_key(None if fill is None else
                                                     np.asarray(fill, dtype=dt)))
    assert launch is not None
    out = np.full((pmap.shape[0], n0, n1), 77, dtype=odt)
    launch(x, w, pmap, out)
    return out


def _pmap(rng, Q, L, P, plane, holes):
    pm = rng.integers(0, P, size=(Q, L)) * plane
    if holes:
        pm[rng.random((Q, L)) < 0.3] = -1
    return pm.astype(np.int64)


# the stack kernel compiles per input type and leading-tap count (seconds
# each), so it sees one input type here; its staging is the planes kernel's
@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("xdt,kernel", [(np.float64, "stack"), (np.float64, "planes"),
                                        (np.float32, "planes"), (np.uint16, "planes")],
                         indirect=["kernel"])
def test_every_boundary_and_window_bitwise(boundary, xdt, kernel):
    """'same', 'full' and beyond-edge windows, planes of fill (-1) in
    'constant' mode, row counts that are and are not multiples of the row
    block; convolution (flip) and correlation."""
    rng = np.random.default_rng(7)
    H, W, P = 11, 13, 5
    x = _data((P, H, W), xdt, rng)
    x0 = x.copy()
    fill = 2.5 if boundary == "constant" else None
    w = rng.standard_normal((3, 3, 3))
    pmap = _pmap(rng, 4, 3, P, H * W, boundary == "constant")
    for (xr0, xc0), (n0, n1) in [((-1, -1), (H, W)),          # 'same'
                                 ((-2, -2), (H + 2, W + 2)),  # 'full'
                                 ((-9, 8), (7, 12)),          # beyond two edges
                                 ((0, 0), (4, 5))]:           # one row block, inside
        for flip in (False, True):
            got = _launch(x, w, pmap, xr0, xc0, n0, n1, flip, False, boundary, fill,
                          np.float64, np.float64)
            want = _expected(x, pmap, w, xr0, xc0, n0, n1, flip, False, boundary, fill,
                             np.float64)
            assert np.array_equal(got, want), ((xr0, xc0), (n0, n1), flip)
    np.testing.assert_array_equal(x, x0)


@pytest.mark.parametrize("xdt", [np.float32, np.uint8, np.uint16, np.int16])
def test_inputs_read_as_they_are_and_float32_out(xdt):
    """Each input type of PLANES_INPUTS read without a float64 copy, summed in
    float64 and written as float32 (one rounding of the exact float64 sum)."""
    assert np.dtype(xdt) in _direct.PLANES_INPUTS[np.dtype(np.float64)]
    rng = np.random.default_rng(3)
    x = _data((6, 9, 21), xdt, rng)
    w = rng.standard_normal((2, 3, 3))
    pmap = _pmap(rng, 5, 2, 6, 9 * 21, False)
    want = _expected(x, pmap, w, -1, -1, 9, 21, False, False, "symmetric", None, np.float64)
    got64 = _launch(x, w, pmap, -1, -1, 9, 21, False, False, "symmetric", None,
                    np.float64, np.float64)
    got32 = _launch(x, w, pmap, -1, -1, 9, 21, False, False, "symmetric", None,
                    np.float64, np.float32)
    assert got32.dtype == np.float32
    assert np.array_equal(got64, want)
    assert np.array_equal(got32, want.astype(np.float32))


def test_complex_conjugates_and_flips():
    rng = np.random.default_rng(4)
    x = _data((4, 8, 10), np.complex128, rng)
    w = _data((3, 2, 3), np.complex128, rng)
    pmap = _pmap(rng, 3, 3, 4, 80, True)
    for flip, conj in ((False, True), (True, False)):
        got = _launch(x, w, pmap, -1, -1, 8, 10, flip, conj, "constant", 1 - 2j,
                      np.complex128, np.complex128)
        want = _expected(x, pmap, w, -1, -1, 8, 10, flip, conj, "constant", 1 - 2j,
                         np.complex128)
        # complex products may round differently from NumPy's (the order of
        # the real multiplies): equal to a few ulps
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13, err_msg=str((flip, conj)))


@pytest.mark.parametrize("kshape,kernel", [((1, 1), "planes"), ((2, 5), "planes"),
                                          ((2, 5), "stack"), ((9, 4), "planes"),
                                          ((5, 9), "planes")], indirect=["kernel"])
def test_kernel_shapes_and_chunks_wider_than_one(kshape, kernel):
    """Windows wider than a column chunk (several chunks per row block, the
    last one partial), kernel sides 1 .. EXACT_MAX."""
    rng = np.random.default_rng(sum(kshape))
    W = 2 * _dk.EXACT_CHUNK + 37
    x = _data((3, 9, W), np.float64, rng)
    w = rng.standard_normal((2,) + kshape)
    pmap = _pmap(rng, 2, 2, 3, 9 * W, False)
    r0, c0 = -(kshape[0] // 2), -(kshape[1] // 2)
    got = _launch(x, w, pmap, r0, c0, 9, W, False, False, "wrap", None, np.float64, np.float64)
    want = _expected(x, pmap, w, r0, c0, 9, W, False, False, "wrap", None, np.float64)
    assert np.array_equal(got, want)


def _sliding_pmap(Q, L, P, plane, boundary, keep=None):
    """A volume's plane map: output plane o reads input planes o + l - L // 2
    (outside: reflected, or -1 in 'constant' mode); ``keep``: the leading
    taps left (the frontend drops taps whose weights are all zero)."""
    pm = np.empty((Q, L), dtype=np.int64)
    for o in range(Q):
        for l in range(L):
            p = o + l - L // 2
            if 0 <= p < P:
                pm[o, l] = p * plane
            elif boundary == "constant":
                pm[o, l] = -1
            else:
                pm[o, l] = (-p - 1 if p < 0 else 2 * P - p - 1) * plane
    return pm if keep is None else np.ascontiguousarray(pm[:, keep])


@pytest.mark.parametrize("kshape", [(3, 3), (2, 2), (1, 3), (3, 5)])
@pytest.mark.parametrize("Q", [1, 2, 5, 6])
@pytest.mark.parametrize("case", ["reflect", "constant", "dropped"])
def test_consecutive_planes_bitwise(kshape, Q, case, monkeypatch):
    """Pairs of output planes that share staged input planes (kernels of up to
    PLANES_DUAL_TAPS taps per leading tap), an odd last plane on its own,
    steps where the pair's planes differ (volume edges, fill planes, a
    dropped leading tap), and larger kernels that never pair; for 3 x 3
    weights the stack kernel too (its slots see the same edges)."""
    rng = np.random.default_rng(Q * 10 + len(case))
    H, W, L = 9, 14, 3
    x = _data((Q, H, W), np.float32, rng)
    w = rng.standard_normal((L,) + kshape)
    boundary = "constant" if case == "constant" else "symmetric"
    keep = [0, 2] if case == "dropped" else None
    pmap = _sliding_pmap(Q, L, Q, H * W, boundary, keep)
    wk = w[keep] if keep is not None else w
    r0, c0 = -(kshape[0] // 2), -(kshape[1] // 2)
    fill = -0.5 if boundary == "constant" else None
    got = _launch(x, wk, pmap, r0, c0, H, W, False, False, boundary, fill, np.float64,
                  np.float32)
    want = _expected(x, pmap, wk, r0, c0, H, W, False, False, boundary, fill, np.float64)
    assert np.array_equal(got, want.astype(np.float32))
    if kshape == (3, 3):
        monkeypatch.setattr(_direct, "STACK_MIN_OUTPUTS", 0)
        assert np.array_equal(_launch(x, wk, pmap, r0, c0, H, W, False, False, boundary, fill,
                                      np.float64, np.float32), got)


def test_result_independent_of_thread_bands(monkeypatch, kernel):
    """Many bands of planes on the threads give the one-thread result bit for bit."""
    rng = np.random.default_rng(5)
    x = _data((12, 16, 40), np.float32, rng)
    w = rng.standard_normal((3, 3, 3))
    pmap = _pmap(rng, 10, 3, 12, 16 * 40, False)
    args = (x, w, pmap, -1, -1, 16, 40, False, False, "nearest", None, np.float64, np.float32)
    monkeypatch.setattr(_direct, "_SERIAL_WORK", 1 << 62)
    one = _launch(*args)
    monkeypatch.setattr(_direct, "_SERIAL_WORK", 0)
    monkeypatch.setattr(_direct, "_BAND_WORK", 1)
    monkeypatch.setattr(_direct, "num_threads", lambda: 3)
    many = _launch(*args)
    assert np.array_equal(one, many)


def test_streamed_output_rows_bitwise(kernel):
    """An output of at least STREAM_MIN_ELEMS elements (float64 sums into
    float32: 64-byte streaming stores on x86-64 where a row is aligned,
    plain stores around them): rows of odd length, an output that starts
    off the 64-byte grid, every value written, none past the end."""
    rng = np.random.default_rng(9)
    Q, n0, n1 = 9, 411, 1139
    assert Q * n0 * n1 >= _dk.STREAM_MIN_ELEMS
    x = _data((Q + 2, n0, n1), np.float32, rng)
    w = rng.standard_normal((3, 3, 3))
    plane = n0 * n1
    pmap = (np.arange(Q)[:, None] + np.arange(3)[None, :]) * plane
    launch = _direct.prepare_planes(x.shape[1:], x.dtype, -1, -1, (3, 3), False, False,
                                    n0, n1, np.dtype(np.float64), np.dtype(np.float32),
                                    "symmetric", None)
    buf = np.full(Q * plane + 8, 77, dtype=np.float32)
    out = buf[3:3 + Q * plane].reshape(Q, n0, n1)
    assert out.ctypes.data % 64 != 0
    launch(x, w, pmap, out)
    want = _expected(x, pmap, w, -1, -1, n0, n1, False, False, "symmetric", None, np.float64)
    assert np.array_equal(out, want.astype(np.float32))
    assert (buf[:3] == 77).all() and (buf[3 + Q * plane:] == 77).all()


def test_where_the_kernel_does_not_apply():
    f64 = np.dtype(np.float64)
    assert _direct.planes_capable(_dk.PLANES_ROWS, 9, 9, f64)
    assert not _direct.planes_capable(_dk.PLANES_ROWS - 1, 3, 3, f64)
    assert not _direct.planes_capable(100, _dk.EXACT_MAX + 1, 3, f64)
    assert _direct.prepare_planes((3, 3), f64, -1, -1, (3, 3), False, False, 3, 3, f64, f64,
                                  "wrap", None) is None
    with pytest.raises(ValueError, match="sizes up to"):
        _dk.source_planes(_dk.EXACT_MAX + 1, 3)
    assert _dk.stack_applies(_dk.STACK_MAX_LEAD, 3, 3)
    assert not _dk.stack_applies(_dk.STACK_MAX_LEAD + 1, 1, 1)
    assert not _dk.stack_applies(1, _dk.STACK_MAX_TAPS + 1, 1)
    with pytest.raises(ValueError, match="stack kernels"):
        _dk.source_stack(_dk.STACK_MAX_LEAD + 1, 1, 1)


def test_backend_converts_other_inputs_and_keeps_integer_sums_in_float64():
    """int32 is not read as it is: the backend converts it; an integer output
    gets the float64 sum (the frontend applies C's conversion)."""
    rng = np.random.default_rng(6)
    x = _data((5, 7, 9), np.int32, rng)
    w = rng.standard_normal((2, 3, 3))
    pmap = _pmap(rng, 4, 2, 5, 63, False)
    plan = plan_ndimage((7, 9), (3, 3), (0, 0), False, "wrap", 0.0, np.float64)
    got = _cpu.execute_planes(plan, x, w, pmap, np.int32)
    assert got.dtype == np.float64
    want = _expected(x, pmap, w, -1, -1, 7, 9, False, False, "wrap", None, np.float64)
    assert np.array_equal(got, want)
    assert _cpu.execute_planes(plan, x, w, pmap, np.float32).dtype == np.float32


@pytest.mark.parametrize("L,kshape,kind", [(3, (3, 3), "stack"), (1, (5, 5), "stack"),
                                           (4, (3, 3), "planes"), (3, (3, 4), "planes"),
                                           (1, (9, 9), "planes")])
def test_which_kernel_runs(L, kshape, kind, monkeypatch):
    """Up to STACK_MAX_LEAD leading taps and STACK_MAX_TAPS taps on a volume
    of STACK_MIN_OUTPUTS outputs: the stack kernel; above: the planes kernel.
    Both give the plain loop's values."""
    monkeypatch.setattr(_direct, "STACK_MIN_OUTPUTS", 4 * 8 * 11)
    seen = []
    real = _direct.kernel
    monkeypatch.setattr(_direct, "kernel", lambda dt, v: seen.append(v[0]) or real(dt, v))
    rng = np.random.default_rng(L + sum(kshape))
    x = _data((5, 8, 11), np.float64, rng)
    w = rng.standard_normal((L,) + kshape)
    pmap = _pmap(rng, 4, L, 5, 88, False)
    r0, c0 = -(kshape[0] // 2), -(kshape[1] // 2)
    got = _launch(x, w, pmap, r0, c0, 8, 11, False, False, "mirror", None, np.float64,
                  np.float64)
    assert seen == [kind]
    monkeypatch.setattr(_direct, "STACK_MIN_OUTPUTS", 4 * 8 * 11 + 1)
    assert np.array_equal(_launch(x, w, pmap, r0, c0, 8, 11, False, False, "mirror", None,
                                  np.float64, np.float64), got)
    assert seen[-1] == "planes"
    assert np.array_equal(got, _expected(x, pmap, w, r0, c0, 8, 11, False, False, "mirror",
                                         None, np.float64))


@pytest.mark.parametrize("n0", [_dk.PLANES_ROWS, _dk.PLANES_ROWS + 1, _dk.STACK_BLOCK - 1,
                                _dk.STACK_BLOCK, _dk.STACK_BLOCK + 1,
                                2 * _dk.STACK_BLOCK + _dk.PLANES_ROWS + 3])
def test_stack_row_blocks_bitwise(n0, kernel):
    """Row counts below, at and above the stack kernel's staged block (its
    last block and last row group shifted back, rows recomputed), a volume
    walked plane after plane ('same' along the leading axis, reflected at
    both ends); the planes kernel gives the same bits."""
    rng = np.random.default_rng(n0)
    Q, W, L = 7, 19, 3
    x = _data((Q, n0, W), np.float32, rng)
    w = rng.standard_normal((L, 3, 3))
    pmap = _sliding_pmap(Q, L, Q, n0 * W, "symmetric")
    got = _launch(x, w, pmap, -1, -1, n0, W, False, False, "symmetric", None, np.float64,
                  np.float32)
    want = _expected(x, pmap, w, -1, -1, n0, W, False, False, "symmetric", None, np.float64)
    assert np.array_equal(got, want.astype(np.float32))
    assert set(kernel) == {"stack" if _dk.stack_applies(L, 3, 3) else "planes"}


@pytest.mark.parametrize("L", [1, 2, 3])
def test_stack_slots_repeated_and_scattered_planes(L, kernel):
    """Plane maps that are not a walk through a volume: a plane read by two
    leading taps of one output, fill planes (-1), jumps back and forth, the
    same plane for every output (the stack kernel keeps L staged planes and
    must never drop one that the current output reads)."""
    rng = np.random.default_rng(L)
    P, H, W = 6, 9, 12
    x = _data((P, H, W), np.float64, rng)
    w = rng.standard_normal((L, 3, 3))
    plane = H * W
    rows = [rng.integers(-1, P, size=L) for _ in range(12)]
    rows += [np.full(L, 2), np.full(L, -1), np.arange(L)[::-1], np.arange(L) % 2]
    pmap = np.array([np.where(r < 0, -1, r * plane) for r in rows], dtype=np.int64)
    fill = 0.75
    got = _launch(x, w, pmap, -1, -1, H, W, True, False, "constant", fill, np.float64,
                  np.float64)
    want = _expected(x, pmap, w, -1, -1, H, W, True, False, "constant", fill, np.float64)
    assert np.array_equal(got, want)
