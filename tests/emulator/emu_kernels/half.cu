#include <cuda_fp16.h>
// __half in/out with float accumulation; scalar __half parameter by value.
extern "C" __global__ void axpy_half(__half* y, const __half* x, __half a, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = __float2half(__half2float(a) * __half2float(x[i]) + __half2float(y[i]));
}
