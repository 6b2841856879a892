"""The CPU's two kernels for filters over three axes, side by side in one
process: the planes kernel and the stack kernel at several staged-block
heights (``STACK_BLOCK``), called alternately (each once per round) on one
float32 volume with cubic weights, mode 'reflect'.

    python benchmarks/volume_kernels.py                          # 256^3 and 512^3, K = 3
    python benchmarks/volume_kernels.py --sizes 256 --blocks 32,64 --new

Prints, per size, the median and minimum seconds of each configuration and
its speed relative to the planes kernel, and checks that every
configuration returns the same bits. ``--new``: a new output array per call
(as ``ndimage.correlate(x, w)``; the operating system zeroes its pages),
else ``output=`` one array per configuration. A tuning tool: it swaps the
kernels in by patching the backend module (``STACK_BLOCK`` is a
compile-time constant, so each height is its own compiled kernel).
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))   # the repository checkout wins

import corrconv_gpu  # noqa: E402
from corrconv_gpu import ndimage as cnd  # noqa: E402
from corrconv_gpu._backends.cpu import direct, native  # noqa: E402
from corrconv_gpu._backends.cpu import direct_kernel as dk  # noqa: E402


def _install():
    """Patch the backend so that ``use(block)`` picks the kernel: None, the
    planes kernel; an int, the stack kernel with that block height."""
    state = {"block": None}
    compiled = {}
    real_applies, real_block = dk.stack_applies, dk.STACK_BLOCK

    def kernel(dt, variant):
        key = (np.dtype(dt), variant, dk.STACK_BLOCK)
        if key not in compiled:
            compiled[key] = native._ctypes_fn(native._params(variant))(
                native._address(np.dtype(dt), variant))
        return compiled[key]

    def use(block):
        state["block"] = block
        dk.STACK_BLOCK = real_block if block is None else block

    direct.kernel = kernel
    direct.STACK_MIN_OUTPUTS = 0
    dk.stack_applies = lambda *a: state["block"] is not None and real_applies(*a)
    return use


def run(args):
    use = _install()
    configs = [None] + args.blocks
    name = {None: "planes"} | {b: f"stack, STACK_BLOCK={b}" for b in args.blocks}
    rng = np.random.default_rng(0)
    for n in args.sizes:
        x = rng.random((n, n, n), dtype=np.float32)
        w = rng.standard_normal((args.k,) * 3).astype(np.float32)
        outs = {c: np.empty_like(x) for c in configs}
        times = {c: [] for c in configs}
        with corrconv_gpu.use_backend("cpu"):
            for c in configs:                       # compile and warm up
                use(c)
                cnd.correlate(x, w, output=outs[c])
            for _ in range(args.rounds):
                for c in configs:
                    use(c)
                    t = time.perf_counter()
                    if args.new:
                        outs[c] = cnd.correlate(x, w)
                    else:
                        cnd.correlate(x, w, output=outs[c])
                    times[c].append(time.perf_counter() - t)
        base = statistics.median(times[None])
        ref = outs[None].view(np.uint32)
        for c in configs:
            med = statistics.median(times[c])
            same = np.array_equal(outs[c].view(np.uint32), ref)
            print(f"{n}^3 K={args.k} {'new' if args.new else 'output='}: {name[c]:<22} "
                  f"median {med:.4f} s, min {min(times[c]):.4f} s, x{base / med:.2f} "
                  f"vs planes, {'same bits' if same else 'DIFFERENT BITS'}", flush=True)
            if not same:
                raise SystemExit(1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")],
                    default=[256, 512])
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--blocks", type=lambda s: [int(v) for v in s.split(",")],
                    default=[16, 64, 256])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--new", action="store_true")
    run(ap.parse_args(argv))


if __name__ == "__main__":
    main()
