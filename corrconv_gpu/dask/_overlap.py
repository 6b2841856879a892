"""The chunk machinery of :mod:`corrconv_gpu.dask`: Dask arrays in, the
weights once in the graph, lazy edge extension, overlapped blocks."""

import dask
import dask.array as da
import numpy as np
from dask.array.utils import meta_from_array

from .._boundary import extend_index
from .._util.arrays import array_namespace, to_numpy


# ------------------------------------------------------------------ helpers

def _as_dask(x):
    return x if isinstance(x, da.Array) else da.asarray(x)


def _weights(w):
    """The weights as a NumPy array (CuPy weights are copied to the host)."""
    if isinstance(w, da.Array):
        w = w.compute()
    return np.asarray(to_numpy(w))


def _check_output(output):
    if output is None or isinstance(output, (type, np.dtype, str)):
        return
    raise TypeError("corrconv_gpu.dask: `output` must be None or a dtype for "
                    "Dask arrays (an output array cannot be written in place)")


def _merge_small(sizes, need):
    """Merge chunk sizes so that every chunk is >= need (if there are >= 2)."""
    out = []
    for c in sizes:
        if out and out[-1] < need:
            out[-1] += c
        else:
            out.append(c)
    while len(out) > 1 and out[-1] < need:
        last = out.pop()
        out[-1] += last
    return out


def _extend(x, axis, lpad, rpad, mode, fill):
    """``x`` extended on ``axis`` by ``lpad``/``rpad`` elements (lazily)."""
    n = x.shape[axis]
    parts = []

    def strip(idx):
        if mode == "constant":
            shape = list(x.shape)
            shape[axis] = len(idx)
            chunks = list(x.chunks)
            chunks[axis] = (len(idx),)
            return da.full_like(x, fill, shape=tuple(shape), chunks=tuple(chunks),
                                dtype=x.dtype)
        src, _ = extend_index(idx, n, mode)
        return x[(slice(None),) * axis + (src,)]

    if lpad > 0:
        parts.append(strip(np.arange(-lpad, 0)))
    parts.append(x)
    if rpad > 0:
        parts.append(strip(np.arange(n, n + rpad)))
    return da.concatenate(parts, axis=axis) if len(parts) > 1 else x


def _overlap_apply(x, w, geometry, block_fn, out_dtype, fill=None):
    """Run ``block_fn`` over overlapped blocks.

    ``geometry``: per axis ``(K, lpad, rpad, ext)``: the output element ``i``
    reads the input ``[i - lpad, i - lpad + K)`` (in the extended array when
    ``ext`` names an extension; ``ext`` None: no extension is built, the
    task supplies the edges and ``lpad + rpad == K - 1``). The output has
    ``M + lpad + rpad - K + 1`` elements on the axis (>= 1).
    """
    q_all, n_all, depth = [], [], {}
    for axis, (k, lpad, rpad, ext) in enumerate(geometry):
        c = list(x.chunks[axis])
        if ext is not None:
            if lpad > 0 or rpad > 0:
                x = _extend(x, axis, lpad, rpad, ext, fill)
            dl = min(lpad, k - 1)
            dr = k - 1 - dl
            q = list(c)
            q[0] += lpad
            q[-1] += rpad
            q = _merge_small(q, max(dl, dr, 1))
            while len(q) > 1 and q[0] - dl < 1:
                q[0:2] = [q[0] + q[1]]
            while len(q) > 1 and q[-1] - dr < 1:
                q[-2:] = [q[-2] + q[-1]]
            n = list(q)
            if len(q) == 1:
                n[0] = q[0] - (k - 1)
            else:
                n[0] -= dl
                n[-1] -= dr
        else:
            dl, dr = lpad, rpad
            q = _merge_small(c, max(dl, dr, 1))
            n = list(q)
        q_all.append(tuple(q))
        n_all.append(tuple(n))
        # a single chunk has no neighbour to borrow from (and Dask refuses a
        # depth larger than it)
        depth[axis] = (dl, dr) if (dl or dr) and len(q) > 1 else 0
    x = x.rechunk(tuple(q_all))
    meta = meta_from_array(x, ndim=x.ndim, dtype=out_dtype)
    w_key = dask.delayed(w, pure=True)
    return da.map_overlap(block_fn, x, depth=depth, boundary="none", trim=False,
                          allow_rechunk=False, chunks=tuple(n_all),
                          dtype=out_dtype, meta=meta, w=w_key)


def _whole(x, w, axes, out_shape, block_fn, out_dtype):
    """One task over the filtered ``axes`` (the other axes keep their chunks)."""
    x = x.rechunk({a: -1 for a in axes})
    chunks = tuple((out_shape[a],) if a in axes else x.chunks[a]
                   for a in range(x.ndim))
    meta = meta_from_array(x, ndim=x.ndim, dtype=out_dtype)
    return da.map_blocks(block_fn, x, w=dask.delayed(w, pure=True),
                         chunks=chunks, dtype=out_dtype, meta=meta)


def _eager_empty(x, result):
    """A computed (empty-input) result as a Dask array of the input's type."""
    xp = array_namespace(x._meta)
    return da.from_array(xp.asarray(result), chunks=result.shape or ())
