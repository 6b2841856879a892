"""`scipy.ndimage`-compatible correlation and convolution.

``correlate``, ``convolve``, ``correlate1d`` and ``convolve1d`` with SciPy's
semantics (modes, ``cval``, ``origin``, ``output``, ``axes``, dtypes and
messages) for filters along any axes of an input of any rank: 1-D signals,
2-D images, volumes and stacks of them. A 1-D or 2-D filter is one plan
(:func:`corrconv_gpu._plan.plan_ndimage`) executed in one backend call; more
filtered axes run on the CPU as one pass of the planes kernel, on a device as
stacks of 2-D calls, one per tap of the leading axes.

Examples
--------
>>> import numpy as np
>>> from corrconv_gpu import ndimage
>>> ndimage.correlate1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
array([ 8, 26,  8, 12,  7, 28, 36,  9])
"""

from ._frontend.docs import docfill
from ._frontend.ndimage import correlate_or_convolve, correlate_or_convolve1d

__all__ = ["correlate", "convolve", "correlate1d", "convolve1d"]


def correlate1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0,
                origin=0, *, method="auto", fast_float32=False):
    """Calculate a 1-D correlation along the given axis, as `scipy.ndimage.correlate1d`.

    The lines of the array along the given axis are correlated with the
    given weights: ``out[i] = sum_j conj(weights[j]) * input_e[i + j - len(weights) // 2 - origin]``
    along `axis`, ``input_e`` being the input extended by `mode`.

    Parameters
    ----------
    %(input)s
    weights : array
        1-D sequence of numbers.
    axis : int, optional
        The axis of `input` along which to calculate. Default is -1.
    %(output)s
    %(mode)s
    %(cval)s
    %(origin)s
    %(ndimage_ext)s

    Returns
    -------
    result : ndarray
        Correlation result. Has the same shape as `input`.

    Examples
    --------
    >>> from corrconv_gpu.ndimage import correlate1d
    >>> correlate1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([ 8, 26,  8, 12,  7, 28, 36,  9])
    """
    return correlate_or_convolve1d(input, weights, axis, output, mode, cval, origin,
                                   False, method, fast_float32)


def convolve1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0,
               origin=0, *, method="auto", fast_float32=False):
    """Calculate a 1-D convolution along the given axis, as `scipy.ndimage.convolve1d`.

    The lines of the array along the given axis are convolved with the
    given weights: :func:`correlate1d` with the weights reversed (read
    reversed on the device, never copied) and the origin ``-origin``, minus
    1 for an even length (SciPy's rule). Never conjugates.

    Parameters
    ----------
    %(input)s
    weights : ndarray
        1-D sequence of numbers.
    axis : int, optional
        The axis of `input` along which to calculate. Default is -1.
    %(output)s
    %(mode)s
    %(cval)s
    %(origin)s
    %(ndimage_ext)s

    Returns
    -------
    convolve1d : ndarray
        Convolved array with same shape as input

    Examples
    --------
    >>> from corrconv_gpu.ndimage import convolve1d
    >>> convolve1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])
    array([14, 24,  4, 13, 12, 36, 27,  0])
    """
    return correlate_or_convolve1d(input, weights, axis, output, mode, cval, origin,
                                   True, method, fast_float32)


def correlate(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *,
              axes=None, method="auto", fast_float32=False):
    """Multidimensional correlation, as `scipy.ndimage.correlate`.

    The array is correlated with the given kernel: ``out[i] = sum_j
    conj(weights[j]) * input_e[i + j - shape // 2 - origin]`` over the
    filtered axes, ``input_e`` being the input extended by `mode`.

    Parameters
    ----------
    %(input)s
    weights : ndarray
        array of weights, same number of dimensions as input (as the number
        of `axes` when given).
    %(output)s
    %(mode)s
    %(cval)s
    %(origins)s
    %(axes)s
    %(ndimage_ext)s

    Returns
    -------
    result : ndarray
        The result of correlation of `input` with `weights`.

    Notes
    -----
    %(notes)s

    Examples
    --------
    >>> import numpy as np
    >>> from corrconv_gpu.ndimage import correlate
    >>> input_img = np.arange(25).reshape(5, 5)
    >>> weights = [[0, 1, 0],
    ...            [1, 1, 1],
    ...            [0, 1, 0]]
    >>> correlate(input_img, weights)
    array([[  6,  10,  15,  20,  24],
           [ 26,  30,  35,  40,  44],
           [ 51,  55,  60,  65,  69],
           [ 76,  80,  85,  90,  94],
           [ 96, 100, 105, 110, 114]])

    A stack of images, each filtered with the same 2-D kernel:

    >>> correlate(np.ones((4, 5, 5)), np.ones((3, 3)), axes=(1, 2))[:, 2, 2]
    array([9., 9., 9., 9.])
    """
    return correlate_or_convolve(input, weights, output, mode, cval, origin, False,
                                 axes, method, fast_float32)


def convolve(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *,
             axes=None, method="auto", fast_float32=False):
    """Multidimensional convolution, as `scipy.ndimage.convolve`.

    The array is convolved with the given kernel: :func:`correlate` with the
    weights reversed on every axis (read reversed on the device, never
    copied) and, per axis, the origin ``-origin``, minus 1 for an even
    length (SciPy's rule). Never conjugates.

    Parameters
    ----------
    %(input)s
    weights : array_like
        Array of weights, same number of dimensions as input (as the number
        of `axes` when given).
    %(output)s
    %(mode)s
    %(cval)s
    %(origins)s
    %(axes)s
    %(ndimage_ext)s

    Returns
    -------
    result : ndarray
        The result of convolution of `input` with `weights`.

    Notes
    -----
    Each value in result is :math:`C_i = \\sum_j{I_{i+k-j} W_j}`, where W is
    the `weights` kernel, j is the N-D spatial index over :math:`W`, I is the
    `input` and k is the coordinate of the center of W, specified by
    `origin` in the input parameters.

    %(notes)s

    Examples
    --------
    >>> import numpy as np
    >>> from corrconv_gpu.ndimage import convolve
    >>> a = np.array([[1, 2, 0, 0],
    ...               [5, 3, 0, 4],
    ...               [0, 0, 0, 7],
    ...               [9, 3, 0, 0]])
    >>> k = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0]])
    >>> convolve(a, k, mode='constant', cval=0.0)
    array([[11, 10,  7,  4],
           [10,  3, 11, 11],
           [15, 12, 14,  7],
           [12,  3,  7,  0]])
    >>> convolve(a, k, mode='constant', cval=1.0)
    array([[13, 11,  8,  7],
           [11,  3, 11, 14],
           [16, 12, 14, 10],
           [15,  6, 10,  5]])
    """
    return correlate_or_convolve(input, weights, output, mode, cval, origin, True,
                                 axes, method, fast_float32)


docfill(correlate1d, convolve1d, correlate, convolve)
