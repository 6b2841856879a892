// corr2d_small.cu -- the direct kernel for SMALL weights (K0, K1 <= 7) and
// float16 / float32 / float64, sizes fixed at compile time.
//
// Not compiled on its own: corrconv_gpu/_backends/cuda/kernels.py appends it
// to the text of corr2d.cu (whose boundary rule, loads and FMA it uses), one
// module per (dtype, K0, K1, FLIP, BOUNDARY, RY, BY) holding that one kernel.
//
//   out[b, i, j] = sum_{p < K0, q < K1} X(b, i + r0 + p, j + r1 + q) * W(p, q)
//
// exactly as corr2d (same X, boundary codes, fill value, batch and strides),
// with the K0*K1 weights read from the device once per thread into
// registers (S, in w's own order; never copied to the host, so a call with
// device weights neither copies nor synchronises).  Convolution (FLIP) is
// the compile-time index map W(p, q) = w[K0-1-p, K1-1-q]; no flipped copy.
//
// Geometry (all compile-time; RY and BY from the launch table
// corrconv_gpu/_backends/cuda/small_table.json): blocks of BX x BY = 16 x BY
// threads; each thread computes an RY x RX register block of outputs (RX =
// one 16-byte vector of T for float32 / float16, two for float64) at rows
// ty*RY.., columns tx*RX..; output tile TH x TW = BY*RY x BX*RX.  Grid:
// blockIdx.x over column tiles, .y over row tiles, .z over the batch, each a
// grid-stride loop (any grid covers any problem).
//
// Per tile: the input tile + halo (HI x WC elements of S) is staged into
// static shared memory, then each thread reads each of its RY + K0 - 1 input
// rows once (NW 16-byte shared loads) and applies every tap of that row to
// every output row it touches -- fully unrolled, no window moves, no
// run-time tap count.  Summation order per output: p ascending, then q
// ascending (independent of the tile position, so any grid / band gives the
// same bits).
//
// Interior / edge split (decided per tile, uniform over the block):
//   staging  interior: x's rows 16-byte aligned (checked at run time) and the
//            tile's input rows and 16-byte column vectors inside x -- every
//            thread issues its NK 16-byte loads (LDG.E.128) before it stores
//            the first one to shared memory; no boundary arithmetic.
//            edge: one element at a time through corrconv_map<BOUNDARY>
//            (every boundary mode, the fill value).
//   stores   a whole tile inside out and out's rows 16-byte aligned: one
//            16-byte store per thread, row and vector, no bounds checks;
//            otherwise the same vectors where they fit, scalars elsewhere.
// The shared row keeps a left pad of V elements so that the 16-byte staged
// vectors, which start up to V - 1 columns before the tile (x's alignment,
// not the tile's), land without a per-element range check; the thread's
// window reads start 16-byte aligned.

#define CORRCONV_SMALL_KMAX 7

// V: elements of T per 16-byte global access; RX: outputs per thread along
// a row (16 bytes of T, 32 for double: the window's shared loads then
// serve 4 outputs); BX: threads along a row
template <typename T> struct corrconv_small_traits;
template <> struct corrconv_small_traits<float> {
    typedef float S; enum { V = 4, RX = 4, BX = 16 };
};
template <> struct corrconv_small_traits<double> {
    typedef double S; enum { V = 2, RX = 4, BX = 16 };
};
#ifdef CORRCONV_WITH_HALF
template <> struct corrconv_small_traits<__half> {
    typedef float S; enum { V = 8, RX = 8, BX = 16 };
};
#endif

// ------------------------------------------------ 16-byte global accesses
// The staging keeps the raw 16 bytes in registers (corrconv_raw16) until all
// of a thread's loads are issued; corrconv_unpack converts them to S.
#if defined(__CUDACC__)
typedef uint4 corrconv_raw16;
CORRCONV_DI corrconv_raw16 corrconv_ldg16(const void* p) {
    return __ldg(reinterpret_cast<const uint4*>(p));
}
// __stwb (st.global.wb.v4, the default cache policy): a plain uint4
// assignment was split into four 32-bit stores by NVRTC 13.5
CORRCONV_DI void corrconv_stg16(void* p, corrconv_raw16 v) { __stwb(reinterpret_cast<uint4*>(p), v); }
CORRCONV_DI unsigned corrconv_word(const corrconv_raw16& v, int i) {
    return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}
CORRCONV_DI corrconv_raw16 corrconv_words(unsigned a, unsigned b, unsigned c, unsigned d) {
    return make_uint4(a, b, c, d);
}
#elif defined(__GNUC__)
// one 16-byte access under g++ too (what the emulator's counting build counts)
typedef unsigned int corrconv_raw16 __attribute__((vector_size(16), may_alias));
CORRCONV_DI corrconv_raw16 corrconv_ldg16(const void* p) {
    return *reinterpret_cast<const corrconv_raw16*>(p);
}
CORRCONV_DI void corrconv_stg16(void* p, corrconv_raw16 v) { *reinterpret_cast<corrconv_raw16*>(p) = v; }
CORRCONV_DI unsigned corrconv_word(const corrconv_raw16& v, int i) { return v[i]; }
CORRCONV_DI corrconv_raw16 corrconv_words(unsigned a, unsigned b, unsigned c, unsigned d) {
    corrconv_raw16 v = {a, b, c, d};
    return v;
}
#else
struct __align__(16) corrconv_raw16 { unsigned x, y, z, w; };
CORRCONV_DI corrconv_raw16 corrconv_ldg16(const void* p) {
    return *reinterpret_cast<const corrconv_raw16*>(p);
}
CORRCONV_DI void corrconv_stg16(void* p, corrconv_raw16 v) { *reinterpret_cast<corrconv_raw16*>(p) = v; }
CORRCONV_DI unsigned corrconv_word(const corrconv_raw16& v, int i) {
    return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}
CORRCONV_DI corrconv_raw16 corrconv_words(unsigned a, unsigned b, unsigned c, unsigned d) {
    corrconv_raw16 v = {a, b, c, d};
    return v;
}
#endif

// element k of 16 bytes of T, as S
template <typename T, typename S>
CORRCONV_DI S corrconv_unpack(const corrconv_raw16& v, int k);
template <>
CORRCONV_DI float corrconv_unpack<float, float>(const corrconv_raw16& v, int k) {
    return __uint_as_float(corrconv_word(v, k));
}
template <>
CORRCONV_DI double corrconv_unpack<double, double>(const corrconv_raw16& v, int k) {
    const unsigned long long lo = corrconv_word(v, 2 * k), hi = corrconv_word(v, 2 * k + 1);
    return __longlong_as_double((long long)((hi << 32) | lo));
}
// 16 bytes of T from V values of S (the cast of corrconv_store)
template <typename T, typename S>
CORRCONV_DI corrconv_raw16 corrconv_pack(const S* a);
template <>
CORRCONV_DI corrconv_raw16 corrconv_pack<float, float>(const float* a) {
    return corrconv_words(__float_as_uint(a[0]), __float_as_uint(a[1]),
                          __float_as_uint(a[2]), __float_as_uint(a[3]));
}
template <>
CORRCONV_DI corrconv_raw16 corrconv_pack<double, double>(const double* a) {
    const unsigned long long u0 = (unsigned long long)__double_as_longlong(a[0]);
    const unsigned long long u1 = (unsigned long long)__double_as_longlong(a[1]);
    return corrconv_words((unsigned)u0, (unsigned)(u0 >> 32), (unsigned)u1, (unsigned)(u1 >> 32));
}
#ifdef CORRCONV_WITH_HALF
template <>
CORRCONV_DI float corrconv_unpack<__half, float>(const corrconv_raw16& v, int k) {
    const unsigned u = corrconv_word(v, k >> 1);
    return __half2float(__ushort_as_half((unsigned short)((k & 1) ? (u >> 16) : (u & 0xffffu))));
}
CORRCONV_DI unsigned corrconv_pack2h(float a, float b) {
    return (unsigned)__half_as_ushort(__float2half_rn(a)) |
           ((unsigned)__half_as_ushort(__float2half_rn(b)) << 16);
}
template <>
CORRCONV_DI corrconv_raw16 corrconv_pack<__half, float>(const float* a) {
    return corrconv_words(corrconv_pack2h(a[0], a[1]), corrconv_pack2h(a[2], a[3]),
                          corrconv_pack2h(a[4], a[5]), corrconv_pack2h(a[6], a[7]));
}
#endif

// One output row of an edge tile (RX values from column oj): 16-byte stores
// where the vector lies inside the row (vout: out's rows 16-byte aligned),
// element stores elsewhere; shared by corr2d_small and corr2d_large.
template <typename T, typename S, int RX, int V>
CORRCONV_DI void corrconv_store_edge_row(T* orow, const S* acc, long long oj, long long O1,
                                         bool vout)
{
#pragma unroll
    for (int k = 0; k < RX; k += V) {
        if (vout && oj + k + V <= O1) {
            corrconv_stg16(orow + k, corrconv_pack<T, S>(acc + k));
        } else {
#pragma unroll
            for (int e = 0; e < V; ++e)
                if (oj + k + e < O1) corrconv_store(orow + k + e, acc[k + e]);
        }
    }
}

// 16-byte shared load of LV = 16 / sizeof(S) values (LDS.128)
CORRCONV_DI void corrconv_lds16(const float* p, float* d) { corrconv_ldsv<4, float>(p, d); }
CORRCONV_DI void corrconv_lds16(const double* p, double* d) { corrconv_ldsv<2, double>(p, d); }

CORRCONV_DI long long corrconv_floor_div(long long a, long long b) {
    const long long q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

// resident blocks of 128 threads asked of ptxas (scaled by 8 / BY for
// other blocks: the same registers per thread): 3, i.e. up to 168
// registers -- at 4 (128) the edge path of several sizes (5x7, 7x7 float32,
// 6x5 float64, ...) spilled on sm_75 / sm_80; 2 (255) for float64 beyond
// 35 taps, whose 7x7 edge path spilled 8 bytes at 168 on sm_86 / sm_89
#define CORRCONV_SMALL_MIN_BLOCKS(T, K0, K1) ((sizeof(T) == 8 && (K0) * (K1) > 35) ? 2 : 3)

template <typename T, bool FLIP, int BOUNDARY, int K0, int K1, int RY, int BY>
__global__ void CORRCONV_LAUNCH_BOUNDS(16 * BY, CORRCONV_SMALL_MIN_BLOCKS(T, K0, K1) * 8 / BY)
corr2d_small(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ out,
             const corrconv_params<typename corrconv_small_traits<T>::S> prm)
{
    typedef corrconv_small_traits<T> Tr;
    typedef typename Tr::S S;
    const long long x_stride = prm.x_stride, x_bstride = prm.x_bstride, M0 = prm.M0, M1 = prm.M1;
    const long long out_stride = prm.out_stride, out_bstride = prm.out_bstride, O0 = prm.O0, O1 = prm.O1;
    const long long nbatch = prm.nbatch, r0 = prm.r0, r1 = prm.r1;
    const S fillvalue = prm.fillvalue;
    enum {
        V = Tr::V, RX = Tr::RX, BX = Tr::BX, NT = BX * BY,
        TH = BY * RY, TW = BX * RX,
        HI = TH + K0 - 1, WC = TW + K1 - 1,           // staged rows, columns used
        LV = 16 / (int)sizeof(S),                     // S per 16-byte shared load
        NW = (RX + K1 - 1 + LV - 1) / LV,             // shared loads per window row
        WV = (V - 1 + WC + V - 1) / V,                // 16-byte vectors per staged row (at most)
        LPAD = V,                                     // left pad: the first vector's part before the tile
        SPR = LPAD + WV * V,                          // room for a row's vectors
        SPW = LPAD + (BX - 1) * RX + NW * LV,         // room for the last window read
        SP = ((SPR > SPW ? SPR : SPW) + LV - 1) / LV * LV,
        RS = NT / WV, NK = (HI + RS - 1) / RS,        // staging: rows per pass, passes
        NE = HI * WC                                  // elements of the edge staging
    };
    static_assert(TW % V == 0 && RX % V == 0 && RX % LV == 0 && RS >= 1, "vector geometry");
    static_assert(NT <= 256 && BY >= 1 && RY >= 1, "block geometry");
    static_assert(K0 >= 1 && K1 >= 1 && K0 <= CORRCONV_SMALL_KMAX && K1 <= CORRCONV_SMALL_KMAX,
                  "weights up to CORRCONV_SMALL_KMAX a side (larger: corr2d)");
    static_assert(HI * SP * (int)sizeof(S) <= CORRCONV_SMEM_LIMIT, "shared tile too large");

    __shared__ __align__(16) S sx[HI * SP];

    // the weights, read once from the device into registers: passed by value
    // they would have to be on the host, a device-to-host copy and a
    // synchronisation per call when the caller holds them on the device.
    // Over 280 bytes (float64 beyond 35 taps) registers would spill: those
    // are read from shared memory (written before the first tile's barrier)
    enum { TAPS_SHARED = K0 * K1 * (int)sizeof(S) > 280 };
    __shared__ S swt[TAPS_SHARED ? K0 * K1 : 1];
    S wt[TAPS_SHARED ? 1 : K0 * K1];
    if (TAPS_SHARED) {
        for (int t = (int)(threadIdx.y * blockDim.x + threadIdx.x); t < K0 * K1; t += 16 * BY)
            swt[t] = S(corrconv_ldg(w + (long long)(t / K1) * prm.w_stride + t % K1));
    } else {
#pragma unroll
        for (int t = 0; t < K0 * K1; ++t)
            wt[TAPS_SHARED ? 0 : t] = S(corrconv_ldg(w + (long long)(t / K1) * prm.w_stride + t % K1));
    }

    const int tx = (int)threadIdx.x, ty = (int)threadIdx.y, tid = ty * BX + tx;
    // 16-byte accesses need 16-byte aligned rows (the column stride is 1)
    const bool vin = (reinterpret_cast<unsigned long long>(x) & 15ull) == 0 &&
                     x_stride % V == 0 && x_bstride % V == 0;
    const bool vout = (reinterpret_cast<unsigned long long>(out) & 15ull) == 0 &&
                      out_stride % V == 0 && out_bstride % V == 0;
    // interior staging: thread tid loads vector scol of rows srow + k*RS
    // (RS rows of WV vectors per pass, k < NK), so that its k-th load is one
    // 64-bit add away from the previous one and its k-th shared store sits at
    // a compile-time offset from the first
    const int srow = tid / WV, scol = tid - srow * WV;
    const bool sact = srow < RS;
    const long long sstep = (long long)RS * x_stride * (long long)sizeof(T);   // bytes

    for (long long b = blockIdx.z; b < nbatch; b += gridDim.z) {
        const T* const xb = x + b * x_bstride;
        T* const ob = out + b * out_bstride;
        for (long long i0 = (long long)blockIdx.y * TH; i0 < O0; i0 += (long long)gridDim.y * TH) {
            for (long long j0 = (long long)blockIdx.x * TW; j0 < O1; j0 += (long long)gridDim.x * TW) {
                const long long gi0 = i0 + r0, gj0 = j0 + r1;    // X origin of the tile
                const long long cb = corrconv_floor_div(gj0, V) * V;
                const int s = (int)(gj0 - cb);                   // 0 <= s < V
                __syncthreads();   // everyone is done with the previous tile
                if (vin && gi0 >= 0 && gi0 + HI <= M0 && cb >= 0 && cb + WV * V <= M1) {
                    // interior: all loads first (NK 16-byte loads in flight), then the stores
                    const char* p = reinterpret_cast<const char*>(
                        xb + (gi0 + srow) * x_stride + cb + scol * V);
                    corrconv_raw16 buf[NK];
#pragma unroll
                    for (int k = 0; k < NK; ++k, p += sstep)
                        if (sact && ((k + 1) * RS <= HI || srow + k * RS < HI))
                            buf[k] = corrconv_ldg16(p);
                    S* const d = sx + srow * SP + LPAD - s + scol * V;
#pragma unroll
                    for (int k = 0; k < NK; ++k)
                        if (sact && ((k + 1) * RS <= HI || srow + k * RS < HI)) {
#pragma unroll
                            for (int e = 0; e < V; ++e)
                                d[k * RS * SP + e] = corrconv_unpack<T, S>(buf[k], e);
                        }
                } else {
                    // edge: every element through the boundary rule
                    for (int e = tid; e < NE; e += NT) {
                        const int row = e / WC, col = e - row * WC;
                        const long long mi = corrconv_map<BOUNDARY>(gi0 + row, M0);
                        const long long mj = corrconv_map<BOUNDARY>(gj0 + col, M1);
                        sx[row * SP + LPAD + col] =
                            (mi >= 0 && mj >= 0) ? S(corrconv_ldg(xb + mi * x_stride + mj)) : fillvalue;
                    }
                }
                __syncthreads();

                // acc[i][k]: output (i0 + ty*RY + i, j0 + tx*RX + k)
                S acc[RY][RX];
#pragma unroll
                for (int i = 0; i < RY; ++i)
#pragma unroll
                    for (int k = 0; k < RX; ++k) acc[i][k] = S(0);
                const S* const xw = sx + (ty * RY) * SP + LPAD + tx * RX;
#pragma unroll
                for (int r = 0; r < RY + K0 - 1; ++r) {          // input row of the thread's window
                    S win[NW * LV];
#pragma unroll
                    for (int m = 0; m < NW; ++m) corrconv_lds16(xw + r * SP + m * LV, win + m * LV);
#pragma unroll
                    for (int i = 0; i < RY; ++i) {
                        const int p = r - i;                     // tap row
                        if (p < 0 || p >= K0) continue;
#pragma unroll
                        for (int q = 0; q < K1; ++q) {
                            const int tap = FLIP ? (K0 - 1 - p) * K1 + (K1 - 1 - q) : p * K1 + q;
                            const S wv = TAPS_SHARED ? swt[tap] : wt[TAPS_SHARED ? 0 : tap];
#pragma unroll
                            for (int k = 0; k < RX; ++k) corrconv_mac(acc[i][k], win[k + q], wv);
                        }
                    }
                }

                // stores (the cast rounds float16 like corr2d)
                const long long oj = j0 + tx * RX;
                if (vout && i0 + TH <= O0 && j0 + TW <= O1) {
                    // byte pointer: one 64-bit add a row (element indices
                    // cost a shift and a widening multiply each)
                    char* orow = reinterpret_cast<char*>(ob + (i0 + ty * RY) * out_stride + oj);
                    const long long ostep = out_stride * (long long)sizeof(T);
#pragma unroll
                    for (int i = 0; i < RY; ++i, orow += ostep) {
#pragma unroll
                        for (int k = 0; k < RX; k += V)
                            corrconv_stg16(orow + k * (int)sizeof(T), corrconv_pack<T, S>(&acc[i][k]));
                    }
                } else {
#pragma unroll
                    for (int i = 0; i < RY; ++i) {
                        const long long oi = i0 + ty * RY + i;
                        if (oi >= O0) break;
                        corrconv_store_edge_row<T, S, RX, V>(ob + oi * out_stride + oj, acc[i],
                                                             oj, O1, vout);
                    }
                }
            }
        }
    }
}
