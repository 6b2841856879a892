// Writes s[threadIdx.x + shift]: shift=0 is correct, shift=1 makes the last
// thread write one element past the static __shared__ array (planted bug).
extern "C" __global__ void oob_static(float* out, int shift)
{
    __shared__ float s[64];
    __shared__ float neighbour[64];
    neighbour[threadIdx.x] = 2.0f;
    s[threadIdx.x + shift] = 1.0f + threadIdx.x;
    __syncthreads();
    out[threadIdx.x] = s[threadIdx.x] + neighbour[threadIdx.x];
}
