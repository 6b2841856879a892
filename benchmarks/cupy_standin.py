"""A stand-in for CuPy that records kernel launches instead of running them.

Installed as ``cupy`` (:func:`installed`), it lets the library's real CuPy
path run on a machine without a GPU: the public functions, validation, plan,
dispatch, argument packing and the launch itself, down to
``RawModule.get_function(name)(grid, block, args, shared_mem=...)``, which
appends the launch to :data:`LAUNCHES` and returns. Used by
``benchmarks/host_overhead.py`` (host microseconds per call) and by the tests
(``tests/backends/cuda/test_host_path.py``: no device-to-host traffic, the
packed arguments, the launch memo).

Arrays carry shape, strides and dtype only: each is a NumPy view of one
shared scratch buffer whose contents mean nothing. Operations that would
produce new device data return new such arrays without computing anything.
Anything that would bring device data or a device state to the host raises
:class:`DeviceToHost`: ``get()``, ``cupy.asnumpy``, ``__array__``,
``__float__`` / ``__int__`` / ``__bool__`` / ``__index__`` / ``item()`` /
``tolist()``, stream and device synchronisation, copies to host memory.
Host-to-device copies (``cupy.asarray`` of a NumPy array) are counted in
:data:`COUNTS` (``"h2d"``).
"""

import collections
import contextlib
import importlib.machinery
import math
import operator
import sys
import time
import types

import numpy as np


class DeviceToHost(AssertionError):
    """A device-to-host copy or a synchronisation on the stand-in."""


LAUNCHES = collections.deque(maxlen=256)   # (name, grid, block, args, shared_mem)
COUNTS = collections.Counter()             # "launch", "alloc", "h2d", "compile", "get_function"
# nanoseconds spent inside the stand-in's own functions (array operations
# and launches, the outermost call counted once): what stands for CuPy's
# host time, so that a benchmark can tell the library's time from it
TIME_NS = [0]
CALLS = [0]          # outermost stand-in calls (each pays the timing's own cost)
_depth = [0]


def _timed(f):
    def g(*a, **k):
        if _depth[0]:
            return f(*a, **k)
        _depth[0] = 1
        CALLS[0] += 1
        t0 = time.perf_counter_ns()
        try:
            return f(*a, **k)
        finally:
            TIME_NS[0] += time.perf_counter_ns() - t0
            _depth[0] = 0
    g.__name__, g.__doc__ = f.__name__, f.__doc__
    return g

_scratch = [np.empty(1 << 16, np.uint8)]


def _blank(shape, dtype):
    """A C-contiguous NumPy array of ``shape`` / ``dtype`` on the scratch buffer."""
    if type(shape) is not tuple:
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (int(shape),)
    dtype = dtype if type(dtype) is np.dtype else np.dtype(dtype)
    n = math.prod(shape) * dtype.itemsize
    COUNTS["alloc"] += 1          # a new device array: one allocation / device operation
    buf = _scratch[0]
    if n > buf.nbytes:
        buf = _scratch[0] = np.empty(max(n, 2 * buf.nbytes), np.uint8)
    return np.ndarray(shape, dtype, buffer=buf)


def _raise(what):
    raise DeviceToHost(f"device-to-host transfer or synchronisation on the CuPy path: {what}")


def _unwrap(v):
    if type(v) is ndarray:
        return v._a
    if isinstance(v, (tuple, list)):
        return type(v)(_unwrap(e) for e in v)
    return v


def _wrap(v):
    if isinstance(v, (np.ndarray, np.generic)):
        a = np.asarray(v)
        return ndarray._of(a if a.base is not None or a.size == 0 else _blank(a.shape, a.dtype))
    if isinstance(v, tuple):
        return tuple(_wrap(e) for e in v)
    return v


class _Data:
    __slots__ = ("ptr",)

    def __init__(self, ptr):
        self.ptr = ptr


class ndarray:  # noqa: N801  (CuPy's name)
    """Shape, strides and dtype of a device array; no data."""

    # plain attributes, as fast to read as CuPy's (C-level) ones
    __slots__ = ("_a", "shape", "dtype", "strides", "ndim", "size", "itemsize",
                 "__weakref__")

    def __init__(self, shape, dtype=float):
        self._set(_blank(shape, dtype))

    def _set(self, a):
        self._a, self.shape, self.dtype, self.strides = a, a.shape, a.dtype, a.strides
        self.ndim, self.size, self.itemsize = a.ndim, a.size, a.itemsize

    @classmethod
    def _of(cls, a):
        obj = object.__new__(cls)
        obj._set(a)
        return obj

    nbytes = property(lambda s: s._a.nbytes)
    flags = property(lambda s: s._a.flags)
    data = property(lambda s: _Data(s._a.__array_interface__["data"][0]))
    T = property(lambda s: ndarray._of(s._a.T))
    real = property(lambda s: _wrap(np.real(s._a)))
    imag = property(lambda s: _wrap(np.imag(s._a)))

    def __len__(self):
        return len(self._a)

    def __repr__(self):
        return f"<stand-in cupy.ndarray shape={self.shape} dtype={self.dtype}>"

    @_timed
    def reshape(self, *shape, order="C"):
        return ndarray._of(self._a.reshape(*shape, order=order))

    @_timed
    def transpose(self, *axes):
        return ndarray._of(self._a.transpose(*axes))

    @_timed
    def ravel(self):
        return ndarray._of(self._a.ravel())

    @_timed
    def view(self, *a):
        return ndarray._of(self._a.view(*a))

    @_timed
    def __getitem__(self, key):
        return _wrap(self._a[_unwrap(key)])

    @_timed
    def __setitem__(self, key, value):
        if isinstance(value, np.ndarray) and value.size > 1:
            COUNTS["h2d"] += 1
        # device work: nothing to do

    @_timed
    def astype(self, dtype, copy=True, **_):
        dtype = np.dtype(dtype)
        if not copy and dtype == self.dtype:
            return self
        return ndarray._of(_blank(self.shape, dtype))

    @_timed
    def copy(self, order="C"):
        return ndarray._of(_blank(self.shape, self.dtype))

    @_timed
    def conj(self):
        return self.copy() if self.dtype.kind == "c" else self

    conjugate = conj

    @_timed
    def fill(self, value):
        pass

    # reductions and arithmetic: new device arrays of NumPy's result shape/dtype
    def _reduce(name):  # noqa: N805
        @_timed
        def f(self, *a, **k):
            return _wrap(getattr(np, name)(self._a, *_unwrap(a), **k))
        return f

    any, all, sum = _reduce("any"), _reduce("all"), _reduce("sum")
    max, min, mean = _reduce("max"), _reduce("min"), _reduce("mean")

    def _binary(op, swap=False):  # noqa: N805
        @_timed
        def f(self, other):
            if isinstance(other, np.ndarray) and other.size > 1:
                COUNTS["h2d"] += 1
            return _elementwise(op, (other, self) if swap else (self, other))
        return f

    __add__, __radd__ = _binary(operator.add), _binary(operator.add, True)
    __sub__, __rsub__ = _binary(operator.sub), _binary(operator.sub, True)
    __mul__, __rmul__ = _binary(operator.mul), _binary(operator.mul, True)
    __truediv__, __rtruediv__ = _binary(operator.truediv), _binary(operator.truediv, True)
    __eq__, __ne__ = _binary(operator.eq), _binary(operator.ne)
    __lt__, __le__ = _binary(operator.lt), _binary(operator.le)
    __gt__, __ge__ = _binary(operator.gt), _binary(operator.ge)
    __and__, __or__ = _binary(operator.and_), _binary(operator.or_)

    @_timed
    def __iadd__(self, other):
        return self

    @_timed
    def __neg__(self):
        return self.copy()

    @_timed
    def __abs__(self):
        return self.copy()

    __hash__ = None

    # device -> host: never on the CuPy path
    def get(self, *a, **k):
        _raise("ndarray.get()")

    def __array__(self, *a, **k):
        _raise("numpy.asarray(cupy array)")

    def item(self):
        _raise("ndarray.item()")

    def tolist(self):
        _raise("ndarray.tolist()")

    def __float__(self):
        _raise("float(cupy array)")

    def __int__(self):
        _raise("int(cupy array)")

    def __complex__(self):
        _raise("complex(cupy array)")

    def __bool__(self):
        _raise("bool(cupy array)")

    def __index__(self):
        _raise("operator.index(cupy array)")


# ----------------------------------------------------------- the module

@_timed
def asarray(a, dtype=None, order=None):
    if type(a) is ndarray:
        return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
    h = np.asarray(a, dtype=dtype)
    COUNTS["h2d"] += 1
    return ndarray._of(_blank(h.shape, h.dtype))


@_timed
def ascontiguousarray(a, dtype=None):
    a = asarray(a)
    dtype = a.dtype if dtype is None else np.dtype(dtype)
    if a.flags.c_contiguous and dtype == a.dtype:
        return a
    return ndarray._of(_blank(a.shape, dtype))


@_timed
def array(a, dtype=None, copy=True, **_):
    return asarray(a, dtype).copy() if copy else asarray(a, dtype)


@_timed
def empty(shape, dtype=float, order="C"):
    return ndarray._of(_blank(shape, dtype))


@_timed
def empty_like(a, dtype=None, **_):
    return empty(a.shape, a.dtype if dtype is None else dtype)


zeros, zeros_like, ones = empty, empty_like, empty


@_timed
def asnumpy(a, *_, **__):
    if type(a) is ndarray:
        _raise("cupy.asnumpy")
    return np.asarray(a)


_RESULT_DTYPES = {}


def _elementwise(fn, args):
    """A new array of NumPy's result dtype and broadcast shape for the
    elementwise ``fn(*args)``, without computing it (the dtype from one
    element of each array, memoized)."""
    key, shapes = [fn], []
    for a in args:
        if type(a) is ndarray or type(a) is np.ndarray:
            key.append(a.dtype)
            shapes.append(a.shape)
        else:
            key.append(type(a))
    key = tuple(key)
    dt = _RESULT_DTYPES.get(key)
    if dt is None:
        samples = [np.zeros(1, a.dtype) if type(a) is ndarray or type(a) is np.ndarray
                   else a for a in args]
        dt = _RESULT_DTYPES[key] = np.asarray(fn(*samples)).dtype
    shape = shapes[0]
    if any(sh != shape for sh in shapes):
        shape = np.broadcast_shapes(*shapes)
    return ndarray._of(_blank(shape, dt))


_ELEMENTWISE = ("where", "abs", "isfinite", "conj", "multiply", "add")


def _numpy_like(name):
    """Any other NumPy function: shapes and dtypes from NumPy on the scratch views."""
    fn = getattr(np, name)
    if name in _ELEMENTWISE:
        def g(*args):
            if any(type(v) is np.ndarray and v.size > 1 for v in args):
                COUNTS["h2d"] += 1
            return _elementwise(fn, args)
        g.__name__ = name
        return _timed(g)

    def f(*args, **kwargs):
        if any(type(v) is np.ndarray and v.size > 1 for v in args):
            COUNTS["h2d"] += 1
        args = [a._a if type(a) is ndarray else _unwrap(a) for a in args]
        return _wrap(fn(*args, **{k: _unwrap(v) for k, v in kwargs.items()}) if kwargs
                     else fn(*args))
    f.__name__ = name
    return _timed(f)


class _Function:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    @_timed
    def __call__(self, grid, block, args, shared_mem=0, stream=None):
        COUNTS["launch"] += 1
        LAUNCHES.append((self.name, tuple(grid), tuple(block), tuple(args), shared_mem))


class RawModule:
    def __init__(self, code=None, options=(), name_expressions=None, **_):
        COUNTS["compile"] += 1
        self.name_expressions = tuple(name_expressions or ())

    def get_function(self, name):
        COUNTS["get_function"] += 1
        if self.name_expressions and name not in self.name_expressions:
            raise KeyError(name)
        return _Function(name)


class ElementwiseKernel:
    """CuPy's ``ElementwiseKernel``: a call makes its output (one new device
    array of the broadcast shape of the array arguments, typed by the first
    of ``out_params``) and computes nothing."""

    def __init__(self, in_params, out_params, operation, name="kernel", **_):
        COUNTS["compile"] += 1
        self.name = name
        self._out_dtype = np.dtype(out_params.split(",")[0].split()[0])

    @_timed
    def __call__(self, *args):
        if any(type(v) is np.ndarray and v.size > 1 for v in args):
            COUNTS["h2d"] += 1
        shape = np.broadcast_shapes(*(a.shape for a in args if type(a) is ndarray))
        return ndarray._of(_blank(shape, self._out_dtype))


class _Device:
    def __init__(self, device=0):
        self.id = device

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        _raise("Device.synchronize()")

    @property
    def mem_info(self):
        return (64 << 30, 80 << 30)


class _Stream:
    ptr = 0

    def synchronize(self):
        _raise("Stream.synchronize()")


def _sync(*_):
    _raise("cudaDeviceSynchronize")


def _memcpy(*_):
    _raise("cudaMemcpy")


def make_module():
    """A fresh stand-in ``cupy`` module (and its ``cupy.cuda``)."""
    m = types.ModuleType("cupy")
    m.__spec__ = importlib.machinery.ModuleSpec("cupy", None)
    m.__version__ = "stand-in"
    m.ndarray = ndarray
    for f in (asarray, ascontiguousarray, array, empty, empty_like, asnumpy, RawModule,
              ElementwiseKernel):
        setattr(m, f.__name__, f)
    m.zeros, m.zeros_like, m.ones = zeros, zeros_like, ones
    for name in ("moveaxis", "expand_dims", "where", "abs", "isfinite", "conj", "real",
                 "imag", "take", "broadcast_to", "concatenate", "stack", "flip", "pad",
                 "multiply", "add", "full"):
        setattr(m, name, _numpy_like(name))
    m.float16, m.float32, m.float64 = np.float16, np.float32, np.float64
    m.complex64, m.complex128 = np.complex64, np.complex128
    cuda = types.ModuleType("cupy.cuda")
    cuda.__spec__ = importlib.machinery.ModuleSpec("cupy.cuda", None)
    cuda.is_available = lambda: True
    cuda.Device = _Device
    cuda.Stream = type("Stream", (), {"null": _Stream()})
    cuda.get_current_stream = lambda *a: _Stream()
    rt = types.SimpleNamespace(getDevice=lambda: 0, deviceSynchronize=_sync,
                               memcpy=_memcpy, memGetInfo=lambda: (64 << 30, 80 << 30))
    cuda.runtime = rt
    m.cuda = cuda
    return m


@contextlib.contextmanager
def installed():
    """Run the block with the stand-in as ``cupy`` and as the CUDA backend's
    runtime: the library's CuPy memos (device, modules, availability, launch
    setups, frame plans) are emptied on the way in and out, so that nothing
    made for the stand-in outlives the block or comes from before it."""
    saved = {k: sys.modules[k] for k in list(sys.modules)
             if k == "cupy" or k.startswith("cupy.") or k == "cupyx" or k.startswith("cupyx.")}
    fake = make_module()
    for k in saved:
        del sys.modules[k]
    sys.modules["cupy"] = fake
    sys.modules["cupy.cuda"] = fake.cuda
    _clear_library_memos()
    LAUNCHES.clear()
    COUNTS.clear()
    TIME_NS[0] = CALLS[0] = 0
    try:
        yield fake
    finally:
        sys.modules.pop("cupy", None)
        sys.modules.pop("cupy.cuda", None)
        sys.modules.update(saved)
        _clear_library_memos()


def _clear_library_memos():
    from corrconv_gpu._backends.cuda import device, kernels, launch
    from corrconv_gpu._dispatch import backend
    from corrconv_gpu._frontend import signal2d
    from corrconv_gpu._util import arrays
    backend._cuda_status.cache_clear()
    arrays._real_above_kernel.cache_clear()
    device._DEVICES.clear()
    kernels.clear_modules()
    for name in ("clear_memos",):
        fn = getattr(launch, name, None)
        if fn is not None:
            fn()
    signal2d._FRAME_PLANS.clear()


def bare_launch(name="k", nargs=4):
    """A launch of the stand-in itself with ``nargs`` prepared arguments: the
    floor that :mod:`host_overhead` measures the library's calls against."""
    fn = RawModule(name_expressions=(name,)).get_function(name)
    x = empty((4096, 4096), np.float32)
    args = (x,) * (nargs - 1) + (np.int64(0),)
    return lambda: fn((512, 512, 1), (16, 8, 1), args, shared_mem=0)


def timing_cost_us(n=100000):
    """Microseconds a timed stand-in call costs outside its timed window
    (the wrapper's own call and bookkeeping, over a plain function call):
    a benchmark subtracts it per stand-in call from the library's time."""
    def plain():
        return None
    timed = _timed(plain)

    def run(f):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            f()
        return (time.perf_counter_ns() - t0) / n / 1e3
    best = None
    for _ in range(5):
        s0 = TIME_NS[0]
        total = run(timed)
        inside = (TIME_NS[0] - s0) / n / 1e3
        c = total - inside - run(plain)
        best = c if best is None else min(best, c)
    return max(0.0, best)
