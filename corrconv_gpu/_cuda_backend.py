"""The CUDA backend: executes a plan with the kernels of ``kernels/*.cu``.

Not wired yet: ``READY`` is False, so :func:`corrconv_gpu.backends` reports
the CUDA backend as unavailable ("not built into this version") and ``auto``
uses the CPU backend.
"""

READY = False


def execute(plan, x, w, method="auto", fast_float32=False):
    raise RuntimeError("the CUDA backend is not built into this version")
