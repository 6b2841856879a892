#!/usr/bin/env bash
# One prepared run of every GPU check, for a session that is lent a GPU for a
# few minutes: the tuner, the GPU test suite, the kernel probe, the host
# overhead against cupyx, the peers benchmark (quick grid) and the GPU
# accuracy table. Each step has its own time limit (550 s in all, 9.2 minutes);
# a step that fails or runs out of time is reported and the next one runs.
#
#   bash benchmarks/gpu_session.sh [OUTDIR]     # default: $OUT, else /tmp/gpu_session
#
# Everything goes to OUTDIR: one log per step, the tuned launch table
# (small_table.json: copy it into corrconv_gpu/_backends/cuda/ to adopt it),
# the peers' tables and plot, and summary.txt (exit status and seconds per
# step). Without a GPU every step says so and exits without measuring.
set -u
cd "$(dirname "$0")/.."
out=${1:-${OUT:-/tmp/gpu_session}}
mkdir -p "$out"
py=${PYTHON:-python}
summary="$out/summary.txt"
: > "$summary"

step() {   # step NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS
    echo "== $name (limit ${limit}s): $*" | tee -a "$out/$name.log"
    timeout --kill-after=5 "$limit" "$@" >> "$out/$name.log" 2>&1
    local rc=$?
    echo "$name rc=$rc ${limit}s-limit $((SECONDS - t0))s" | tee -a "$summary"
    tail -n 25 "$out/$name.log"
}

step env 20 bash -c "nvidia-smi; $py -c 'import cupy, numpy, scipy, corrconv_gpu; \
print(cupy.__version__, numpy.__version__, scipy.__version__, corrconv_gpu.__version__); \
print(cupy.cuda.runtime.getDeviceProperties(0)[\"name\"])'"
step tune 180 "$py" benchmarks/gpu_tune.py --minutes 2.5 --out "$out/small_table.json"
step pytest_gpu 140 "$py" -m pytest -m gpu -q -x -rs -p no:cacheprovider
step probe 70 "$py" benchmarks/gpu_probe.py --sizes 4096,8192 --dtypes float32,float16,float64 \
    --ks 1,3,5,7,15,31 --launches 20
step overhead 30 "$py" benchmarks/gpu_probe.py --overhead
step peers 80 "$py" benchmarks/run_gpu.py --quick --no-overlap --out "$out/run_gpu"
step accuracy 30 "$py" benchmarks/accuracy.py --size 512 --ks 7 31 --backend cuda
cat "$summary"
