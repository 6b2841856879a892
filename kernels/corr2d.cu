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
// corrconv_gpu/_backends/cuda/kernels.py:name_expression, e.g.
// "corr2d<float, float, false, false, 0, 8>"):
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
// Kernel arguments (exact widths; launch.py packs them as NumPy scalars):
//
//   const T* x, long long x_stride, long long x_bstride, long long M0, long long M1
//   const T* w, long long w_stride, int K0, int K1
//   T* out, long long out_stride, long long out_bstride, long long O0, long long O1
//   long long nbatch, long long r0, long long r1, S fillvalue
//   int along_row, int kc0, int kc1, int xc0, int xc1
//
//   Strides are in ELEMENTS (row strides may be negative); the column stride
//   of x, w and out is 1.  x_bstride/out_bstride step between batch items.
//   S is the shared-memory type: float for __half (the fill value is given in
//   the float32 compute dtype, so it is exact), T otherwise.
//
// Geometry (all runtime, chosen by launch.py from the table in params.py):
//
//   block     (BX, BY) threads, BX*BY <= CORRCONV_MAX_THREADS (256).
//   along_row the SLIDING axis a.  0: a = rows, each thread computes OPT
//                consecutive outputs down a column (rows ty*OPT + k); output
//                tile TH x TW = (BY*OPT) x BX.  1: a = columns, OPT
//                consecutive outputs along a row (columns tx*OPT + k); tile
//                BY x (BX*OPT).  The table slides along the longer kernel axis.
//   grid      blockIdx.x over column tiles, blockIdx.y over row tiles,
//             blockIdx.z over the batch; every dimension is a grid-stride
//             loop, so any grid (even 1x1x1) covers any problem.
//   xc0, xc1  x chunk: the part of the kernel whose input tile + halo is
//             staged at once -- normally the whole kernel, so the tile is
//             read from global memory ONCE per output tile; only kernels whose
//             tile + halo exceeds the budget are split (input re-staged per
//             x chunk).
//   kc0, kc1  weight chunk (<= the x chunk): weights are streamed through
//             shared memory in chunks of at most kc0 x kc1 (a single chunk,
//             staged once per block, whenever it fits).  Any kernel size
//             works with bounded shared memory.
//
// Inner loop: per tap b of the other axis, a register window of OPT + VEC
// inputs slides over the a taps; one 16-byte shared load (float4 / double2,
// VEC = 4 / 2 elements; scalar for other types) of x and one of w feed
// VEC x OPT FMAs.  1x1 kernels whose outputs all read inside x take a
// pointwise path (no tile, no boundary rule).
//
// Shared memory is DYNAMIC (extern __shared__, size given at launch):
//   [ weights: kcb rows of round_up(kca, VEC) S, padded to 16 bytes ]
//   [ input tile + halo: (TB + xcb - 1) rows of AP S (corrconv_apitch) ]
// both stored [b][a] (the sliding axis contiguous: transposed when a = rows);
// (corrconv_wbytes / corrconv_apitch below; launch.py:smem_bytes() computes
// the same); the launcher keeps it <= CORRCONV_SMEM_LIMIT (48 KiB, no
// opt-in attribute needed).  The input tile is staged with 16-byte global
// loads (float4 / double2) over the aligned in-range middle of each row when
// x and its row / batch strides are 16-byte aligned (checked at run time),
// scalar loads through the boundary rule elsewhere.
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
// kernels.py:compile_options passes them only to the modules that need them.

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
// 256 threads, or 8 of the float tables' 128: 50% occupancy on sm_80 /
// sm_90) for <= 4-byte elements and
// double (corrconv_min_blocks), at 80 (3 blocks) for the other 8/16-byte
// ones, where it keeps every instantiation free of spills
#define CORRCONV_MIN_BLOCKS(T) (sizeof(T) >= 8 ? 3 : 4)

#if defined(__CUDACC__) || defined(CORRCONV_EMU)
// NVRTC / nvcc, or the corrconv_gpu CPU emulator (whose forced-include header
// maps __device__, __forceinline__, __launch_bounds__, __align__ and
// extern __shared__ onto host C++)
#define CORRCONV_DI __device__ __forceinline__
#define CORRCONV_DNI __device__ __noinline__
#ifndef CORRCONV_LAUNCH_BOUNDS
#define CORRCONV_LAUNCH_BOUNDS(n, m) __launch_bounds__(n, m)
#endif
#ifndef CORRCONV_DYNAMIC_SMEM
#define CORRCONV_DYNAMIC_SMEM(name) extern __shared__ __align__(16) unsigned char name[]
#endif
#else  // any other plain C++ compile: a fixed block-scope buffer
#define CORRCONV_DI __device__ inline
#define CORRCONV_DNI __device__
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

// ------------------------------------------------------------ vector loads
// VEC: elements per 16-byte vector of the shared tile type S (float: 4,
// double: 2, anything else: 1 -- scalar).  The register window of the inner
// loop is filled with one 16-byte shared load per VEC elements, and the input
// tile is staged with 16-byte global loads where rows are 16-byte aligned.
// One 16-byte load: float4 / double2 on the device (LDS.128 / LDG.E.128);
// under g++ (the emulator) a GCC vector type, so the access stays ONE
// 16-byte load (what the counting build counts); a plain struct elsewhere.
#if defined(__CUDACC__)
typedef float4 corrconv_float4;
typedef double2 corrconv_double2;
#define CORRCONV_V(v, i) ((i) == 0 ? (v).x : (i) == 1 ? (v).y : (i) == 2 ? (v).z : (v).w)
#define CORRCONV_V2(v, i) ((i) == 0 ? (v).x : (v).y)
#elif defined(__GNUC__)
typedef float corrconv_float4 __attribute__((vector_size(16), may_alias));
typedef double corrconv_double2 __attribute__((vector_size(16), may_alias));
#define CORRCONV_V(v, i) ((v)[i])
#define CORRCONV_V2(v, i) ((v)[i])
#else
struct __align__(16) corrconv_float4 { float x, y, z, w; };
struct __align__(16) corrconv_double2 { double x, y; };
#define CORRCONV_V(v, i) ((i) == 0 ? (v).x : (i) == 1 ? (v).y : (i) == 2 ? (v).z : (v).w)
#define CORRCONV_V2(v, i) ((i) == 0 ? (v).x : (v).y)
#endif

template <typename S> struct corrconv_vec { enum { N = 1 }; };
template <> struct corrconv_vec<float> { enum { N = 4 }; };
template <> struct corrconv_vec<double> { enum { N = 2 }; };

// dst[0..N) = p[0..N); p is N-element aligned (shared memory)
template <int N, typename S>
CORRCONV_DI void corrconv_ldsv(const S* p, S* dst) { dst[0] = p[0]; }
template <>
CORRCONV_DI void corrconv_ldsv<4, float>(const float* p, float* dst) {
    const corrconv_float4 v = *reinterpret_cast<const corrconv_float4*>(p);
    dst[0] = CORRCONV_V(v, 0); dst[1] = CORRCONV_V(v, 1);
    dst[2] = CORRCONV_V(v, 2); dst[3] = CORRCONV_V(v, 3);
}
template <>
CORRCONV_DI void corrconv_ldsv<2, double>(const double* p, double* dst) {
    const corrconv_double2 v = *reinterpret_cast<const corrconv_double2*>(p);
    dst[0] = CORRCONV_V2(v, 0); dst[1] = CORRCONV_V2(v, 1);
}
// read-only global vector load (T == S == float / double only; p aligned)
template <typename T, typename S>
CORRCONV_DI void corrconv_ldgv(const T* p, S* dst) { dst[0] = S(corrconv_ldg(p)); }
CORRCONV_DI void corrconv_ldgv(const float* p, float* dst) {
#if defined(__CUDACC__)
    const float4 v = __ldg(reinterpret_cast<const float4*>(p));
#else
    const corrconv_float4 v = *reinterpret_cast<const corrconv_float4*>(p);
#endif
    dst[0] = CORRCONV_V(v, 0); dst[1] = CORRCONV_V(v, 1);
    dst[2] = CORRCONV_V(v, 2); dst[3] = CORRCONV_V(v, 3);
}
CORRCONV_DI void corrconv_ldgv(const double* p, double* dst) {
#if defined(__CUDACC__)
    const double2 v = __ldg(reinterpret_cast<const double2*>(p));
#else
    const corrconv_double2 v = *reinterpret_cast<const corrconv_double2*>(p);
#endif
    dst[0] = CORRCONV_V2(v, 0); dst[1] = CORRCONV_V2(v, 1);
}
// elements per global vector load of T (the element type itself, not S)
template <typename T> struct corrconv_gvec { enum { N = 1 }; };
template <> struct corrconv_gvec<float> { enum { N = 4 }; };
template <> struct corrconv_gvec<double> { enum { N = 2 }; };

// resident blocks per SM asked of ptxas (see CORRCONV_MIN_BLOCKS): double
// gets 4 (64 registers, >= 50% occupancy on sm_80/sm_90) like the 4-byte types
template <typename T> struct corrconv_min_blocks { enum { value = CORRCONV_MIN_BLOCKS(T) }; };
template <> struct corrconv_min_blocks<double> { enum { value = 4 }; };

// ----------------------------------------------------- shared-memory layout
// (must equal launch.py:smem_bytes)
//   sW  weight chunk, transposed to [b tap][a tap]: kcb rows of KAP =
//       round_up(kca, VEC) elements (padding zeroed), padded to 16 bytes
//   sX  input tile + halo of the x chunk, [b][a]: (TB + xcb - 1) rows of AP
//       elements (corrconv_apitch) -- the sliding axis a is contiguous
CORRCONV_DI int corrconv_round_up(int n, int m) { return (n + m - 1) / m * m; }
// pitch of the a axis: room for the window's last vector (which may run
// VEC - 1 elements past the tile), and an odd number of vectors so that
// the 16-byte loads of 8 consecutive lanes (stride AP) hit distinct banks
CORRCONV_DI int corrconv_apitch(int ta, int xca, int vec) {
    int ap = corrconv_round_up(ta + xca + vec - 2, vec);
    if (vec > 1 && (ap / vec) % 2 == 0) ap += vec;
    return ap;
}
CORRCONV_DI int corrconv_wbytes(int kca, int kcb, int vec, int s) {
    return ((kcb * corrconv_round_up(kca, vec) * s + 15) / 16) * 16;
}

// The pointwise path (1x1 weights whose outputs all read inside x): a scaled
// copy, output tile TH x TW per block, grid-stride like the tiled path. Not
// inlined: its registers then do not add to the tiled path's (inlined, it
// made the float OPT=8 variant spill 4 bytes on sm_90).
template <typename T, typename Acc, typename S>
CORRCONV_DNI void corrconv_pointwise(
        const T* __restrict__ x, long long x_stride, long long x_bstride,
        T* __restrict__ out, long long out_stride, long long out_bstride,
        long long O0, long long O1, long long nbatch, long long r0, long long r1,
        S wv, int TH, int TW)
{
    const int BX = (int)blockDim.x, BY = (int)blockDim.y;
    const int tx = (int)threadIdx.x, ty = (int)threadIdx.y;
    for (long long b = blockIdx.z; b < nbatch; b += gridDim.z) {
        const T* const xb = x + b * x_bstride;
        T* const ob = out + b * out_bstride;
        for (long long i0 = (long long)blockIdx.y * TH; i0 < O0; i0 += (long long)gridDim.y * TH) {
            for (long long j0 = (long long)blockIdx.x * TW; j0 < O1; j0 += (long long)gridDim.x * TW) {
#pragma unroll 1
                for (int li = ty; li < TH; li += BY) {
                    const long long oi = i0 + li;
                    if (oi >= O0) break;
                    const T* const xrow = xb + (oi + r0) * x_stride + r1;
#pragma unroll 1
                    for (int lj = tx; lj < TW; lj += BX) {    // coalesced along j
                        const long long oj = j0 + lj;
                        if (oj >= O1) break;
                        const S xv = S(corrconv_ldg(xrow + oj));
                        Acc acc = Acc(0);
                        corrconv_mac(acc, xv, wv);
                        corrconv_store(ob + oi * out_stride + oj, acc);
                    }
                }
            }
        }
    }
}

// ------------------------------------------------------------------ kernel
// Work decomposition (along_row selects the SLIDING axis a):
//   along_row 0  a = rows:    thread (tx, ty) owns the OPT outputs
//                             (ty*OPT + k, tx) -- a column segment; tile
//                             TH x TW = (BY*OPT) x BX; sX is stored transposed
//   along_row 1  a = columns: thread owns (ty, tx*OPT + k) -- a row segment;
//                             tile BY x (BX*OPT); sX row-major
// For each tap b (the other axis) the thread slides over the a taps with a
// register window of OPT + VEC inputs: one VEC-wide shared load of x and one
// of w serve VEC taps x OPT FMAs, so a tap column costs
// OPT/VEC + ceil((ka-1)/VEC) x loads and ceil(ka/VEC) w loads for OPT*ka FMAs.
// 1x1 kernels take a pointwise path: no tile, the input read straight into
// registers, the one weight held in a register.
//
// Chunks: the x chunk (xc0, xc1) is the part of the kernel whose input tile +
// halo is staged at once; normally the whole kernel (the tile is staged ONCE
// per output tile) and only the weights are streamed in chunks (kc0, kc1)
// when they do not fit next to it.  Kernels so large that the tile + halo
// itself does not fit use x chunks == weight chunks (input re-staged per chunk).
// The scalar arguments of a launch, one by-value parameter (corr2d and
// corr2d_small): the host packs it once per launch geometry instead of
// passing 20 scalars (launch.py:params_dtype mirrors this layout).
// Strides in elements; S: corrconv_smem_type<T>::type, first, so that no
// member's offset depends on S's alignment (complex<T>'s differs between
// compilers).
template <typename S>
struct corrconv_params {
    S fillvalue;
    long long x_stride, x_bstride, M0, M1, w_stride;
    long long out_stride, out_bstride, O0, O1, nbatch, r0, r1;
    int K0, K1, along_row, kc0, kc1, xc0, xc1;
};

template <typename T, typename Acc, bool FLIP, bool CONJ, int BOUNDARY, int OPT>
__global__ void CORRCONV_LAUNCH_BOUNDS(CORRCONV_MAX_THREADS, corrconv_min_blocks<T>::value)
corr2d(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ out,
       const corrconv_params<typename corrconv_smem_type<T>::type> prm)
{
    const long long x_stride = prm.x_stride, x_bstride = prm.x_bstride, M0 = prm.M0, M1 = prm.M1;
    const long long w_stride = prm.w_stride;
    const long long out_stride = prm.out_stride, out_bstride = prm.out_bstride, O0 = prm.O0, O1 = prm.O1;
    const long long nbatch = prm.nbatch, r0 = prm.r0, r1 = prm.r1;
    const int K0 = prm.K0, K1 = prm.K1, along_row = prm.along_row;
    const int kc0 = prm.kc0, kc1 = prm.kc1, xc0 = prm.xc0, xc1 = prm.xc1;
    const typename corrconv_smem_type<T>::type fillvalue = prm.fillvalue;
    typedef typename corrconv_smem_type<T>::type S;
    enum { VEC = (OPT % corrconv_vec<S>::N == 0) ? corrconv_vec<S>::N : 1 };
    enum { GVEC = corrconv_gvec<T>::N };

    CORRCONV_DYNAMIC_SMEM(corrconv_smem);

    const int BX = (int)blockDim.x, BY = (int)blockDim.y;
    const int tx = (int)threadIdx.x, ty = (int)threadIdx.y;
    const int nthreads = BX * BY, tid = ty * BX + tx;

    const int TH = along_row ? BY : BY * OPT;        // output tile rows
    const int TW = along_row ? BX * OPT : BX;        // output tile columns
    // a: sliding axis, b: the other one
    const int TA = along_row ? TW : TH, TB = along_row ? TH : TW;
    const int ta = along_row ? tx : ty, tb = along_row ? ty : tx;
    const int Ka = along_row ? K1 : K0, Kb = along_row ? K0 : K1;
    const int kca = along_row ? kc1 : kc0, kcb = along_row ? kc0 : kc1;
    const int xca = along_row ? xc1 : xc0, xcb = along_row ? xc0 : xc1;
    const int KAP = corrconv_round_up(kca, VEC);
    const int AP = corrconv_apitch(TA, xca, VEC);

    const bool w_resident = (kca >= Ka && kcb >= Kb);

    S* const sW = reinterpret_cast<S*>(corrconv_smem);
    S* const sX = reinterpret_cast<S*>(corrconv_smem + corrconv_wbytes(kca, kcb, VEC, (int)sizeof(S)));

    // 16-byte global loads of the tile rows: x (and so every row of every
    // batch item) 16-byte aligned -- checked at run time
    const bool gvec = GVEC > 1 &&
        (reinterpret_cast<unsigned long long>(x) & 15ull) == 0 &&
        x_stride % GVEC == 0 && x_bstride % GVEC == 0;

    // Stages W at taps (a0 + al, b0 + bl), al < KAP (zero past ka), bl < kb,
    // at sW[bl * KAP + al].
#define CORRCONV_STAGE_WEIGHTS(a0_, b0_, ka_, kb_)                                 \
    for (int e = tid; e < (kb_) * KAP; e += nthreads) {                            \
        const int bl = e / KAP, al = e - bl * KAP;                                 \
        S v = S(0);                                                                \
        if (al < (ka_)) {                                                          \
            const int p = along_row ? (b0_) + bl : (a0_) + al;                     \
            const int q = along_row ? (a0_) + al : (b0_) + bl;                     \
            const long long sp = FLIP ? (long long)(K0 - 1 - p) : (long long)p;    \
            const long long sq = FLIP ? (long long)(K1 - 1 - q) : (long long)q;    \
            v = corrconv_ldg(w + sp * w_stride + sq);                              \
            if (CONJ) v = corrconv_conj(v);                                        \
        }                                                                          \
        sW[e] = v;                                                                 \
    }

    if (w_resident) {
        // one chunk holds every weight: stage once for all tiles and batches
        CORRCONV_STAGE_WEIGHTS(0, 0, Ka, Kb)
    }

    // 1x1 weights whose outputs all read inside x (every standard mode):
    // no boundary rule, no tile -- a scaled copy
    const bool pointwise = K0 == 1 && K1 == 1 && r0 >= 0 && r1 >= 0 &&
                           O0 + r0 <= M0 && O1 + r1 <= M1;
    if (pointwise) {
        // ------------------------------------------------ pointwise (1x1)
        __syncthreads();
        corrconv_pointwise<T, Acc, S>(x, x_stride, x_bstride, out, out_stride, out_bstride,
                                      O0, O1, nbatch, r0, r1, sW[0], TH, TW);
        return;
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

                for (int xa0 = 0; xa0 < Ka; xa0 += xca) {
                    for (int xb0 = 0; xb0 < Kb; xb0 += xcb) {
                        const int xa = (Ka - xa0 < xca) ? Ka - xa0 : xca;
                        const int xbn = (Kb - xb0 < xcb) ? Kb - xb0 : xcb;
                        const int HA = TA + xa - 1, HB = TB + xbn - 1;   // tile + halo
                        const int HI = along_row ? HB : HA;              // rows
                        const int WI = along_row ? HA : HB;              // columns

                        __syncthreads();   // everyone is done with sX (and sW)
                        // cooperative load of X rows gi0.., cols gj0..: 16-byte
                        // vectors over the aligned in-range middle of each row,
                        // scalars (boundary rule) for the rest
                        const long long gi0 = i0 + r0 + (along_row ? xb0 : xa0);
                        const long long gj0 = j0 + r1 + (along_row ? xa0 : xb0);
                        long long va = 0, vb = 0;
                        if (gvec) {
                            const long long cs = gj0 < 0 ? 0 : gj0;
                            const long long ce = (gj0 + WI < M1) ? gj0 + WI : M1;
                            va = (cs + GVEC - 1) / GVEC * GVEC;
                            vb = ce < 0 ? 0 : ce / GVEC * GVEC;
                            if (vb < va) vb = va;
                        }
                        const int nvec = (int)((vb - va) / GVEC);
                        const int vlo = (int)(va - gj0);               // first vector column (local)
                        const int nit = nvec + (WI - nvec * GVEC);     // items per row
                        for (int ly = ty; ly < HI; ly += BY) {
                            const long long mi = corrconv_map<BOUNDARY>(gi0 + ly, M0);
                            const T* const xrow = xb + (mi < 0 ? 0 : mi) * x_stride;
                            for (int it = tx; it < nit; it += BX) {
                                if (it < nvec && mi >= 0) {
                                    S v[GVEC];
                                    corrconv_ldgv(xrow + va + (long long)it * GVEC, v);
                                    const int lx0 = vlo + it * GVEC;
#pragma unroll
                                    for (int e = 0; e < GVEC; ++e) {
                                        const int lx = lx0 + e;
                                        sX[along_row ? ly * AP + lx : lx * AP + ly] = v[e];
                                    }
                                } else if (it < nvec) {
#pragma unroll
                                    for (int e = 0; e < GVEC; ++e) {
                                        const int lx = vlo + it * GVEC + e;
                                        sX[along_row ? ly * AP + lx : lx * AP + ly] = fillvalue;
                                    }
                                } else {
                                    int lx = it - nvec;                // scalar columns
                                    if (nvec > 0 && lx >= vlo) lx += nvec * GVEC;
                                    S v = fillvalue;
                                    if (mi >= 0) {
                                        const long long mj = corrconv_map<BOUNDARY>(gj0 + lx, M1);
                                        if (mj >= 0) v = S(corrconv_ldg(xrow + mj));
                                    }
                                    sX[along_row ? ly * AP + lx : lx * AP + ly] = v;
                                }
                            }
                        }
                        __syncthreads();

                        for (int wa0 = 0; wa0 < xa; wa0 += kca) {
                            for (int wb0 = 0; wb0 < xbn; wb0 += kcb) {
                                const int ka = (xa - wa0 < kca) ? xa - wa0 : kca;
                                const int kb = (xbn - wb0 < kcb) ? xbn - wb0 : kcb;
                                if (!w_resident) {
                                    __syncthreads();   // everyone is done with sW
                                    CORRCONV_STAGE_WEIGHTS(xa0 + wa0, xb0 + wb0, ka, kb)
                                    __syncthreads();
                                }
                                // acc[k] += sum_{bq, aq} sX(tb + wb0 + bq, ta*OPT + wa0 + k + aq)
                                //                        * sW(bq, aq)
                                const S* xcol = sX + (tb + wb0) * AP + ta * OPT + wa0;
                                const S* wrow = sW;
#pragma unroll 1
                                for (int bq = 0; bq < kb; ++bq, xcol += AP, wrow += KAP) {
                                    S win[OPT + VEC];
#pragma unroll
                                    for (int v = 0; v < OPT; v += VEC) corrconv_ldsv<VEC>(xcol + v, win + v);
#pragma unroll
                                    for (int v = OPT; v < OPT + VEC; ++v) win[v] = S(0);
#pragma unroll 1
                                    for (int g = 0; g < ka; g += VEC) {
                                        if (g < ka - 1) corrconv_ldsv<VEC>(xcol + g + OPT, win + OPT);
                                        S wv[VEC];
                                        corrconv_ldsv<VEC>(wrow + g, wv);
#pragma unroll
                                        for (int j = 0; j < VEC; ++j)
                                            if (VEC == 1 || g + j < ka) {
#pragma unroll
                                                for (int k = 0; k < OPT; ++k)
                                                    corrconv_mac(acc[k], win[k + j], wv[j]);
                                            }
#pragma unroll
                                        for (int v = 0; v < OPT; ++v) win[v] = win[v + VEC];
                                    }
                                }
                            }
                        }
                    }
                }

                // store; the cast wraps integers like NumPy
#pragma unroll
                for (int k = 0; k < OPT; ++k) {
                    const long long oi = i0 + (along_row ? ty : ty * OPT + k);
                    const long long oj = j0 + (along_row ? tx * OPT + k : tx);
                    if (oi < O0 && oj < O1) corrconv_store(ob + oi * out_stride + oj, acc[k]);
                }
            }
        }
    }
#undef CORRCONV_STAGE_WEIGHTS
}
