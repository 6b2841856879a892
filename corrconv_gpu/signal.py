"""`scipy.signal`-compatible correlation and convolution, N-D.

``correlate``, ``convolve``, ``fftconvolve``, ``oaconvolve`` and
``choose_conv_method`` with SciPy's semantics (modes full/same/valid, the
argument swaps, conjugation, dtypes and messages) for arrays of any
dimensionality, and ``correlate2d``/``convolve2d``. The top-level
``corrconv_gpu.correlate``/``convolve`` stay NumPy's 1-D functions.

'direct' sums exactly in the result type on the backends' kernels; 'fft'
uses whole-array transforms computed in double precision (SciPy transforms
float32 in float32); 'auto' chooses by our cost model ('direct' for
integers, which it keeps exact).

Examples
--------
>>> import numpy as np
>>> from corrconv_gpu import signal
>>> signal.correlate(np.ones((2, 2, 2), int), np.ones((2, 2, 2), int), "valid")
array([[[8]]])
"""

from ._frontend.signal2d import convolve2d, correlate2d
from ._frontend.signalnd import choose_conv_method, convolve, correlate, fftconvolve

__all__ = ["correlate", "convolve", "fftconvolve", "oaconvolve", "choose_conv_method",
           "correlate2d", "convolve2d"]


def oaconvolve(in1, in2, mode="full", axes=None):
    """`scipy.signal.oaconvolve`: the same values as :func:`fftconvolve`
    (overlap-add is SciPy's way to compute them; here the whole-array
    transforms)."""
    return fftconvolve(in1, in2, mode=mode, axes=axes)
