"""``output=`` handling shared by every frontend, as scipy.ndimage has it.

``output`` is ``None`` (a new array of the default dtype), a dtype (a type
such as ``np.float32``, a ``np.dtype`` or a dtype string: a new array of that
dtype) or an array of the output's shape, written in place and returned.
The rules and messages are those of SciPy's ``_ni_support._get_output``::

    array of another shape                 RuntimeError("output shape not correct")
    str naming a non-numeric dtype         RuntimeError("output must have numeric dtype")
    complex result, real array or str      RuntimeError("output must have complex dtype")
    complex result, real type or dtype     UserWarning, promoted to complex

The backends return a new array, so an ``output`` that overlaps the input
is written only after the whole result has been computed.
"""

import warnings

import numpy as np

from .._util.arrays import array_namespace, is_cupy_array


def resolve(output, shape, default_dtype, complex_output=False, like=None):
    """Check ``output`` against the result ``shape`` (and, for an array, that
    it is a NumPy/CuPy array as ``like``, the input, is).

    Returns ``(array, dtype)``: ``array`` is the caller's array to write into
    (or None) and ``dtype`` the dtype of the returned result.
    """
    shape = tuple(shape)
    if output is None:
        return None, np.dtype(default_dtype)
    if isinstance(output, (type, np.dtype)):
        dtype = np.dtype(output)
        if complex_output and dtype.kind != "c":
            warnings.warn("promoting specified output dtype to complex", stacklevel=4)
            dtype = np.promote_types(dtype, np.complex64)
        return None, dtype
    if isinstance(output, str):
        dtype = np.dtype(output)
        if complex_output and dtype.kind != "c":
            raise RuntimeError("output must have complex dtype")
        if not issubclass(dtype.type, np.number):
            raise RuntimeError("output must have numeric dtype")
        return None, dtype
    if not (isinstance(output, np.ndarray) or is_cupy_array(output)):
        output = np.asarray(output)   # SciPy's asarray: a list is a (new) array
    if like is not None:
        same_kind_as_input(output, like)
    if tuple(output.shape) != shape:
        raise RuntimeError("output shape not correct")
    if complex_output and output.dtype.kind != "c":
        raise RuntimeError("output must have complex dtype")
    return output, output.dtype


def same_kind_as_input(output, x):
    """An output array must live where the input does (NumPy or CuPy)."""
    if is_cupy_array(output) != is_cupy_array(x):
        where = "a CuPy" if is_cupy_array(x) else "a NumPy"
        raise TypeError(f"output must be {where} array like the input "
                        f"(got {type(output).__module__}.{type(output).__name__})")


def deliver(result, array, dtype, cast):
    """Return ``cast(result, dtype)``, written into ``array`` when one was given.

    ``result`` is a new array (never a view of the input), so writing it into
    an ``array`` that shares memory with the input is safe; or ``array``
    itself, which a path wrote in place (never where it overlaps the input).
    """
    res = cast(result, dtype)
    if array is None or res is array:
        return res
    xp = array_namespace(array)
    xp.copyto(array, res, casting="unsafe")
    return array
