// corr2d_large.cu -- the direct kernel for LARGE weights (rows of more than
// 7 taps, K1 > 7, any K0) and float16 / float32 / float64: compile-time tap
// counts per chunk.  (Tall narrow weights, K1 <= 7 < K0, keep corr2d, which
// slides down columns: here a row shorter than CQ taps would cost a whole
// window of shared loads for K1 taps.)
//
// Not compiled on its own: corrconv_gpu/_backends/cuda/kernels.py appends it
// to corr2d.cu + corr2d_small.cu (boundary rule, FMA, 16-byte load / store
// and pack / unpack helpers), one module per (dtype, FLIP, BOUNDARY) on the
// GPU.  Any weight size runs in the same instantiation: the sizes are run
// time, the inner loops are not.
//
//   out[b, i, j] = sum_{p < K0, q < K1} X(b, i + r0 + p, j + r1 + q) * W(p, q)
//
// exactly as corr2d (same X, boundary codes, fill value, batch and strides;
// w a device array).  Convolution (FLIP) is the index map
// W(p, q) = w[K0-1-p, K1-1-q] applied while the weight chunk is staged; no
// flipped copy.  Real dtypes only (no CONJ).
//
// Geometry (compile-time, corrconv_large_traits; kernels.py:_LARGE_FIXED
// must match): 1-D blocks of NT = BX * BY threads; thread t has row ty =
// t % BY and column group tx = t / BY, and computes RY x RX outputs in
// registers: rows ty + i*BY (i < RY), columns tx*RX + k.  Output tile
// TH x TW = BY*RY x BX*RX.  Consecutive lanes take consecutive ROWS, so the
// 8 lanes of a 16-byte shared-load phase read 8 rows whose pitch SP is an
// odd number of 16-byte vectors: distinct banks, no conflicts.
//
// Chunks (run time, from the launcher): the weights are taken in chunks of
// at most kr tap rows x kc tap columns (kc <= KCM, compile-time); per chunk
// the chunk's weights and the input rows / columns it needs
// ((TH + kr - 1) x (TW + kc - 1)) are staged in dynamic shared memory:
//   [ x: (TH + kr - 1) rows of SP elements of S ][ w: kr rows of KCM S ]
// (launch.py:large_smem_bytes computes the same).  When one chunk holds
// all weights they are staged once per block.
//
// Tap loop: per tap row r and per CQ consecutive taps of it (CQ
// compile-time), CQ / LV 16-byte shared loads of weights (a broadcast) and,
// per output row of the thread, (RX + CQ - 1) / LV 16-byte loads of its
// input window feed RY * RX * CQ FMAs: every register index is a compile-time
// constant, so there are no register-window moves and no run-time tap count
// inside the chunk.  The last chunk of a row (fewer than CQ taps) runs the
// same code with each tap predicated (a uniform branch): no zero-padded
// weights, so an infinite input next to the kernel's footprint stays out of
// the sum, as in the reference.  Summation order per output: weight chunk
// by chunk (rows of chunks, then columns), within one p then q ascending --
// independent of the tile position and of the image size, so bands and the
// whole agree bit for bit.
//
// Interior / edge split (per chunk, uniform over the block):
//   staging  interior (x's rows 16-byte aligned, the chunk's rows and
//            16-byte column vectors inside x): 16-byte loads only, NB of
//            them issued by each thread before the first is written to
//            shared memory; no boundary arithmetic (no cp.async: its 16-byte
//            shared destinations would be aligned like x's vectors, which
//            leaves the window reads misaligned by (j0 + r1) % V; resident
//            blocks overlap one block's staging with the others' taps).
//            edge: one element at a time through corrconv_map<BOUNDARY>
//            (every mode, the fill value).
//   stores   the whole tile inside out and out's rows 16-byte aligned: 16-byte
//            stores only; otherwise vectors where they fit, scalars elsewhere.

template <typename T> struct corrconv_large_traits;
// S: shared / accumulator type; V: T per 16-byte global access; LV: S per
// 16-byte shared load; RX x RY outputs per thread; CQ taps per chunk of a row;
// BX x BY threads; KCM: most tap columns per chunk; NB: 16-byte loads a thread
// keeps in flight while staging; MINB: resident blocks asked of ptxas
template <> struct corrconv_large_traits<float> {
    typedef float S;
    enum { V = 4, LV = 4, RX = 16, RY = 2, CQ = 8, BX = 8, BY = 16, KCM = 32, NB = 8, MINB = 4 };
};
template <> struct corrconv_large_traits<double> {
    typedef double S;
    enum { V = 2, LV = 2, RX = 16, RY = 2, CQ = 16, BX = 4, BY = 16, KCM = 32, NB = 8, MINB = 4 };
};
#ifdef CORRCONV_WITH_HALF
template <> struct corrconv_large_traits<__half> {
    typedef float S;
    enum { V = 8, LV = 4, RX = 16, RY = 2, CQ = 8, BX = 8, BY = 16, KCM = 32, NB = 8, MINB = 4 };
};
#endif

// the shared row pitch SP (in S): room for the staged vectors of a row (which
// start up to V - 1 columns before the tile) and for the last thread's window
// of the last chunk; an odd number of 16-byte vectors
template <typename T> struct corrconv_large_geom {
    typedef corrconv_large_traits<T> Tr;
    enum {
        TH = Tr::BY * Tr::RY, TW = Tr::BX * Tr::RX, NT = Tr::BX * Tr::BY,
        LPAD = Tr::V,
        NWX = (Tr::RX + Tr::CQ - 1 + Tr::LV - 1) / Tr::LV,          // window loads per row
        WVM = (Tr::V - 1 + TW + Tr::KCM - 1 + Tr::V - 1) / Tr::V,  // staged vectors per row (most)
        SPR = LPAD + WVM * Tr::V,
        SPW = LPAD + (Tr::BX - 1) * Tr::RX + (Tr::KCM - Tr::CQ) + NWX * Tr::LV,
        SP0 = ((SPR > SPW ? SPR : SPW) + Tr::LV - 1) / Tr::LV * Tr::LV,
        SP = ((SP0 / Tr::LV) % 2 == 0) ? SP0 + Tr::LV : SP0
    };
};

// 16-byte shared load of a window vector that the compiler must not reuse
// across iterations of the tap loop: consecutive chunks' windows overlap,
// and NVVM otherwise carries the overlapping vector to the next iteration in
// registers -- four moves to save one load
#if defined(__CUDACC__)
CORRCONV_DI void corrconv_lds16_fresh(const float* p, float* d) {
    const unsigned a = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];"
                 : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3]) : "r"(a));
}
CORRCONV_DI void corrconv_lds16_fresh(const double* p, double* d) {
    const unsigned a = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ld.shared.v2.f64 {%0, %1}, [%2];" : "=d"(d[0]), "=d"(d[1]) : "r"(a));
}
#else
template <typename S>
CORRCONV_DI void corrconv_lds16_fresh(const S* p, S* d) { corrconv_lds16(p, d); }
#endif

// acc[i][k] += sum_{q < n} xr[i*BY*SP + k + q] * wr[q]   (n = CQ, or fewer
// with TAIL); xr, wr 16-byte aligned
template <typename T, bool TAIL>
CORRCONV_DI void corrconv_large_taps(
        typename corrconv_large_traits<T>::S (&acc)[corrconv_large_traits<T>::RY][corrconv_large_traits<T>::RX],
        const typename corrconv_large_traits<T>::S* xr,
        const typename corrconv_large_traits<T>::S* wr, int n)
{
    typedef corrconv_large_traits<T> Tr;
    typedef typename Tr::S S;
    typedef corrconv_large_geom<T> G;
    S wv[Tr::CQ];
#pragma unroll
    for (int m = 0; m < Tr::CQ / Tr::LV; ++m) corrconv_lds16(wr + m * Tr::LV, wv + m * Tr::LV);
#pragma unroll
    for (int i = 0; i < Tr::RY; ++i) {
        S win[G::NWX * Tr::LV];
#pragma unroll
        for (int m = 0; m < G::NWX; ++m)
            corrconv_lds16_fresh(xr + i * Tr::BY * G::SP + m * Tr::LV, win + m * Tr::LV);
#pragma unroll
        for (int q = 0; q < Tr::CQ; ++q) {
            if (TAIL && q >= n) break;
#pragma unroll
            for (int k = 0; k < Tr::RX; ++k) corrconv_mac(acc[i][k], win[k + q], wv[q]);
        }
    }
}

template <typename T, bool FLIP, int BOUNDARY>
__global__ void CORRCONV_LAUNCH_BOUNDS(corrconv_large_geom<T>::NT, corrconv_large_traits<T>::MINB)
corr2d_large(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ out,
             const corrconv_params<typename corrconv_large_traits<T>::S> prm)
{
    // the weight chunk (kr x kc taps) travels in the struct's kc0, kc1
    const long long x_stride = prm.x_stride, x_bstride = prm.x_bstride, M0 = prm.M0, M1 = prm.M1;
    const long long w_stride = prm.w_stride;
    const long long out_stride = prm.out_stride, out_bstride = prm.out_bstride, O0 = prm.O0, O1 = prm.O1;
    const long long nbatch = prm.nbatch, r0 = prm.r0, r1 = prm.r1;
    const int K0 = prm.K0, K1 = prm.K1, kr = prm.kc0, kc = prm.kc1;
    const typename corrconv_large_traits<T>::S fillvalue = prm.fillvalue;
    typedef corrconv_large_traits<T> Tr;
    typedef typename Tr::S S;
    typedef corrconv_large_geom<T> G;
    enum {
        V = Tr::V, LV = Tr::LV, RX = Tr::RX, RY = Tr::RY, CQ = Tr::CQ, BX = Tr::BX, BY = Tr::BY,
        KCM = Tr::KCM, NB = Tr::NB, NT = G::NT, TH = G::TH, TW = G::TW, SP = G::SP, LPAD = G::LPAD
    };
    static_assert(RX % V == 0 && RX % LV == 0 && CQ % LV == 0 && KCM % CQ == 0 && LPAD % LV == 0,
                  "vector geometry");
    static_assert(BY % 8 == 0, "8 consecutive lanes must read 8 rows (bank-conflict-free windows)");

    CORRCONV_DYNAMIC_SMEM(corrconv_lsmem);
    S* const sx = reinterpret_cast<S*>(corrconv_lsmem);
    S* const sw = sx + (TH + kr - 1) * SP;

    const int tid = (int)threadIdx.x, ty = tid % BY, tx = tid / BY;
    const bool vin = (reinterpret_cast<unsigned long long>(x) & 15ull) == 0 &&
                     x_stride % V == 0 && x_bstride % V == 0;
    const bool vout = (reinterpret_cast<unsigned long long>(out) & 15ull) == 0 &&
                      out_stride % V == 0 && out_bstride % V == 0;
    const bool wres = kr >= K0 && kc >= K1;   // one chunk: staged once per block

    // W(p0 + r, q0 + c) at sw[r * KCM + c], r < nr, c < nc
#define CORRCONV_LARGE_STAGE_W(p0_, q0_, nr_, nc_)                                   \
    for (int e = tid; e < (nr_) * (nc_); e += NT) {                                  \
        const int r = e / (nc_), c = e - r * (nc_);                                  \
        const int p = (p0_) + r, q = (q0_) + c;                                      \
        const long long sp = FLIP ? (long long)(K0 - 1 - p) : (long long)p;          \
        const long long sq = FLIP ? (long long)(K1 - 1 - q) : (long long)q;          \
        sw[r * KCM + c] = S(corrconv_ldg(w + sp * w_stride + sq));                   \
    }

    if (wres) {
        CORRCONV_LARGE_STAGE_W(0, 0, K0, K1)
    }

    for (long long b = blockIdx.z; b < nbatch; b += gridDim.z) {
        const T* const xb = x + b * x_bstride;
        T* const ob = out + b * out_bstride;
        for (long long i0 = (long long)blockIdx.y * TH; i0 < O0; i0 += (long long)gridDim.y * TH) {
            for (long long j0 = (long long)blockIdx.x * TW; j0 < O1; j0 += (long long)gridDim.x * TW) {
                S acc[RY][RX];
#pragma unroll
                for (int i = 0; i < RY; ++i)
#pragma unroll
                    for (int k = 0; k < RX; ++k) acc[i][k] = S(0);

                for (int p0 = 0; p0 < K0; p0 += kr) {
                    const int nr = (K0 - p0 < kr) ? K0 - p0 : kr;
                    for (int q0 = 0; q0 < K1; q0 += kc) {
                        const int nc = (K1 - q0 < kc) ? K1 - q0 : kc;
                        const long long gi0 = i0 + r0 + p0, gj0 = j0 + r1 + q0;
                        const long long cb = corrconv_floor_div(gj0, V) * V;
                        const int s = (int)(gj0 - cb);               // 0 <= s < V
                        const int HI = TH + nr - 1, WC = TW + nc - 1;
                        const int WV = (s + WC + V - 1) / V;         // 16-byte vectors a row

                        __syncthreads();   // everyone is done with sx and sw (previous chunk / tile)
                        if (!wres) {
                            CORRCONV_LARGE_STAGE_W(p0, q0, nr, nc)
                        }
                        if (vin && gi0 >= 0 && gi0 + HI <= M0 && cb >= 0 && cb + WV * V <= M1) {
                            // interior: NB 16-byte loads in flight, then their stores
                            // vector e = row * WV + col, e = tid + NT * (m + NB * batch):
                            // (row, col) advanced by carries, not divided out per vector
                            const T* const xs = xb + gi0 * x_stride + cb;
                            const int dr = NT / WV, dc = NT - dr * WV;           // one step of NT
                            const int Dr = NB * NT / WV, Dc = NB * NT - Dr * WV; // one batch
                            int row0 = tid / WV, col0 = tid - row0 * WV;
                            for (; row0 < HI; row0 += Dr, col0 += Dc) {
                                if (col0 >= WV) { col0 -= WV; ++row0; }
                                if (row0 >= HI) break;
                                corrconv_raw16 buf[NB];
                                int rows[NB], cols[NB];
                                int row = row0, col = col0;
#pragma unroll
                                for (int m = 0; m < NB; ++m) {
                                    rows[m] = row; cols[m] = col;
                                    if (row < HI) buf[m] = corrconv_ldg16(xs + row * x_stride + col * V);
                                    row += dr; col += dc;
                                    if (col >= WV) { col -= WV; ++row; }
                                }
#pragma unroll
                                for (int m = 0; m < NB; ++m) {
                                    if (rows[m] < HI) {
                                        S* const d = sx + rows[m] * SP + LPAD - s + cols[m] * V;
#pragma unroll
                                        for (int k = 0; k < V; ++k) d[k] = corrconv_unpack<T, S>(buf[m], k);
                                    }
                                }
                            }
                        } else {
                            // edge: every element through the boundary rule
                            for (int e = tid; e < HI * WC; e += NT) {
                                const int row = e / WC, col = e - row * WC;
                                const long long mi = corrconv_map<BOUNDARY>(gi0 + row, M0);
                                const long long mj = corrconv_map<BOUNDARY>(gj0 + col, M1);
                                sx[row * SP + LPAD + col] =
                                    (mi >= 0 && mj >= 0) ? S(corrconv_ldg(xb + mi * x_stride + mj)) : fillvalue;
                            }
                        }
                        __syncthreads();

                        // the tap loop
                        const int nfull = nc / CQ * CQ;
                        const S* xr = sx + ty * SP + LPAD + tx * RX;
                        const S* wr = sw;
#pragma unroll 1
                        for (int r = 0; r < nr; ++r, xr += SP, wr += KCM) {
                            // full chunks of CQ taps, then the rest (an index, not
                            // incremented pointers: those cost a copy per iteration)
#pragma unroll 1
                            for (int c = 0; c < nfull; c += CQ)
                                corrconv_large_taps<T, false>(acc, xr + c, wr + c, CQ);
                            if (nfull < nc)
                                corrconv_large_taps<T, true>(acc, xr + nfull, wr + nfull, nc - nfull);
                        }
                    }
                }

                // stores (the cast rounds float16 like corr2d)
                const long long oj = j0 + tx * RX;
                if (vout && i0 + TH <= O0 && j0 + TW <= O1) {
#pragma unroll
                    for (int i = 0; i < RY; ++i) {
                        char* const orow = reinterpret_cast<char*>(ob + (i0 + ty + i * BY) * out_stride + oj);
#pragma unroll
                        for (int k = 0; k < RX; k += V)
                            corrconv_stg16(orow + k * (int)sizeof(T), corrconv_pack<T, S>(&acc[i][k]));
                    }
                } else {
#pragma unroll
                    for (int i = 0; i < RY; ++i) {
                        const long long oi = i0 + ty + i * BY;
                        if (oi >= O0) break;
                        corrconv_store_edge_row<T, S, RX, V>(ob + oi * out_stride + oj, acc[i],
                                                             oj, O1, vout);
                    }
                }
            }
        }
    }
#undef CORRCONV_LARGE_STAGE_W
}
