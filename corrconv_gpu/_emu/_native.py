"""ctypes layer of the corrconv_gpu CPU emulator: load a built kernel library,
check and pack kernel arguments, launch.

This module imports only the standard library and numpy so that the
sanitizer child process (_child.py) can load it by path without importing
the corrconv_gpu package.
"""
from __future__ import annotations

import ctypes
import os

import numpy as np

# kinds reported by the C++ side (__emu::__kind_of)
K_OTHER, K_POINTER, K_SINT, K_UINT, K_FLOAT, K_COMPLEX, K_BOOL, K_VOID = range(8)
_KIND_NAMES = {K_OTHER: "struct/other", K_POINTER: "pointer", K_SINT: "signed integer",
               K_UINT: "unsigned integer", K_FLOAT: "floating point", K_COMPLEX: "complex",
               K_BOOL: "bool", K_VOID: "void"}
# numpy dtype.kind accepted for each C++ kind (signedness of integers is not enforced)
_NP_KINDS = {K_SINT: "iu", K_UINT: "iu", K_FLOAT: "f", K_COMPLEX: "c", K_BOOL: "b"}

THREAD_ORDERS = {"forward": 0, "reverse": 1, "shuffle": 2}

MAX_THREADS_PER_BLOCK = 1024
MAX_BLOCK_DIM = (1024, 1024, 64)
MAX_GRID_DIM = (2**31 - 1, 65535, 65535)
DEFAULT_MAX_DYNAMIC_SMEM = 48 * 1024
DYN_SMEM_CAPACITY = 232448  # kDynSmemMax in emu_rt.h (227 KiB, the sm_90 opt-in maximum)
CANARY_MAX = 4096


class EmuLaunchError(RuntimeError):
    """A kernel launch failed in the emulator (divergent barrier, deadlock,
    shared-memory canary overwritten, assert/__trap in the kernel, ...)."""


class _LaunchCfg(ctypes.Structure):
    _fields_ = [
        ("grid", ctypes.c_uint * 3),
        ("block", ctypes.c_uint * 3),
        ("shared_mem", ctypes.c_ulonglong),
        ("workers", ctypes.c_int),
        ("thread_order", ctypes.c_int),
        ("seed", ctypes.c_ulonglong),
        ("poison", ctypes.c_int),
        ("canary_bytes", ctypes.c_int),
        ("block_order", ctypes.c_int),
        ("stack_size", ctypes.c_ulonglong),
        ("errbuf", ctypes.c_void_p),
        ("errlen", ctypes.c_ulonglong),
    ]


def dim3(v, what):
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{what} must be an int or a tuple of up to 3 ints, got {v!r}")
    if isinstance(v, (int, np.integer)):
        t = (int(v),)
    elif isinstance(v, (tuple, list)):
        if not 1 <= len(v) <= 3 or not all(isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)) for x in v):
            raise TypeError(f"{what} must be an int or a tuple of up to 3 ints, got {v!r}")
        t = tuple(int(x) for x in v)
    else:
        raise TypeError(f"{what} must be an int or a tuple of up to 3 ints, got {v!r}")
    t = t + (1,) * (3 - len(t))
    if any(x < 1 for x in t):
        raise ValueError(f"{what} dimensions must be >= 1, got {t}")
    return t


def check_launch_config(grid, block, shared_mem, max_dyn_smem):
    if block[0] * block[1] * block[2] > MAX_THREADS_PER_BLOCK or any(b > m for b, m in zip(block, MAX_BLOCK_DIM)):
        raise ValueError(f"invalid block {block}: at most {MAX_THREADS_PER_BLOCK} threads and dims <= {MAX_BLOCK_DIM} "
                         "(CUDA would fail with cudaErrorInvalidValue)")
    if any(g > m for g, m in zip(grid, MAX_GRID_DIM)):
        raise ValueError(f"invalid grid {grid}: dims must be <= {MAX_GRID_DIM}")
    if isinstance(shared_mem, (bool, np.bool_)) or not isinstance(shared_mem, (int, np.integer)) or shared_mem < 0:
        raise TypeError(f"shared_mem must be a non-negative int, got {shared_mem!r}")
    if shared_mem > max_dyn_smem:
        raise ValueError(f"shared_mem={shared_mem} bytes exceeds the kernel's max_dynamic_shared_size_bytes="
                         f"{max_dyn_smem} (CUDA: set the attribute first; the opt-in limit is {DYN_SMEM_CAPACITY})")


class KernelMeta:
    """Parameter metadata of one kernel, read from its generated trampolines."""

    def __init__(self, lib, index, name):
        self.name = name
        self.index = index
        self.lib = lib
        n = getattr(lib, f"__emu_k{index}_nparams")
        n.restype = ctypes.c_int
        self.num_params = int(n())
        m = max(self.num_params, 1)
        sizes = (ctypes.c_longlong * m)()
        kinds = (ctypes.c_int * m)()
        pkinds = (ctypes.c_int * m)()
        psizes = (ctypes.c_longlong * m)()
        getattr(lib, f"__emu_k{index}_params")(sizes, kinds, pkinds, psizes)
        k = self.num_params
        self.param_sizes = tuple(int(x) for x in sizes[:k])
        self.param_kinds = tuple(int(x) for x in kinds[:k])
        self.pointee_kinds = tuple(int(x) for x in pkinds[:k])
        self.pointee_sizes = tuple(int(x) for x in psizes[:k])
        self._launch = getattr(lib, f"__emu_k{index}_launch")
        self._launch.restype = ctypes.c_int
        self._launch.argtypes = [ctypes.POINTER(_LaunchCfg), ctypes.POINTER(ctypes.c_void_p)]

    def describe_param(self, i):
        k = self.param_kinds[i]
        if k == K_POINTER:
            pk = self.pointee_kinds[i]
            return f"pointer to {_KIND_NAMES.get(pk, '?')} ({self.pointee_sizes[i]} bytes)"
        return f"{_KIND_NAMES.get(k, '?')} of {self.param_sizes[i]} bytes"

    def check_args(self, args, strict_pointers=True):
        """Validate args against the kernel's parameter types; raise TypeError."""
        if not isinstance(args, (tuple, list)):
            raise TypeError(f"kernel args must be a tuple, got {type(args).__name__}")
        if len(args) != self.num_params:
            raise TypeError(f"kernel {self.name!r} takes {self.num_params} arguments, {len(args)} given")
        for i, a in enumerate(args):
            kind = self.param_kinds[i]
            where = f"argument {i} of kernel {self.name!r} (a {self.describe_param(i)})"
            if kind == K_POINTER:
                if not isinstance(a, np.ndarray):
                    raise TypeError(f"{where}: expected a numpy.ndarray, got {type(a).__name__}")
                pk, ps = self.pointee_kinds[i], self.pointee_sizes[i]
                if strict_pointers and pk in _NP_KINDS and ps > 1:
                    if a.dtype.itemsize != ps or a.dtype.kind not in _NP_KINDS[pk]:
                        raise TypeError(f"{where}: array dtype {a.dtype} does not match the pointee type "
                                        f"(pass a view of the matching dtype)")
                continue
            if isinstance(a, np.ndarray):
                raise TypeError(f"{where}: got an ndarray; scalar parameters need a numpy scalar such as np.int32(x)")
            if not isinstance(a, np.generic):
                raise TypeError(f"{where}: got Python {type(a).__name__} {a!r}; pass a numpy scalar of the exact "
                                f"width (e.g. np.int32 / np.int64 / np.float32) as a Python number's width is ambiguous")
            if a.dtype.itemsize != self.param_sizes[i]:
                raise TypeError(f"{where}: got {a.dtype} ({a.dtype.itemsize} bytes); the parameter is "
                                f"{self.param_sizes[i]} bytes")
            if kind in _NP_KINDS and a.dtype.kind not in _NP_KINDS[kind]:
                raise TypeError(f"{where}: got {a.dtype} (numpy kind {a.dtype.kind!r})")

    def launch(self, grid, block, args, shared_mem, opts, pointer_overrides=None):
        """Launch; `args` must already be checked.  pointer_overrides maps
        argument index -> raw address used instead of the array's data pointer."""
        n = self.num_params
        keep = []
        argv = (ctypes.c_void_p * max(n, 1))()
        for i, a in enumerate(args):
            if self.param_kinds[i] == K_POINTER:
                if pointer_overrides and i in pointer_overrides:
                    p = pointer_overrides[i]
                else:
                    p = a.__array_interface__["data"][0]
                cell = ctypes.c_void_p(p)
            else:
                cell = ctypes.create_string_buffer(a.tobytes(), max(len(a.tobytes()), 8))
            keep.append(cell)
            argv[i] = ctypes.addressof(cell)
        errbuf = ctypes.create_string_buffer(4096)
        cfg = _LaunchCfg()
        cfg.grid[:] = grid
        cfg.block[:] = block
        cfg.shared_mem = int(shared_mem)
        cfg.workers = int(opts["workers"])
        cfg.thread_order = THREAD_ORDERS[opts["thread_order"]]
        cfg.seed = int(opts["seed"]) & (2**64 - 1)
        poison = opts["poison_shared"]
        cfg.poison = -1 if poison is None or poison is False else (0xFF if poison is True else int(poison) & 0xFF)
        cfg.canary_bytes = int(opts["canary_bytes"])
        cfg.block_order = 1 if opts["block_order"] == "reverse" else 0
        cfg.stack_size = int(opts["stack_size"])
        cfg.errbuf = ctypes.addressof(errbuf)
        cfg.errlen = len(errbuf)
        rc = self._launch(ctypes.byref(cfg), argv)
        if rc != 0:
            raise EmuLaunchError(f"kernel {self.name!r} grid={tuple(grid)} block={tuple(block)}: "
                                 + errbuf.value.decode(errors="replace"))


def load_library(path):
    return ctypes.CDLL(os.fspath(path), mode=os.RTLD_NOW | os.RTLD_LOCAL)
