// Forced-include header (-include emu_cuda.h) that lets unchanged CUDA C++
// kernel source compile as host C++ for the corrconv_gpu CPU emulator.
//
// Every CUDA thread of a block runs as a fiber on one OS thread; blocks run
// on a pool of worker threads.  __shared__ is thread_local storage, so each
// running block (OS thread) has its own copy.
#pragma once
#define CORRCONV_EMU 1

// Standard headers that kernels / shims may use are included *before* the
// CUDA keyword macros are defined (libstdc++ uses __noinline__ etc.).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <climits>
#include <cfloat>
#include <cmath>
#include <math.h>
#include <complex>
#include <limits>
#include <type_traits>
#include <utility>
#include <tuple>
#include <new>

#include "emu_rt.h"

// ---------------------------------------------------------------- keywords
#define __global__
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __grid_constant__
// CUDA shared memory: one instance per running block == per OS thread.
// Block-scope thread_local is implicitly static; `extern __shared__ T a[];`
// becomes an undefined TLS symbol that the build defines (aliasing the
// dynamic shared memory buffer).  The kernel object's TLS (= its static
// shared memory) is bracketed by marker objects at link time so that the
// runtime can poison it.
#define __shared__ thread_local

#define threadIdx (static_cast<const uint3&>(::__emu::t_threadIdx))
#define blockIdx (static_cast<const uint3&>(::__emu::t_blockIdx))
#define blockDim (static_cast<const dim3&>(::__emu::t_blockDim))
#define gridDim (static_cast<const dim3&>(::__emu::t_gridDim))
static constexpr int warpSize = 32;

// ---------------------------------------------------------------- sync
inline void __syncthreads() { ::__emu::syncthreads(); }
inline int __syncthreads_count(int p) { return ::__emu::syncthreads_reduce(0, p); }
inline int __syncthreads_and(int p) { return ::__emu::syncthreads_reduce(1, p); }
inline int __syncthreads_or(int p) { return ::__emu::syncthreads_reduce(2, p); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
[[noreturn]] inline void __trap() { ::__emu::kernel_fail("__trap() called"); __builtin_unreachable(); }
#if defined(__x86_64__) || defined(__i386__)
inline long long clock64() { return (long long)__builtin_ia32_rdtsc(); }
#else
inline long long clock64() { return 0; }
#endif
inline void __nanosleep(unsigned) {}

// ---------------------------------------------------------------- warp level
// Implemented with a warp barrier in the fiber scheduler: all lanes named in
// `mask` must reach the same kind of warp call.
namespace __emu {
template <class T> inline unsigned long long __to_bits(T v) {
    static_assert(sizeof(T) <= 8, "warp shuffle of a type larger than 8 bytes");
    unsigned long long b = 0; std::memcpy(&b, &v, sizeof(T)); return b;
}
template <class T> inline T __from_bits(unsigned long long b) {
    T v; std::memcpy(&v, &b, sizeof(T)); return v;
}
enum { W_SYNC = 0, W_IDX = 1, W_UP = 2, W_DOWN = 3, W_XOR = 4, W_BALLOT = 5, W_ANY = 6, W_ALL = 7 };
}
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::__emu::warp_op(::__emu::W_SYNC, mask, 0, 0, 32); }
template <class T> inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
    return ::__emu::__from_bits<T>(::__emu::warp_op(::__emu::W_IDX, mask, ::__emu::__to_bits(v), src, width)); }
template <class T> inline T __shfl_up_sync(unsigned mask, T v, unsigned d, int width = 32) {
    return ::__emu::__from_bits<T>(::__emu::warp_op(::__emu::W_UP, mask, ::__emu::__to_bits(v), (int)d, width)); }
template <class T> inline T __shfl_down_sync(unsigned mask, T v, unsigned d, int width = 32) {
    return ::__emu::__from_bits<T>(::__emu::warp_op(::__emu::W_DOWN, mask, ::__emu::__to_bits(v), (int)d, width)); }
template <class T> inline T __shfl_xor_sync(unsigned mask, T v, int lm, int width = 32) {
    return ::__emu::__from_bits<T>(::__emu::warp_op(::__emu::W_XOR, mask, ::__emu::__to_bits(v), lm, width)); }
inline unsigned __ballot_sync(unsigned mask, int p) { return (unsigned)::__emu::warp_op(::__emu::W_BALLOT, mask, p != 0, 0, 32); }
inline int __any_sync(unsigned mask, int p) { return (int)::__emu::warp_op(::__emu::W_ANY, mask, p != 0, 0, 32); }
inline int __all_sync(unsigned mask, int p) { return (int)::__emu::warp_op(::__emu::W_ALL, mask, p != 0, 0, 32); }
inline unsigned __activemask() { return 0xffffffffu; }

// ---------------------------------------------------------------- loads
template <class T> inline T __ldg(const T* p) { return *p; }
template <class T> inline T __ldcg(const T* p) { return *p; }
template <class T> inline T __ldca(const T* p) { return *p; }
template <class T> inline T __ldcs(const T* p) { return *p; }
template <class T> inline T __ldlu(const T* p) { return *p; }
template <class T> inline T __ldcv(const T* p) { return *p; }
template <class T> inline void __stcg(T* p, T v) { *p = v; }
template <class T> inline void __stcs(T* p, T v) { *p = v; }
template <class T> inline void __stwb(T* p, T v) { *p = v; }

// ---------------------------------------------------------------- min / max
#define __EMU_MINMAX(T)                                                    \
    inline T min(T a, T b) { return b < a ? b : a; }                        \
    inline T max(T a, T b) { return a < b ? b : a; }
__EMU_MINMAX(int) __EMU_MINMAX(unsigned int) __EMU_MINMAX(long) __EMU_MINMAX(unsigned long)
__EMU_MINMAX(long long) __EMU_MINMAX(unsigned long long)
#undef __EMU_MINMAX
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
template <class A, class B, class = std::enable_if_t<!std::is_same<A, B>::value && std::is_arithmetic<A>::value && std::is_arithmetic<B>::value>>
inline std::common_type_t<A, B> min(A a, B b) { using C = std::common_type_t<A, B>; return min(C(a), C(b)); }
template <class A, class B, class = std::enable_if_t<!std::is_same<A, B>::value && std::is_arithmetic<A>::value && std::is_arithmetic<B>::value>>
inline std::common_type_t<A, B> max(A a, B b) { using C = std::common_type_t<A, B>; return max(C(a), C(b)); }

// ---------------------------------------------------------------- math intrinsics
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float rcbrtf(float x) { return 1.0f / cbrtf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float fdividef(float a, float b) { return a / b; }
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return powf(10.0f, x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline void __sincosf(float x, float* s, float* c) { *s = sinf(x); *c = cosf(x); }
inline float __powf(float a, float b) { return powf(a, b); }
inline float sinpif(float x) { return sinf(float(M_PI) * x); }
inline float cospif(float x) { return cosf(float(M_PI) * x); }
inline double sinpi(double x) { return sin(M_PI * x); }
inline double cospi(double x) { return cos(M_PI * x); }
inline void sincospif(float x, float* s, float* c) { *s = sinpif(x); *c = cospif(x); }
inline void sincospi(double x, double* s, double* c) { *s = sinpi(x); *c = cospi(x); }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
#define __EMU_RN(op, T, name) inline T name(T a, T b) { return a op b; }
__EMU_RN(+, float, __fadd_rn) __EMU_RN(+, float, __fadd_rz) __EMU_RN(-, float, __fsub_rn)
__EMU_RN(*, float, __fmul_rn) __EMU_RN(*, float, __fmul_rz) __EMU_RN(/, float, __fdiv_rn)
__EMU_RN(+, double, __dadd_rn) __EMU_RN(-, double, __dsub_rn) __EMU_RN(*, double, __dmul_rn)
__EMU_RN(/, double, __ddiv_rn)
#undef __EMU_RN
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __fmaf_rz(float a, float b, float c) { return fmaf(a, b, c); }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline double __drcp_rn(double x) { return 1.0 / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline double __dsqrt_rn(double x) { return sqrt(x); }
inline int __float2int_rn(float x) { return (int)nearbyintf(x); }
inline int __float2int_rz(float x) { return (int)x; }
inline int __float2int_rd(float x) { return (int)floorf(x); }
inline int __float2int_ru(float x) { return (int)ceilf(x); }
inline unsigned __float2uint_rn(float x) { return (unsigned)nearbyintf(x); }
inline int __double2int_rn(double x) { return (int)nearbyint(x); }
inline int __double2int_rz(double x) { return (int)x; }
inline float __int2float_rn(int x) { return (float)x; }
inline float __uint2float_rn(unsigned x) { return (float)x; }
inline float __double2float_rn(double x) { return (float)x; }
inline long long __float2ll_rn(float x) { return (long long)nearbyintf(x); }
inline long long __double2ll_rn(double x) { return (long long)nearbyint(x); }
inline int __float_as_int(float x) { int r; std::memcpy(&r, &x, 4); return r; }
inline unsigned __float_as_uint(float x) { unsigned r; std::memcpy(&r, &x, 4); return r; }
inline float __int_as_float(int x) { float r; std::memcpy(&r, &x, 4); return r; }
inline float __uint_as_float(unsigned x) { float r; std::memcpy(&r, &x, 4); return r; }
inline long long __double_as_longlong(double x) { long long r; std::memcpy(&r, &x, 8); return r; }
inline double __longlong_as_double(long long x) { double r; std::memcpy(&r, &x, 8); return r; }
inline int __double2hiint(double x) { return (int)(__double_as_longlong(x) >> 32); }
inline int __double2loint(double x) { return (int)(__double_as_longlong(x) & 0xffffffff); }
inline double __hiloint2double(int hi, int lo) { return __longlong_as_double(((long long)hi << 32) | (unsigned)lo); }

// ---------------------------------------------------------------- integer intrinsics
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    return __builtin_bswap32(x);
}
inline unsigned long long __brevll(unsigned long long x) { return ((unsigned long long)__brev((unsigned)x) << 32) | __brev((unsigned)(x >> 32)); }
inline int __mul24(int a, int b) { return (int)((long long)((a << 8) >> 8) * ((b << 8) >> 8)); }
inline unsigned __umul24(unsigned a, unsigned b) { return (a & 0xffffffu) * (b & 0xffffffu); }
inline int __mulhi(int a, int b) { return (int)(((long long)a * b) >> 32); }
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline long long __mul64hi(long long a, long long b) { return (long long)(((__int128)a * b) >> 64); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) { return (unsigned long long)(((unsigned __int128)a * b) >> 64); }
inline int __sad(int a, int b, unsigned c) { return (a > b ? a - b : b - a) + c; }
inline unsigned __usad(unsigned a, unsigned b, unsigned c) { return (a > b ? a - b : b - a) + c; }

// ---------------------------------------------------------------- atomics
// Shared-memory atomics are trivially atomic (one OS thread per block);
// global ones use real atomic instructions since blocks run concurrently.
#define __EMU_ATOMIC_INT(T)                                                                       \
    inline T atomicAdd(T* p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }           \
    inline T atomicSub(T* p, T v) { return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED); }           \
    inline T atomicExch(T* p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }         \
    inline T atomicAnd(T* p, T v) { return __atomic_fetch_and(p, v, __ATOMIC_RELAXED); }           \
    inline T atomicOr(T* p, T v) { return __atomic_fetch_or(p, v, __ATOMIC_RELAXED); }             \
    inline T atomicXor(T* p, T v) { return __atomic_fetch_xor(p, v, __ATOMIC_RELAXED); }           \
    inline T atomicCAS(T* p, T c, T v) { __atomic_compare_exchange_n(p, &c, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED); return c; } \
    inline T atomicMin(T* p, T v) { T o = __atomic_load_n(p, __ATOMIC_RELAXED);                     \
        while (v < o && !__atomic_compare_exchange_n(p, &o, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {} return o; } \
    inline T atomicMax(T* p, T v) { T o = __atomic_load_n(p, __ATOMIC_RELAXED);                     \
        while (v > o && !__atomic_compare_exchange_n(p, &o, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {} return o; }
__EMU_ATOMIC_INT(int) __EMU_ATOMIC_INT(unsigned int) __EMU_ATOMIC_INT(unsigned long long) __EMU_ATOMIC_INT(long long)
#undef __EMU_ATOMIC_INT
inline unsigned short atomicCAS(unsigned short* p, unsigned short c, unsigned short v) {
    __atomic_compare_exchange_n(p, &c, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED); return c; }
#define __EMU_ATOMIC_FP(T, U)                                                                     \
    inline T atomicAdd(T* p, T v) { U* q = reinterpret_cast<U*>(p); U o = __atomic_load_n(q, __ATOMIC_RELAXED), n; \
        do { T f; std::memcpy(&f, &o, sizeof f); f += v; std::memcpy(&n, &f, sizeof n); }            \
        while (!__atomic_compare_exchange_n(q, &o, n, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));    \
        T r; std::memcpy(&r, &o, sizeof r); return r; }                                               \
    inline T atomicExch(T* p, T v) { U n; std::memcpy(&n, &v, sizeof n);                            \
        U o = __atomic_exchange_n(reinterpret_cast<U*>(p), n, __ATOMIC_RELAXED); T r; std::memcpy(&r, &o, sizeof r); return r; }
__EMU_ATOMIC_FP(float, unsigned int) __EMU_ATOMIC_FP(double, unsigned long long)
#undef __EMU_ATOMIC_FP
inline unsigned atomicInc(unsigned* p, unsigned lim) { unsigned o = __atomic_load_n(p, __ATOMIC_RELAXED), n;
    do { n = (o >= lim) ? 0 : o + 1; } while (!__atomic_compare_exchange_n(p, &o, n, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)); return o; }
inline unsigned atomicDec(unsigned* p, unsigned lim) { unsigned o = __atomic_load_n(p, __ATOMIC_RELAXED), n;
    do { n = (o == 0 || o > lim) ? lim : o - 1; } while (!__atomic_compare_exchange_n(p, &o, n, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)); return o; }
#define __EMU_ATOMIC_ALIAS(name) template <class T, class V> inline T name##_block(T* p, V v) { return name(p, (T)v); } \
    template <class T, class V> inline T name##_system(T* p, V v) { return name(p, (T)v); }
__EMU_ATOMIC_ALIAS(atomicAdd) __EMU_ATOMIC_ALIAS(atomicMax) __EMU_ATOMIC_ALIAS(atomicMin) __EMU_ATOMIC_ALIAS(atomicExch)
#undef __EMU_ATOMIC_ALIAS

// ---------------------------------------------------------------- vector types
#define __EMU_VEC2(N, T, A) struct __attribute__((aligned(A))) N##2 { T x, y; };                          \
    inline N##2 make_##N##2(T x, T y) { return N##2{x, y}; }
#define __EMU_VEC3(N, T) struct N##3 { T x, y, z; };                                                       \
    inline N##3 make_##N##3(T x, T y, T z) { return N##3{x, y, z}; }
#define __EMU_VEC4(N, T, A) struct __attribute__((aligned(A))) N##4 { T x, y, z, w; };                    \
    inline N##4 make_##N##4(T x, T y, T z, T w) { return N##4{x, y, z, w}; }
__EMU_VEC2(float, float, 8) __EMU_VEC3(float, float) __EMU_VEC4(float, float, 16)
__EMU_VEC2(double, double, 16) __EMU_VEC3(double, double) __EMU_VEC4(double, double, 16)
__EMU_VEC2(int, int, 8) __EMU_VEC3(int, int) __EMU_VEC4(int, int, 16)
__EMU_VEC2(uint, unsigned int, 8) __EMU_VEC4(uint, unsigned int, 16)
__EMU_VEC2(longlong, long long, 16) __EMU_VEC2(ulonglong, unsigned long long, 16)
__EMU_VEC2(short, short, 4) __EMU_VEC4(short, short, 8)
__EMU_VEC2(char, signed char, 2) __EMU_VEC4(char, signed char, 4)
__EMU_VEC2(uchar, unsigned char, 2) __EMU_VEC4(uchar, unsigned char, 4)
#undef __EMU_VEC2
#undef __EMU_VEC3
#undef __EMU_VEC4
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return uint3{x, y, z}; }

// ---------------------------------------------------------------- assert
// A failing assert() in a kernel records an error for the launch (raised in
// Python as EmuLaunchError) instead of aborting the process.
#include <assert.h>
#undef assert
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e) ((e) ? (void)0 : ::__emu::kernel_fail("assertion failed: " #e " at " __FILE__ ":" __EMU_STR(__LINE__)))
#endif
#define __EMU_STR2(x) #x
#define __EMU_STR(x) __EMU_STR2(x)

// ---------------------------------------------------------------- launch glue
// Used by the generated trampolines (one per name expression).
namespace __emu {
template <class T, class = void> struct __is_half_like : std::false_type {};
template <class T> struct __is_half_like<T, std::void_t<decltype(T::__emu_is_half)>> : std::true_type {};
template <class T> struct __is_complex : std::false_type {};
template <class T> struct __is_complex<std::complex<T>> : std::true_type {};
// 0 other (struct), 1 pointer, 2 signed int, 3 unsigned int, 4 float, 5 complex, 6 bool, 7 void
template <class T> constexpr int __kind_of() {
    if constexpr (std::is_void<T>::value) return 7;
    else if constexpr (std::is_pointer<T>::value) return 1;
    else if constexpr (std::is_same<T, bool>::value) return 6;
    else if constexpr (std::is_enum<T>::value) return std::is_signed<std::underlying_type_t<T>>::value ? 2 : 3;
    else if constexpr (std::is_integral<T>::value) return std::is_signed<T>::value ? 2 : 3;
    else if constexpr (std::is_floating_point<T>::value) return 4;
    else if constexpr (__is_complex<T>::value) return 5;
    else if constexpr (__is_half_like<T>::value) return 4;
    else return 0;
}
template <class T> constexpr long long __sizeof_or0() {
    if constexpr (std::is_void<T>::value) return 0; else return (long long)sizeof(T);
}
template <class... P>
struct __Launcher {
    using Tup = std::tuple<std::remove_cv_t<P>...>;
    void (*k)(P...);
    Tup tup;
    static void body(void* self) {
        __Launcher* s = static_cast<__Launcher*>(self);
        std::apply(s->k, s->tup);  // each CUDA thread gets its own copies of the arguments
    }
};
template <class... P, size_t... I>
inline void __unpack(std::tuple<P...>& t, void** args, std::index_sequence<I...>) {
    (std::memcpy((void*)&std::get<I>(t), args[I], sizeof(P)), ...);
}
template <class... P> inline int nparams(void (*)(P...)) { return (int)sizeof...(P); }
template <class... P> inline void params(void (*)(P...), long long* sizes, int* kinds, int* pkinds, long long* psizes) {
    int i = 0;
    ((sizes[i] = (long long)sizeof(P), kinds[i] = __kind_of<std::remove_cv_t<P>>(),
      pkinds[i] = std::is_pointer<P>::value ? __kind_of<std::remove_cv_t<std::remove_pointer_t<P>>>() : -1,
      psizes[i] = std::is_pointer<P>::value ? __sizeof_or0<std::remove_cv_t<std::remove_pointer_t<P>>>() : 0, ++i), ...);
    (void)sizes; (void)kinds; (void)pkinds; (void)psizes; (void)i;
}
template <class... P> inline int launch(void (*k)(P...), const LaunchCfg* cfg, void** args) {
    static_assert((std::is_trivially_copyable<std::remove_cv_t<P>>::value && ...), "kernel parameters must be trivially copyable");
    __Launcher<P...> l;
    l.k = k;
    __unpack(l.tup, args, std::index_sequence_for<P...>{});
    return run_grid(cfg, &__Launcher<P...>::body, &l);
}
}  // namespace __emu
