"""The generic CPU method: one vectorized NumPy pass per tap.

For dtypes no compiled method handles (object arrays such as Decimal, long
double). Same window contract as the other methods.
"""

import numpy as np


def correlate_window(x, xr0, xc0, w, flip, conj, out, or0, oc0, n0, n1):
    """out[or0+i, oc0+j] = sum_{p,q} x[xr0+i+p, xc0+j+q] * W(p,q)."""
    k0, k1 = w.shape
    acc = None
    for p in range(k0):
        for q in range(k1):
            wv = w[k0 - 1 - p, k1 - 1 - q] if flip else w[p, q]
            if conj:
                wv = np.conj(wv)
            term = x[xr0 + p:xr0 + p + n0, xc0 + q:xc0 + q + n1] * wv
            acc = term if acc is None else acc + term
    out[or0:or0 + n0, oc0:oc0 + n1] = acc
