"""corrconv_gpu: 2-D cross-correlation and convolution, NumPy/SciPy-compatible,
on NVIDIA GPUs through our own CUDA kernels and on the CPU through Numba and FFTs.

CuPy is never imported here: only when a CuPy array is passed or the CUDA
backend is asked about.
"""

from . import ndimage
from ._backends.cuda.outofcore import MemoryBudgetError, memory_budget
from ._dispatch.backend import BackendInfo, backends, use_backend
from ._frontend.numpy1d import convolve, correlate
from ._frontend.signal2d import convolve2d, correlate2d

__version__ = "0.1.0"
__all__ = ["correlate", "convolve", "correlate2d", "convolve2d", "ndimage", "backends",
           "use_backend", "BackendInfo", "memory_budget", "MemoryBudgetError",
           "__version__"]
