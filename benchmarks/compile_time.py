"""First-call cost of the CPU direct kernels: compile (empty cache) and load
(cache filled), each in a new process, against the budgets of 5 s and 0.5 s.

    python benchmarks/compile_time.py [--repeat 3] [--json out.json]

Each case runs ``correlate2d`` (``method='direct'``, ``'same'``) on a 512x512
image in a fresh interpreter: first with an empty kernel cache
(``CORRCONV_GPU_CPU_CACHE`` pointing to a new folder: the kernel variant is
compiled by Numba), then again with that cache (the object code is mapped
without importing Numba).  The times are of the first call alone (importing
corrconv_gpu is reported apart); medians over ``--repeat`` runs.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

BUDGET_FIRST_S = 5.0
BUDGET_CACHED_S = 0.5

CHILD = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    import numpy as np
    import corrconv_gpu as cg
    t1 = time.perf_counter()
    dt, k = sys.argv[1], int(sys.argv[2])
    x = np.random.default_rng(0).random((512, 512)).astype(dt)
    w = np.random.default_rng(1).random((k, k)).astype(dt)
    t2 = time.perf_counter()
    cg.correlate2d(x, w, "same", method="direct")
    t3 = time.perf_counter()
    print(json.dumps({"import": t1 - t0, "first": t3 - t2,
                      "numba": "numba" in sys.modules}))
""")

# (dtype, K, which kernel variant the call compiles)
CASES = [("float32", 9, "exact 9x9 (largest exact variant)"),
         ("float32", 11, "ring, tap groups (4, 3)"),
         ("float64", 3, "exact 3x3"),
         ("float64", 15, "ring, tap groups (4, 3)"),
         ("complex128", 7, "exact 7x7 (largest complex exact variant)")]


def _child(cache, dtype, k):
    env = dict(os.environ, CORRCONV_GPU_CPU_CACHE=cache)
    out = subprocess.run([sys.executable, "-c", CHILD, dtype, str(k)], env=env,
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="write the measurements here")
    args = ap.parse_args(argv)
    rows, ok = [], True
    for dtype, k, what in CASES:
        first, cached, imports, numba_cached = [], [], [], []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as cache:
                a = _child(cache, dtype, k)
                b = _child(cache, dtype, k)
            first.append(a["first"])
            cached.append(b["first"])
            imports.append(b["import"])
            numba_cached.append(b["numba"])
        row = {"dtype": dtype, "K": k, "variant": what,
               "first_s": statistics.median(first), "cached_s": statistics.median(cached),
               "import_s": statistics.median(imports),
               "numba_imported_when_cached": any(numba_cached),
               "first_all": first, "cached_all": cached}
        row["pass"] = row["first_s"] <= BUDGET_FIRST_S and row["cached_s"] <= BUDGET_CACHED_S
        ok &= row["pass"]
        rows.append(row)
        print(f"{dtype:8s} K={k:<3d} {what:36s} first call {row['first_s']:6.2f} s  "
              f"cached {row['cached_s']:6.3f} s  (import corrconv_gpu {row['import_s']:.3f} s; "
              f"Numba imported when cached: {row['numba_imported_when_cached']})  "
              f"{'PASS' if row['pass'] else 'FAIL'}", flush=True)
    print(f"budgets: first call <= {BUDGET_FIRST_S} s, cached first call <= "
          f"{BUDGET_CACHED_S} s: {'PASS' if ok else 'FAIL'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "budget_first_s": BUDGET_FIRST_S,
                       "budget_cached_s": BUDGET_CACHED_S}, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
