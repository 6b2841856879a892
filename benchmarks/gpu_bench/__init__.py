"""The pieces of benchmarks/run_gpu.py: ``harness`` (timing, device description,
the measured / modelled runs), ``peers`` (how each library is called) and
``report`` (metrics, tables, goals, plot, the written files)."""
