// Warp-level collectives: a warp-shuffle sum reduction and a ballot.
extern "C" __global__ void warp_sum(const float* in, float* out, unsigned* ballots)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = in[i];
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
    unsigned b = __ballot_sync(0xffffffffu, in[i] > 0.5f);
    if ((threadIdx.x & 31) == 0) {
        out[i / 32] = v;
        ballots[i / 32] = b;
    }
}

// __syncthreads_count and atomics on shared and global memory
extern "C" __global__ void count_and_atomics(const float* in, int* counts, unsigned long long* total)
{
    __shared__ int s_count;
    if (threadIdx.x == 0) s_count = 0;
    __syncthreads();
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int p = in[i] > 0.5f;
    if (p) atomicAdd(&s_count, 1);
    int c = __syncthreads_count(p);
    if (threadIdx.x == 0) {
        counts[2 * blockIdx.x] = c;
        counts[2 * blockIdx.x + 1] = s_count;
        atomicAdd(total, (unsigned long long)c);
    }
}
