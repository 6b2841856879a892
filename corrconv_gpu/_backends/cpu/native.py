"""Machine code for the CPU direct kernel: compiled by Numba once, then cached.

The kernel (:mod:`.direct_kernel`) is compiled as a C-callable ``numba.cfunc``
(``error_model='numpy'``, no fastmath) per dtype and variant, and its object
code is written to a cache file; a later process maps that file with
llvmlite's MCJIT and calls it through ctypes without importing Numba (whose
import and first dispatch cost several times more). ctypes releases the GIL,
so threads run bands in parallel. The cache key covers the source, dtype,
Numba and llvmlite versions and host CPU; the folder is :func:`cache_dir`. An
unusable cache file is not an error: the kernel is then compiled here.
"""
import ctypes
import hashlib
import os
import pickle
import sys
import threading
from importlib import metadata
from pathlib import Path

import numpy as np

from ..._util.dtypes import ACCUMULATOR_DTYPES
from ..._util.memo import Memo

__all__ = ["kernel", "DTYPES", "cache_dir"]

# numpy dtype -> Numba type name (the kernel is compiled once per entry)
DTYPES = {d: d.name for d in ACCUMULATOR_DTYPES}

# the band kernels' parameters, in order: p = pointer to the dtype, P = pointer
# to int64, i = int64 (see direct_kernel.band); the planes kernel's add
# x / o = pointers to its input / output type (direct_kernel.PLANES_PARAMS)
_PARAMS = "piipiipiiiiiiPiPiiippp"

_KERNELS = Memo()  # (dtype, variant) -> ctypes function
_KEEP = []         # objects whose lifetime must span the process (engines, cfuncs)


def cache_dir():
    """The folder of the cached object files: ``CORRCONV_GPU_CPU_CACHE``, else
    ``$NUMBA_CACHE_DIR/corrconv_gpu``, else ``$XDG_CACHE_HOME/corrconv_gpu``
    (``~/.cache/corrconv_gpu``)."""
    d = os.environ.get("CORRCONV_GPU_CPU_CACHE")
    if d:
        return Path(d)
    d = os.environ.get("NUMBA_CACHE_DIR")
    if d:
        return Path(d) / "corrconv_gpu"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "corrconv_gpu"


def _ctypes_fn(params):
    args = [ctypes.c_int64 if c == "i" else ctypes.c_void_p for c in params]
    return ctypes.CFUNCTYPE(None, *args)


def _host():
    import llvmlite.binding as ll
    return ll.get_host_cpu_name(), ll.get_host_cpu_features().flatten()


def _key(types_, src, params):
    h = hashlib.sha256(src.encode())
    cpu, feats = _host()
    for part in (*types_, metadata.version("numba"),
                 metadata.version("llvmlite"), cpu, feats, sys.platform, params):
        h.update(b"\0" + part.encode())
    return h.hexdigest()[:24]


def _compile(types_, src, tag, params):
    """Compile with Numba; returns (address, symbol name, object code).
    ``types_``: the Numba type names of ``p``, ``x`` and ``o`` parameters."""
    from numba import cfunc, types
    namespace = {}
    exec(compile(src, f"<corrconv_gpu direct kernel {tag}>", "exec"), namespace)
    ptr = {c: types.CPointer(getattr(types, t)) for c, t in zip("pxo", types_)}
    ptr["P"] = types.CPointer(types.int64)
    args = [ptr.get(c, types.int64) for c in params]
    cf = cfunc(types.void(*args), nopython=True, error_model="numpy",
               fastmath=False)(namespace["band"])
    _KEEP.append(cf)
    try:
        obj = cf._library.serialize_using_object_code()[2][0]
    except Exception:      # a Numba without object caching: no file
        obj = None
    return cf.address, cf.native_name, obj


# Symbols the object code names besides the C library and the Python C API:
# Numba's helpers for error paths that the kernel never takes (no exceptions
# with error_model='numpy' and valid arguments, no allocation).  They get
# no-op stand-ins; any other symbol that the process does not define makes
# the load fail (and the kernel is compiled instead).
_STUB_PREFIXES = ("numba_", "NRT_")
_STUB_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_RESOLVED = set()


def _undefined_symbols(obj):
    """Names of the undefined symbols of an ELF64 little-endian object."""
    import struct
    if obj[:4] != b"\x7fELF" or obj[4] != 2 or obj[5] != 1:
        raise ValueError("not an ELF64 little-endian object")
    shoff, = struct.unpack_from("<Q", obj, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", obj, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", obj, shoff + i * shentsize)
                for i in range(shnum)]
    names = []
    for sec in sections:
        if sec[1] != 2:                       # SHT_SYMTAB
            continue
        stroff = sections[sec[6]][4]
        for off in range(sec[4], sec[4] + sec[5], 24):
            st_name, _, _, st_shndx, _, _ = struct.unpack_from("<IBBHQQ", obj, off)
            if st_name and st_shndx == 0:     # SHN_UNDEF
                end = obj.index(b"\0", stroff + st_name)
                names.append(obj[stroff + st_name:end].decode())
    return names


def _resolve(names):
    import llvmlite.binding as ll
    process = ctypes.CDLL(None)
    for name in names:
        if name in _RESOLVED:
            continue
        try:
            addr = ctypes.cast(getattr(process, name), ctypes.c_void_p).value
        except AttributeError:
            if not name.startswith(_STUB_PREFIXES):
                raise
            stub = _STUB_TYPE(lambda p: None)
            _KEEP.append(stub)
            addr = ctypes.cast(stub, ctypes.c_void_p).value
        ll.add_symbol(name, addr)
        _RESOLVED.add(name)


def _load(name, obj):
    """Map the object code with llvmlite; returns the function's address."""
    import llvmlite.binding as ll
    ll.initialize_native_target()
    ll.initialize_native_asmprinter()
    _resolve(_undefined_symbols(obj))
    cpu, feats = _host()
    tm = ll.Target.from_default_triple().create_target_machine(
        cpu=cpu, features=feats, codemodel="jitdefault")
    engine = ll.create_mcjit_compiler(ll.parse_assembly(""), tm)
    engine.add_object_file(ll.ObjectFileRef.from_data(obj))
    engine.finalize_object()
    addr = engine.get_function_address(name)
    if not addr:
        raise RuntimeError(f"symbol {name} not found")
    _KEEP.append(engine)
    return addr


def _write(path, name, obj):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(pickle.dumps((name, obj), protocol=4))
        os.replace(tmp, path)
    except OSError:
        pass


def kernel(dtype, variant):
    """The kernel for ``dtype`` and ``variant`` as a ctypes function (memoized).

    ``variant``: ``("ring", tset)`` (tap-group sizes, see
    ``direct_kernel.taps``), ``("exact", K0, K1)``, ``("planes", K0, K1,
    xdtype, odtype)`` (input and output types, NumPy dtypes) or ``("stack",
    L, K0, K1, xdtype, odtype)``.
    """
    key = (np.dtype(dtype), tuple(variant))
    return _KERNELS.get(key, lambda: _ctypes_fn(_params(key[1]))(_address(*key)))


def _params(variant):
    from .direct_kernel import PLANES_PARAMS
    return PLANES_PARAMS if variant[0] in ("planes", "stack") else _PARAMS


def _address(dtype, variant):
    from . import direct_kernel as dk
    types_ = (DTYPES[dtype],) * 3
    if variant[0] == "ring":
        src, tag = dk.source(variant[1]), "t" + "".join(map(str, variant[1]))
    elif variant[0] == "exact":
        src, tag = dk.source_exact(*variant[1:]), "x%dx%d" % tuple(variant[1:])
    elif variant[0] == "planes":
        K0, K1, xdt, odt = variant[1:]
        xdt, odt = np.dtype(xdt), np.dtype(odt)
        types_ = (DTYPES[dtype], xdt.name, odt.name)
        src = dk.source_planes(K0, K1)
        tag = f"p{K0}x{K1}-{xdt.name}-{odt.name}"
    elif variant[0] == "stack":
        L, K0, K1, xdt, odt = variant[1:]
        xdt, odt = np.dtype(xdt), np.dtype(odt)
        types_ = (DTYPES[dtype], xdt.name, odt.name)
        src = dk.source_stack(L, K0, K1)
        tag = f"s{L}x{K0}x{K1}-{xdt.name}-{odt.name}"
    else:
        raise ValueError(f"unknown kernel variant {variant!r}")
    params = _params(variant)
    path = None
    try:
        path = cache_dir() / f"direct-{DTYPES[dtype]}-{tag}-{_key(types_, src, params)}.nbo"
        name, obj = pickle.loads(path.read_bytes())
        return _load(name, obj)
    except Exception:      # no file, unreadable, stale or unloadable: compile
        pass
    addr, name, obj = _compile(types_, src, tag, params)
    if path is not None and obj is not None:
        _write(path, name, obj)
    return addr
