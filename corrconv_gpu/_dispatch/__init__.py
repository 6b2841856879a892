"""Dispatch: the one place a call crosses from the frontends into a backend.

:func:`run` selects the backend (:mod:`.backend`), executes the plan there and
returns a new array of the plan's dtype in the input's namespace; the method
choice and its cost model are :mod:`.cost`.
"""

import math

import numpy as np

from .._util.arrays import array_namespace, is_cupy_array, to_numpy
from .._util.cast import cast_result
from .cost import check_method
from .backend import select


def sizes(plan, x, w):
    """``(macs, nbytes)`` of a problem as :func:`.backend.select` takes them:
    its multiply-adds and the bytes a NumPy input would copy to a device and
    back."""
    n_out = float(math.prod(x.shape[:-2])) * float(math.prod(plan.out_shape))
    macs = n_out * float(math.prod(w.shape))
    return macs, (x.size + n_out) * np.dtype(plan.dtype).itemsize


def run(plan, x, w, method, fast_float32, launches=None):
    """Execute a plan on the chosen backend; returns the result array.

    ``x`` is one frame (M0, M1) or a stack (B, M0, M1) filtered in one
    backend call; the result is (O0, O1) or (B, O0, O1), a new array.
    ``launches``: the CPU backend's prepared launches of a repeated call
    (see :func:`run_prepared`).
    """
    check_method(method)
    xp = array_namespace(x)
    backend = select(is_cupy_array(x), *sizes(plan, x, w))
    if backend != "cpu":
        from .._backends import cuda
        if not cuda.supports(plan):  # bool, object: the CPU path
            backend = "cpu"
    if backend != "cpu":
        out = cuda.execute(plan, x, w, method=method, fast_float32=fast_float32,
                           emulated=backend == "emulated")
        # NumPy in, NumPy out; CuPy in, CuPy out (the emulator works on the host)
        out = to_numpy(out) if xp is np else out if type(out) is xp.ndarray else xp.asarray(out)
    else:
        from .._backends import cpu
        out = cast_result(cpu.execute(plan, to_numpy(x), to_numpy(w), method,
                                      fast_float32, launches), plan.dtype)
        out = xp.asarray(out)
    if plan.reverse_output:
        out = xp.ascontiguousarray(out[..., ::-1, ::-1])
    return out


def run_prepared(launches, sizes_, x, w, method, fast_float32):
    """A repeated NumPy call's short path: the CPU launch an earlier
    :func:`run` prepared in ``launches`` for ``(method, fast_float32)``, run
    when the CPU is still the backend :func:`.backend.select` picks for the
    problem's ``sizes_``; None where there is none (the caller runs
    :func:`run`)."""
    if method.__class__ is str and fast_float32.__class__ is bool:
        launch = launches.get((method, fast_float32))   # only for a valid method
        if launch and select(False, *sizes_) == "cpu":
            return launch(x, w)
    return None
