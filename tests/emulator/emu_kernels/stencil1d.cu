// 1-D box stencil: out[i] = sum_{k=-R..R} in[i+k] (zero padded), staged through
// dynamic shared memory (blockDim.x + 2R floats) with one __syncthreads.
#ifndef RADIUS
#define RADIUS 3
#endif

extern "C" __global__ void stencil1d(float* __restrict__ out, const float* __restrict__ in, int n)
{
    extern __shared__ float smem[];
    const int R = RADIUS;
    int g = blockIdx.x * blockDim.x + threadIdx.x;
    int l = threadIdx.x + R;
    smem[l] = (g < n) ? __ldg(&in[g]) : 0.0f;
    if (threadIdx.x < R) {
        int gl = g - R;
        int gr = g + blockDim.x;
        smem[l - R] = (gl >= 0 && gl < n) ? in[gl] : 0.0f;
        smem[l + blockDim.x] = (gr < n) ? in[gr] : 0.0f;
    }
#ifndef EMU_TEST_REMOVE_SYNC
    __syncthreads();
#endif
    if (g < n) {
        float acc = 0.0f;
#pragma unroll
        for (int k = -R; k <= R; ++k) acc += smem[l + k];
        out[g] = acc;
    }
}

// Reads shared memory that nobody wrote: used to check that poisoning works.
extern "C" __global__ void read_uninit(float* out, unsigned int* out_bits)
{
    __shared__ float tile[64];
    extern __shared__ unsigned int dyn_u[];
    out[blockIdx.x * blockDim.x + threadIdx.x] = tile[threadIdx.x];
    out_bits[blockIdx.x * blockDim.x + threadIdx.x] = dyn_u[threadIdx.x];
}

// Writes `extra` floats past the dynamic shared memory it was given (bug).
extern "C" __global__ void smem_overflow(float* out, int nfloats, int extra)
{
    extern __shared__ float smem[];
    for (int i = threadIdx.x; i < nfloats + extra; i += blockDim.x) smem[i] = 1.0f;
    __syncthreads();
    out[threadIdx.x] = smem[threadIdx.x];
}

// __syncthreads inside a branch that only some threads take.
extern "C" __global__ void divergent_barrier(float* out)
{
    if (threadIdx.x < 16) {
        out[threadIdx.x] = 1.0f;
        __syncthreads();
    }
}

// Early return before the barrier for some threads (also divergent).
extern "C" __global__ void early_exit_barrier(float* out, int n)
{
    __shared__ float s[128];
    if ((int)threadIdx.x >= n) return;
    s[threadIdx.x] = threadIdx.x;
    __syncthreads();
    out[threadIdx.x] = s[(threadIdx.x + 1) % n];
}

// Sums shifted tiles; the second __syncthreads guards the shared tile against
// being overwritten by the next iteration while neighbours still read it
// (write-after-read hazard when DROP_SECOND_SYNC is defined).
extern "C" __global__ void tiled_shift_sum(const float* in, float* out, int ntiles)
{
    __shared__ float t[64];
    float acc = 0.0f;
    for (int it = 0; it < ntiles; ++it) {
        t[threadIdx.x] = in[it * 64 + threadIdx.x];
        __syncthreads();
        acc += t[(threadIdx.x + 1) % 64];
#ifndef DROP_SECOND_SYNC
        __syncthreads();
#endif
    }
    out[threadIdx.x] = acc;
}
