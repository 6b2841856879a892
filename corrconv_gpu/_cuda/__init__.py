"""CUDA side of corrconv_gpu: the direct kernel ``kernels/corr2d.cu``, its
modules and launches.  Importing this package never imports CuPy.

``get_module(device_id, dtype, module_factory=None)``
    the (memoized) module holding every variant of a dtype; CuPy's RawModule
    by default, ``corrconv_gpu._emu.EmuModule`` for the CPU emulator.
``launch_corr2d(module, x, w, out, r0, r1, flip, conj, boundary, fillvalue, max_grid=None)``
    one launch of ``out[i, j] = sum_pq X(i + r0 + p, j + r1 + q) W(p, q)``.
``name_expression(dtype, flip, conj, boundary)``
    e.g. ``"corr2d<float, float, false, false, 0, 8>"``.
"""

from ._kernels import (BOUNDARY_CODES, SUPPORTED_DTYPES, boundary_code,  # noqa: F401
                       compile_options, ctype, cupy_module_factory, get_module,
                       kernel_source, name_expression, name_expressions)
from ._launch import LaunchConfig, launch_config, launch_corr2d  # noqa: F401
from ._params import LAUNCH_TABLE, launch_params  # noqa: F401
