"""Kernel sources, C++ type names, name expressions and module building.

Every instantiation of ``kernels/corr2d.cu`` is named by
:func:`name_expression`; one module per (device, dtype) holds all the
variants of that dtype (FLIP x CONJ x 5 boundaries), so the number of
compiles is bounded by the dtypes used -- never one per kernel shape, image
size or fill value (those are runtime arguments).

Nothing here imports CuPy at module level: the CuPy factory imports it when
it is called, and any other ``module_factory`` (the CPU emulator's
``EmuModule``) can build the module instead.
"""

import os
from collections import namedtuple

import numpy as np

from ..._boundary import CODES
from ..._util.dtypes import KERNEL_DTYPES
from ..._util.memo import Memo, memoize
from .params import launch_params

KERNEL_NAME = "corr2d"
KERNEL_FILE = "corr2d.cu"

CType = namedtuple("CType", "ctype acc smem_itemsize")

# dtype name -> C++ element type, accumulator type, bytes per shared element
# (cf. cupyx/scipy/signal/_iir_utils.py).  Integers accumulate in an unsigned
# two's-complement type at least as wide as the element (wraps like NumPy at
# the cast); __half accumulates (and is staged) in float.
CTYPES = {
    "float16":    CType("__half", "float", 4),
    "float32":    CType("float", "float", 4),
    "float64":    CType("double", "double", 8),
    "complex64":  CType("complex<float>", "complex<float>", 8),
    "complex128": CType("complex<double>", "complex<double>", 16),
    "bool":       CType("bool", "unsigned int", 1),
    "int8":       CType("signed char", "unsigned int", 1),
    "int16":      CType("short", "unsigned int", 2),
    "int32":      CType("int", "unsigned int", 4),
    "int64":      CType("long long", "unsigned long long", 8),
    "uint8":      CType("unsigned char", "unsigned int", 1),
    "uint16":     CType("unsigned short", "unsigned int", 2),
    "uint32":     CType("unsigned int", "unsigned int", 4),
    "uint64":     CType("unsigned long long", "unsigned long long", 8),
}

# float32 data summed in float64: scipy.ndimage's float64 sum of a float32
# image with weights exact in float32, read and written as float32 (the
# generic kernel only; ``wide=True`` below)
WIDE_CTYPES = {"float32": CType("float", "double", 4)}

SUPPORTED_DTYPES = KERNEL_DTYPES
assert {d.name for d in KERNEL_DTYPES} == set(CTYPES), "a kernel dtype without its C types"

BOUNDARY_CODES = CODES   # plan boundary name -> the kernel's BOUNDARY template argument


_NAMES = {np.dtype(n): n for n in CTYPES}


def _dtype_name(dtype):
    try:
        return _NAMES[dtype]       # a NumPy dtype of a kernel: a dict lookup
    except (KeyError, TypeError):
        pass
    name = np.dtype(dtype).name
    if name not in CTYPES:
        raise TypeError(f"no CUDA kernel for dtype {name}")
    return name


def ctype(dtype):
    """C++ element type of ``dtype`` (``float32`` -> ``"float"``)."""
    return CTYPES[_dtype_name(dtype)].ctype


def acc_ctype(dtype):
    """C++ accumulator type of ``dtype``."""
    return CTYPES[_dtype_name(dtype)].acc


def smem_itemsize(dtype):
    """Bytes per shared-memory element of the kernel for ``dtype``."""
    return CTYPES[_dtype_name(dtype)].smem_itemsize


def smem_vec(dtype):
    """Elements per 16-byte shared load of the kernel's register window
    (``VEC`` in corr2d.cu): 4 for float tiles (float16, float32), 2 for
    double (float64), 1 otherwise, and 1 when ``opt`` is no multiple of it."""
    name = _dtype_name(dtype)
    v = {"float16": 4, "float32": 4, "float64": 2}.get(name, 1)
    return v if launch_params(name).opt % v == 0 else 1


def global_vec(dtype):
    """Elements per 16-byte global load of the tile staging (``GVEC``): 4 for
    float32, 2 for float64, 1 otherwise (used when x's rows are 16-byte aligned)."""
    return {"float32": 4, "float64": 2}.get(_dtype_name(dtype), 1)


def is_complex(dtype):
    return np.dtype(dtype).kind == "c"


def boundary_code(boundary):
    """``0..4`` for a plan boundary name or code."""
    if isinstance(boundary, (int, np.integer)) and not isinstance(boundary, bool):
        code = int(boundary)
        if code not in BOUNDARY_CODES.values():
            raise ValueError(f"unknown boundary code {code}")
        return code
    try:
        return BOUNDARY_CODES[boundary]
    except (KeyError, TypeError):
        raise ValueError(f"unknown boundary {boundary!r}") from None


@memoize(512)
def name_expression(dtype, flip, conj, boundary, wide=False):
    """The exact C++ name of one instantiation, e.g.
    ``"corr2d<float, float, true, false, 0, 8>"``; ``wide``: the
    accumulator of :data:`WIDE_CTYPES` (``corr2d<float, double, ...>``).

    ``conj`` is ignored (false) for real dtypes, where it is the identity,
    so real dtypes have 10 variants and complex ones 20.
    """
    name = _dtype_name(dtype)
    t = WIDE_CTYPES[name] if wide else CTYPES[name]
    conj = bool(conj) and is_complex(dtype)
    opt = launch_params(name).opt
    b = lambda v: "true" if v else "false"  # noqa: E731
    return (f"{KERNEL_NAME}<{t.ctype}, {t.acc}, {b(flip)}, {b(conj)}, "
            f"{boundary_code(boundary)}, {opt}>")


def variants(dtype):
    """All ``(flip, conj, boundary_code)`` of ``dtype``'s module."""
    conjs = (False, True) if is_complex(dtype) else (False,)
    return [(f, c, b) for f in (False, True) for c in conjs
            for b in sorted(BOUNDARY_CODES.values())]


def name_expressions(dtype, wide=False):
    """Every name expression of ``dtype``'s module (10 real, 20 complex)."""
    return [name_expression(dtype, f, c, b, wide) for f, c, b in variants(dtype)]


def compile_options(dtype):
    """NVRTC options of ``dtype``'s module (CuPy's RawModule adds its own and
    the CUDA include paths; a bare NVRTC compile adds :func:`include_options`)."""
    opts = ["-std=c++17"]
    if np.dtype(dtype) == np.float16:
        opts.append("-DCORRCONV_WITH_HALF")
    if is_complex(dtype):
        opts.append("-DCORRCONV_WITH_COMPLEX")
    return tuple(opts)


def include_options():
    """``-I`` options for compiling without CuPy's RawModule (bare NVRTC):
    CuPy's headers (cupy/complex.cuh), its bundled CCCL, and the CUDA
    headers (cuda_fp16.h) where they can be found."""
    import cupy  # noqa: F401  (deferred: only for bare NVRTC compiles)
    from cupy._core import core

    opts = ["-I" + core._get_header_dir_path()]
    opts += list(core._get_cccl_include_options())
    cuda_inc = cuda_include_dir()
    if cuda_inc:
        opts.append("-I" + cuda_inc)
    return tuple(opts)


def cuda_include_dir():
    """Directory holding cuda_fp16.h, or None."""
    try:
        from cuda import pathfinder

        found = pathfinder.find_nvidia_header_directory("cudart")
        if found and os.path.isfile(os.path.join(found, "cuda_fp16.h")):
            return found
    except Exception:
        pass
    for root in (os.environ.get("CUDA_PATH"), os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        if root and os.path.isfile(os.path.join(root, "include", "cuda_fp16.h")):
            return os.path.join(root, "include")
    return None


# ------------------------------------------------------------------ sources

def kernel_paths(name=KERNEL_FILE):
    """Candidate locations of ``kernels/<name>``, in lookup order: the
    installed package data (``corrconv_gpu/kernels/<name>``, wheels) first,
    then the repository's ``kernels/`` folder (editable installs, checkouts)."""
    pkg_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return [os.path.join(pkg_dir, "kernels", name),
            os.path.join(os.path.dirname(pkg_dir), "kernels", name)]


def kernel_source(name=KERNEL_FILE):
    """Text of the kernel source ``name`` (see :func:`kernel_paths`)."""
    try:  # package data through importlib.resources (zip-safe)
        from importlib import resources

        res = resources.files("corrconv_gpu").joinpath("kernels").joinpath(name)
        if res.is_file():
            return res.read_text(encoding="utf-8")
    except Exception:
        pass
    for path in kernel_paths(name):
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                return f.read()
    raise FileNotFoundError(
        f"kernel source {name!r} not found in {kernel_paths(name)}")


# ------------------------------------------------------------------ modules

class FunctionCache:
    """A module whose ``get_function`` remembers its answers (CuPy's
    ``RawModule.get_function`` costs several microseconds a call, a
    noticeable part of a small launch). Other attributes: the module's."""

    def __init__(self, module):
        self.module = module
        self._functions = Memo()

    def get_function(self, name):
        return self._functions.get(name, lambda: self.module.get_function(name))

    def __getattr__(self, attr):
        return getattr(self.module, attr)


def cupy_module_factory(code, options=(), name_expressions=()):
    """Build a ``cupy.RawModule`` (compiled lazily by CuPy, cached on disk),
    wrapped in a :class:`FunctionCache`."""
    import cupy

    return FunctionCache(cupy.RawModule(code=code, options=tuple(options),
                                        name_expressions=list(name_expressions)))


_modules = Memo()


def get_module(device_id, dtype, module_factory=None, wide=False):
    """The module holding every variant of ``dtype`` (``wide``: with the
    accumulator of :data:`WIDE_CTYPES`), memoized per ``(module_factory,
    device_id, dtype, wide)``.

    ``module_factory(code, options=..., name_expressions=...)`` defaults to
    :func:`cupy_module_factory` (built under ``cupy.cuda.Device(device_id)``);
    pass ``corrconv_gpu._emu.EmuModule`` to run the same kernel on the CPU
    emulator.  The returned object has ``get_function(name_expression)``.
    """
    name = _dtype_name(dtype)
    factory = module_factory or cupy_module_factory

    def make():
        code = kernel_source()
        kwargs = dict(options=compile_options(name),
                      name_expressions=tuple(name_expressions(name, wide)))
        if factory is cupy_module_factory and device_id is not None:
            import cupy

            with cupy.cuda.Device(device_id):
                return factory(code, **kwargs)
        return factory(code, **kwargs)

    return _modules.get((factory, device_id, name, bool(wide)), make)


def clear_modules():
    """Forget the memoized modules (tests)."""
    _modules.clear()


# ------------------------------------------------------ small-kernel modules
# kernels/corr2d_small.cu: weights up to SMALL_KMAX on each side, sizes fixed
# at compile time; on the GPU one module per (dtype, K0, K1, FLIP, BOUNDARY)
# holding that one kernel, built on first use (a bounded set: 3 dtypes x 49
# sizes x 10 variants; one kernel a module keeps a first call's NVRTC time
# low), on the emulator one per size with its 10 variants.

SMALL_FILE = "corr2d_small.cu"
SMALL_NAME = "corr2d_small"
SMALL_KMAX = 7
SMALL_DTYPES = ("float16", "float32", "float64")
SMALL_TABLE = "small_table.json"
# per dtype: outputs per thread along a row RX, threads along a row BX and
# elements per 16-byte access V (corrconv_small_traits in corr2d_small.cu;
# must match); RY (rows per thread) and BY (block rows) come from the table
_SMALL_FIXED = {"float32": (4, 16, 4), "float16": (8, 16, 8), "float64": (4, 16, 2)}
SmallGeometry = namedtuple("SmallGeometry", "ry rx bx by vec")


def small_table(path=None):
    """The launch table of ``corr2d_small`` (``small_table.json`` next to
    this module, written by ``benchmarks/gpu_tune.py``): ``default`` per
    dtype and ``sizes`` overrides per dtype and ``"K0xK1"``, each
    ``{"ry": rows per thread, "by": block rows}``, plus where it came from."""
    import json
    if path is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), SMALL_TABLE)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


_small_table = Memo()


def small_geometry(dtype, K0, K1):
    """:class:`SmallGeometry` of ``corr2d_small`` for ``dtype`` and weights
    ``K0 x K1`` (the table's size override, else its dtype default)."""
    name = _dtype_name(dtype)
    t = _small_table.get("table", small_table)
    g = t.get("sizes", {}).get(name, {}).get(f"{int(K0)}x{int(K1)}") or t["default"][name]
    rx, bx, vec = _SMALL_FIXED[name]
    return SmallGeometry(int(g["ry"]), rx, bx, int(g["by"]), vec)


def small_applies(dtype, K0, K1):
    """Whether weights ``(K0, K1)`` of ``dtype`` take ``corr2d_small``
    (decided by dtype and weight shape only: any image, stride or alignment
    of one call takes the same kernel, so bands and the whole agree)."""
    try:
        name = _dtype_name(dtype)
    except TypeError:
        return False
    return name in SMALL_DTYPES and 1 <= K0 <= SMALL_KMAX and 1 <= K1 <= SMALL_KMAX


def small_tile(dtype, K0, K1, geometry=None):
    """Output tile ``(TH, TW)`` of ``corr2d_small``."""
    g = geometry or small_geometry(dtype, K0, K1)
    return g.by * g.ry, g.bx * g.rx


def small_name_expression(dtype, flip, boundary, K0, K1, geometry=None):
    """e.g. ``"corr2d_small<float, true, 0, 3, 3, 8, 8>"`` (the last two:
    RY and BY of ``geometry``, by default the table's)."""
    g = geometry or small_geometry(dtype, K0, K1)
    b = "true" if flip else "false"
    return (f"{SMALL_NAME}<{CTYPES[_dtype_name(dtype)].ctype}, {b}, "
            f"{boundary_code(boundary)}, {int(K0)}, {int(K1)}, {g.ry}, {g.by}>")


def small_variants():
    """All ``(flip, boundary_code)`` of a small kernel size."""
    return [(f, b) for f in (False, True) for b in sorted(BOUNDARY_CODES.values())]


def small_source():
    """corr2d.cu (the helpers: boundary rule, loads, FMA) + corr2d_small.cu."""
    return kernel_source() + "\n" + kernel_source(SMALL_FILE)


def get_small_module(device_id, dtype, K0, K1, flip, boundary, module_factory=None,
                     geometry=None):
    """The ``corr2d_small`` module of one kernel (memoized like
    :func:`get_module`)."""
    name = _dtype_name(dtype)
    factory = module_factory or cupy_module_factory
    if factory is cupy_module_factory:
        # NVRTC: one kernel a module keeps a first call's compile short
        exprs = (small_name_expression(name, flip, boundary_code(boundary), K0, K1, geometry),)
    else:
        # other factories (the emulator: a g++ build and a loaded library
        # a module, each keeping its own fiber stacks mapped) get the 10
        # variants of a size in one module
        exprs = tuple(small_name_expression(name, f, b, K0, K1, geometry)
                      for f, b in small_variants())

    def make():
        kwargs = dict(options=compile_options(name), name_expressions=exprs)
        if factory is cupy_module_factory and device_id is not None:
            import cupy

            with cupy.cuda.Device(device_id):
                return factory(small_source(), **kwargs)
        return factory(small_source(), **kwargs)

    return _modules.get((factory, device_id, exprs), make)


# ------------------------------------------------------ large-kernel modules
# kernels/corr2d_large.cu: rows of taps longer than SMALL_KMAX (K1 > 7),
# float16 / float32 / float64; the sizes are run-time arguments, so on the GPU
# one module per (dtype, FLIP, BOUNDARY) holding that one kernel (a bounded
# set: 3 dtypes x 10 variants), on the emulator one per dtype with its 10.

LARGE_FILE = "corr2d_large.cu"
LARGE_NAME = "corr2d_large"
LARGE_DTYPES = SMALL_DTYPES
# per dtype (corrconv_large_traits in corr2d_large.cu; must match): 16-byte
# global vector V, shared vector LV, outputs per thread RX x RY, taps per
# chunk CQ, threads BX x BY, most tap columns per chunk KCM
LargeGeometry = namedtuple("LargeGeometry", "v lv rx ry cq bx by kcm")
_LARGE_FIXED = {
    "float32": LargeGeometry(4, 4, 16, 2, 8, 8, 16, 32),
    "float16": LargeGeometry(8, 4, 16, 2, 8, 8, 16, 32),
    "float64": LargeGeometry(2, 2, 16, 2, 16, 4, 16, 32),
}


def large_geometry(dtype):
    """:class:`LargeGeometry` of ``corr2d_large`` for ``dtype``."""
    return _LARGE_FIXED[_dtype_name(dtype)]


def large_applies(dtype, K0, K1):
    """Whether weights ``(K0, K1)`` of ``dtype`` take ``corr2d_large``: the
    dtypes of the small variant, rows of taps longer than its range
    (``K1 > 7``, any ``K0``; decided by dtype and weight shape only, like
    :func:`small_applies`). Tall narrow weights (``K1 <= 7 < K0``) keep the
    generic kernel, which slides down columns: corr2d_large slides along
    rows, and with fewer taps a row than its chunk (CQ) each tap row would
    cost a whole window of shared loads for K1 taps."""
    try:
        name = _dtype_name(dtype)
    except TypeError:
        return False
    return name in LARGE_DTYPES and K0 >= 1 and K1 > SMALL_KMAX


def large_tile(dtype):
    """Output tile ``(TH, TW)`` of ``corr2d_large``."""
    g = large_geometry(dtype)
    return g.by * g.ry, g.bx * g.rx


def large_pitch(dtype):
    """Shared row pitch SP in elements of S (corrconv_large_geom::SP)."""
    g = large_geometry(dtype)
    tw = g.bx * g.rx
    nwx = -(-(g.rx + g.cq - 1) // g.lv)
    wvm = (g.v - 1 + tw + g.kcm - 1 + g.v - 1) // g.v
    spr = g.v + wvm * g.v
    spw = g.v + (g.bx - 1) * g.rx + (g.kcm - g.cq) + nwx * g.lv
    sp = -(-max(spr, spw) // g.lv) * g.lv
    return sp + g.lv if (sp // g.lv) % 2 == 0 else sp


def large_name_expression(dtype, flip, boundary):
    """e.g. ``"corr2d_large<float, true, 0>"``."""
    b = "true" if flip else "false"
    return f"{LARGE_NAME}<{CTYPES[_dtype_name(dtype)].ctype}, {b}, {boundary_code(boundary)}>"


def large_source():
    """corr2d.cu + corr2d_small.cu (the 16-byte helpers) + corr2d_large.cu."""
    return small_source() + "\n" + kernel_source(LARGE_FILE)


def get_large_module(device_id, dtype, flip, boundary, module_factory=None):
    """The ``corr2d_large`` module of one variant (memoized like :func:`get_module`)."""
    name = _dtype_name(dtype)
    factory = module_factory or cupy_module_factory
    if factory is cupy_module_factory:
        exprs = (large_name_expression(name, flip, boundary_code(boundary)),)
    else:
        exprs = tuple(large_name_expression(name, f, b) for f, b in small_variants())

    def make():
        kwargs = dict(options=compile_options(name), name_expressions=exprs)
        if factory is cupy_module_factory and device_id is not None:
            import cupy

            with cupy.cuda.Device(device_id):
                return factory(large_source(), **kwargs)
        return factory(large_source(), **kwargs)

    return _modules.get((factory, device_id, exprs), make)
