"""Child process for sanitizer launches (run with LD_PRELOAD=libtsan/libasan).

usage: python _child.py WORKDIR
WORKDIR/spec.pkl describes the launch; pointer arguments are raw byte images
WORKDIR/argN.bin of the memory extent of each array.  Writes them back after
the launch and stores WORKDIR/result.pkl.  Only stdlib + numpy are imported.
"""
import ctypes
import importlib.util
import os
import pickle
import sys

import numpy as np


def main(workdir):
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("_emu_native_child", os.path.join(here, "_native.py"))
    native = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(native)
    with open(os.path.join(workdir, "spec.pkl"), "rb") as f:
        s = pickle.load(f)
    lib = native.load_library(s["lib"])
    meta = native.KernelMeta(lib, s["index"], s["name"])
    args, bufs, overrides = [], {}, {}
    for i, a in enumerate(s["args"]):
        if isinstance(a, tuple) and a and a[0] == "ptr":
            _, fname, offset, dtype = a
            buf = np.fromfile(os.path.join(workdir, fname), dtype=np.uint8)
            bufs[i] = (buf, fname)
            overrides[i] = buf.ctypes.data + offset if buf.size else 0
            args.append(np.empty(0, dtype=dtype))  # placeholder carrying the dtype for the checks
        else:
            args.append(a)
    result = {"error": None}
    try:
        meta.launch(s["grid"], s["block"], args, s["shared_mem"], s["opts"], pointer_overrides=overrides)
    except native.EmuLaunchError as e:
        result["error"] = str(e)
    for i, (buf, fname) in bufs.items():
        buf.tofile(os.path.join(workdir, fname))
    with open(os.path.join(workdir, "result.pkl"), "wb") as f:
        pickle.dump(result, f)
    sys.stderr.flush()


if __name__ == "__main__":
    main(sys.argv[1])
