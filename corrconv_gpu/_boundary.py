"""Boundary extension by index maps: the one place the host reads outside the input.

::

    constant  k k k k | a b c d | k k k k     (scipy.signal 'fill')
    wrap      a b c d | a b c d | a b c d     (scipy.signal 'wrap')
    symmetric d c b a | a b c d | d c b a     (scipy.signal 'symm', numpy.pad 'symmetric')
    mirror      d c b | a b c d | c b a       (numpy.pad 'reflect')
    nearest   a a a a | a b c d | d d d d     (numpy.pad 'edge')

All but ``constant`` are periodic (period n, 2n, 2n-2), so kernels larger than
the input work. This module is the one vocabulary: the plan's names, the
kernels' codes and the frontends' aliases; frontends convert at their edge.
"""

import numpy as np

# the plan's names, in the order of the kernels' BOUNDARY template codes
# (kernels/corr2d.cu)
MODES = ("constant", "wrap", "symmetric", "mirror", "nearest")
CODES = {name: code for code, name in enumerate(MODES)}

# scipy.signal's boundary flags; 'reflect' is in SciPy's table but refused by
# its C code (None: the frontend raises SciPy's error)
SIGNAL_BOUNDARIES = {"fill": "constant", "pad": "constant",
                     "wrap": "wrap", "circular": "wrap",
                     "symm": "symmetric", "symmetric": "symmetric",
                     "reflect": None}

# scipy.ndimage's modes (for filters the grid-* names are synonyms)
NDIMAGE_MODES = {"reflect": "symmetric", "grid-mirror": "symmetric",
                 "mirror": "mirror", "nearest": "nearest",
                 "wrap": "wrap", "grid-wrap": "wrap",
                 "constant": "constant", "grid-constant": "constant"}


def extend_index(idx, n, mode, xp=np):
    """Map positions ``idx`` (any integers) into ``[0, n)`` for ``mode``.

    Returns ``(index, inside)``; ``inside`` is False where ``constant`` reads
    the fill value (the index there is clipped, only to stay in bounds).
    """
    inside = (idx >= 0) & (idx < n)
    if mode == "constant":
        return xp.clip(idx, 0, max(n - 1, 0)), inside
    if n == 0:
        raise ValueError(f"boundary {mode!r} cannot extend an empty input")
    if mode == "wrap":
        return idx % n, inside
    if mode == "symmetric":
        m = idx % (2 * n)
        return xp.where(m < n, m, 2 * n - 1 - m), inside
    if mode == "mirror":
        if n == 1:
            return xp.zeros_like(idx), inside
        m = idx % (2 * n - 2)
        return xp.where(m < n, m, 2 * n - 2 - m), inside
    if mode == "nearest":
        return xp.clip(idx, 0, n - 1), inside
    raise ValueError(f"unknown boundary {mode!r}")


def inside_run(start, count, n):
    """Offsets ``[a, b)`` of the positions ``start .. start+count-1`` that lie
    inside ``[0, n)`` (they read input index ``start + offset`` directly;
    the offsets before ``a`` and from ``b`` on read the extension)."""
    a = min(max(-start, 0), count)
    return a, min(max(n - start, a), count)


def _runs(start, stop, n):
    """Split positions start..stop-1 into (before, inside, after) ranges of
    offsets; the inside run reads input indices start + offset directly."""
    count = stop - start
    a, b = inside_run(start, count, n)
    return ((0, a, False), (a, b, True), (b, count, False))


def extended_block(x, rows, cols, mode, fill, xp=np, out=None):
    """``X[rows[0]:rows[1], cols[0]:cols[1]]`` of the boundary-extended ``x``.

    The part inside ``x`` is one slice copy; only the border strips are
    gathered through index maps.  ``out``: a 2-D array of the block's shape
    to write into (cast to its dtype) instead of a new one.
    """
    ri, rin = extend_index(xp.arange(rows[0], rows[1]), x.shape[0], mode, xp)
    ci, cin = extend_index(xp.arange(cols[0], cols[1]), x.shape[1], mode, xp)
    if out is None:
        out = xp.empty((len(ri), len(ci)), dtype=x.dtype)
    block = out
    if x.shape[0] == 0 or x.shape[1] == 0:  # only 'constant' gets here
        block[...] = fill
        return block
    for r0, r1, rdirect in _runs(rows[0], rows[1], x.shape[0]):
        if r0 == r1:
            continue
        for c0, c1, cdirect in _runs(cols[0], cols[1], x.shape[1]):
            if c0 == c1:
                continue
            if rdirect and cdirect:
                block[r0:r1, c0:c1] = x[rows[0] + r0:rows[0] + r1,
                                        cols[0] + c0:cols[0] + c1]
            elif mode == "constant":
                block[r0:r1, c0:c1] = fill
            else:
                block[r0:r1, c0:c1] = x[ri[r0:r1, None], ci[None, c0:c1]]
    return block
