// corr2d.cu -- the direct 2-D correlation / convolution kernel of corrconv_gpu.
//
// ONE kernel template serves correlation and convolution, every output mode
// (full / same / valid are only different (O, r)), every boundary and dtype:
//
//   out[b, i, j] = sum_{p < K0, q < K1} X(b, i + r0 + p, j + r1 + q) * W(p, q)
//                  for 0 <= i < O0, 0 <= j < O1, 0 <= b < nbatch
//
//   X        the input x (nbatch, M0, M1) extended by BOUNDARY (corrconv_map)
//   W(p, q)  = w[K0-1-p, K1-1-q] when FLIP (convolution: the flip is index
//              arithmetic on the device, never a flipped copy), else w[p, q];
//              complex-conjugated when CONJ (correlation of complex data).
//
// Template parameters (the name expressions are built by
// corrconv_gpu/_cuda/_kernels.py:name_expression, e.g.
// "corr2d<float, float, false, false, 0, 4>"):
//
//   T         element type of x, w and out: __half, float, double,
//             complex<float>, complex<double>, bool, signed char, short, int,
//             long long, unsigned char, unsigned short, unsigned int,
//             unsigned long long.
//   Acc       accumulator: float for __half and float, double, complex<...>
//             for complex; for integers an UNSIGNED two's-complement type of
//             at least the width of T (unsigned int for <= 32-bit types,
//             unsigned long long for 64-bit ones).  Unsigned arithmetic wraps
//             modulo 2^32 / 2^64 without undefined behaviour, and the sum
//             modulo 2^bits(T) -- which is what NumPy's integer arithmetic
//             produces -- only depends on the sum modulo any larger power of
//             two, so the cast at the store wraps exactly like NumPy.  bool
//             counts the nonzero products (unsigned int) and stores acc != 0.
//   FLIP      convolution (true) or correlation (false).
//   CONJ      conjugate the weights (complex correlation; no-op for reals).
//   BOUNDARY  0 constant (fillvalue), 1 wrap, 2 symmetric (numpy 'symmetric',
//             period 2n), 3 mirror (numpy 'reflect', period 2n-2), 4 nearest.
//   OPT       outputs per thread (register blocking), from the launch table.
//
// Kernel arguments (exact widths; _launch.py packs them as NumPy scalars):
//
//   const T* x, long long x_stride, long long x_bstride, long long M0, long long M1
//   const T* w, long long w_stride, int K0, int K1
//   T* out, long long out_stride, long long out_bstride, long long O0, long long O1
//   long long nbatch, long long r0, long long r1, S fillvalue
//   int along_row, int kc0, int kc1
//
//   Strides are in ELEMENTS (row strides may be negative); the column stride
//   of x, w and out is 1.  x_bstride/out_bstride step between batch items.
//   S is the shared-memory type: float for __half (the fill value is given in
//   the float32 compute dtype, so it is exact), T otherwise.
//
// Geometry (all runtime, chosen by _launch.py's table):
//
//   block     (BX, BY) threads, BX*BY <= CORRCONV_MAX_THREADS (256).
//   along_row 0: each thread computes OPT outputs down a column (rows
//                ty + k*BY); output tile TH x TW = (BY*OPT) x BX.
//             1: OPT outputs along a row (columns tx + k*BX); the tile is
//                BY x (BX*OPT) -- used for flat outputs (1-D numpy.correlate).
//   grid      blockIdx.x over column tiles, blockIdx.y over row tiles,
//             blockIdx.z over the batch; every dimension is a grid-stride
//             loop, so any grid (even 1x1x1) covers any problem.
//   kc0, kc1  weight chunk: the weights are processed in chunks of at most
//             kc0 x kc1; per chunk the block stages the chunk's weights and
//             the input tile plus halo, (TH+kc0-1) x (TW+kc1-1), in shared
//             memory.  Any kernel size works with bounded shared memory.
//
// Shared memory is DYNAMIC (extern __shared__, size given at launch):
//   [ weights kc0*kc1 S, padded to 16 bytes ][ input tile (TH+kc0-1)*(TW+kc1-1) S ]
// (corrconv_wbytes() below; _launch.py:smem_bytes() computes the same); the launcher
// keeps it <= CORRCONV_SMEM_LIMIT (48 KiB, no opt-in attribute needed).
// Weights are never in __constant__ memory: concurrent launches with
// different weights are independent (cf. OpenCV #13695).
//
// Portability: standard CUDA C++ only (threadIdx/blockIdx/blockDim/gridDim,
// __syncthreads, __ldg, extern __shared__); no warp intrinsics, cooperative
// groups or inline PTX.  Under the corrconv_gpu CPU emulator (CORRCONV_EMU,
// g++ with a forced-include header) the same code compiles unchanged except
// that complex/bool loads are plain dereferences instead of __ldg on
// float2/double2/unsigned char.  Any other plain C++ compile gets a fixed
// block-scope __shared__ buffer of CORRCONV_SMEM_LIMIT bytes instead of
// extern __shared__ and no __launch_bounds__; CORRCONV_DYNAMIC_SMEM(name) /
// CORRCONV_LAUNCH_BOUNDS(n, m) may be predefined to override either.
//
// -DCORRCONV_WITH_HALF enables __half (includes <cuda_fp16.h> unless
// CORRCONV_HAVE_HALF is defined), -DCORRCONV_WITH_COMPLEX enables complex
// (includes <cupy/complex.cuh> unless CORRCONV_HAVE_COMPLEX is defined);
// _kernels.py:compile_options passes them only to the modules that need them.

#ifdef CORRCONV_WITH_HALF
#ifndef CORRCONV_HAVE_HALF
#include <cuda_fp16.h>
#endif
#endif

#ifdef CORRCONV_WITH_COMPLEX
#ifndef CORRCONV_HAVE_COMPLEX
#include <cupy/complex.cuh>
#endif
#endif

#define CORRCONV_MAX_THREADS 256
#define CORRCONV_SMEM_LIMIT 49152
// resident blocks per SM asked of ptxas: caps registers at 64 (4 blocks of
// 256 threads) for <= 4-byte elements and at 80 (3 blocks) for 8/16-byte
// ones, where it keeps every instantiation free of spills
#define CORRCONV_MIN_BLOCKS(T) (sizeof(T) >= 8 ? 3 : 4)

#if defined(__CUDACC__) || defined(CORRCONV_EMU)
// NVRTC / nvcc, or the corrconv_gpu CPU emulator (whose forced-include header
// maps __device__, __forceinline__, __launch_bounds__, __align__ and
// extern __shared__ onto host C++)
#define CORRCONV_DI __device__ __forceinline__
#ifndef CORRCONV_LAUNCH_BOUNDS
#define CORRCONV_LAUNCH_BOUNDS(n, m) __launch_bounds__(n, m)
#endif
#ifndef CORRCONV_DYNAMIC_SMEM
#define CORRCONV_DYNAMIC_SMEM(name) extern __shared__ __align__(16) unsigned char name[]
#endif
#else  // any other plain C++ compile: a fixed block-scope buffer
#define CORRCONV_DI __device__ inline
#ifndef CORRCONV_LAUNCH_BOUNDS
#define CORRCONV_LAUNCH_BOUNDS(n, m)
#endif
#ifndef CORRCONV_DYNAMIC_SMEM
#define CORRCONV_DYNAMIC_SMEM(name) \
    __shared__ alignas(16) unsigned char name[CORRCONV_SMEM_LIMIT]
#endif
#endif

// ---------------------------------------------------------------- boundary
// THE boundary rule: maps any position i to an index in [0, n), or -1 when
// X(i) is the fill value (constant boundary outside, or an empty input).
// In-range positions take the first branch; the modular arithmetic only
// runs for halo positions.
template <int BOUNDARY>
CORRCONV_DI long long corrconv_map(long long i, long long n) {
    if (i >= 0 && i < n) return i;
    if (BOUNDARY == 0 || n <= 0) return -1;
    if (BOUNDARY == 1) {                       // wrap: period n
        long long m = i % n;
        return m < 0 ? m + n : m;
    }
    if (BOUNDARY == 2) {                       // symmetric: d c b a | a b c d | d c b a
        const long long period = 2 * n;
        long long m = i % period;
        if (m < 0) m += period;
        return m < n ? m : period - 1 - m;
    }
    if (BOUNDARY == 3) {                       // mirror: d c b | a b c d | c b a
        if (n == 1) return 0;
        const long long period = 2 * n - 2;
        long long m = i % period;
        if (m < 0) m += period;
        return m < n ? m : period - m;
    }
    return i < 0 ? 0 : n - 1;                  // nearest: a a a | a b c d | d d d
}

// ------------------------------------------------------------ type traits
// S: the type of the shared-memory tile (what the inner loop multiplies).
template <typename T> struct corrconv_smem_type { typedef T type; };

// read-only global load, converted to S
template <typename T>
CORRCONV_DI T corrconv_ldg(const T* p) { return __ldg(p); }

CORRCONV_DI bool corrconv_ldg(const bool* p) {
#if defined(__CUDACC__)
    return __ldg(reinterpret_cast<const unsigned char*>(p)) != 0;
#else
    return *p;
#endif
}

// T -> S for the fill value and loads (identity except __half)
template <typename T>
CORRCONV_DI T corrconv_to_smem(T v) { return v; }

// conjugation (identity for reals)
template <typename S>
CORRCONV_DI S corrconv_conj(S v) { return v; }

// acc += x * w   (integers: convert to the unsigned Acc first -> wraps mod 2^n)
template <typename Acc, typename S>
CORRCONV_DI void corrconv_mac(Acc& acc, S x, S w) {
    acc += static_cast<Acc>(x) * static_cast<Acc>(w);
}

// Single-precision a*b + c that keeps denormals: CuPy's RawModule always
// appends -ftz=true, which would flush float32 denormals (NumPy keeps them);
// __fmaf_ieee_rn ignores -ftz (same speed: fma.rn.f32).
CORRCONV_DI float corrconv_fmaf(float a, float b, float c) {
#if defined(__CUDACC__)
    return __fmaf_ieee_rn(a, b, c);
#else
    return a * b + c;
#endif
}
CORRCONV_DI void corrconv_mac(float& acc, float x, float w) {
    acc = corrconv_fmaf(x, w, acc);
}

// out = Acc -> T (integers wrap like NumPy's cast)
template <typename T, typename Acc>
CORRCONV_DI void corrconv_store(T* p, Acc a) { *p = static_cast<T>(a); }

template <typename Acc>
CORRCONV_DI void corrconv_store(bool* p, Acc a) { *p = (a != Acc(0)); }

#ifdef CORRCONV_WITH_HALF
template <> struct corrconv_smem_type<__half> { typedef float type; };
CORRCONV_DI float corrconv_ldg(const __half* p) { return __half2float(__ldg(p)); }
CORRCONV_DI float corrconv_to_smem(__half v) { return __half2float(v); }
CORRCONV_DI void corrconv_store(__half* p, float a) { *p = __float2half_rn(a); }
#endif

#ifdef CORRCONV_WITH_COMPLEX
CORRCONV_DI complex<float> corrconv_ldg(const complex<float>* p) {
#if defined(__CUDACC__)
    const float2 v = __ldg(reinterpret_cast<const float2*>(p));
    return complex<float>(v.x, v.y);
#else
    return *p;
#endif
}
CORRCONV_DI complex<double> corrconv_ldg(const complex<double>* p) {
#if defined(__CUDACC__)
    const double2 v = __ldg(reinterpret_cast<const double2*>(p));
    return complex<double>(v.x, v.y);
#else
    return *p;
#endif
}
CORRCONV_DI complex<float> corrconv_conj(complex<float> v) {
    return complex<float>(v.real(), -v.imag());
}
CORRCONV_DI complex<double> corrconv_conj(complex<double> v) {
    return complex<double>(v.real(), -v.imag());
}
// explicit complex multiply-accumulate: (a+ib)(c+id) = (ac-bd) + i(ad+bc)
CORRCONV_DI void corrconv_mac(complex<float>& acc, complex<float> x, complex<float> w) {
    float re = acc.real(), im = acc.imag();
    re = corrconv_fmaf(x.real(), w.real(), re);
    re = corrconv_fmaf(-x.imag(), w.imag(), re);
    im = corrconv_fmaf(x.real(), w.imag(), im);
    im = corrconv_fmaf(x.imag(), w.real(), im);
    acc = complex<float>(re, im);
}
CORRCONV_DI void corrconv_mac(complex<double>& acc, complex<double> x, complex<double> w) {
    double re = acc.real(), im = acc.imag();
    re += x.real() * w.real();
    re -= x.imag() * w.imag();
    im += x.real() * w.imag();
    im += x.imag() * w.real();
    acc = complex<double>(re, im);
}
#endif

// Shared-memory layout (must equal _launch.py:smem_bytes)
CORRCONV_DI int corrconv_wbytes(int kc0, int kc1, int s) {
    return ((kc0 * kc1 * s + 15) / 16) * 16;
}

// ------------------------------------------------------------------ kernel
template <typename T, typename Acc, bool FLIP, bool CONJ, int BOUNDARY, int OPT>
__global__ void CORRCONV_LAUNCH_BOUNDS(CORRCONV_MAX_THREADS, CORRCONV_MIN_BLOCKS(T))
corr2d(const T* __restrict__ x, long long x_stride, long long x_bstride,
       long long M0, long long M1,
       const T* __restrict__ w, long long w_stride, int K0, int K1,
       T* __restrict__ out, long long out_stride, long long out_bstride,
       long long O0, long long O1,
       long long nbatch, long long r0, long long r1,
       typename corrconv_smem_type<T>::type fillvalue,
       int along_row, int kc0, int kc1)
{
    typedef typename corrconv_smem_type<T>::type S;

    CORRCONV_DYNAMIC_SMEM(corrconv_smem);

    const int BX = (int)blockDim.x, BY = (int)blockDim.y;
    const int tx = (int)threadIdx.x, ty = (int)threadIdx.y;
    const int nthreads = BX * BY, tid = ty * BX + tx;

    const int TH = along_row ? BY : BY * OPT;        // output tile rows
    const int TW = along_row ? BX * OPT : BX;        // output tile columns

    const int nck0 = (K0 + kc0 - 1) / kc0;           // weight chunks
    const int nck1 = (K1 + kc1 - 1) / kc1;
    const bool w_resident = (nck0 == 1 && nck1 == 1);

    S* const sW = reinterpret_cast<S*>(corrconv_smem);
    S* const sX = reinterpret_cast<S*>(corrconv_smem + corrconv_wbytes(kc0, kc1, (int)sizeof(S)));

    // Stages W(p0 + pl, q0 + ql), pl < kh, ql < kw, at sW[pl * kw + ql].
    // (a macro rather than a lambda or helper: plain CUDA C++ for NVRTC and the
    // emulator alike, and the staging loop inlines with its uniform bounds)
#define CORRCONV_STAGE_WEIGHTS(p0_, q0_, kh_, kw_)                                 \
    for (int e = tid; e < (kh_) * (kw_); e += nthreads) {                          \
        const int pl = e / (kw_), ql = e - pl * (kw_);                             \
        const int p = (p0_) + pl, q = (q0_) + ql;                                  \
        const long long sp = FLIP ? (long long)(K0 - 1 - p) : (long long)p;        \
        const long long sq = FLIP ? (long long)(K1 - 1 - q) : (long long)q;        \
        S v = corrconv_ldg(w + sp * w_stride + sq);                                \
        if (CONJ) v = corrconv_conj(v);                                            \
        sW[e] = v;                                                                 \
    }

    if (w_resident) {
        // one chunk holds every weight: stage once for all tiles and batches
        // (made visible by the __syncthreads after the first tile load)
        CORRCONV_STAGE_WEIGHTS(0, 0, K0, K1)
    }

    for (long long b = blockIdx.z; b < nbatch; b += gridDim.z) {
        const T* const xb = x + b * x_bstride;
        T* const ob = out + b * out_bstride;
        // tile origins (i0, j0) in out, grid-stride over row and column tiles
        for (long long i0 = (long long)blockIdx.y * TH; i0 < O0; i0 += (long long)gridDim.y * TH) {
            for (long long j0 = (long long)blockIdx.x * TW; j0 < O1; j0 += (long long)gridDim.x * TW) {

                Acc acc[OPT];
#pragma unroll
                for (int k = 0; k < OPT; ++k) acc[k] = Acc(0);

                for (int c0 = 0; c0 < nck0; ++c0) {
                    for (int c1 = 0; c1 < nck1; ++c1) {
                        const int p0 = c0 * kc0, q0 = c1 * kc1;
                        const int kh = (K0 - p0 < kc0) ? K0 - p0 : kc0;
                        const int kw = (K1 - q0 < kc1) ? K1 - q0 : kc1;
                        const int HI = TH + kh - 1;           // input tile + halo
                        const int WI = TW + kw - 1;

                        __syncthreads();   // everyone is done with sX / sW
                        if (!w_resident) {
                            CORRCONV_STAGE_WEIGHTS(p0, q0, kh, kw)
                        }

                        // cooperative, coalesced load of X rows gi0.., cols gj0..
                        const long long gi0 = i0 + r0 + p0;
                        const long long gj0 = j0 + r1 + q0;
                        for (int ly = ty; ly < HI; ly += BY) {
                            const long long mi = corrconv_map<BOUNDARY>(gi0 + ly, M0);
                            S* const srow = sX + ly * WI;
                            if (mi < 0) {
                                for (int lx = tx; lx < WI; lx += BX) srow[lx] = fillvalue;
                            } else {
                                const T* const xrow = xb + mi * x_stride;
                                for (int lx = tx; lx < WI; lx += BX) {
                                    const long long mj = corrconv_map<BOUNDARY>(gj0 + lx, M1);
                                    srow[lx] = (mj < 0) ? fillvalue : S(corrconv_ldg(xrow + mj));
                                }
                            }
                        }
                        __syncthreads();

                        // out(ly + k*dy, lx + k*dx) += sum_pq sX(.. + p, .. + q) sW(p, q)
                        const int kstep = along_row ? BX : BY * WI;
                        const S* const xbase = sX + ty * WI + tx;
                        for (int p = 0; p < kh; ++p) {
                            const S* const xr = xbase + p * WI;
                            const S* const wr = sW + p * kw;
                            // unroll 2 (not ptxas' default 4): OPT independent
                            // FMAs per step already give the ILP, and it keeps
                            // every instantiation within the register cap
#pragma unroll 2
                            for (int q = 0; q < kw; ++q) {
                                const S wv = wr[q];
#pragma unroll
                                for (int k = 0; k < OPT; ++k)
                                    corrconv_mac(acc[k], xr[k * kstep + q], wv);
                            }
                        }
                    }
                }

                // store (coalesced along j); the cast wraps integers like NumPy
#pragma unroll
                for (int k = 0; k < OPT; ++k) {
                    const long long oi = i0 + (along_row ? ty : ty + k * BY);
                    const long long oj = j0 + (along_row ? tx + k * BX : tx);
                    if (oi < O0 && oj < O1) corrconv_store(ob + oi * out_stride + oj, acc[k]);
                }
            }
        }
    }
#undef CORRCONV_STAGE_WEIGHTS
}
