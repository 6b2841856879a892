"""Device memory traffic per output of ``corrconv_gpu.ndimage.correlate`` on
a float32 image, without a GPU.

Usage (from the repository root)::

    python benchmarks/ndimage_traffic.py          # writes results/ndimage_traffic.md

The public call runs on the emulated CUDA backend with every kernel module
built for counting (``EmuModule(..., sanitize='count')``): the bytes the
kernel reads and writes, per output. Weights of dtype float32 (values exact
in float32) take the kernel that reads and writes float32 and sums in
float64; float64 weights take the float64 kernels, around which the array
library converts the image to float64 and casts the float64 result back to
float32: those two passes are not kernels of ours, so their bytes are added
from their dtypes (4 read + 8 written, 8 read + 4 written per element).
"""

import argparse
import os
import platform
import time

import numpy as np

import corrconv_gpu as cc
from corrconv_gpu import ndimage as cnd
from corrconv_gpu._backends.cuda import device, kernels

HERE = os.path.dirname(os.path.abspath(__file__))
CONVERSIONS = (4 + 8) + (8 + 4)     # float32 -> float64 copy, float64 -> float32 cast


def _counting(functions, emu_factory):
    def factory(code, options=(), name_expressions=()):
        module = emu_factory(code, options=options, name_expressions=name_expressions,
                             sanitize="count")
        get = module.get_function

        def get_function(name):
            f = get(name)
            functions.append(f)
            return f
        module.get_function = get_function
        return module
    return factory


def measure(shape, ks, modes):
    functions, rows = [], []
    saved = device._emu_factory
    device._emu_factory = _counting(functions, saved)
    device._DEVICES.clear()
    kernels.clear_modules()
    try:
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        for k in ks:
            for mode in modes:
                for wdt in ("float32", "float64"):
                    del functions[:]
                    with cc.use_backend("emulated"):
                        out = cnd.correlate(x, np.ones((k, k), wdt), mode=mode)
                    c = functions[-1].last_counters
                    rd, wr = c["global_read_bytes"] / x.size, c["global_write_bytes"] / x.size
                    extra = CONVERSIONS if wdt == "float64" else 0
                    rows.append((k, mode, wdt, functions[-1].name, rd, wr, extra,
                                 rd + wr + extra, out.dtype))
    finally:
        device._emu_factory = saved
        device._DEVICES.clear()
        kernels.clear_modules()
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="256x512")
    ap.add_argument("--ks", default="3,5,7")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    shape = tuple(int(v) for v in a.shape.split("x"))
    rows = measure(shape, [int(k) for k in a.ks.split(",")], ("reflect", "constant"))
    lines = [
        "# Device memory traffic of ndimage.correlate on a float32 image (emulated, counted)",
        "",
        f"`python benchmarks/ndimage_traffic.py`: {shape[0]}x{shape[1]} float32 image, "
        "weights of ones, the public call on the emulated CUDA backend with counting "
        "kernel builds; bytes per output. The float64 path's conversion passes (the image "
        "to float64, the result back to float32) are array operations, not our kernels: "
        f"their {CONVERSIONS} bytes per element are added from their dtypes. Nothing here is "
        f"measured on a GPU. {platform.machine()}, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}.",
        "",
        "| K | mode | weights | kernel | kernel read | kernel written | conversions | "
        "total B/output | result |",
        "|---|---|---|---|---|---|---|---|---|"]
    for k, mode, wdt, name, rd, wr, extra, total, odt in rows:
        lines.append(f"| {k}x{k} | {mode} | {wdt} | `{name}` | {rd:.2f} | {wr:.2f} | {extra} "
                     f"| {total:.2f} | {odt} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if not a.no_write:
        with open(os.path.join(HERE, "results", "ndimage_traffic.md"), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
