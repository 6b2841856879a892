"""GPU benchmark: corrconv_gpu's CUDA backend against CuPy, PyTorch and cuCIM, or, without
a GPU, the emulator's traffic table and the roofline model's prediction.

Usage (from the repository root)::

    python benchmarks/run_gpu.py                 # GPU: full grid -> benchmarks/results/gpu.{md,json,png}
                                                 # no GPU: MODEL -> benchmarks/results/gpu_model.{md,json,png}
    python benchmarks/run_gpu.py --quick         # small grid (4096^2, float32, K 3,7,31)
    python benchmarks/run_gpu.py --sizes 8192 --dtypes float32 --ks 3,15 --repeat 20
    python benchmarks/run_gpu.py --fake-gpu-with-emulator   # self-check of the GPU branch, no GPU

What is called, timed and reported: benchmarks/README.md, section "GPU
benchmark", and the modules of benchmarks/gpu_bench/: ``peers`` (the library
calls), ``harness`` (timing, device peaks, the model, the overlap report),
``report`` (metrics, tables, goals, plot, the written files). This file: the
options and the two flows, measured (or --fake-gpu-with-emulator) and MODEL.
"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)  # the repository checkout wins
sys.path.insert(1, HERE)  # this folder: the shared CLI helpers and gpu_bench

from _cli import int_list, str_list  # noqa: E402
from gpu_bench import harness, peers, report  # noqa: E402
from gpu_bench.harness import log  # noqa: E402
from gpu_bench.peers import TOL  # noqa: E402

DEFAULT = dict(sizes="4096,8192", dtypes="float32,float16,float64", ks="3,5,7,9,15,31,63")
QUICK = dict(sizes="4096", dtypes="float32", ks="3,7,31")
FAKE = dict(sizes="64", dtypes="float32,float16,float64", ks="3,7,15")


def main_model(args, why):
    spec = harness.model_spec()
    banner = f"MODEL (no GPU measured): {why}"
    log(banner)
    log(f"grid: sizes {args.sizes}, dtypes {args.dtypes}, K {args.ks}, mode 'same'")
    log("")
    log("== Emulator traffic table (benchmarks/emu_traffic.py: counted bytes of the real "
        "kernel on the CPU emulator) ==")
    emu_text, emu_ok = harness.emu_traffic(args)
    log(emu_text)
    results = harness.run_model(args, spec)
    results["meta"]["no_gpu_reason"] = why
    results["meta"]["emu_traffic"] = {"ok": emu_ok, "text": emu_text}
    band_ctx, band_api = harness.banded_api()
    results["meta"]["overlap"] = {"skipped": (
        f"needs a GPU (banded execution found: {band_api}; measured on a GPU run)"
        if band_ctx is not None else f"needs a GPU; {band_api}")}
    tab, gl = report.table(results, model=True), report.goals(results, model=True)
    mc = results["meta"]["model"]   # corrconv_gpu._dispatch.cost's constants
    log("")
    log(f"== MODEL (no GPU measured): roofline prediction of corrconv_gpu._dispatch.cost, "
        f"{report.spec_line(spec)} ==")
    log("The model (constants fitted to an H100 run of benchmarks/gpu_probe.py) takes "
        f"{mc['GPU_BW_EFFICIENCY']:.0%} of HBM per output plus "
        f"{mc['GPU_FLOP_EFFICIENCY']:.0%} (FP64 {mc['GPU_FLOP_EFFICIENCY_FP64']:.0%}) of the FMA "
        f"peak per tap, plus {1e6 * mc['GPU_LAUNCH_S']:g} us per launch: the % columns show "
        "what those constants imply on this device, nothing measured here.")
    log("")
    log(tab)
    log("")
    log("goals, evaluated on the MODEL (not a measurement):")
    log(gl)
    log("")
    log(f"overlap report: {results['meta']['overlap']['skipped']}")
    md = report.model_markdown(results, tab, gl)
    os.makedirs(args.out, exist_ok=True)
    report.write(results, args.out, "gpu_model", md)
    log(f"plot: {report.plot(results, os.path.join(args.out, 'gpu_model.png'), 'MODEL (no GPU measured): predicted time vs K')}")
    log(f"wrote {os.path.join(args.out, 'gpu_model.md')}, {os.path.join(args.out, 'gpu_model.json')}")
    return 0


def main_measured(args, fake):
    env = harness.Env(fake)
    if fake:
        spec = dict(harness.model_spec(),
                    name="FAKE: CUDA emulator on the CPU (percentages meaningless)")
    else:
        spec = harness.device_spec(args)
    stem = "gpu_fake" if fake else "gpu"
    args.stem = stem
    libs = peers.libraries(env, with_torch=not args.no_torch, with_cucim=not args.no_cucim)
    log(("FAKE GPU (emulator, perf_counter timing, peers = SciPy stand-ins, torch and cuCIM "
         "skipped): exercises the GPU branch only") if fake
        else f"GPU: {report.spec_line(spec)}")
    log(f"grid: sizes {args.sizes}, dtypes {args.dtypes}, K {args.ks}, mode 'same'; "
        f"libraries {list(libs)}; repeat {args.repeat}, budget {args.budget} s, batch {args.batch}")
    if not fake and "torch" not in libs:
        log(f"torch: {env.torch_why or 'off (--no-torch)'}")
    if not fake and "cucim_ndimage" not in libs:
        log(f"cucim: {env.cucim_why or 'off (--no-cucim)'}")
    os.makedirs(args.out, exist_ok=True)
    try:
        results = harness.run_measured(args, env, spec)
    except KeyboardInterrupt:
        tmp = os.path.join(args.out, f"{stem}.json.tmp")
        if not os.path.exists(tmp):
            raise
        log("interrupted: writing the points measured so far")
        with open(tmp) as f:
            results = json.load(f)
        results["meta"]["partial"] = True
    if args.no_overlap:
        ov, ov_text = {"skipped": "--no-overlap"}, "skipped (--no-overlap)"
    else:
        ov, ov_text = harness.overlap_report(args, env)
    results["meta"]["overlap"] = ov
    tab, sm, gl = report.table(results), report.summary(results), report.goals(results)
    title = ("FAKE (emulator)" if fake else "MEASURED") + f": {spec['name']}"
    md = report.measured_markdown(results, spec, title, fake, env.peer_note, tab, sm, gl,
                                  ov_text)
    report.write(results, args.out, stem, md)
    log(f"plot: {report.plot(results, os.path.join(args.out, stem + '.png'), title)}")
    log(f"wrote {os.path.join(args.out, stem + '.md')}, {os.path.join(args.out, stem + '.json')}")
    log("")
    log(tab)
    log("")
    log(sm)
    log("")
    log("goals:")
    log(gl)
    log("")
    log(f"overlap report: {ov_text}")
    return 0


# -------------------------------------------------------------------- main

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", help=f"image sizes N (N x N), default {DEFAULT['sizes']}")
    ap.add_argument("--dtypes", help=f"float16, float32, float64; default {DEFAULT['dtypes']}")
    ap.add_argument("--ks", help=f"kernel sizes K (K x K), default {DEFAULT['ks']}")
    ap.add_argument("--repeat", type=int, default=None,
                    help="timed runs per library per point (default 10; --quick 5)")
    ap.add_argument("--budget", type=float, default=3.0,
                    help="stop repeating a library once its runs add up to this many seconds "
                         "(default 3; at least one run)")
    ap.add_argument("--batch", type=int, default=1,
                    help="back-to-back calls between the two CUDA events of one timing "
                         "(default 1: the time of one call, host overhead included)")
    ap.add_argument("--quick", action="store_true",
                    help=f"small grid: sizes {QUICK['sizes']}, dtypes {QUICK['dtypes']}, "
                         f"ks {QUICK['ks']}, repeat 5")
    ap.add_argument("--out", default=None,
                    help="output folder (default benchmarks/results; --quick and "
                         "--fake-gpu-with-emulator: a temp folder)")
    ap.add_argument("--fake-gpu-with-emulator", action="store_true", dest="fake",
                    help="run the GPU branch on use_backend('emulated') with perf_counter "
                         f"timing on a tiny grid (sizes {FAKE['sizes']}, ks {FAKE['ks']}); "
                         "SciPy stands in for the cupyx peers, torch and cuCIM are skipped")
    ap.add_argument("--model", action="store_true",
                    help="the no-GPU output (traffic table + MODEL) even where a GPU exists")
    ap.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    ap.add_argument("--no-cucim", action="store_true", help="leave cuCIM out")
    ap.add_argument("--skip-slow-peers-above", type=float, default=10.0, metavar="SECONDS",
                    help="skip a peer for larger K (same size, dtype) once its first call "
                         "took longer (default 10; 0 = never)")
    ap.add_argument("--peak-bw", type=float, default=None, metavar="TB_PER_S",
                    help="override the peak HBM bandwidth (TB/s)")
    ap.add_argument("--peak-fp32", type=float, default=None, metavar="TFLOPS")
    ap.add_argument("--peak-fp64", type=float, default=None, metavar="TFLOPS")
    ap.add_argument("--no-overlap", action="store_true", help="skip the banded overlap report")
    ap.add_argument("--overlap-size", type=int, default=16384,
                    help="overlap report: N of the NumPy input (default 16384)")
    ap.add_argument("--overlap-k", type=int, default=7)
    ap.add_argument("--overlap-dtype", default="float32")
    ap.add_argument("--overlap-budget-frac", type=float, default=0.25,
                    help="overlap report: budget = this fraction of the input's bytes "
                         "(default 0.25)")
    ap.add_argument("--overlap-repeat", type=int, default=3,
                    help="overlap report: timed runs of each part (median; default 3)")
    ap.add_argument("--emu-args", default="",
                    help="arguments passed to emu_traffic.py (no-GPU mode), e.g. "
                         "\"--size 64 --dtypes float32\"")
    ap.add_argument("--emu-timeout", type=float, default=300.0)
    a = ap.parse_args(argv)
    base = FAKE if a.fake else QUICK if a.quick else DEFAULT
    a.sizes = int_list(a.sizes or base["sizes"])
    a.dtypes = [str(np.dtype(d)) for d in str_list(a.dtypes or base["dtypes"])]
    for d in a.dtypes:
        if d not in TOL:
            ap.error(f"dtype must be float16, float32 or float64 (got {d!r})")
    a.ks = sorted(int_list(a.ks or base["ks"]))
    if a.fake and a.overlap_size == 16384:
        a.overlap_size = 256     # the emulator: a tiny image
    if a.repeat is None:
        a.repeat = 3 if a.fake else 5 if a.quick else 10
    if a.batch < 1:
        ap.error("--batch must be >= 1")
    if a.out is None:
        a.out = (os.path.join(tempfile.gettempdir(), "corrconv_gpu_bench_fake") if a.fake
                 else os.path.join(tempfile.gettempdir(), "corrconv_gpu_bench_quick") if a.quick
                 else os.path.join(HERE, "results"))
    return a


def main(argv=None):
    args = parse_args(argv)
    ok, why = harness.gpu_available()
    if args.fake:
        args.kind = "fake (emulator)"
        return main_measured(args, fake=True)
    if ok and not args.model:
        args.kind = "measured"
        return main_measured(args, fake=False)
    args.kind = "model"
    return main_model(args, why if not ok else "--model")


if __name__ == "__main__":
    sys.exit(main())
