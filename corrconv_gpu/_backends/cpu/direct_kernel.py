"""The CPU direct kernel: Python source that Numba compiles (see :mod:`.native`).

``band(...)`` (signature in ``_PROLOGUE``) computes output rows
``rlo <= i < rhi`` of ``out[i, j] = sum_{p<K0, q<K1} X[i + p, j + q] * W[p, q]``,
``W`` already flipped / conjugated and ``X`` the boundary-extended input,
read through row and column index maps (no padded copy of the image). Two
variants: the ring kernel (:func:`source`: the accumulators of K0 output rows
in a ring, m <= 4 rows x T <= 4 taps per unrolled loop, one compilation per
tap-group set ``taps(K1)``) and, for small kernels on large windows, an
output-stationary kernel generated for the exact size (:func:`source_exact`).
Both sum every output in the same naive order without FMA contraction, so
their results are bitwise equal and independent of band split and threads.
Filters over more than two axes have two more, with the same sums: the
planes kernel (:func:`source_planes`) and, for small filters, the stack
kernel (:func:`source_stack`).
"""

import platform


def taps(K1):
    """The tap-group sizes T the K1 taps of a row are cut into (groups of 4)."""
    K1 = int(K1)
    if K1 <= 4:
        return (K1,)
    return (4,) if K1 % 4 == 0 else (4, K1 % 4)


def _loop(m, T, ind):
    """One unrolled loop: m accumulator rows x T taps."""
    sp = " " * ind
    lines = [sp + "; ".join(f"w{a}{b} = wf[p{a} + {b}]" for b in range(T))
             for a in range(m)]
    lines.append(sp + "for j in range(jn):")
    lines += [f"{sp}    x{b} = src[b{b} + j]" for b in range(T)]
    for a in range(m):
        lines.append(f"{sp}    a = acc[a{a} + j]")
        lines += [f"{sp}    a += x{b} * w{a}{b}" for b in range(T)]
        lines.append(f"{sp}    acc[a{a} + j] = a")
    return lines


def _copy_row(dst, slot, ind):
    """Lines copying extended columns j0..e-1 of input row ``row`` (flat
    start ``rb``) to ``dst[slot:]``: the in-input part [ca, cb) as one
    contiguous run, the rest through the column map (-1: the fill value)."""
    sp = " " * ind
    return [f"{sp}{line}" for line in (
        f"d = {slot} - j0",
        "for u in range(j0, ca):",
        "    cm = cmap[u]",
        f"    {dst}[d + u] = fillv if cm < 0 else xf[rb + cm]",
        f"ud = np.uint64({slot})",
        "us = np.uint64(rb + c0 + j0)",
        "for v in range(np.uint64(ca - j0), np.uint64(cb - j0)):",
        f"    {dst}[ud + v] = xf[us + v]",
        "for u in range(cb, e):",
        "    cm = cmap[u]",
        f"    {dst}[d + u] = fillv if cm < 0 else xf[rb + cm]")]


def source(tset):
    """Source of ``band`` with loops for the tap-group sizes in ``tset``."""
    tset = tuple(tset)
    if not tset or any(t not in (1, 2, 3, 4) for t in tset):
        raise ValueError(f"tap groups must be among 1..4, got {tset!r}")
    lines = []
    for i, m in enumerate((4, 3, 2, 1)):
        lines.append(" " * 20 + ("if" if i == 0 else "elif" if m > 1 else "else")
                     + (f" m == {m}:" if m > 1 else ":"))
        for k, T in enumerate(tset):
            if len(tset) == 1:
                lines += _loop(m, T, 24)
            else:
                lines.append(" " * 24 + ("if" if k == 0 else "else")
                             + (f" T == {T}:" if k == 0 else ":"))
                lines += _loop(m, T, 28)
    return (_TEMPLATE.replace("@PROLOGUE@", _PROLOGUE)
            .replace("@CHUNKS@", _CHUNKS.replace("@EDGE@", f"ch if n1 <= ch else min(ch, {EDGE_CHUNK})"))
            .replace("@COPYROW@", "\n".join(_copy_row("rowbuf", "0", 16)))
            .replace("@BLOCKS@", "\n".join(lines)))


#: The edge chunks (which read the boundary extension through a row copy)
#: are widened into the interior to this many columns, or to the whole
#: window when it fits in one chunk: an edge chunk of K1 // 2 columns runs
#: its whole row loop for a few outputs per row, while widening them to a
#: full chunk makes small kernels copy too much on wide windows.
#: fitted by benchmarks/run_cpu.py (benchmarks/results/fitted_constants.md)
EDGE_CHUNK = 64

# the column chunks of a band (shared by both kernels): the loop header
_CHUNKS = '''\
    # output columns j < ja read the left extension, ja <= j < jb only the
    # input, jb <= j the right extension; the edge chunks are widened into
    # the interior (EDGE_CHUNK) and only they copy their rows: chunks do not
    # straddle ja or jb
    ja = min(max(ulo, 0), n1)
    jb = min(max(uhi - K1 + 1, ja), n1)
    we = @EDGE@
    if ja > 0:
        ja = min(max(ja, we), n1)
    if jb < n1:
        jb = max(min(jb, n1 - we), ja)
    j0 = 0
    while j0 < n1:
        cw = min(ch, n1 - j0)
        if j0 < ja:
            cw = min(cw, ja - j0)
        elif j0 < jb:
            cw = min(cw, jb - j0)
        jn = np.uint64(cw)
        # extended columns j0 .. e-1 feed this chunk: [j0, ca) and [cb, e)
        # are outside the input, [ca, cb) inside
        e = j0 + cw + K1 - 1
        ca = min(max(ulo, j0), e)
        cb = min(max(uhi, ca), e)
        inside = ca == j0 and cb == e'''

# the signature and the arrays over the pointers, shared by both kernels
_PROLOGUE = '''\
def band(xp, nx, sx, wp, K0, K1, op, no, so, n1, ch, rlo, rhi,
         rmapp, nr, cmapp, ulo, uhi, c0, fillp, accp, rowp):
    xf = carray(xp, (nx,))
    wf = carray(wp, (K0 * K1,))
    of = carray(op, (no,))
    rmap = carray(rmapp, (nr,))
    cmap = carray(cmapp, (n1 + K1 - 1,))
    fillrow = carray(fillp, (ch + K1 - 1,))'''

_TEMPLATE = '''\
import numpy as np
from numba import carray

_U1 = np.uint64(1)
_U2 = np.uint64(2)
_U3 = np.uint64(3)


@PROLOGUE@
    acc = carray(accp, (K0 * ch,))
    rowbuf = carray(rowp, (ch + K1 - 1,))
    zero = acc.dtype.type(0)
    fillv = fillrow[0]
    nb = rhi - rlo
@CHUNKS@
        for sl in range(K0):
            for j in range(np.uint64(sl * ch), np.uint64(sl * ch + cw)):
                acc[j] = zero
        for r in range(nb + K0 - 1):
            # input row rlo + r feeds output rows rlo + k, ka <= k <= kb,
            # with kernel row r - k (ascending in r for each output row)
            ka = max(0, r - K0 + 1)
            kb = min(nb - 1, r)
            row = rmap[rlo + r]
            if row < 0:
                src = fillrow
                xr = np.uint64(0)
            elif inside:
                src = xf
                xr = np.uint64(row * sx + c0 + j0)
            else:
                rb = row * sx
@COPYROW@
                src = rowbuf
                xr = np.uint64(0)
            k = ka
            s = ka % K0
            while k <= kb:
                m = min(4, kb - k + 1)
                ptop = r - k
                a0 = np.uint64(s * ch)
                s = s + 1 if s + 1 < K0 else 0
                a1 = np.uint64(s * ch)
                s = s + 1 if s + 1 < K0 else 0
                a2 = np.uint64(s * ch)
                s = s + 1 if s + 1 < K0 else 0
                a3 = np.uint64(s * ch)
                s = (k + m) % K0
                for q in range(0, K1, 4):
                    p0 = ptop * K1 + q
                    p1 = p0 - K1
                    p2 = p1 - K1
                    p3 = p2 - K1
                    T = min(4, K1 - q)
                    b0 = xr + np.uint64(q)
                    b1 = b0 + _U1
                    b2 = b0 + _U2
                    b3 = b0 + _U3
@BLOCKS@
                k += m
            if r >= K0 - 1:
                # output row rlo + ka is complete: write it out and clear
                # its slot for output row rlo + ka + K0
                ai = np.uint64((ka % K0) * ch)
                obi = np.uint64((rlo + ka) * so + j0)
                for j in range(jn):
                    of[obi + j] = acc[ai + j]
                    acc[ai + j] = zero
        j0 += cw
'''


# ----------------------------------------------------------------------------
# The exact-size kernel: small kernels (K0, K1 <= exact_max), output-stationary
# ----------------------------------------------------------------------------

#: Largest kernel side with an exact-size variant, and the output rows per
#: block.  Each size compiles once per dtype, within the first-call budget of
#: 5 s; complex compiles slower, so it stops at ``EXACT_MAX_COMPLEX`` (see
#: :func:`exact_max`).
#: fitted by benchmarks/compile_time.py, run_cpu.py (benchmarks/results/fitted_constants.md)
EXACT_MAX = 9
EXACT_MAX_COMPLEX = 7
EXACT_ROWS = 4
#: Column chunk of the exact kernel (a compile-time constant: its staging
#: rows are at constant distances, so LLVM vectorizes the loop without
#: runtime alias checks between the R output streams).
EXACT_CHUNK = 512
#: Elements between the output rows in the exact and planes kernels'
#: scratch: at a multiple of 4 KiB, column j of every row falls in one L1
#: set (the planes kernel ran 30% slower).
TMP_STRIDE = EXACT_CHUNK + 8
#: Up to this many taps the R output rows are stored straight into ``out``
#: (LLVM still vectorizes the loop, with runtime alias checks); larger
#: kernels stage them in ``rowp`` (at constant distances: no checks needed,
#: else LLVM gives up vectorizing) and copy them out.
EXACT_UNSTAGED_TAPS = 9
#: The exact kernel's edge chunks are widened to this many columns only, not
#: to the whole window: it pays its edge copies per block of rows.
#: fitted by benchmarks/run_cpu.py (benchmarks/results/fitted_constants.md)
EXACT_EDGE_CHUNK = 16


def exact_max(dtype):
    """Largest kernel side with an exact-size variant for ``dtype`` (a NumPy dtype)."""
    return EXACT_MAX_COMPLEX if dtype.kind == "c" else EXACT_MAX


def _taps(K0, K1, R, S, sp):
    """The body lines adding the K0*K1 taps to the R accumulators ``a0..``,
    reading array ``S`` at the row bases ``b0..``: each loaded x feeds every
    output row of the block that uses it, and each output's taps come in the
    naive order (kernel rows, then taps)."""
    lines = []
    for t in range(R + K0 - 1):
        for q in range(K1):
            users = [(r, t - r) for r in range(R) if 0 <= t - r < K0]
            lines.append(f"{sp}    x = {S}[b{t} + j + _Q{q}]")
            lines += [f"{sp}    a{r} += x * w{p}_{q}" for r, p in users]
    return lines


def _exact_loop(K0, K1, R, S, ind, staged):
    """R output rows x all K0*K1 taps per column, accumulators in registers."""
    sp = " " * ind
    lines = [f"{sp}for j in range(jn):"]
    lines += [f"{sp}    a{r} = zero" for r in range(R)]
    lines += _taps(K0, K1, R, S, sp)
    if not staged:
        lines += [f"{sp}    of[ob + _Q{r} * uso + j] = a{r}" for r in range(R)]
        return lines
    lines += [f"{sp}    tmp[_T{r} + j] = a{r}" for r in range(R)]
    lines += [f"{sp}for r in range({R}):",
              f"{sp}    ot = np.uint64(r * {TMP_STRIDE})",
              f"{sp}    oo = ob + np.uint64(r) * uso",
              f"{sp}    for j in range(jn):",
              f"{sp}        of[oo + j] = tmp[ot + j]"]
    return lines


def exact_ring_rows(K0):
    """Scratch rows the exact kernel needs (one per input row of a block)."""
    return EXACT_ROWS + int(K0) - 1


def source_exact(K0, K1):
    """Source of ``band`` for exactly K0 x K1 weights (see
    docs/design-notes.md); ``ch`` must be at most ``EXACT_CHUNK`` and ``rowp`` must
    point to ``EXACT_ROWS * TMP_STRIDE`` scratch elements.  A band must
    have at least ``EXACT_ROWS`` rows: its last block is shifted up to end
    at the band's end (rows recomputed, same values)."""
    K0, K1, R = int(K0), int(K1), EXACT_ROWS
    if not (1 <= K0 <= EXACT_MAX and 1 <= K1 <= EXACT_MAX):
        raise ValueError(f"exact kernels are for sizes up to {EXACT_MAX}, got {K0}x{K1}")
    NR = R + K0 - 1
    body = [f"    w{p}_{q} = wf[{p * K1 + q}]" for p in range(K0) for q in range(K1)]
    # row blocks outside, the column chunks of each block inside: a block
    # reads its input rows and writes its output rows from end to end
    # (long sequential runs for the prefetchers; with the chunks outside, a
    # 4096-wide image was read in 2 KB pieces of rows 16 KB apart)
    bounds, chunks = _CHUNKS.replace("@EDGE@", f"min(ch, {EXACT_EDGE_CHUNK})").split("    j0 = 0\n")
    body += bounds.splitlines()
    body += [
        "    i = rlo",
        "    while True:",
        f"        if i + {R} > rhi:",
        f"            i = rhi - {R}",
        "        rows_in = True",
        f"        for t in range({NR}):",
        "            if rmap[i + t] < 0:",
        "                rows_in = False",
    ]
    body += ["    " + line for line in ("    j0 = 0\n" + chunks).splitlines()]
    body += [
        "            ob = np.uint64(i * so + j0)",
        "            if inside and rows_in:",
        "                src = xf",
    ]
    body += [f"                b{t} = np.uint64(rmap[i + {t}] * sx + c0 + j0)"
             for t in range(NR)]
    body += [
        "            else:",
        f"                for t in range({NR}):",
        "                    row = rmap[i + t]",
        "                    if row < 0:",
        "                        for u in range(t * W, t * W + e - j0):",
        "                            ring[u] = fillv",
        "                        continue",
        "                    rb = row * sx",
    ]
    body += _copy_row("ring", "t * W", 20)
    body += ["                src = ring"]
    body += [f"                b{t} = np.uint64({t} * W)" for t in range(NR)]
    # one loop for both sources (the input in place, or the staged rows):
    # half the code of a loop per source, and half the compile time
    body += _exact_loop(K0, K1, R, "src", 12, K0 * K1 > EXACT_UNSTAGED_TAPS)
    body += [
        "            j0 += cw",
        f"        if i + {R} >= rhi:",
        "            break",
        f"        i += {R}",
    ]
    return (_EXACT_TEMPLATE.replace("@PROLOGUE@", _PROLOGUE)
            .replace("@CONSTS@", "\n".join(
                [f"_Q{q} = np.uint64({q})" for q in range(max(EXACT_MAX, R))]
                + [f"_T{r} = np.uint64({r * TMP_STRIDE})" for r in range(R)]))
            .replace("@NR@", str(NR)).replace("@R@", str(R))
            .replace("@CH@", str(TMP_STRIDE)).replace("@BODY@", "\n".join(body)))


_EXACT_TEMPLATE = '''\
import numpy as np
from numba import carray

@CONSTS@


@PROLOGUE@
    W = ch + K1 - 1
    ring = carray(accp, (@NR@ * W,))
    tmp = carray(rowp, (@R@ * @CH@,))
    zero = wf.dtype.type(0)
    fillv = fillrow[0]
    uso = np.uint64(so)
@BODY@
'''


# ----------------------------------------------------------------------------
# The planes kernel: filters over more than two axes, fused
# ----------------------------------------------------------------------------

#: Output rows per block of the planes kernel.
PLANES_ROWS = 4
#: Up to this many taps per leading tap, two output planes share each staged
#: input plane (larger kernels: the dual loop costs more to compile than it saves).
#: chosen by timing the kernel (benchmarks/results/fitted_constants.md)
PLANES_DUAL_TAPS = 9


def _taps_sets(K0, K1, R, S, sp, sets):
    """:func:`_taps` for one or two output planes: ``sets`` pairs an
    accumulator prefix with a weight prefix; each loaded x feeds every
    accumulator that uses it, and each accumulator's taps come in C order."""
    lines = []
    for t in range(R + K0 - 1):
        for q in range(K1):
            users = [(r, t - r) for r in range(R) if 0 <= t - r < K0]
            lines.append(f"{sp}    x = {S}[b{t} + j + _Q{q}]")
            lines += [f"{sp}    {a}{r} += x * {w}{p}_{q}" for a, w in sets for r, p in users]
    return lines


def _planes_loop(K0, K1, R, S, ind, tofs):
    """R output rows of each plane in ``tofs`` (tmp offsets, one per output
    plane sharing the staged rows) x the K0*K1 taps of one leading tap, per
    column: the partial sums come from and go back to ``tmp`` (the leading
    taps run in a loop around this one, so each output's taps are summed in
    C order)."""
    sp = " " * ind
    sets = [("a", "w"), ("g", "v")][:len(tofs)]
    lines = [f"{sp}for j in range(jn):"]
    lines += [f"{sp}    {a}{r} = tmp[{t} + _T{r} + j]" for (a, _), t in zip(sets, tofs)
              for r in range(R)]
    lines += _taps_sets(K0, K1, R, S, sp, sets)
    lines += [f"{sp}    tmp[{t} + _T{r} + j] = {a}{r}" for (a, _), t in zip(sets, tofs)
              for r in range(R)]
    return lines


def _prefetch_rows(qv, t0, t1, ind):
    """Lines prefetching the in-input columns [ca, cb) of the extended rows
    ``i + t0 <= i + t < i + t1`` of input plane ``qv`` (if it is one)."""
    sp = " " * ind
    return [f"{sp}if {qv} >= 0 and cb > ca:",
            f"{sp}    for t in range({t0}, min({t1}, nr - i)):",
            f"{sp}        row = rmap[i + t]",
            f"{sp}        if row >= 0:",
            f"{sp}            rb = {qv} + row * sx + c0",
            f"{sp}            _prefetch(xp, rb + ca, rb + cb)"]


def _planes_stage(K0, K1, R, qv, ind, base="0", rows=None):
    """Lines staging the block's extended rows (``R + K0 - 1``, or ``rows``)
    of input plane ``qv`` (an element offset; -1: the fill value) in
    ``ring`` from element ``base`` on, in the sum's type."""
    sp = " " * ind
    lines = [f"{sp}for t in range({rows or R + K0 - 1}):",
             f"{sp}    row = rmap[i + t]",
             f"{sp}    if row < 0 or {qv} < 0:",
             f"{sp}        for u in range({base} + t * W, {base} + t * W + e - j0):",
             f"{sp}            ring[u] = fillv",
             f"{sp}        continue",
             f"{sp}    rb = {qv} + row * sx"]
    return lines + _copy_row("ring", f"{base} + t * W", ind + 4)


def _chunk_head(ind):
    """Lines opening the column chunk at ``j0`` of the planes and stack
    kernels: its width, and the extended columns [ca, cb) of the chunk's
    j0 .. e - 1 that lie inside the input."""
    return [" " * ind + line for line in (
        "cw = min(ch, n1 - j0)",
        "jn = np.uint64(cw)",
        "e = j0 + cw + K1 - 1",
        "ca = min(max(ulo, j0), e)",
        "cb = min(max(uhi, ca), e)")]


def _planes_weights(K0, K1, name, tap, ind):
    sp = " " * ind
    return [f"{sp}wb = ({tap}) * {K0 * K1}"] + [
        f"{sp}{name}{p}_{q} = wf[wb + {p * K1 + q}]" for p in range(K0) for q in range(K1)]


def _planes_body(K0, K1, R):
    """The loops of :func:`source_planes`: output planes ``o`` and, where
    there is one, ``o + 1`` together (``two``). Step ``k`` adds leading tap
    ``k`` of plane ``o`` and tap ``k - 1`` of plane ``o + 1``: inside the
    volume both read the same input plane, staged once for both (``dual``);
    each output still gets its leading taps in order."""
    CH = TMP_STRIDE
    lines = [
        "    o = plo",
        "    while o < phi:",
        "        two = o + 1 < phi",
        "        pa = o * L",
        "        i = 0",
        "        while True:",
        f"            if i + {R} > n0:",
        f"                i = n0 - {R}",
        "            j0 = 0",
        "            while j0 < n1:",
        *_chunk_head(16),
        f"                for r in range({2 * R}):",
        f"                    for j in range(np.uint64(r * {CH}), np.uint64(r * {CH}) + jn):",
        "                        tmp[j] = zero",
        "                for k in range(L + 1):",
        "                    qa = pmap[pa + k] if k < L else -2",
        "                    qb = pmap[pa + L + k - 1] if two and k > 0 else -2",
        "                    dual = qa == qb and qa != -2" if K0 * K1 <= PLANES_DUAL_TAPS
        else "                    dual = False",
        "                    for jb in range(2):",
        "                        q = qa if jb == 0 else qb",
        "                        if q == -2 or (dual and jb == 1):",
        "                            continue",
        "                        tap = k - jb",
        f"                        tofs = np.uint64(jb * {R * CH})"]
    tail = [
        "                for m in range(2 if two else 1):",
        "                    ob = np.uint64((o + m) * sop + i * so + j0)",
        f"                    for r in range({R}):",
        "                        oo = ob + np.uint64(r) * uso",
        f"                        ot = np.uint64((m * {R} + r) * {CH})",
        "                        _out_row(op, oo, tmpp, ot, jn, nt)",
        "                j0 += cw",
        f"            if i + {R} >= n0:",
        "                break",
        f"            i += {R}",
        "        o += 2 if two else 1"]
    ind = 24
    lines += _planes_weights(K0, K1, "w", "tap", ind)
    lines += _planes_stage(K0, K1, R, "q", ind)
    # the rows the next block of rows adds, of the same plane and columns:
    # fetched now, they arrive while this block computes (the staging waits
    # for memory otherwise; the hardware prefetchers stop at each short run)
    lines += _prefetch_rows("q", R + K0 - 1, 2 * R + K0 - 1, ind)
    lines += [f"{' ' * ind}b{t} = np.uint64({t} * W)" for t in range(R + K0 - 1)]
    if K0 * K1 > PLANES_DUAL_TAPS:
        lines += _planes_loop(K0, K1, R, "ring", ind, ["tofs"])
        return lines + tail
    lines += ["                        if dual:"]
    lines += _planes_weights(K0, K1, "v", "k - 1", ind + 4)
    lines += _planes_loop(K0, K1, R, "ring", ind + 4, ["_Z", f"np.uint64({R * CH})"])
    lines += ["                        else:"]
    lines += _planes_loop(K0, K1, R, "ring", ind + 4, ["tofs"])
    return lines + tail


def source_planes(K0, K1):
    """Source of ``band`` for K0 x K1 weights per leading tap: output plane
    ``o`` (rows of ``so``, planes of ``sop`` in ``of``) is
    ``sum_l corr2d(X_l, W[l])`` with ``X_l`` the input plane at element
    offset ``pmap[o * L + l]`` (-1: every element is the fill value)
    extended through the row and column maps, all taps of an output summed
    in C order (leading taps, rows, columns) in the weights' type, without
    FMA contraction: scipy.ndimage's sum. For each leading tap the block's
    input rows are staged in the weights' type (converted once, the edges
    through the column map), so one loop serves every input type, edge and
    interior alike, with no per-chunk edge cases (planes are often narrow).
    Output planes go in pairs (:func:`_planes_body`). Output planes ``plo <=
    o < phi``; at least ``PLANES_ROWS`` rows per plane; scratch: ``ringp``
    ``PLANES_ROWS + K0 - 1`` rows of ``ch + K1 - 1``, ``tmpp`` ``2 *
    PLANES_ROWS * TMP_STRIDE`` elements."""
    K0, K1, R = int(K0), int(K1), PLANES_ROWS
    if not (1 <= K0 <= EXACT_MAX and 1 <= K1 <= EXACT_MAX):
        raise ValueError(f"planes kernels are for sizes up to {EXACT_MAX}, got {K0}x{K1}")
    return (_PLANES_TEMPLATE
            .replace("@CONSTS@", "\n".join(
                [f"_Q{q} = np.uint64({q})" for q in range(max(EXACT_MAX, R))]
                + [f"_T{r} = np.uint64({r * TMP_STRIDE})" for r in range(R)]
                + ["_Z = np.uint64(0)"]))
            .replace("@STORES@", _STREAM_STORES.replace("@STREAM@", str(_STREAM_ARCH)))
            .replace("@STREAM_MIN@", str(STREAM_MIN_ELEMS))
            .replace("@NR@", str(R + K0 - 1)).replace("@R@", str(2 * R))
            .replace("@CH@", str(TMP_STRIDE)).replace("@BODY@", "\n".join(_planes_body(K0, K1, R))))


# ----------------------------------------------------------------------------
# The stack kernel: small filters over three axes, output-stationary
# ----------------------------------------------------------------------------

#: Largest leading-tap count and tap count (L * K0 * K1) of the stack kernel;
#: larger filters run in the planes kernel, whose time goes into the taps
#: more than into staging (the stack kernel was timed on 3 x 3 x 3 only).
STACK_MAX_LEAD = 3
STACK_MAX_TAPS = 27
#: Rows of a staged block of the stack kernel (its loop computes
#: ``PLANES_ROWS`` of them at a time): each output plane gets this many rows
#: written in one run (runs of 4 rows across planes stored a third slower)
#: while the L staged blocks stay in the L2 cache.
#: chosen by timing the kernel (benchmarks/results/fitted_constants.md)
STACK_BLOCK = 64


def stack_applies(L, K0, K1):
    """Whether the stack kernel has a variant for L leading taps of K0 x K1."""
    return 1 <= L <= STACK_MAX_LEAD and 1 <= K0 and 1 <= K1 and L * K0 * K1 <= STACK_MAX_TAPS


def _stack_slots(L, K0, R, ind):
    """Lines finding the staging slots ``s0 .. s{L-1}`` of the input planes
    ``q0 ..`` of output plane ``o`` (slot ``v`` holds plane ``g{v}``) and
    staging the planes not held: hits first, so that a miss never takes a
    slot that this output reads; a miss takes a slot that no other leading
    tap of ``o`` holds (L slots are always enough)."""
    sp = " " * ind
    lines = []
    for l in range(L):
        chain = " else ".join(f"{v} if q{l} == g{v}" for v in range(L))
        lines += [f"{sp}q{l} = pmap[pa + {l}]",
                  f"{sp}s{l} = {chain} else -1",
                  f"{sp}st{l} = s{l} < 0"]
    for l in range(L):
        others = [m for m in range(L) if m != l]
        chain = " else ".join(f"{v} if q{l} == g{v}" for v in range(L))
        lines += [f"{sp}if st{l}:",
                  f"{sp}    s{l} = {chain} else -1",
                  f"{sp}    st{l} = s{l} < 0",
                  f"{sp}    if st{l}:"]
        for v in range(L):
            free = " and ".join(f"s{m} != {v}" for m in others)
            head = ("if True:" if L == 1 else "else:") if v == L - 1 else (
                f"{'if' if v == 0 else 'elif'} {free}:")
            lines += [f"{sp}        {head}",
                      f"{sp}            s{l} = {v}",
                      f"{sp}            g{v} = q{l}"]
    pick = lambda name: " else ".join(f"{name}{l} if l == {l}" for l in range(L - 1)) + (
        f" else {name}{L - 1}" if L > 1 else f"{name}0")
    lines += [f"{sp}for l in range({L}):",
              f"{sp}    if {pick('st')}:",
              f"{sp}        q = {pick('q')}",
              f"{sp}        sq = ({pick('s')}) * NRW"]
    return lines + _planes_stage(K0, 0, R, "q", ind + 8, "sq", "sb + K0 - 1")


def _stack_body(L, K0, K1, R):
    """The loops of :func:`source_stack`."""
    CH = TMP_STRIDE
    NR = R + K0 - 1
    lines = [f"    w{l}_{p}_{q} = wf[{(l * K0 + p) * K1 + q}]"
             for l in range(L) for p in range(K0) for q in range(K1)]
    lines += [
        f"    NRW = {STACK_BLOCK + K0 - 1} * W",
        f"    sb = min({STACK_BLOCK}, n0)",
        "    i = 0",
        "    while True:",
        "        if i + sb > n0:",
        "            i = n0 - sb",
        "        j0 = 0",
        "        while j0 < n1:",
        *_chunk_head(12)]
    lines += [f"            g{v} = -3" for v in range(L)]
    lines += ["            for o in range(plo, phi):",
              "                pa = o * L"]
    lines += _stack_slots(L, K0, R, 16)
    lines += ["                r0 = 0",
              "                while True:",
              f"                    if r0 + {R} > sb:",
              f"                        r0 = sb - {R}"]
    lines += [f"                    b{l}_{t} = np.uint64(s{l} * NRW + (r0 + {t}) * W)"
              for l in range(L) for t in range(NR)]
    sp = " " * 20
    lines.append(f"{sp}for j in range(jn):")
    lines += [f"{sp}    a{r} = zero" for r in range(R)]
    for l in range(L):
        for t in range(NR):
            for q in range(K1):
                users = [(r, t - r) for r in range(R) if 0 <= t - r < K0]
                lines.append(f"{sp}    x = ring[b{l}_{t} + j + _Q{q}]")
                lines += [f"{sp}    a{r} += x * w{l}_{p}_{q}" for r, p in users]
    lines += [f"{sp}    tmp[_T{r} + j] = a{r}" for r in range(R)]
    lines += [
        "                    ob = np.uint64(o * sop + (i + r0) * so + j0)",
        f"                    for r in range({R}):",
        "                        oo = ob + np.uint64(r) * uso",
        f"                        _out_row(op, oo, tmpp, np.uint64(r * {CH}), jn, nt)",
        f"                    if r0 + {R} >= sb:",
        "                        break",
        f"                    r0 += {R}",
        "            j0 += cw",
        "        if i + sb >= n0:",
        "            break",
        "        i += sb"]
    return lines


def source_stack(L, K0, K1):
    """Source of ``band`` (the planes kernel's signature and result) for
    exactly L leading taps of K0 x K1 weights, output-stationary: for each
    block of ``STACK_BLOCK`` rows (and column chunk), the output planes ``plo
    <= o < phi`` are computed one after another, ``PLANES_ROWS`` rows at a
    time in one loop over all their taps with the sums in registers, summed
    in C order as the planes kernel sums them (the same values, bit for
    bit). The input planes are staged in L slots and kept while the
    following output planes read them: walking through a volume, each input
    plane is staged once per block, not once per leading tap, and no partial
    sums go through memory. At least ``PLANES_ROWS`` rows per plane;
    scratch: ``ringp`` ``L * (STACK_BLOCK + K0 - 1)`` rows of ``ch + K1 -
    1``, ``tmpp`` ``PLANES_ROWS * TMP_STRIDE`` elements."""
    L, K0, K1, R = int(L), int(K0), int(K1), PLANES_ROWS
    if not stack_applies(L, K0, K1):
        raise ValueError(f"stack kernels are for up to {STACK_MAX_LEAD} leading taps and "
                         f"{STACK_MAX_TAPS} taps, got {L}x{K0}x{K1}")
    return (_PLANES_TEMPLATE
            .replace("@CONSTS@", "\n".join(
                [f"_Q{q} = np.uint64({q})" for q in range(max(EXACT_MAX, R))]
                + [f"_T{r} = np.uint64({r * TMP_STRIDE})" for r in range(R)]))
            .replace("@STORES@", _STREAM_STORES.replace("@STREAM@", str(_STREAM_ARCH)))
            .replace("@STREAM_MIN@", str(STREAM_MIN_ELEMS))
            .replace("@NR@", str(L * (STACK_BLOCK + K0 - 1))).replace("@R@", str(R))
            .replace("@CH@", str(TMP_STRIDE)).replace("@BODY@", "\n".join(_stack_body(L, K0, K1, R))))


#: Outputs of at least this many elements are written by the planes kernel
#: with streaming stores on x86-64 (float64 sums into float32 outputs): the
#: lines are not read before they are written, a third less memory traffic
#: for a volume that does not fit in the caches; smaller ones stay cached.
STREAM_MIN_ELEMS = 1 << 22
_STREAM_ARCH = platform.machine().lower() in ("x86_64", "amd64")

# Streaming stores for the planes kernel's output rows, in its source (so the
# compiled-kernel cache key covers them). _out_row(op, oo, tp, to, n, nt):
# op[oo:oo + n] = tp[to:to + n] (cast as an assignment casts); with nt, for
# float64 -> float32, 16 values per 64-byte non-temporal store where aligned.
_STREAM_STORES = '''
from llvmlite import ir as _ir
from numba import types as _types
from numba.core import cgutils as _cgutils
from numba import njit as _njit
from numba.extending import intrinsic as _intrinsic, overload as _overload

_STREAM = @STREAM@


@_intrinsic
def _addr(typingctx, p):
    def codegen(context, builder, sig, args):
        return builder.ptrtoint(args[0], _ir.IntType(64))
    return _types.uint64(p), codegen


@_intrinsic
def _store16(typingctx, op, oo, tp, to):
    def codegen(context, builder, sig, args):
        vd = _ir.VectorType(_ir.DoubleType(), 16)
        vf = _ir.VectorType(_ir.FloatType(), 16)
        v = builder.load(builder.bitcast(builder.gep(args[2], [args[3]]), vd.as_pointer()),
                         align=8)
        st = builder.store(builder.fptrunc(v, vf),
                           builder.bitcast(builder.gep(args[0], [args[1]]), vf.as_pointer()),
                           align=64)
        st.set_metadata("nontemporal",
                        builder.module.add_metadata([_ir.Constant(_ir.IntType(32), 1)]))
        return context.get_dummy_value()
    return _types.void(op, oo, tp, to), codegen


@_intrinsic
def _fence(typingctx):
    def codegen(context, builder, sig, args):
        if _STREAM:
            fn = _cgutils.get_or_insert_function(
                builder.module, _ir.FunctionType(_ir.VoidType(), []), "llvm.x86.sse.sfence")
            builder.call(fn, [])
        return context.get_dummy_value()
    return _types.void(), codegen


@_intrinsic
def _prefetch_line(typingctx, a):
    def codegen(context, builder, sig, args):
        i32 = _ir.IntType(32)
        ptr = _ir.IntType(8).as_pointer()
        fn = _cgutils.get_or_insert_function(
            builder.module, _ir.FunctionType(_ir.VoidType(), [ptr, i32, i32, i32]),
            "llvm.prefetch.p0i8")
        builder.call(fn, [builder.inttoptr(args[0], ptr), _ir.Constant(i32, 0),
                          _ir.Constant(i32, 3), _ir.Constant(i32, 1)])
        return context.get_dummy_value()
    return _types.void(a), codegen


@_intrinsic
def _elem_addr(typingctx, p, i):
    def codegen(context, builder, sig, args):
        return builder.ptrtoint(builder.gep(args[0], [args[1]]), _ir.IntType(64))
    return _types.uint64(p, i), codegen


@_njit(inline="always")
def _prefetch(p, lo, hi):
    """A read prefetch of the cache lines of elements lo <= i < hi of p."""
    a = _elem_addr(p, lo) & ~np.uint64(63)
    end = _elem_addr(p, hi)
    while a < end:
        _prefetch_line(a)
        a += np.uint64(64)


def _out_row(op, oo, tp, to, n, nt):
    pass


@_overload(_out_row)
def _out_row_impl(op, oo, tp, to, n, nt):
    if not (_STREAM and op.dtype == _types.float32 and tp.dtype == _types.float64):
        def plain(op, oo, tp, to, n, nt):
            of, t = carray(op, (oo + n,)), carray(tp, (to + n,))
            for j in range(n):
                of[oo + j] = t[to + j]
        return plain

    def streamed(op, oo, tp, to, n, nt):
        of, t = carray(op, (oo + n,)), carray(tp, (to + n,))
        j = np.uint64(0)
        if nt:
            a = _addr(op) + np.uint64(4) * oo
            while j < n and (a + np.uint64(4) * j) % np.uint64(64) != 0:
                of[oo + j] = t[to + j]
                j += np.uint64(1)
            while j + np.uint64(16) <= n:
                _store16(op, oo + j, tp, to + j)
                j += np.uint64(16)
        while j < n:
            of[oo + j] = t[to + j]
            j += np.uint64(1)
    return streamed
'''


#: the planes kernel's parameters (see native.PARAMS)
PLANES_PARAMS = "xiipiiioiiiiiiiPiPiPiiippp"

_PLANES_TEMPLATE = '''\
import numpy as np
from numba import carray
@STORES@
@CONSTS@


def band(xp, nx, sx, wp, L, K0, K1, op, no, so, sop, n1, ch, plo, phi,
         pmapp, npm, rmapp, nr, cmapp, ulo, uhi, c0, fillp, ringp, tmpp):
    xf = carray(xp, (nx,))
    wf = carray(wp, (L * K0 * K1,))
    of = carray(op, (no,))
    pmap = carray(pmapp, (npm,))
    rmap = carray(rmapp, (nr,))
    cmap = carray(cmapp, (n1 + K1 - 1,))
    fillrow = carray(fillp, (ch + K1 - 1,))
    W = ch + K1 - 1
    ring = carray(ringp, (@NR@ * W,))
    tmp = carray(tmpp, (@R@ * @CH@,))
    zero = wf.dtype.type(0)
    fillv = fillrow[0]
    uso = np.uint64(so)
    n0 = nr - K0 + 1
    nt = no >= @STREAM_MIN@
@BODY@
    _fence()
'''
