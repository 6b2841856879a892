// corrconv_gpu CPU emulator: memory-traffic counters (EmuModule(..., sanitize='count')).
//
// The kernel translation unit of a counting build is compiled with
//     -O2 -fsanitize=thread --param tsan-instrument-func-entry-exit=0
// so GCC emits a call __tsan_{read,write}{1,2,4,8,16}(addr) (or
// __tsan_{read,write}_range(addr, n), __tsan_atomicN_*) for every memory
// access that survives its -O2 GIMPLE optimisations (values kept in registers
// are not counted: this approximates the GPU's register reuse).  No tsan
// runtime is linked: this file defines those callbacks and COUNTS instead.
// (GCC's kernel-address instrumentation in call mode was tried first; it does
// not re-check a store to a location just loaded -- `a[i] *= s` counts no
// write -- and skips element-wise std::complex accesses, so it undercounts.)
// Each access is classified by its start address as
//   shared  -- inside the running block's static __shared__ TLS range
//              [__emu_shared_begin, __emu_shared_end) or its dynamic shared
//              buffer __emu_dyn_smem (capacity + canary);
//   global  -- inside one of the launch's pointer arguments' byte extents
//              [lo, hi) (given by Python; the first matching range wins);
//   other   -- anything else (escaping locals, the launch glue copying the
//              arguments, __constant__ globals, ...);
//              reads of threadIdx/blockIdx/blockDim/gridDim (special registers
//              on a GPU, TLS in the emulator) are not counted at all.
// Counters are accumulated per OS thread (worker) in thread-local storage and
// merged into the launch totals when the worker thread exits (or, for the
// calling thread, when run_grid returns).  A launch generation number resets the
// thread-local counters lazily at the first access of a new launch.
//
// This file is linked (uninstrumented) into counting builds only, before the
// shared-memory marker objects, so its own TLS is outside the shared range.
#include "emu_rt.h"

#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_set>

extern thread_local unsigned char __emu_dyn_smem[];
extern thread_local unsigned char __emu_shared_begin;
extern thread_local unsigned char __emu_shared_end;

#define EMU_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

// must match corrconv_gpu/_emu/__init__.py (_COUNTER_NAMES)
enum {
    C_GLD, C_GLDB, C_GST, C_GSTB,   // global loads, load bytes, stores, store bytes
    C_SLD, C_SLDB, C_SST, C_SSTB,   // shared
    C_OLD, C_OLDB, C_OST, C_OSTB,   // other
    C_GRS,                          // global read sectors: distinct 32-byte sectors per block
    C_N
};
constexpr int kMaxRanges = 64;

struct Range { uintptr_t lo, hi; };

std::mutex g_mu;
unsigned long long g_gen = 0;      // launch generation (written only between launches)
bool g_armed = false;     // between __emu_count_begin and __emu_count_end
bool g_active = false;    // ... and inside run_grid: only blocks are counted, not the launch glue
int g_nranges = 0;
Range g_ranges[kMaxRanges];
unsigned long long g_tot[C_N];
unsigned long long g_rd[kMaxRanges], g_wr[kMaxRanges];

// Trivially constructible: zero-initialised TLS, no init guard on the hot path.
struct Acc {
    unsigned long long gen;
    uintptr_t sh_lo, sh_hi, dyn_lo, dyn_hi;
    int nr;
    Range r[kMaxRanges];
    unsigned long long c[C_N];
    unsigned long long rd[kMaxRanges], wr[kMaxRanges];
    unsigned long long blk;   // the block whose sectors t_sectors holds (+1; 0: none)
};
thread_local Acc t_acc;
// the distinct 32-byte sectors of global memory the running block has read
// (what a block costs the memory system with a perfect per-block cache; a
// pointer, so that the TLS stays trivially constructible)
thread_local std::unordered_set<uintptr_t>* t_sectors = nullptr;

void close_block(Acc& t) {
    if (t_sectors) {
        t.c[C_GRS] += t_sectors->size();
        t_sectors->clear();
    }
    t.blk = 0;
}

void flush(Acc& t) {
    if (t.gen == g_gen) close_block(t);
    std::lock_guard<std::mutex> g(g_mu);
    if (t.gen == g_gen && g_armed) {
        for (int i = 0; i < C_N; ++i) g_tot[i] += t.c[i];
        for (int i = 0; i < t.nr; ++i) { g_rd[i] += t.rd[i]; g_wr[i] += t.wr[i]; }
    }
    t.gen = 0;
}

struct Flusher { ~Flusher() { flush(t_acc); } };
thread_local Flusher t_flusher;   // its destructor merges a worker's counts at thread exit

__attribute__((noinline)) void refresh(Acc& t) {
    (void)&t_flusher;   // first use on this thread registers the thread-exit flush
    t.gen = g_gen;
    if (t_sectors) t_sectors->clear();
    t.blk = 0;
    std::memset(t.c, 0, sizeof t.c);
    std::memset(t.rd, 0, sizeof t.rd);
    std::memset(t.wr, 0, sizeof t.wr);
    t.sh_lo = (uintptr_t)&__emu_shared_begin;
    t.sh_hi = (uintptr_t)&__emu_shared_end;
    t.dyn_lo = (uintptr_t)&__emu_dyn_smem[0];
    t.dyn_hi = t.dyn_lo + __emu::kDynSmemMax + __emu::kCanaryMax;
    t.nr = g_nranges;
    std::memcpy(t.r, g_ranges, sizeof(Range) * (size_t)g_nranges);
}

template <class T> inline bool in_obj(uintptr_t a, const T* o) {
    return a >= (uintptr_t)o && a < (uintptr_t)o + sizeof(T);
}

__attribute__((noinline)) void note_sectors(Acc& t, uintptr_t a, unsigned long long size) {
    const uint3& b = __emu::t_blockIdx;
    const unsigned long long key =
        1 + ((unsigned long long)b.z << 42 ^ (unsigned long long)b.y << 21 ^ b.x);
    if (t.blk != key) {
        close_block(t);
        t.blk = key;
    }
    if (!t_sectors) t_sectors = new std::unordered_set<uintptr_t>();
    for (uintptr_t s = a >> 5; s <= (a + size - 1) >> 5; ++s) t_sectors->insert(s);
}

inline void count(uintptr_t a, unsigned long long size, bool store) {
    if (!g_active) return;
    Acc& t = t_acc;
    if (__builtin_expect(t.gen != g_gen, 0)) refresh(t);
    if ((a >= t.dyn_lo && a < t.dyn_hi) || (a >= t.sh_lo && a < t.sh_hi)) {
        t.c[store ? C_SST : C_SLD] += 1;
        t.c[store ? C_SSTB : C_SLDB] += size;
        return;
    }
    for (int i = 0; i < t.nr; ++i) {
        if (a >= t.r[i].lo && a < t.r[i].hi) {
            t.c[store ? C_GST : C_GLD] += 1;
            t.c[store ? C_GSTB : C_GLDB] += size;
            (store ? t.wr : t.rd)[i] += size;
            if (!store) note_sectors(t, a, size);
            return;
        }
    }
    // threadIdx / blockIdx / blockDim / gridDim: special registers on a GPU, not memory
    if (in_obj(a, &__emu::t_threadIdx) || in_obj(a, &__emu::t_blockIdx) || in_obj(a, &__emu::t_blockDim) ||
        in_obj(a, &__emu::t_gridDim))
        return;
    t.c[store ? C_OST : C_OLD] += 1;
    t.c[store ? C_OSTB : C_OLDB] += size;
}

}  // namespace

// ---------------------------------------------------------------- callbacks
// ThreadSanitizer's compiler interface (GCC tsan.cc / compiler-rt
// tsan_interface.h, tsan_interface_atomic.h); no tsan runtime is linked.
extern "C" {
#define EMU_CB(n)                                                                          \
    void __tsan_read##n(void* a) { count((uintptr_t)a, n, false); }                        \
    void __tsan_write##n(void* a) { count((uintptr_t)a, n, true); }                        \
    void __tsan_unaligned_read##n(void* a) { count((uintptr_t)a, n, false); }              \
    void __tsan_unaligned_write##n(void* a) { count((uintptr_t)a, n, true); }              \
    void __tsan_volatile_read##n(void* a) { count((uintptr_t)a, n, false); }               \
    void __tsan_volatile_write##n(void* a) { count((uintptr_t)a, n, true); }               \
    void __tsan_unaligned_volatile_read##n(void* a) { count((uintptr_t)a, n, false); }     \
    void __tsan_unaligned_volatile_write##n(void* a) { count((uintptr_t)a, n, true); }
EMU_CB(1) EMU_CB(2) EMU_CB(4) EMU_CB(8) EMU_CB(16)
#undef EMU_CB
void __tsan_read_range(void* a, unsigned long size) { count((uintptr_t)a, size, false); }
void __tsan_write_range(void* a, unsigned long size) { count((uintptr_t)a, size, true); }
void __tsan_init() {}
void __tsan_func_entry(void*) {}
void __tsan_func_exit() {}
void __tsan_vptr_update(void**, void*) {}
void __tsan_vptr_read(void**) {}

// Atomics: performed for real (blocks run concurrently); a read-modify-write
// counts as one load and one store of the element.
typedef int emu_morder;
void __tsan_atomic_thread_fence(emu_morder) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
void __tsan_atomic_signal_fence(emu_morder) { __atomic_signal_fence(__ATOMIC_SEQ_CST); }
}  // extern "C"

namespace {
std::mutex g_atomic128_mu;   // 16-byte atomics without libatomic
template <class T> struct AtomicOps {
    static T load(volatile T* a) { return __atomic_load_n(a, __ATOMIC_SEQ_CST); }
    static void store(volatile T* a, T v) { __atomic_store_n(a, v, __ATOMIC_SEQ_CST); }
    static T exchange(volatile T* a, T v) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); }
    static T fetch_add(volatile T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }
    static T fetch_sub(volatile T* a, T v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }
    static T fetch_and(volatile T* a, T v) { return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); }
    static T fetch_or(volatile T* a, T v) { return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); }
    static T fetch_xor(volatile T* a, T v) { return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST); }
    static T fetch_nand(volatile T* a, T v) { return __atomic_fetch_nand(a, v, __ATOMIC_SEQ_CST); }
    static bool cas(volatile T* a, T* c, T v) {
        return __atomic_compare_exchange_n(a, c, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
};
template <> struct AtomicOps<__int128> {
    typedef __int128 T;
    typedef std::lock_guard<std::mutex> G;
    static T load(volatile T* a) { G g(g_atomic128_mu); return *a; }
    static void store(volatile T* a, T v) { G g(g_atomic128_mu); *a = v; }
    static T exchange(volatile T* a, T v) { G g(g_atomic128_mu); T o = *a; *a = v; return o; }
    static T fetch_add(volatile T* a, T v) { G g(g_atomic128_mu); T o = *a; *a = o + v; return o; }
    static T fetch_sub(volatile T* a, T v) { G g(g_atomic128_mu); T o = *a; *a = o - v; return o; }
    static T fetch_and(volatile T* a, T v) { G g(g_atomic128_mu); T o = *a; *a = o & v; return o; }
    static T fetch_or(volatile T* a, T v) { G g(g_atomic128_mu); T o = *a; *a = o | v; return o; }
    static T fetch_xor(volatile T* a, T v) { G g(g_atomic128_mu); T o = *a; *a = o ^ v; return o; }
    static T fetch_nand(volatile T* a, T v) { G g(g_atomic128_mu); T o = *a; *a = ~(o & v); return o; }
    static bool cas(volatile T* a, T* c, T v) {
        G g(g_atomic128_mu);
        if (*a == *c) { *a = v; return true; }
        *c = *a;
        return false;
    }
};
template <class T> inline void count_rmw(volatile T* a) {
    count((uintptr_t)a, sizeof(T), false);
    count((uintptr_t)a, sizeof(T), true);
}
}  // namespace

#define EMU_ATOMIC_RMW(N, T, op) \
    extern "C" T __tsan_atomic##N##_##op(volatile T* a, T v, emu_morder) { count_rmw(a); return AtomicOps<T>::op(a, v); }
#define EMU_ATOMIC(N, T)                                                                                    \
    extern "C" T __tsan_atomic##N##_load(const volatile T* a, emu_morder) {                                 \
        count((uintptr_t)a, sizeof(T), false); return AtomicOps<T>::load(const_cast<volatile T*>(a)); }     \
    extern "C" void __tsan_atomic##N##_store(volatile T* a, T v, emu_morder) {                              \
        count((uintptr_t)a, sizeof(T), true); AtomicOps<T>::store(a, v); }                                  \
    EMU_ATOMIC_RMW(N, T, exchange) EMU_ATOMIC_RMW(N, T, fetch_add) EMU_ATOMIC_RMW(N, T, fetch_sub)         \
    EMU_ATOMIC_RMW(N, T, fetch_and) EMU_ATOMIC_RMW(N, T, fetch_or) EMU_ATOMIC_RMW(N, T, fetch_xor)         \
    EMU_ATOMIC_RMW(N, T, fetch_nand)                                                                        \
    extern "C" int __tsan_atomic##N##_compare_exchange_strong(volatile T* a, T* c, T v, emu_morder, emu_morder) { \
        count_rmw(a); return AtomicOps<T>::cas(a, c, v); }                                                  \
    extern "C" int __tsan_atomic##N##_compare_exchange_weak(volatile T* a, T* c, T v, emu_morder, emu_morder) { \
        count_rmw(a); return AtomicOps<T>::cas(a, c, v); }                                                  \
    extern "C" T __tsan_atomic##N##_compare_exchange_val(volatile T* a, T c, T v, emu_morder, emu_morder) { \
        count_rmw(a); AtomicOps<T>::cas(a, &c, v); return c; }
EMU_ATOMIC(8, unsigned char) EMU_ATOMIC(16, unsigned short) EMU_ATOMIC(32, unsigned int)
EMU_ATOMIC(64, unsigned long long) EMU_ATOMIC(128, __int128)
#undef EMU_ATOMIC
#undef EMU_ATOMIC_RMW

// ---------------------------------------------------------------- launch hook
// The counting build links with -Wl,--wrap=<run_grid> (see _build.py): the
// kernel TU's call of __emu::run_grid lands here, so that the instrumented
// launch glue around it (copying the kernel arguments) is not counted.
#define EMU_RUN_GRID _ZN5__emu8run_gridEPKNS_9LaunchCfgEPFvPvES3_
#define EMU_CAT2(a, b) a##b
#define EMU_CAT(a, b) EMU_CAT2(a, b)
extern "C" int EMU_CAT(__real_, EMU_RUN_GRID)(const __emu::LaunchCfg* cfg, __emu::BodyFn fn, void* data);
extern "C" int EMU_CAT(__wrap_, EMU_RUN_GRID)(const __emu::LaunchCfg* cfg, __emu::BodyFn fn, void* data) {
    bool armed;
    {
        std::lock_guard<std::mutex> g(g_mu);
        armed = g_armed;
        g_active = armed;
    }
    int rc = EMU_CAT(__real_, EMU_RUN_GRID)(cfg, fn, data);
    if (armed) {
        flush(t_acc);   // the calling thread ran blocks itself when workers == 1
        std::lock_guard<std::mutex> g(g_mu);
        g_active = false;
    }
    return rc;
}

// ---------------------------------------------------------------- Python interface
EMU_EXPORT int __emu_count_max_ranges() { return kMaxRanges; }

// ranges: n pairs (lo, hi) of byte addresses.  Resets the launch totals.
EMU_EXPORT int __emu_count_begin(const unsigned long long* ranges, int n) {
    if (n < 0 || n > kMaxRanges) return 1;
    std::lock_guard<std::mutex> g(g_mu);
    ++g_gen;
    g_nranges = n;
    for (int i = 0; i < n; ++i) g_ranges[i] = Range{(uintptr_t)ranges[2 * i], (uintptr_t)ranges[2 * i + 1]};
    std::memset(g_tot, 0, sizeof g_tot);
    std::memset(g_rd, 0, sizeof g_rd);
    std::memset(g_wr, 0, sizeof g_wr);
    g_armed = true;
    g_active = false;
    return 0;
}

// out: C_N totals, then n read bytes and n written bytes per range.
EMU_EXPORT int __emu_count_end(unsigned long long* out) {
    std::lock_guard<std::mutex> g(g_mu);
    g_armed = g_active = false;
    std::memcpy(out, g_tot, sizeof g_tot);
    for (int i = 0; i < g_nranges; ++i) {
        out[C_N + i] = g_rd[i];
        out[C_N + g_nranges + i] = g_wr[i];
    }
    return C_N;
}
