"""Reading the machine code of the kernels without a GPU.

NVRTC (``cupy.cuda.nvrtc``: no driver needed) compiles a module to a cubin
for one architecture, ``nvdisasm`` (the ``nvidia-cuda-nvdisasm`` wheel, or a
CUDA toolkit) turns it into SASS, and this module parses the SASS into
functions, basic blocks and a control-flow graph, and counts what the
budgets of ``benchmarks/gpu_kernel_report.py`` need:

* :func:`interior_path` -- the instructions one thread issues for one
  interior tile of ``corr2d_small``: the shortest path through the tile loop
  that stages with 16-byte loads and stores with 16-byte stores and touches
  no scalar global access (the edge paths do);
* :func:`loads_before_first_use` -- global loads a thread has in flight
  before it first reads one of their results;
* :func:`innermost_loop` -- the innermost loop holding FMAs (the tap loop of
  the generic kernel).

Nothing here imports CuPy at module level.
"""

import os
import re
import shutil
import struct
import subprocess
import tempfile
from collections import namedtuple

Instr = namedtuple("Instr", "addr pred op operands text")
Instr.__doc__ = """One SASS instruction: byte address, guard predicate ('' when
none), opcode with its modifiers (``LDG.E.128.CONSTANT``), the operand text."""

Block = namedtuple("Block", "index start instrs succs")

_FUNC = re.compile(r"^\.text\.(\S+):\s*$")
_LABEL = re.compile(r"^(\.L_x_\d+):\s*$")
_INSTR = re.compile(r"^\s*/\*([0-9a-f]{4,})\*/\s+(@!?U?P[T\d]+\s+)?([A-Z][A-Z0-9_.]*)\s*(.*?)\s*;")
_TARGET = re.compile(r"`\((\.L_x_\d+)\)")
_REG = re.compile(r"(?<![A-Za-z0-9_])R(\d+)(?:\.(64|128))?(?![0-9])")

# (HFMA2.MMA with RZ operands is how ptxas loads an immediate: not an FMA)
FMA_OPS = ("FFMA", "DFMA")
STORE_OPS = ("STG", "STS", "STL", "ST", "RED", "ATOM", "ATOMS", "ATOMG")


def base_op(op):
    """``LDG.E.128.CONSTANT`` -> ``LDG``."""
    return op.split(".", 1)[0]


def access_bytes(ins):
    """Bytes per thread of a load / store instruction (4 unless .64/.128,
    or .U8/.S8/.U16/.S16)."""
    mods = ins.op.split(".")[1:]
    for m, n in (("128", 16), ("64", 8), ("U16", 2), ("S16", 2), ("U8", 1), ("S8", 1)):
        if m in mods:
            return n
    return 4


# ------------------------------------------------------------- tools

def nvdisasm_path():
    """The nvdisasm executable: ``$NVDISASM``, PATH, the nvidia-cuda-nvdisasm
    wheel, or a CUDA toolkit; None when there is none."""
    env = os.environ.get("NVDISASM")
    if env and os.path.isfile(env):
        return env
    found = shutil.which("nvdisasm")
    if found:
        return found
    try:
        import importlib.util
        spec = importlib.util.find_spec("nvidia")
        for root in (spec.submodule_search_locations or []) if spec else []:
            for sub in ("cu13", "cu12", "cuda_nvdisasm"):
                p = os.path.join(root, sub, "bin", "nvdisasm")
                if os.path.isfile(p):
                    return p
    except Exception:
        pass
    for root in (os.environ.get("CUDA_PATH"), os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        if root and os.path.isfile(os.path.join(root, "bin", "nvdisasm")):
            return os.path.join(root, "bin", "nvdisasm")
    return None


def complete_elf(cubin):
    """``cubin`` padded with zero bytes to the end of its ELF section and
    program header tables: CuPy's ``nvrtc.getCUBIN`` returns one byte short
    (the last byte of the program headers, a zero), which nvdisasm rejects
    as "an invalid ELF file"."""
    if cubin[:4] != b"\x7fELF":
        raise ValueError("not an ELF file")
    phoff, shoff = struct.unpack_from("<QQ", cubin, 0x20)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", cubin, 0x36)
    end = max(phoff + phentsize * phnum, shoff + shentsize * shnum)
    return cubin + b"\0" * max(0, end - len(cubin))


def compile_cubin(source, name_expressions, options, arch, filename="kernel.cu"):
    """Compile with NVRTC for ``arch`` (``-Xptxas=-v`` added): returns
    ``(cubin, log, lowered)`` with ``lowered`` mapping each name expression
    to its mangled name."""
    from cupy.cuda import nvrtc

    opts = list(options) + ["--gpu-architecture=" + arch, "-Xptxas=-v"]
    prog = nvrtc.createProgram(source, filename, [], [])
    try:
        for n in name_expressions:
            nvrtc.addNameExpression(prog, n)
        try:
            nvrtc.compileProgram(prog, opts)
        except Exception as e:
            raise RuntimeError(f"NVRTC failed for {arch}: {e}\n{nvrtc.getProgramLog(prog)}") from None
        log = nvrtc.getProgramLog(prog).replace("\x00", "")
        lowered = {}
        for n in name_expressions:
            low = nvrtc.getLoweredName(prog, n)
            lowered[n] = low.decode() if isinstance(low, bytes) else low
        return complete_elf(nvrtc.getCUBIN(prog)), log, lowered
    finally:
        nvrtc.destroyProgram(prog)


def disassemble(cubin, keep=None):
    """SASS text of ``cubin`` (``nvdisasm -c``); ``keep``: a path to write
    the cubin to (kept), else a temporary file."""
    tool = nvdisasm_path()
    if tool is None:
        raise FileNotFoundError("nvdisasm not found (pip install nvidia-cuda-nvdisasm)")
    if keep:
        with open(keep, "wb") as f:
            f.write(cubin)
        return subprocess.run([tool, "-c", keep], check=True, capture_output=True,
                              text=True).stdout
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "k.cubin")
        with open(p, "wb") as f:
            f.write(cubin)
        return subprocess.run([tool, "-c", p], check=True, capture_output=True,
                              text=True).stdout


# ------------------------------------------------------------- ptxas -v

_ENTRY = re.compile(r"Compiling entry function '([^']+)' for '(sm_\d+a?)'")
_SPILL = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_USED = re.compile(r"Used (\d+) registers")
_SMEM = re.compile(r"(\d+) bytes smem")


def parse_ptxas_log(log):
    """mangled name -> dict(regs, stack, spill_st, spill_ld, smem) from -Xptxas=-v."""
    out = {}
    cur = None
    for line in log.splitlines():
        m = _ENTRY.search(line)
        if m:
            cur = out.setdefault(m.group(1), dict(regs=None, stack=0, spill_st=0,
                                                  spill_ld=0, smem=0))
            continue
        if cur is None:
            continue
        m = _SPILL.search(line)
        if m:
            cur["stack"], cur["spill_st"], cur["spill_ld"] = map(int, m.groups())
        m = _USED.search(line)
        if m:
            cur["regs"] = int(m.group(1))
            s = _SMEM.search(line)
            cur["smem"] = int(s.group(1)) if s else 0
    return out


# ------------------------------------------------------------- parsing

def parse_functions(sass):
    """mangled name -> list of :class:`Instr` and labels (label lines are
    kept as ``str``), in address order."""
    funcs = {}
    cur = None
    for line in sass.splitlines():
        m = _FUNC.match(line.strip())
        if m:
            cur = funcs.setdefault(m.group(1), [])
            continue
        if cur is None:
            continue
        m = _LABEL.match(line.strip())
        if m:
            cur.append(m.group(1))
            continue
        m = _INSTR.match(line)
        if m:
            addr, pred, op, operands = m.groups()
            cur.append(Instr(int(addr, 16), (pred or "").strip(), op, operands, line.strip()))
    return funcs


def _is_branch(ins):
    # "@P0 CALL.REL.NOINC `(.L_x_9)" is how ptxas leaves a loop on sm_80 and
    # older (a jump that pushes no return address): an edge like a BRA
    return (base_op(ins.op) in ("BRA", "EXIT", "RET", "BRX", "JMP", "JMX")
            or ins.op.startswith("CALL.REL.NOINC"))


def _unconditional(ins):
    # "BRA P1, `(...)" branches on P1 too; "@P0 BRA" on P0
    return not ins.pred and not re.match(r"^!?U?P[T\d]+\s*,", ins.operands)


def blocks(items):
    """Basic blocks of one function's :func:`parse_functions` list, with
    successor indices (fall-through and branch targets)."""
    out, labels = [], {}
    cur = []

    def close():
        nonlocal cur
        if cur:
            out.append(cur)
        cur = []

    pending_labels = []
    starts = []
    for it in items:
        if isinstance(it, str):
            close()
            pending_labels.append(it)
            continue
        if not cur:
            for lab in pending_labels:
                labels[lab] = len(out)
            pending_labels = []
            starts.append(it.addr)
        cur.append(it)
        if _is_branch(it):
            close()
    close()
    res = []
    for i, instrs in enumerate(out):
        last = instrs[-1]
        succs = []
        if _is_branch(last):
            m = _TARGET.search(last.operands)
            if m and m.group(1) in labels:
                succs.append(labels[m.group(1)])
            if not _unconditional(last) and i + 1 < len(out):
                succs.append(i + 1)
        elif i + 1 < len(out):
            succs.append(i + 1)
        res.append(Block(i, instrs[0].addr, instrs, tuple(succs)))
    return res


def _global_mem(ins):
    return base_op(ins.op) in ("LDG", "STG")


def loops(bl):
    """``(head, latch)`` block indices of every back edge latch -> head."""
    return [(s, b.index) for b in bl for s in b.succs if s <= b.index]


def innermost_loop(bl, pred):
    """``(head, latch)`` of the innermost loop (no other loop inside it)
    holding the most instructions that satisfy ``pred``; None if none does."""
    ls = loops(bl)
    inner = [(h, t) for h, t in ls
             if not any((h2, t2) != (h, t) and h <= h2 and t2 <= t for h2, t2 in ls)]
    best = None
    for h, t in inner:
        n = sum(1 for blk in bl[h:t + 1] for i in blk.instrs if pred(i))
        if n and (best is None or n > best[0]):
            best = (n, h, t)
    return None if best is None else best[1:]


USEFUL_OPS = ("LDG", "STG", "LDS", "STS") + FMA_OPS


def interior_path(bl):
    """The instructions one thread issues for one interior tile of
    ``corr2d_small``: within the smallest loop holding every 16-byte global
    load and store, the path from the loop head to its latch that passes a
    16-byte load and a 16-byte store and no block with a narrower global
    access (the edge paths have them), doing the most work (memory
    accesses and FMAs: a thread that skips part of the staging is not the
    steady state) in the fewest instructions.  None if there is no such path."""
    wide = lambda i: _global_mem(i) and access_bytes(i) == 16  # noqa: E731
    all_wide = sum(1 for blk in bl for i in blk.instrs if wide(i))
    loop = None
    for b in bl:
        for s in b.succs:
            if s <= b.index and all_wide:
                body = [i for blk in bl[s:b.index + 1] for i in blk.instrs]
                if sum(1 for i in body if wide(i)) == all_wide:
                    if loop is None or b.index - s < loop[1] - loop[0]:
                        loop = (s, b.index)
    if loop is None:
        return None
    head, latch = loop
    # best[(block, mask)] = ((work, -instructions) up to the block's start, back
    # pointer); mask bit 0: a 16-byte load passed, bit 1: a 16-byte store
    best = {(head, 0): ((0, 0), None)}
    for i in range(head, latch + 1):
        blk = bl[i]
        if any(_global_mem(x) and access_bytes(x) != 16 for x in blk.instrs):
            continue
        m_add = 0
        if any(base_op(x.op) == "LDG" and access_bytes(x) == 16 for x in blk.instrs):
            m_add |= 1
        if any(base_op(x.op) == "STG" and access_bytes(x) == 16 for x in blk.instrs):
            m_add |= 2
        work = sum(1 for x in blk.instrs if base_op(x.op) in USEFUL_OPS)
        for mask in range(4):
            if (i, mask) not in best:
                continue
            (w0, n0), _ = best[(i, mask)]
            val, nm = (w0 + work, n0 - len(blk.instrs)), mask | m_add
            targets = [s for s in blk.succs if i < s <= latch]
            if i == latch:
                targets.append("end")
            for s in targets:
                if (s, nm) not in best or best[(s, nm)][0] < val:
                    best[(s, nm)] = (val, (i, mask))
    if ("end", 3) not in best:
        return None
    path, node = [], best[("end", 3)][1]
    while node is not None:
        path.append(node[0])
        node = best[node][1]
    path.reverse()
    return [x for i in path for x in bl[i].instrs]


def _dest_regs(ins):
    """Registers an instruction writes (its first operand, widened by .64 /
    .128 accesses); stores write none."""
    if base_op(ins.op) in STORE_OPS or not ins.operands:
        return set()
    m = _REG.match(ins.operands.split(",")[0].strip())
    if not m:
        return set()
    n = int(m.group(1))
    width = max(1, access_bytes(ins) // 4) if base_op(ins.op).startswith("LD") else 1
    return set(range(n, n + width))


def _src_regs(ins):
    parts = ins.operands.split(",")
    if base_op(ins.op) not in STORE_OPS:
        parts = parts[1:]
    regs = set()
    for p in parts:
        for m in _REG.finditer(p):
            n = int(m.group(1))
            w = {None: 1, "64": 2, "128": 4}[m.group(2)]
            regs.update(range(n, n + w))
    return regs


def loads_before_first_use(path):
    """``(count, bytes)``: the global loads of ``path`` a thread issues
    before any instruction reads one of their results (its loads in
    flight at once)."""
    pending, n, nbytes = set(), 0, 0
    for ins in path:
        if _src_regs(ins) & pending:
            break
        if base_op(ins.op) == "LDG":
            pending |= _dest_regs(ins)
            n += 1
            nbytes += access_bytes(ins)
    return n, nbytes


def counts(instrs):
    """Instruction counts by base opcode, plus global load / store counts by
    access width (``LDG.16`` ... for 16-byte ones)."""
    c = {}
    for i in instrs:
        op = base_op(i.op)
        c[op] = c.get(op, 0) + 1
        if op in ("LDG", "STG", "LDS", "STS"):
            k = f"{op}.{access_bytes(i)}"
            c[k] = c.get(k, 0) + 1
    return c


def tap_segment(path):
    """The part of an interior path between its last barrier and its first
    global store: the tap loop (shared loads and FMAs)."""
    last_bar = max((k for k, i in enumerate(path) if base_op(i.op) == "BAR"), default=-1)
    first_st = next((k for k, i in enumerate(path) if base_op(i.op) == "STG" and k > last_bar),
                    len(path))
    return path[last_bar + 1:first_st]


def is_window_move(ins):
    """A register-to-register move (the generic kernel's sliding window)."""
    op = base_op(ins.op)
    if op == "MOV":
        return bool(re.match(r"^R\d+\s*,\s*R\d+$", ins.operands))
    if op == "IMAD" and ins.op == "IMAD.MOV.U32":
        return bool(re.match(r"^R\d+\s*,\s*RZ\s*,\s*RZ\s*,\s*R\d+$", ins.operands))
    return False
