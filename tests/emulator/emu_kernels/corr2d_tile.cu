// 2-D "valid"-size-preserving correlation out[y][x] = sum_{i,j} w[i][j] * in[y+i-R][x+j-R]
// (zero padding) with a static shared input tile and the filter in dynamic
// shared memory.  A stand-in for the project's corr2d kernel, used for timing.
template <typename T, int BX, int BY, int KMAX>
__global__ void corr2d_tile(T* __restrict__ out, const T* __restrict__ in, const T* __restrict__ w,
                            int h, int wd, int k)
{
    __shared__ T tile[BY + KMAX - 1][BX + KMAX - 1];
    extern __shared__ unsigned char dyn_raw[];
    T* wsh = reinterpret_cast<T*>(dyn_raw);
    const int r = k / 2;
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int x0 = blockIdx.x * BX - r, y0 = blockIdx.y * BY - r;
    for (int i = ty * BX + tx; i < k * k; i += BX * BY) wsh[i] = w[i];
    for (int yy = ty; yy < BY + k - 1; yy += BY)
        for (int xx = tx; xx < BX + k - 1; xx += BX) {
            int gy = y0 + yy, gx = x0 + xx;
            tile[yy][xx] = (gy >= 0 && gy < h && gx >= 0 && gx < wd) ? in[(long long)gy * wd + gx] : T(0);
        }
    __syncthreads();
    int x = blockIdx.x * BX + tx, y = blockIdx.y * BY + ty;
    if (x < wd && y < h) {
        T acc = T(0);
        for (int i = 0; i < k; ++i)
            for (int j = 0; j < k; ++j) acc += wsh[i * k + j] * tile[ty + i][tx + j];
        out[(long long)y * wd + x] = acc;
    }
}
