// rows of a 2-D array `pitch` elements apart (64-bit offsets): a[r*pitch+c] *= s
extern "C" __global__ void pitched_scale(float* a, long long pitch, int rows, int cols, float s)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    int r = blockIdx.y;
    if (c < cols && r < rows) a[(long long)r * pitch + c] *= s;
}

// kernel-side assert
extern "C" __global__ void checked(const int* v)
{
    assert(v[threadIdx.x] >= 0);
}
