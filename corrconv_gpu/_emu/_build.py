"""Compile CUDA C++ kernel source into a host shared library for the emulator.

Builds are cached on disk by content hash (header, runtime, source, name
expressions, flags, compiler version) in $CORRCONV_GPU_EMU_CACHE (default
~/.cache/corrconv_gpu/emu), guarded by a file lock and published with an
atomic rename, so concurrent processes (pytest-xdist, CI jobs) share builds.
Headers the source includes from user include dirs are tracked (-MMD) and a
change to any of them invalidates the cached build.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import threading

from .._util.memo import memoize

HERE = pathlib.Path(__file__).resolve().parent
INCLUDE_DIR = HERE / "include"
RUNTIME_SRC = HERE / "runtime" / "emu_runtime.cpp"
_CACHE_VERSION = "emu-build-3"

#: Number of compilations actually performed by this process (cache misses).
build_count = 0
_count_lock = threading.Lock()

DYN_SMEM_BYTES = 232448 + 4096  # kDynSmemMax + kCanaryMax in emu_rt.h


class EmuCompileError(RuntimeError):
    """g++ failed to compile the kernel source (message holds the compiler output)."""


COMMON_FLAGS = ["-std=c++17", "-fPIC", "-fno-extern-tls-init", "-fvisibility=hidden",
                "-fno-strict-aliasing", "-fcx-limited-range", "-ffp-contract=off", "-pthread",
                # keep never-written __shared__ arrays as memory (GCC would fold their reads to 0)
                "-fno-ipa-reference-addressable"]

VARIANTS = {
    None: dict(kernel=["-O2"], runtime=["-O2"], link=[]),
    "thread": dict(kernel=["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=thread"],
                   runtime=["-O1", "-g", "-DEMU_TSAN"], link=["-fsanitize=thread"]),
    "address": dict(kernel=["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
                            "-fsanitize=bounds-strict", "-fno-sanitize=vptr"],
                    runtime=["-O1", "-g", "-DEMU_ASAN"], link=["-fsanitize=address,undefined"]),
    # memory-traffic counters: GCC's ThreadSanitizer instrumentation (a call per
    # memory access) WITHOUT the tsan runtime; runtime/emu_count.cpp defines the
    # callbacks and counts (see there)
    "count": dict(kernel=["-O2", "-fsanitize=thread", "--param", "tsan-instrument-func-entry-exit=0",
                          "--param", "tsan-distinguish-volatile=0"],
                  runtime=["-O2"], link=["-Wl,--wrap=_ZN5__emu8run_gridEPKNS_9LaunchCfgEPFvPvES3_"]),
}

#: extra (uninstrumented) runtime sources linked into a variant, before the shared-memory markers
EXTRA_RUNTIME = {"count": HERE / "runtime" / "emu_count.cpp"}


def cache_root() -> pathlib.Path:
    d = os.environ.get("CORRCONV_GPU_EMU_CACHE")
    p = pathlib.Path(d) if d else pathlib.Path.home() / ".cache" / "corrconv_gpu" / "emu"
    p.mkdir(parents=True, exist_ok=True)
    return p


def cxx() -> str:
    return os.environ.get("CXX", "g++")


@memoize(None)
def compiler_id(compiler: str) -> str:
    try:
        v = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=True).stdout
        m = subprocess.run([compiler, "-dumpmachine"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:  # pragma: no cover
        raise EmuCompileError(f"C++ compiler {compiler!r} not usable: {e}") from e
    return v.strip() + "|" + m.strip()


def translate_options(options) -> list[str]:
    """Map cupy/NVRTC options to g++: -D/-U/-I/-std are kept, the rest
    (arch, fast-math, line info, ...) are ignored."""
    out: list[str] = []
    opts = list(options or ())
    i = 0
    while i < len(opts):
        o = str(opts[i])
        if o in ("-D", "-U", "-I", "--define-macro", "--undefine-macro", "--include-path") and i + 1 < len(opts):
            flag = {"--define-macro": "-D", "--undefine-macro": "-U", "--include-path": "-I"}.get(o, o)
            out.append(flag + str(opts[i + 1]))
            i += 2
            continue
        if o.startswith(("-D", "-U", "-I")):
            out.append(o)
        elif o.startswith(("--define-macro=", "--undefine-macro=", "--include-path=")):
            k, v = o.split("=", 1)
            out.append({"--define-macro": "-D", "--undefine-macro": "-U", "--include-path": "-I"}[k] + v)
        elif re.fullmatch(r"--?std=c\+\+\d\w*", o):
            out.append("-std=" + o.split("=", 1)[1])
        i += 1
    return out


def _file_hash(p) -> str:
    return hashlib.sha256(pathlib.Path(p).read_bytes()).hexdigest()


def _emu_sources_hash() -> str:
    h = hashlib.sha256()
    for p in sorted(list(INCLUDE_DIR.rglob("*")) + [RUNTIME_SRC]):
        if p.is_file():
            h.update(str(p.relative_to(HERE)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _run(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise EmuCompileError("command failed: " + " ".join(map(str, cmd)) + "\n" + r.stdout + r.stderr)
    return r


def _locked(path: pathlib.Path):
    f = open(path, "a+")
    fcntl.flock(f, fcntl.LOCK_EX)
    return f


def _base_flags(include_dirs):
    flags = COMMON_FLAGS + ["-I", str(INCLUDE_DIR)]
    for d in include_dirs:
        flags += ["-I", str(d)]
    return flags


def _runtime_object(sanitize, src=RUNTIME_SRC) -> pathlib.Path:
    global build_count
    v = VARIANTS[sanitize]
    comp = cxx()
    parts = [_CACHE_VERSION, compiler_id(comp), v["runtime"], COMMON_FLAGS, _emu_sources_hash()]
    prefix = "rt"
    if src != RUNTIME_SRC:
        parts.append(_file_hash(src))
        prefix = "rt-" + pathlib.Path(src).stem
    key = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]
    root = cache_root()
    obj = root / f"{prefix}-{key}.o"
    if obj.exists():
        return obj
    with _locked(root / f"{prefix}-{key}.lock"):
        if obj.exists():
            return obj
        tmp = obj.with_suffix(f".tmp{os.getpid()}.o")
        _run([comp] + COMMON_FLAGS + ["-I", str(INCLUDE_DIR)] + v["runtime"] + ["-c", str(src), "-o", str(tmp)],
             cwd=root)
        os.replace(tmp, obj)
        with _count_lock:
            build_count += 1
    return obj


def _gen_tu(name_expressions) -> str:
    lines = ['#include "kernel.cu"', "",
             "// generated by corrconv_gpu._emu: one trampoline set per name expression",
             '#define __EMU_EXPORT extern "C" __attribute__((visibility("default")))']
    for i, ne in enumerate(name_expressions):
        lines += [
            f"// [{i}] {ne}",
            f"__EMU_EXPORT int __emu_k{i}_nparams() {{ return ::__emu::nparams(&{ne}); }}",
            f"__EMU_EXPORT void __emu_k{i}_params(long long* s, int* k, int* pk, long long* ps) "
            f"{{ ::__emu::params(&{ne}, s, k, pk, ps); }}",
            f"__EMU_EXPORT int __emu_k{i}_launch(const ::__emu::LaunchCfg* c, void** a) "
            f"{{ return ::__emu::launch(&{ne}, c, a); }}",
        ]
    return "\n".join(lines) + "\n"


_EXCLUDE_TLS = re.compile(r"^(_ZN5__emu|__emu|_ZSt|_ZN9__gnu_cxx|_ZNSt|_ZGV)")


def _undefined_tls(obj: pathlib.Path, cwd) -> list[str]:
    """`extern __shared__` arrays show up as undefined TLS symbols of kernel.o."""
    r = _run(["readelf", "-sW", str(obj)], cwd=cwd)
    names = []
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) >= 8 and f[3] == "TLS" and f[6] == "UND" and not _EXCLUDE_TLS.match(f[7]):
            names.append(f[7].split("@")[0])
    return sorted(set(names))


def _asm_marker(name):
    return (f'\t.section .tbss.emu_shared,"awT",@nobits\n\t.globl {name}\n\t.hidden {name}\n'
            f"\t.type {name}, @object\n\t.size {name}, 1\n{name}:\n\t.zero 1\n"
            '\t.section .note.GNU-stack,"",@progbits\n')


def _asm_dyn(names):
    s = '\t.section .tbss.emu_zdyn,"awT",@nobits\n\t.p2align 8\n'
    for n in ["__emu_dyn_smem"] + names:
        s += f"\t.globl {n}\n\t.hidden {n}\n\t.type {n}, @object\n\t.size {n}, {DYN_SMEM_BYTES}\n"
    for n in ["__emu_dyn_smem"] + names:
        s += f"{n}:\n"
    s += f"\t.zero {DYN_SMEM_BYTES}\n"
    s += '\t.section .note.GNU-stack,"",@progbits\n'
    return s


class BuildResult:
    def __init__(self, path, from_cache, key, log=""):
        self.path = path
        self.from_cache = from_cache
        self.key = key
        self.log = log


def _deps_ok(d: pathlib.Path) -> bool:
    try:
        deps = json.loads((d / "deps.json").read_text())
    except (OSError, ValueError):
        return False
    for p, h in deps.items():
        try:
            if _file_hash(p) != h:
                return False
        except OSError:
            return False
    return (d / "lib.so").exists()


def build(code: str, name_expressions, options=(), include_dirs=(), sanitize=None, filename=None) -> BuildResult:
    global build_count
    if sanitize not in VARIANTS:
        raise ValueError(f"sanitize must be None, 'thread', 'address' or 'count', got {sanitize!r}")
    v = VARIANTS[sanitize]
    comp = cxx()
    include_dirs = [str(pathlib.Path(d).resolve()) for d in include_dirs]
    user_flags = translate_options(options)
    flags = _base_flags(include_dirs) + user_flags + v["kernel"] + ["-include", "emu_cuda.h"]
    tu = _gen_tu(name_expressions)
    key_parts = [_CACHE_VERSION, compiler_id(comp), flags, v, code, tu, filename, _emu_sources_hash()]
    extra_src = EXTRA_RUNTIME.get(sanitize)
    if extra_src is not None:
        key_parts.append(_file_hash(extra_src))
    key = hashlib.sha256(json.dumps(key_parts).encode()).hexdigest()[:32]
    root = cache_root()
    final = root / key
    if _deps_ok(final):
        return BuildResult(final / "lib.so", True, key)
    rt = _runtime_object(sanitize)
    rt_objs = [str(rt)] + ([str(_runtime_object(sanitize, extra_src))] if extra_src is not None else [])
    with _locked(root / f"{key}.lock"):
        if _deps_ok(final):
            return BuildResult(final / "lib.so", True, key)
        tmp = pathlib.Path(tempfile.mkdtemp(prefix=f"{key}.tmp", dir=root))
        try:
            fname = filename or "kernel.cu"
            (tmp / "kernel.cu").write_text(f'#line 1 "{fname}"\n' + code)
            (tmp / "gen.cpp").write_text(tu)
            r = _run([comp] + flags + [f"-fdebug-prefix-map={tmp}={final}", "-MMD", "-MF", "kernel.d", "-c", "gen.cpp", "-o", "kernel.o"], cwd=tmp)
            log = r.stderr
            names = _undefined_tls(tmp / "kernel.o", tmp)
            (tmp / "begin.s").write_text(_asm_marker("__emu_shared_begin"))
            (tmp / "end.s").write_text(_asm_marker("__emu_shared_end"))
            (tmp / "dyn.s").write_text(_asm_dyn(names))
            for s in ("begin", "end", "dyn"):
                _run([comp, "-c", f"{s}.s", "-o", f"{s}.o"], cwd=tmp)
            _run([comp, "-shared", "-pthread"] + v["link"] +
                 ["-o", "lib.so"] + rt_objs + ["begin.o", "kernel.o", "end.o", "dyn.o"], cwd=tmp)
            deps = {}
            dtext = (tmp / "kernel.d").read_text().replace("\\\n", " ")
            for p in dtext.split(":", 1)[1].split() if ":" in dtext else []:
                pp = pathlib.Path(p) if os.path.isabs(p) else tmp / p
                if pp.parent.resolve() == tmp.resolve():
                    continue  # kernel.cu / gen.cpp are part of the key
                if pp.is_file():
                    deps[str(pp.resolve())] = _file_hash(pp)
            (tmp / "deps.json").write_text(json.dumps(deps, indent=1))
            (tmp / "extern_shared.txt").write_text("\n".join(names))
            for junk in ("kernel.o", "begin.o", "end.o", "dyn.o"):
                (tmp / junk).unlink()
            if final.exists():
                shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        with _count_lock:
            build_count += 1
    return BuildResult(final / "lib.so", False, key, log)
