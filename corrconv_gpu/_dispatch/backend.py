"""Backend selection: which backend runs a plan, and why.

``cpu`` is always available. ``cuda`` needs CuPy and a CUDA device; CuPy is
imported only when a CuPy array is passed, when ``cuda`` is forced, when
:func:`backends` is called, or when ``auto`` meets a NumPy problem large enough
to pay the transfer and CuPy is installed. ``emulated`` runs the CUDA kernels
on the CPU emulator (tests where there is no GPU); ``auto`` never picks it.
Force a backend with :func:`use_backend` or ``CORRCONV_GPU_BACKEND`` (the
context manager wins); forcing an unavailable one raises ``RuntimeError``
with the reason, ``auto`` never raises.
"""

import contextlib
import contextvars
import importlib.util
import os
from dataclasses import dataclass

from .._util.memo import memoize

ENV_VAR = "CORRCONV_GPU_BACKEND"
CHOICES = ("auto", "cpu", "cuda", "emulated")
# NumPy inputs go to a GPU only when the problem has at least GPU_MIN_MACS
# multiply-adds AND at least GPU_MIN_MACS_PER_BYTE of them per byte copied
# (input to the device, result back): below that the copies outweigh the
# work. A host with fewer cores moves the crossover down, so the rule errs
# on the CPU side there.
# fitted by benchmarks/gpu_probe.py --numpy (benchmarks/results/fitted_constants.md)
GPU_MIN_MACS = 1.0e7
GPU_MIN_MACS_PER_BYTE = 4.0

_forced = contextvars.ContextVar("corrconv_gpu_backend", default=None)


@dataclass(frozen=True)
class BackendInfo:
    name: str
    available: bool
    reason: str  # why not available ('' when available)


def _check_choice(name, source):
    if name not in CHOICES:
        raise ValueError(f"{source} must be one of 'auto', 'cpu', 'cuda' or "
                         f"'emulated' (got {name!r})")
    return name


# os.environ's own dict, read directly: Mapping.get on os.environ costs a
# microsecond when the variable is unset (a KeyError raised and caught), a
# noticeable part of a repeated GPU call; os.environ keeps it current
try:
    _ENV_DATA, _ENV_KEY = os.environ._data, os.environ.encodekey(ENV_VAR)
except AttributeError:  # pragma: no cover - another os.environ implementation
    _ENV_DATA = None


def _env():
    if _ENV_DATA is not None and getattr(os.environ, "_data", None) is _ENV_DATA:
        v = _ENV_DATA.get(_ENV_KEY)
        return "" if v is None else os.environ.decodevalue(v)
    return os.environ.get(ENV_VAR, "")


def requested():
    """The backend asked for: the innermost :func:`use_backend`, else the env var."""
    name = _forced.get()
    if name is not None:
        return name
    env = _env()
    if not env:
        return "auto"
    env = env.strip().lower()
    return _check_choice(env, f"environment variable {ENV_VAR}") if env else "auto"


def use_backend(name):
    """Force a backend inside a ``with`` block: ``'auto'``, ``'cpu'`` or ``'cuda'``.

    Also usable as a function decorator. Blocks nest; the innermost wins.

    Examples
    --------
    >>> import numpy as np, corrconv_gpu
    >>> with corrconv_gpu.use_backend("cpu"):
    ...     corrconv_gpu.correlate2d(np.ones((3, 3)), np.ones((2, 2)), "valid")
    array([[4., 4.],
           [4., 4.]])
    """
    return _UseBackend(_check_choice(name, "backend"))


class _UseBackend(contextlib.ContextDecorator):
    """The context manager of :func:`use_backend`: a plain class, not a
    generator (a call inside a ``with`` block pays two method calls, which
    matters for small images)."""

    __slots__ = ("_name", "_tokens")

    def __init__(self, name):
        self._name, self._tokens = name, []

    def _recreate_cm(self):   # a decorated function: a new one per call (threads)
        return _UseBackend(self._name)

    def __enter__(self):
        self._tokens.append(_forced.set(self._name))

    def __exit__(self, *exc):
        _forced.reset(self._tokens.pop())
        return False


@memoize(None)
def _emulated_status():
    import shutil
    if shutil.which(os.environ.get("CXX", "g++")) is None:
        return False, "no C++ compiler (g++) for the CUDA emulator"
    return True, ""


@memoize(None)
def _cuda_status():
    if importlib.util.find_spec("cupy") is None:
        return False, "CuPy not installed"
    try:
        import cupy
    except Exception as exc:  # a broken install is a reason, not a crash
        return False, f"CuPy failed to import ({type(exc).__name__}: {exc})"
    try:
        if not cupy.cuda.is_available():
            return False, "no CUDA device"
    except Exception as exc:
        return False, f"no CUDA device ({type(exc).__name__}: {exc})"
    from .._backends import cuda
    if not cuda.READY:
        return False, "the CUDA backend is not built into this version"
    return True, ""


def backends():
    """What is available, and if not, why.

    Returns
    -------
    dict
        ``{'cpu': BackendInfo, 'cuda': BackendInfo}``.
    """
    ok, why = _cuda_status()
    eok, ewhy = _emulated_status()
    return {"cpu": BackendInfo("cpu", True, ""),
            "cuda": BackendInfo("cuda", ok, why),
            "emulated": BackendInfo("emulated", eok, ewhy)}


def select(on_device, macs, nbytes=0):
    """The backend for one call: ``'cpu'`` or ``'cuda'``.

    ``on_device``: the image is a CuPy array. ``macs``: multiply-adds of the
    problem, ``nbytes``: bytes a NumPy input would copy to the device and
    back (the transfer threshold of NumPy inputs: :data:`GPU_MIN_MACS`,
    :data:`GPU_MIN_MACS_PER_BYTE`).
    """
    name = requested()
    if name == "cpu":
        return "cpu"
    if name == "cuda":
        ok, why = _cuda_status()
        if not ok:
            raise RuntimeError(f"backend 'cuda' was requested but is unavailable: {why}")
        return "cuda"
    if name == "emulated":
        ok, why = _emulated_status()
        if not ok:
            raise RuntimeError(f"backend 'emulated' was requested but is unavailable: {why}")
        return "emulated"
    if on_device:
        return "cuda" if _cuda_status()[0] else "cpu"
    if (macs >= GPU_MIN_MACS and macs >= GPU_MIN_MACS_PER_BYTE * nbytes
            and importlib.util.find_spec("cupy") is not None):
        return "cuda" if _cuda_status()[0] else "cpu"
    return "cpu"
