"""The leading axes of a filter over more than two axes as planes: which
input plane each (output plane, leading tap) reads, and the weights per
leading tap (the input of :func:`corrconv_gpu._dispatch.run_planes`)."""

import math

import numpy as np

from .._boundary import extend_index


def plane_map(shape, ks, starts, outs, boundary, plane_size):
    """``(Q, L)`` int64: for output plane ``o`` (C order over ``outs``) and
    leading tap ``l`` (C order over ``ks``) the element offset of the input
    plane it reads (C order over ``shape``, planes of ``plane_size``
    elements), -1 where that lies outside the input in 'constant' mode.
    Along axis ``a`` output ``i`` and tap ``t`` read input index
    ``starts[a] + i + t``, extended by ``boundary``."""
    n = len(shape)
    flat = np.zeros((1,) * (2 * n), dtype=np.int64)
    valid = np.ones((1,) * (2 * n), dtype=bool)
    for j, (m, k, s, o) in enumerate(zip(shape, ks, starts, outs)):
        pos = s + np.add.outer(np.arange(o), np.arange(k))   # (output, tap)
        idx, inside = extend_index(pos, m, boundary)
        dims = [1] * (2 * n)
        dims[j], dims[n + j] = o, k
        flat = flat * m + idx.reshape(dims)
        if boundary == "constant":
            valid = valid & inside.reshape(dims)
    pmap = np.where(valid, flat * plane_size, -1)
    return np.broadcast_to(pmap, tuple(outs) + tuple(ks)).reshape(
        math.prod(outs), math.prod(ks))


def tap_weights(w, nlead, flip):
    """``w`` (leading axes, then two) as ``(L, K0, K1)``, the leading taps in
    C order, reversed along the leading axes for convolution (the 2-D
    kernels read the last two axes flipped themselves)."""
    if flip:
        w = w[(slice(None, None, -1),) * nlead]
    return w.reshape((math.prod(w.shape[:nlead]),) + w.shape[nlead:])
