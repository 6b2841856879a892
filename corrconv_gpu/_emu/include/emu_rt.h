// Internal interface between the generated kernel translation unit and the
// corrconv_gpu CPU emulator runtime (emu_runtime.cpp).  Not for kernel code.
#pragma once
#include <cstddef>
#include <cstdint>

struct uint3 { unsigned int x, y, z; };
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};

namespace __emu {

// Must match _native.py (_LaunchCfg).
struct LaunchCfg {
    unsigned int grid[3];
    unsigned int block[3];
    unsigned long long shared_mem;
    int workers;
    int thread_order;          // 0 forward, 1 reverse, 2 shuffled each barrier round
    unsigned long long seed;
    int poison;                // -1: off; else byte value written over shared memory at block start
    int canary_bytes;          // bytes of canary placed right after dynamic shared memory
    int block_order;           // 0 forward, 1 reverse
    unsigned long long stack_size;
    char* errbuf;
    unsigned long long errlen;
};

typedef void (*BodyFn)(void*);

// Dynamic shared memory capacity (the H100/H200 opt-in maximum, 227 KiB) and
// the largest canary that follows it.  The generated assembly that defines
// the `extern __shared__` symbols uses the same numbers.
constexpr unsigned long long kDynSmemMax = 232448;
constexpr unsigned long long kCanaryMax = 4096;

int run_grid(const LaunchCfg* cfg, BodyFn fn, void* data);

// per-OS-thread (i.e. per running block) / per-fiber coordinates; the
// scheduler stores the running fiber's threadIdx here before switching to it.
extern thread_local uint3 t_threadIdx;
extern thread_local uint3 t_blockIdx;
extern thread_local dim3 t_blockDim;
extern thread_local dim3 t_gridDim;

void syncthreads();
int syncthreads_reduce(int op, int pred);   // op 0 count, 1 and, 2 or
unsigned long long warp_op(int op, unsigned mask, unsigned long long value, int param, int width);
void kernel_fail(const char* msg);         // records an error and abandons the block
void dyn_smem_info(void** base, unsigned long long* size);

}  // namespace __emu
