"""The device of a CUDA launch: CuPy's current GPU, or the CPU emulator."""

import os

import numpy as np

from ..._util.dtypes import KERNEL_DTYPES
from ..._util.memo import Memo

# dtypes the device kernels take; the others (object, long double) stay on
# the CPU backend
DEVICE_DTYPES = KERNEL_DTYPES
_DEVICE_SET = frozenset(DEVICE_DTYPES)   # a hashed lookup (tuple membership compares each)


def supports(plan):
    return plan.dtype in _DEVICE_SET


def _emu_factory(code, options=(), name_expressions=(), sanitize=None):
    from ..._emu import EmuModule
    from .kernels import kernel_paths
    inc = tuple({os.path.dirname(p) for p in kernel_paths() if os.path.exists(p)})
    return EmuModule(code, options=options, name_expressions=name_expressions,
                     include_dirs=inc, sanitize=sanitize)


class _Device:
    """What differs between the GPU and the emulator: namespace, modules."""

    def __init__(self, emulated, device_id):
        self.emulated = emulated
        self.device_id = device_id
        self._modules = {}
        if emulated:
            self.xp = np
            self.factory = _emu_factory
        else:
            import cupy
            self.xp = cupy
            self.factory = None

    def module(self, dtype, wide=False):
        # kept per device and dtype: get_module's key costs more than this lookup
        key = (dtype, True) if wide else dtype
        m = self._modules.get(key)
        if m is None:
            from .kernels import get_module
            m = self._modules[key] = get_module(self.device_id, dtype,
                                                module_factory=self.factory, wide=wide)
        return m

    def small_module(self, dtype, K0, K1, flip, boundary):
        """The corr2d_small module of one variant (launch_corr2d's ``small``)."""
        from .kernels import get_small_module
        return get_small_module(self.device_id, dtype, K0, K1, flip, boundary,
                                module_factory=self.factory)

    def large_module(self, dtype, flip, boundary):
        """The corr2d_large module of one variant (launch_corr2d's ``large``)."""
        from .kernels import get_large_module
        return get_large_module(self.device_id, dtype, flip, boundary,
                                module_factory=self.factory)

    def fft(self):
        if self.emulated:
            import scipy.fft
            return scipy.fft
        import cupy.fft
        return cupy.fft


_DEVICES = Memo()


def device(emulated):
    """The :class:`_Device` of the emulator or of CuPy's current device (one
    per device, reused: a call does not rebuild it)."""
    if emulated:
        key = "emu"
    else:
        import cupy
        key = cupy.cuda.runtime.getDevice()
    return _DEVICES.get(key, lambda: _Device(emulated, key))


