// Tiled matrix transpose through a static __shared__ tile, templated on the
// element type and tile size: out (cols x rows) = in (rows x cols)^T.
#include <cupy/complex.cuh>

template <typename T, int TILE>
__global__ void transpose(T* __restrict__ out, const T* __restrict__ in, int rows, int cols)
{
    __shared__ T tile[TILE][TILE + 1];
    int x = blockIdx.x * TILE + threadIdx.x;   // column in `in`
    int y = blockIdx.y * TILE + threadIdx.y;   // row in `in`
    for (int j = 0; j < TILE; j += blockDim.y) {
        if (x < cols && y + j < rows) tile[threadIdx.y + j][threadIdx.x] = in[(long long)(y + j) * cols + x];
    }
    __syncthreads();
    x = blockIdx.y * TILE + threadIdx.x;       // column in `out`
    y = blockIdx.x * TILE + threadIdx.y;       // row in `out`
    for (int j = 0; j < TILE; j += blockDim.y) {
        if (x < rows && y + j < cols) out[(long long)(y + j) * rows + x] = tile[threadIdx.x][threadIdx.y + j];
    }
}

// scale by a complex factor: exercises complex<T> by-value params
template <typename T>
__global__ void cscale(complex<T>* z, complex<T> a, long long n)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) z[i] = z[i] * a;
}
