"""The device of a CUDA launch: CuPy's current GPU, or the CPU emulator."""

import os

import numpy as np

# dtypes the device kernels take; the others (bool, object, long double)
# stay on the CPU backend
DEVICE_DTYPES = tuple(np.dtype(n) for n in (
    "float16", "float32", "float64", "complex64", "complex128",
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"))


def supports(plan):
    return plan.dtype in DEVICE_DTYPES


def _emu_factory(code, options=(), name_expressions=()):
    from ..._emu import EmuModule
    from .kernels import kernel_paths
    inc = tuple({os.path.dirname(p) for p in kernel_paths() if os.path.exists(p)})
    return EmuModule(code, options=options, name_expressions=name_expressions,
                     include_dirs=inc)


class _Device:
    """What differs between the GPU and the emulator: namespace, modules."""

    def __init__(self, emulated, device_id):
        self.emulated = emulated
        self.device_id = device_id
        if emulated:
            self.xp = np
            self.factory = _emu_factory
        else:
            import cupy
            self.xp = cupy
            self.factory = None

    def module(self, dtype):
        from .kernels import get_module
        return get_module(self.device_id, dtype, module_factory=self.factory)

    def fft(self):
        if self.emulated:
            import scipy.fft
            return scipy.fft
        import cupy.fft
        return cupy.fft


_DEVICES = {}


def device(emulated):
    """The :class:`_Device` of the emulator or of CuPy's current device (one
    per device, reused: a call does not rebuild it)."""
    if emulated:
        key = "emu"
    else:
        import cupy
        key = cupy.cuda.runtime.getDevice()
    dev = _DEVICES.get(key)
    if dev is None:
        dev = _DEVICES[key] = _Device(emulated, key)
    return dev


