"""CPU emulator for CUDA C++ kernels with the cupy.RawModule launch interface.

    mod = EmuModule(code, options=("-DTILE=16",), name_expressions=("k<float>",))
    k = mod.get_function("k<float>")
    k((gx, gy), (bx, by), (out, inp, np.int32(n)), shared_mem=nbytes)

The unchanged .cu source is compiled by g++ (:mod:`._build`) with a
forced-include header (include/emu_cuda.h) that maps the CUDA built-ins; each
CUDA thread of a block runs as a fiber, __syncthreads() is a real barrier and
blocks run on a pool of OS threads. :class:`EmuModule` has the rigor options;
``sanitize='thread'``/``'address'`` launch under a sanitizer in a child
process, ``sanitize='count'`` counts each launch's memory traffic into
``fn.last_counters`` (:data:`COUNTER_KEYS`).
"""
from __future__ import annotations

import ctypes
import os
import pathlib
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading

import numpy as np

from . import _build
from ._build import EmuCompileError
from ._native import (DEFAULT_MAX_DYNAMIC_SMEM, DYN_SMEM_CAPACITY, CANARY_MAX, THREAD_ORDERS, EmuLaunchError,
                      KernelMeta, K_POINTER, check_launch_config, dim3, load_library)

__all__ = ["EmuModule", "EmuFunction", "EmuCompileError", "EmuLaunchError", "EmuSanitizerError",
           "build_count", "run_in_sanitizer", "COUNTER_KEYS", "SANITIZE_MODES"]

#: accepted values of EmuModule(sanitize=...)
SANITIZE_MODES = (None, "thread", "address", "count")

# order of the C++ counters (runtime/emu_count.cpp, enum C_*)
_COUNTER_NAMES = ("global_reads", "global_read_bytes", "global_writes", "global_write_bytes",
                  "shared_loads", "shared_load_bytes", "shared_stores", "shared_store_bytes",
                  "other_loads", "other_load_bytes", "other_stores", "other_store_bytes",
                  "global_read_sectors")
#: keys of EmuFunction.last_counters
COUNTER_KEYS = _COUNTER_NAMES + ("global_read_bytes_by_arg", "global_write_bytes_by_arg")
# the counters are per library (modules of identical code share one dlopen'ed
# library): counting launches are serialised process-wide
_COUNT_LOCK = threading.Lock()


class EmuSanitizerError(RuntimeError):
    """A sanitizer (ThreadSanitizer / AddressSanitizer+UBSan) reported a problem.
    `.report` holds the sanitizer output."""

    def __init__(self, msg, report):
        super().__init__(msg + "\n" + report)
        self.report = report


def build_count() -> int:
    """Number of g++ builds (cache misses) performed by this process."""
    return _build.build_count


def _default_workers():
    return max(1, min(os.cpu_count() or 1, 8))


def _sanitizer_runtime(name):
    comp = _build.cxx()
    p = subprocess.run([comp, f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
    if not p or not os.path.exists(p):
        raise EmuCompileError(f"sanitizer runtime {name} not found (install the gcc sanitizer runtime package)")
    return os.path.realpath(p)


def _byte_bounds(a: np.ndarray):
    lo = hi = a.__array_interface__["data"][0]
    if a.size == 0:
        return lo, lo
    for n, s in zip(a.shape, a.strides):
        if s < 0:
            lo += (n - 1) * s
        else:
            hi += (n - 1) * s
    return lo, hi + a.dtype.itemsize


class EmuFunction:
    """A kernel of an EmuModule; call like cupy.RawKernel:
    ``f(grid, block, args, shared_mem=0, stream=None)`` (synchronous)."""

    def __init__(self, module, meta: KernelMeta, lib_path, san_lib_path=None):
        self.module = module
        self._meta = meta
        self.name = meta.name
        self.num_params = meta.num_params
        self.param_sizes = meta.param_sizes
        self.param_kinds = meta.param_kinds
        self.pointee_sizes = meta.pointee_sizes
        self.max_dynamic_shared_size_bytes = DEFAULT_MAX_DYNAMIC_SMEM
        self._lib_path = lib_path
        self._san_lib_path = san_lib_path
        #: sanitizer output of the last sanitized launch (None otherwise)
        self.last_sanitizer_report = None
        #: memory-traffic counters of the last launch of a sanitize='count' module (None otherwise)
        self.last_counters = None

    @property
    def max_dynamic_shared_size_bytes(self):
        return self._max_dyn

    @max_dynamic_shared_size_bytes.setter
    def max_dynamic_shared_size_bytes(self, v):
        if not 0 <= int(v) <= DYN_SMEM_CAPACITY:
            raise ValueError(f"max_dynamic_shared_size_bytes must be in [0, {DYN_SMEM_CAPACITY}]")
        self._max_dyn = int(v)

    def __repr__(self):
        return f"<EmuFunction {self.name!r} params={self.param_sizes}>"

    def __call__(self, grid, block, args, *, shared_mem=0, stream=None):
        grid = dim3(grid, "grid")
        block = dim3(block, "block")
        check_launch_config(grid, block, shared_mem, self._max_dyn)
        self._meta.check_args(args, strict_pointers=self.module.strict_pointers)
        opts = self.module._launch_opts()
        if self.module.sanitize is None:
            self._meta.launch(grid, block, args, shared_mem, opts)
        elif self.module.sanitize == "count":
            self._launch_counting(grid, block, args, shared_mem, opts)
        else:
            self._launch_in_child(grid, block, args, int(shared_mem), opts)

    # -- counting launches -------------------------------------------------
    def _launch_counting(self, grid, block, args, shared_mem, opts):
        lib = self._meta.lib
        if not hasattr(lib, "__emu_count_begin"):
            raise RuntimeError("this kernel was not built for counting (was module.sanitize changed after "
                               "construction?): create an EmuModule(..., sanitize='count')")
        max_ranges, begin, end = (getattr(lib, "__emu_count_" + f) for f in ("max_ranges", "begin", "end"))
        ptr_args = [i for i, k in enumerate(self.param_kinds) if k == K_POINTER]
        n = len(ptr_args)
        if n > int(max_ranges()):
            raise ValueError(f"sanitize='count' supports at most {int(max_ranges())} pointer arguments")
        ranges = (ctypes.c_ulonglong * max(2 * n, 1))()
        for j, i in enumerate(ptr_args):
            ranges[2 * j], ranges[2 * j + 1] = _byte_bounds(args[i])
        out = (ctypes.c_ulonglong * (len(_COUNTER_NAMES) + 2 * n))()
        self.last_counters = None
        with _COUNT_LOCK:
            if begin(ranges, n) != 0:  # pragma: no cover
                raise RuntimeError("__emu_count_begin failed")
            try:
                self._meta.launch(grid, block, args, shared_mem, opts)
            finally:
                end(out)
        c = {k: int(out[i]) for i, k in enumerate(_COUNTER_NAMES)}
        base = len(_COUNTER_NAMES)
        rd = [0] * self.num_params
        wr = [0] * self.num_params
        for j, i in enumerate(ptr_args):
            rd[i] = int(out[base + j])
            wr[i] = int(out[base + n + j])
        c["global_read_bytes_by_arg"] = rd
        c["global_write_bytes_by_arg"] = wr
        self.last_counters = c

    # -- sanitizer launches ------------------------------------------------
    def _launch_in_child(self, grid, block, args, shared_mem, opts):
        mod = self.module
        work = pathlib.Path(tempfile.mkdtemp(prefix="emu-san-"))
        try:
            spec_args, extents = [], {}
            for i, a in enumerate(args):
                if self.param_kinds[i] == K_POINTER:
                    lo, hi = _byte_bounds(a)
                    if hi - lo > mod.max_sanitize_bytes:
                        raise ValueError(f"argument {i}: memory extent of {hi - lo} bytes is too large to copy to "
                                         f"the sanitizer process (max_sanitize_bytes={mod.max_sanitize_bytes})")
                    fname = f"arg{i}.bin"
                    (work / fname).write_bytes(ctypes.string_at(lo, hi - lo) if hi > lo else b"")
                    extents[i] = (lo, hi, fname)
                    spec_args.append(("ptr", fname, a.__array_interface__["data"][0] - lo, a.dtype.str))
                else:
                    spec_args.append(a)
            spec = dict(lib=str(self._san_lib_path), index=self._meta.index, name=self.name, grid=grid, block=block,
                        shared_mem=shared_mem, opts=opts, args=spec_args)
            (work / "spec.pkl").write_bytes(pickle.dumps(spec))
            env = dict(os.environ)
            env.update(mod._sanitizer_env())
            cmd = [sys.executable, str(pathlib.Path(__file__).with_name("_child.py")), str(work)]
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=mod.sanitize_timeout)
            report = r.stderr
            self.last_sanitizer_report = report
            res_path = work / "result.pkl"
            result = pickle.loads(res_path.read_bytes()) if res_path.exists() else None
            if result is not None:
                for i, (lo, hi, fname) in extents.items():
                    if args[i].flags.writeable and hi > lo:
                        data = (work / fname).read_bytes()
                        ctypes.memmove(lo, data, hi - lo)
            markers = ("WARNING: ThreadSanitizer", "ERROR: AddressSanitizer", "runtime error:",
                       "ERROR: LeakSanitizer", "ThreadSanitizer: ", "SUMMARY: ")
            if any(m in report for m in markers) or r.returncode != 0 or result is None:
                hint = ""
                if "use-after-poison" in report:
                    hint = (" (use-after-poison: an access past the `shared_mem` bytes of dynamic shared memory,"
                            " or into a poisoned region)")
                elif "data race" in report:
                    hint = (" (data race between CUDA threads: 'thread T<n>' are fibers, named by their"
                            " threadIdx/blockIdx; a missing __syncthreads is the usual cause)")
                raise EmuSanitizerError(f"sanitize={mod.sanitize!r}: kernel {self.name!r} grid={grid} block={block}"
                                        f" failed (exit code {r.returncode}){hint}", report)
            if result["error"]:
                raise EmuLaunchError(result["error"])
        finally:
            shutil.rmtree(work, ignore_errors=True)


class EmuModule:
    """CPU stand-in for cupy.RawModule.

    Parameters
    ----------
    code, options, name_expressions : as for cupy.RawModule.  Options -D/-U/-I/-std
        are honoured, NVRTC-only options are ignored.
    sanitize : None | 'thread' | 'address' | 'count'
        'count': a memory-traffic counting build (see docs/design-notes.md);
        launches run in-process and leave ``fn.last_counters``.
        'thread' / 'address': build with ThreadSanitizer (shared/global memory races between CUDA threads,
        with __syncthreads as the only synchronisation) or AddressSanitizer+UBSan
        (out-of-bounds accesses; static __shared__ arrays are bounds-checked by
        UBSan, dynamic shared memory past `shared_mem` and global arrays by ASan).
        Launches then run in a child Python process with the sanitizer runtime
        preloaded; arrays are copied there and back; any report raises
        EmuSanitizerError (its `.report` holds the text).
    include_dirs : extra include directories.
    workers : OS threads running blocks concurrently (default min(cpu_count, 8)).
    thread_order : 'forward' | 'reverse' | 'shuffle' -- order in which the threads of
        a block run between barriers (shuffle: new random order every barrier, `seed`).
    block_order : 'forward' | 'reverse' -- order in which blocks are handed out.
    poison_shared : False | True | int -- fill all static and dynamic shared memory
        with this byte (True: 0xFF, a NaN for float32/float64, -1 for ints) at each block start.
    canary_bytes : bytes right after the dynamic shared memory checked at each block end
        (default 64, max 4096); a write there raises EmuLaunchError.
    stack_size : fiber stack bytes per CUDA thread (default 256 KiB; 1 MiB with 'thread'/'address').
    strict_pointers : check that arrays' dtypes match the kernel's pointer parameter types.

    All these options are attributes and may be changed between launches.
    """

    def __init__(self, code: str = None, options=(), name_expressions=(), *, path=None, sanitize=None,
                 include_dirs=(), workers=None, thread_order="forward", block_order="forward",
                 poison_shared=False, canary_bytes=64, seed=0, stack_size=None, strict_pointers=True,
                 sanitize_timeout=600, max_sanitize_bytes=1 << 30):
        if code is None and path is None:
            raise TypeError("EmuModule needs code or path")
        include_dirs = list(include_dirs)
        self.filename = None
        if path is not None:
            code = pathlib.Path(path).read_text()
            include_dirs.append(str(pathlib.Path(path).resolve().parent))
            self.filename = str(pathlib.Path(path).resolve())
        if sanitize not in SANITIZE_MODES:
            raise ValueError(f"sanitize must be None, 'thread', 'address' or 'count', got {sanitize!r}")
        if thread_order not in THREAD_ORDERS:
            raise ValueError(f"thread_order must be one of {sorted(THREAD_ORDERS)}")
        if block_order not in ("forward", "reverse"):
            raise ValueError("block_order must be 'forward' or 'reverse'")
        if not 0 <= canary_bytes <= CANARY_MAX:
            raise ValueError(f"canary_bytes must be in [0, {CANARY_MAX}]")
        self.code = code
        self.options = tuple(options)
        self.include_dirs = tuple(include_dirs)
        self.sanitize = sanitize
        self.workers = _default_workers() if workers is None else int(workers)
        self.thread_order = thread_order
        self.block_order = block_order
        self.poison_shared = poison_shared
        self.canary_bytes = canary_bytes
        self.seed = seed
        self.stack_size = stack_size or ((1 << 20) if sanitize in ("thread", "address") else (256 << 10))
        self.strict_pointers = strict_pointers
        self.sanitize_timeout = sanitize_timeout
        self.max_sanitize_bytes = max_sanitize_bytes
        self.name_expressions = tuple(name_expressions)
        self._functions = {}
        self._builds = []
        self.from_cache = True
        if self.name_expressions:
            self._load(self.name_expressions)

    @classmethod
    def from_file(cls, path, options=(), name_expressions=(), **kw):
        return cls(None, options, name_expressions, path=path, **kw)

    def _launch_opts(self):
        if self.thread_order not in THREAD_ORDERS:
            raise ValueError(f"thread_order must be one of {sorted(THREAD_ORDERS)}")
        return dict(workers=self.workers, thread_order=self.thread_order, seed=self.seed,
                    poison_shared=self.poison_shared, canary_bytes=self.canary_bytes,
                    block_order=self.block_order, stack_size=self.stack_size)

    def _load(self, names):
        if self.sanitize == "count":
            # the counting build runs in-process: it is the only library needed
            b = _build.build(self.code, names, self.options, self.include_dirs, "count", self.filename)
            self._builds.append(b)
            self.from_cache = self.from_cache and b.from_cache
            lib = load_library(b.path)
            for fn in ("__emu_count_begin", "__emu_count_end", "__emu_count_max_ranges"):
                getattr(lib, fn).restype = ctypes.c_int
            for i, n in enumerate(names):
                self._functions[n] = EmuFunction(self, KernelMeta(lib, i, n), b.path, None)
            return
        b = _build.build(self.code, names, self.options, self.include_dirs, None, self.filename)
        self._builds.append(b)
        self.from_cache = self.from_cache and b.from_cache
        san_path = None
        if self.sanitize:
            sb = _build.build(self.code, names, self.options, self.include_dirs, self.sanitize, self.filename)
            self._builds.append(sb)
            self.from_cache = self.from_cache and sb.from_cache
            san_path = sb.path
        lib = load_library(b.path)
        for i, n in enumerate(names):
            self._functions[n] = EmuFunction(self, KernelMeta(lib, i, n), b.path, san_path)

    def get_function(self, name_expression: str) -> EmuFunction:
        """Look up a kernel by the exact name-expression string given at
        construction, or by the name of a non-template (extern "C") kernel."""
        f = self._functions.get(name_expression)
        if f is None:
            self._load((name_expression,))
            f = self._functions[name_expression]
        return f

    def _sanitizer_env(self):
        env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        if self.sanitize == "thread":
            env["LD_PRELOAD"] = _sanitizer_runtime("libtsan.so")
            env["TSAN_OPTIONS"] = ("halt_on_error=0 exitcode=66 report_signal_unsafe=0 "
                                   "ignore_noninstrumented_modules=1 history_size=3 second_deadlock_stack=1")
        else:
            env["LD_PRELOAD"] = _sanitizer_runtime("libasan.so")
            env["ASAN_OPTIONS"] = ("detect_leaks=0 halt_on_error=1 exitcode=67 detect_stack_use_after_return=0 "
                                   "allocator_may_return_null=1")
            env["UBSAN_OPTIONS"] = "print_stacktrace=1 halt_on_error=1 exitcode=68"
        return env


def run_in_sanitizer(code, name_expression, grid, block, args, *, sanitize="thread", shared_mem=0, **module_kw):
    """One-shot helper: build `code` with the given sanitizer and run one launch
    in a child process.  Returns the sanitizer report text (empty when clean);
    raises EmuSanitizerError when the sanitizer reports a problem."""
    mod = EmuModule(code, name_expressions=(name_expression,), sanitize=sanitize, **module_kw)
    f = mod.get_function(name_expression)
    f(grid, block, args, shared_mem=shared_mem)
    return f.last_sanitizer_report or ""
