"""CPU "direct" method: the register-blocked kernel of :mod:`.direct_kernel`
(compiled by Numba, cached by :mod:`.native`), run over row bands on threads.

:func:`correlate_window` computes ``out[or0+i, oc0+j] = sum_{p<K0, q<K1}
X[xr0+i+p, xc0+j+q] * W(p, q)``, ``W`` flipped / conjugated as asked and
``X`` the input extended by ``boundary``, read through index maps built here
(no padded copy). Large windows run as bands of output rows on the threads of
:func:`corrconv_gpu._util.threads.run_shared` (ctypes releases the GIL), small
ones on the calling thread alone. Every output's sum order is fixed, so the
result does not depend on the split.
"""

import numpy as np

from ..._boundary import extend_index, inside_run
from ..._util.memo import memoize
from ..._util.threads import num_threads, run_shared
from . import direct_kernel as _dk
from .direct_kernel import EXACT_CHUNK, EXACT_ROWS, exact_max, exact_ring_rows, taps
from .native import kernel

__all__ = ["correlate_window", "prepare_window", "prepare_planes", "planes_capable",
           "PLANES_INPUTS", "num_threads"]

_ACC_BYTES = 65536  # L2 budget of the accumulator ring (K0 rows of ch)
# windows of at least this many outputs use the exact-size kernel when both
# kernel sides are <= exact_max(dtype) (smaller ones: the ring kernel, so that small
# problems of many shapes do not each compile a variant)
_EXACT_MIN_OUTPUTS = 1 << 16
_CH_MIN = 64        # column chunk bounds (elements)
_CH_MAX = 8192
# below this much work (outputs x (10 + taps)) a window runs on the calling
# thread alone; above it, in bands of at least _BAND_WORK (up to 4 per
# thread): waking a worker costs time, and a thread whose band ends while
# another holds the GIL waits for it, so short bands lose.
# fitted by benchmarks/run_cpu.py (benchmarks/results/fitted_constants.md)
_SERIAL_WORK = 1 << 24
_BAND_WORK = 1 << 22
# Volumes of at least this many outputs run small filters in the stack
# kernel: it compiles for each leading-tap count (seconds, once per
# machine), which a small volume does not repay; the planes kernel serves
# every count.
STACK_MIN_OUTPUTS = 1 << 20


def _index_maps(xr0, c0, n0, n1, K0, K1, shape, boundary):
    """Row and column index maps of the window (one read-only int64 array:
    rows first; held by the launch :func:`prepare_window` makes).

    Extended row t is input row ``maps[t]``, extended column u is input column
    ``maps[n0 + K0 - 1 + u]``; -1 reads the fill value ('constant').
    """
    nr, nc = n0 + K0 - 1, n1 + K1 - 1
    maps = np.empty(nr + nc, dtype=np.int64)
    for start, count, n, dst in ((xr0, nr, shape[0], maps[:nr]),
                                 (c0, nc, shape[1], maps[nr:])):
        lo, hi = inside_run(start, count, n)
        if lo == 0 and hi == count:               # inside the input
            dst[:] = np.arange(start, start + count)
        elif boundary == "constant" or n == 0:
            dst[:] = -1
            if lo < hi:
                dst[lo:hi] = np.arange(start + lo, start + hi)
        else:
            dst[:] = extend_index(np.arange(start, start + count), n, boundary)[0]
    maps.flags.writeable = False
    return maps


def _address(a):
    """The data pointer of an ndarray (``a.ctypes.data`` builds a ctypes
    helper object on every access, several times as slow on a cold cache)."""
    return a.__array_interface__["data"][0]


def _setup(xr0, xc0, n0, n1, K0, K1, shape, boundary, dt, exact_min, acc_bytes):
    """Everything a window's launch needs but the arrays and the fill: the
    index maps and their address,
    the rows of extended input (``nr``), the columns read in place, the kernel
    variant, the column chunk and the scratch sizes."""
    maps = _index_maps(xr0, xc0, n0, n1, K0, K1, shape, boundary)
    nr = n0 + K0 - 1
    ulo, uhi = inside_run(xc0, n1 + K1 - 1, shape[1])   # columns read in place
    # the column chunk: as wide as the scratch budget allows (and no wider
    # than the window)
    exact = max(K0, K1) <= exact_max(dt) and n0 * n1 >= exact_min and n0 >= EXACT_ROWS
    ch = EXACT_CHUNK if exact else acc_bytes // (K0 * dt.itemsize) // 16 * 16
    ch = min(_CH_MAX, max(_CH_MIN, ch), -(-n1 // 16) * 16)
    # scratch: the ring kernel's accumulators and row; the exact kernel's
    # input rows and staged output rows
    if exact:
        variant = ("exact", K0, K1)
        nacc, nrow_out = exact_ring_rows(K0) * (ch + K1 - 1), EXACT_ROWS * _dk.TMP_STRIDE
    else:
        variant = ("ring", taps(K1))
        nacc, nrow_out = K0 * ch, ch + K1 - 1
    return maps, _address(maps), nr, ulo, uhi, exact, ch, variant, nacc, nrow_out


def _band_bounds(n, most, threads, work, band_work):
    """Bounds of the bands ``n`` rows (or planes) are split into on
    ``threads``: at least one a thread, each of at least ``band_work`` of the
    call's ``work``, up to 4 a thread and at most ``most``."""
    nband = max(threads, min(most, 4 * threads, work // band_work))
    return [n * t // nband for t in range(nband + 1)]


@memoize(64)
def _fill_row(dt, n, fill_dtype, fill_bytes):
    """A read-only row of ``n`` fill values of ``dt`` (memoized on the fill
    value's bytes: -0.0 and 0.0 are different rows)."""
    row = np.empty(n, dtype=dt)
    row[...] = 0 if fill_dtype is None else np.frombuffer(fill_bytes, fill_dtype)[0]
    row.flags.writeable = False
    return row


def correlate_window(x, xr0, xc0, w, flip, conj, out, or0, oc0, n0, n1,
                     boundary="constant", fill=0):
    """out[or0+i, oc0+j] = sum_{p,q} X[xr0+i+p, xc0+j+q] * W(p, q)."""
    n0, n1 = int(n0), int(n1)
    if n0 <= 0 or n1 <= 0:
        return
    dt = out.dtype
    if x.size == 0:       # every read is the fill ('constant' only)
        shape, boundary = (0, 0), "constant"
        x = np.zeros((1, 1), dtype=dt)
    else:
        x = np.ascontiguousarray(x, dtype=dt)
        shape = x.shape
    launch = prepare_window(shape, int(xr0), int(xc0), tuple(int(k) for k in w.shape),
                            bool(flip), bool(conj), n0, n1, dt, boundary, fill_key(fill))
    launch(x, w, out, int(or0), int(oc0))


def fill_key(fill):
    """The fill value as :func:`prepare_window` takes it: ``(dtype.str,
    bytes)`` (``-0.0`` and ``0.0`` are different fills), None for no fill."""
    if fill is None:
        return None
    f = np.asarray(fill)
    return f.dtype.str, f.tobytes()


def prepare_window(shape, xr0, xc0, wshape, flip, conj, n0, n1, dt, boundary, fkey):
    """The launch of one window, made once and then called as
    ``launch(x, w, out, or0=0, oc0=0)`` (memoized: the same window recurs call
    after call, so a repeated call pays only the kernel and its arguments).

    ``x``: C-contiguous ``dt`` of ``shape``; ``w``: ``wshape``; ``out``: ``dt``
    with unit column stride; ``fkey``: :func:`fill_key` of the fill value.
    Arguments as :func:`correlate_window`, whose window must be non-empty.
    The memo is keyed on the module's tuning constants too, so a launch never
    outlives a change of them.
    """
    return _prepare_window(shape, xr0, xc0, wshape, flip, conj, n0, n1, dt, boundary,
                           fkey, _EXACT_MIN_OUTPUTS, _ACC_BYTES, _SERIAL_WORK, _BAND_WORK)


@memoize(64)
def _prepare_window(shape, xr0, xc0, wshape, flip, conj, n0, n1, dt, boundary, fkey,
                    exact_min, acc_bytes, serial_work, band_work):
    K0, K1 = wshape
    (maps, pm, nr, ulo, uhi, exact, ch, variant, nacc,
     nrow_out) = _setup(xr0, xc0, n0, n1, K0, K1, shape, boundary, dt, exact_min, acc_bytes)
    frow = _fill_row(dt, ch + K1 - 1, *(fkey or (None, None)))
    fn = kernel(dt, variant)
    item = dt.itemsize
    nx = shape[0] * shape[1]
    tail = (pm, nr, pm + 8 * nr, ulo, uhi, xc0, _address(frow))
    conj = conj and dt.kind == "c"
    work = n0 * n1 * (10 + K0 * K1)
    rows = n0 // EXACT_ROWS if exact else n0        # the most bands
    serial = work < serial_work or rows <= 1
    splits = {}   # thread count (read at each call) -> band bounds

    def bounds(threads):
        b = splits.get(threads)
        if b is None:
            b = splits[threads] = _band_bounds(n0, rows, threads, work, band_work)
        return b

    # the scratch of a call on one thread, kept for the next one (a call that
    # finds it in use, on another thread, makes its own)
    spare = [np.empty(nacc + nrow_out, dtype=dt)]

    def launch(x, w, out, or0=0, oc0=0):
        if out.dtype != dt or out.strides[1] != item or out.strides[0] % item:
            raise ValueError("out must have unit column stride")  # executors guarantee it
        # the effective weights (flip / conj applied), a copy of K0 * K1 values
        wk = w[::-1, ::-1] if flip else w
        if conj:
            wk = np.conj(wk)
        wk = np.ascontiguousarray(wk, dtype=dt)
        so = out.strides[0] // item
        head = (_address(x), nx, shape[1], _address(wk), K0, K1,
                _address(out) + (or0 * so + oc0) * item, (n0 - 1) * so + n1, so, n1, ch)
        threads = 1 if serial else min(num_threads(), rows)
        if threads <= 1:
            scratch = spare.pop() if spare else np.empty(nacc + nrow_out, dtype=dt)
            p = _address(scratch)
            fn(*head, 0, n0, *tail, p, p + nacc * item)
            spare.append(scratch)
            return

        def run(rlo, rhi):
            scratch = np.empty(nacc + nrow_out, dtype=dt)
            p = _address(scratch)
            fn(*head, rlo, rhi, *tail, p, p + nacc * item)

        bnd = bounds(threads)
        run_shared(len(bnd) - 1, lambda t: run(bnd[t], bnd[t + 1]), threads)

    launch.keep = (maps, frow)   # the arrays behind the addresses in ``tail``
    return launch


#: Input types the planes kernel reads as they are, by the type it sums in
#: (others are converted first): float32 images summed in float64 (SciPy's
#: rule) are read without a float64 copy of the volume, and so are the
#: microscopy integer types.
PLANES_INPUTS = {np.dtype(np.float64): tuple(np.dtype(t) for t in (
    np.float64, np.float32, np.uint8, np.uint16, np.int16))}


def planes_capable(n0, k0, k1, dt):
    """Whether the planes kernel takes ``n0`` output rows and ``k0 x k1``
    weights per leading tap, summed in ``dt``."""
    return max(k0, k1) <= exact_max(dt) and n0 >= _dk.PLANES_ROWS


def prepare_planes(shape, xdt, xr0, xc0, wshape, flip, conj, n0, n1, dt, odt, boundary,
                   fkey):
    """The launch of a filter over more than two axes, run as one pass:
    ``launch(x, w, pmap, out)`` sets output plane ``o``, ``out[o, i, j]``, to
    ``sum_l sum_{p,q} X_l[xr0+i+p, xc0+j+q] * W(l, p, q)`` where ``X_l`` is
    the input plane at element offset ``pmap[o, l]`` of ``x`` (-1: the fill
    value everywhere) extended by ``boundary`` as :func:`correlate_window`
    does, and ``W(l)`` is ``w[l]`` flipped / conjugated over its two axes as
    asked. ``x``: C-contiguous (P, ) + ``shape`` of ``xdt`` (a type of
    ``PLANES_INPUTS[dt]``), ``w``: (L,) + ``wshape``, ``pmap``: (Q, L) int64,
    ``out``: C-contiguous (Q, n0, n1) of ``odt`` (``dt``, or float32 for a
    float64 sum: the rounding of C's cast). Each output's taps are summed in
    C order (scipy.ndimage's order), so the result does not depend on the
    bands the planes are split into. None where the kernel does not apply
    (kernel sides above ``exact_max``, windows of fewer than
    ``PLANES_ROWS`` rows)."""
    if not planes_capable(n0, *wshape, dt) or n1 < 1:
        return None
    return _prepare_planes(shape, xdt, xr0, xc0, wshape, flip, conj, n0, n1, dt, odt,
                           boundary, fkey, _SERIAL_WORK, _BAND_WORK)


@memoize(64)
def _prepare_planes(shape, xdt, xr0, xc0, wshape, flip, conj, n0, n1, dt, odt, boundary,
                    fkey, serial_work, band_work):
    K0, K1 = wshape
    maps = _index_maps(xr0, xc0, n0, n1, K0, K1, shape, boundary)
    nr = n0 + K0 - 1
    ulo, uhi = inside_run(xc0, n1 + K1 - 1, shape[1])
    ch = min(EXACT_CHUNK, -(-n1 // 16) * 16)
    frow = _fill_row(dt, ch + K1 - 1, *(fkey or (None, None)))
    pm = _address(maps)
    rows = _dk.PLANES_ROWS
    conj = conj and dt.kind == "c"
    item, plane = dt.itemsize, n0 * n1

    def launch(x, w, pmap, out):
        Q, L = pmap.shape
        # small filters on large volumes: the stack kernel (each input plane
        # staged once per block of rows); else the planes kernel (staged once
        # per leading tap)
        if Q * plane >= STACK_MIN_OUTPUTS and _dk.stack_applies(L, K0, K1):
            fn = kernel(dt, ("stack", L, K0, K1, xdt, odt))
            nring, ntmp = L * (_dk.STACK_BLOCK + K0 - 1) * (ch + K1 - 1), rows * _dk.TMP_STRIDE
        else:
            fn = kernel(dt, ("planes", K0, K1, xdt, odt))
            nring, ntmp = (rows + K0 - 1) * (ch + K1 - 1), 2 * rows * _dk.TMP_STRIDE
        wk = w[:, ::-1, ::-1] if flip else w
        if conj:
            wk = np.conj(wk)
        wk = np.ascontiguousarray(wk, dtype=dt)
        head = (_address(x), x.size, shape[1], _address(wk), L, K0, K1, _address(out),
                out.size, n1, plane, n1, ch)
        tail = (_address(pmap), pmap.size, pm, nr, pm + 8 * nr, ulo, uhi, xc0,
                _address(frow))

        def run(plo, phi):
            scratch = np.empty(nring + ntmp, dtype=dt)
            p = _address(scratch)
            fn(*head, plo, phi, *tail, p, p + nring * item)

        work = Q * plane * (10 + L * K0 * K1)
        threads = 1 if work < serial_work else min(num_threads(), Q)
        if threads <= 1:
            run(0, Q)
            return
        bnd = _band_bounds(Q, Q, threads, work, band_work)
        run_shared(len(bnd) - 1, lambda t: run(bnd[t], bnd[t + 1]), threads)

    launch.keep = (maps, frow)
    return launch
