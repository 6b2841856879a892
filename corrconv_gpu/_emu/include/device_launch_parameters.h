// corrconv_gpu emulator: everything lives in the forced-include emu_cuda.h.
#pragma once
