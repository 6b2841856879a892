// corrconv_gpu CPU emulator runtime: fiber scheduler for CUDA thread blocks.
//
// Each CUDA thread of a block is a fiber (own stack, hand-written context
// switch on x86-64, ucontext elsewhere) on one OS thread; fibers run until
// they reach __syncthreads / a warp collective / the end of the kernel, then
// the scheduler releases the barrier once every live thread has arrived.
// Blocks are distributed over `workers` OS threads.  This file is compiled
// WITHOUT sanitizer instrumentation; with -DEMU_TSAN / -DEMU_ASAN it
// annotates fiber switches and barriers for ThreadSanitizer / AddressSanitizer.
#include "emu_rt.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include <sys/mman.h>
#include <unistd.h>
#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#ifdef EMU_TSAN
extern "C" {
void* __tsan_get_current_fiber(void);
void* __tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void* fiber);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
void __tsan_acquire(void* addr);
void __tsan_release(void* addr);
void __tsan_set_fiber_name(void* fiber, const char* name);
}
#define TSAN_RELEASE(p) __tsan_release(p)
#define TSAN_ACQUIRE(p) __tsan_acquire(p)
#else
#define TSAN_RELEASE(p) ((void)0)
#define TSAN_ACQUIRE(p) ((void)0)
#endif
#ifdef EMU_ASAN
extern "C" {
void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom, size_t size);
void __sanitizer_finish_switch_fiber(void* fake_stack_save, const void** bottom_old, size_t* size_old);
void __asan_poison_memory_region(void const volatile* addr, size_t size);
void __asan_unpoison_memory_region(void const volatile* addr, size_t size);
}
#endif

// Defined in the generated per-module assembly / marker objects.
extern thread_local unsigned char __emu_dyn_smem[];
extern thread_local unsigned char __emu_shared_begin;
extern thread_local unsigned char __emu_shared_end;

#if defined(__x86_64__)
extern "C" void __emu_swap_ctx(void** save_sp, void* new_sp);
extern "C" void __emu_fiber_trampoline();
asm(R"(
    .text
    .p2align 4
    .globl __emu_swap_ctx
    .hidden __emu_swap_ctx
    .type __emu_swap_ctx,@function
__emu_swap_ctx:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size __emu_swap_ctx, .-__emu_swap_ctx

    .p2align 4
    .globl __emu_fiber_trampoline
    .hidden __emu_fiber_trampoline
    .type __emu_fiber_trampoline,@function
__emu_fiber_trampoline:
    movq %r12, %rdi
    callq *%rbx
    ud2
    .size __emu_fiber_trampoline, .-__emu_fiber_trampoline
)");
#endif

namespace __emu {

thread_local uint3 t_threadIdx;
thread_local uint3 t_blockIdx;
thread_local dim3 t_blockDim;
thread_local dim3 t_gridDim;

namespace {

enum { ST_RUN = 0, ST_BAR = 1, ST_WARP = 2, ST_DONE = 3, ST_FAILED = 4 };

struct Fiber {
#if defined(__x86_64__)
    void* sp = nullptr;
#else
    ucontext_t uc;
#endif
    char* stack_lo = nullptr;
    size_t stack_size = 0;
    uint3 tid{0, 0, 0};
    unsigned lin = 0;
    int state = ST_DONE;
    int red_op = -1, pred = 0;
    int wop = 0, wparam = 0, wwidth = 32;
    unsigned wmask = 0;
    unsigned long long wval = 0, wres = 0;
    unsigned bar_phase = 0, warp_phase = 0;
    void* tsan = nullptr;
    void* asan_fake = nullptr;
};

struct Launch {
    const LaunchCfg* cfg = nullptr;
    BodyFn fn = nullptr;
    void* data = nullptr;
    long long nblocks = 0;
    std::atomic<long long> next{0};
    std::atomic<bool> failed{false};
    std::mutex err_mu;
    std::string err;
};

struct StackArena { char* base; size_t map_size; size_t stack_size; unsigned count; };

struct Worker {
    Launch* L = nullptr;
    std::vector<Fiber> fibers;
    unsigned n = 0;
    StackArena arena{nullptr, 0, 0, 0};
#if defined(__x86_64__)
    void* sched_sp = nullptr;
#else
    ucontext_t sched_uc;
#endif
    Fiber* cur = nullptr;
    std::vector<unsigned> order;
    std::mt19937_64 rng;
    bool block_failed = false;
    std::string block_err;
    int red_count = 0, red_and = 1, red_or = 0;
    // objects used only for their addresses as TSan sync objects
    char bar_sync[2] = {0, 0};
    char start_sync = 0, end_sync = 0;
    std::vector<char> warp_sync;
    void* tsan_sched = nullptr;
    const void* asan_sched_bottom = nullptr;
    size_t asan_sched_size = 0;
};

thread_local Worker* t_worker = nullptr;

std::string fmt_u3(uint3 v) {
    char b[64];
    snprintf(b, sizeof b, "(%u,%u,%u)", v.x, v.y, v.z);
    return b;
}

size_t page_size() { static size_t p = (size_t)sysconf(_SC_PAGESIZE); return p; }

StackArena get_arena(size_t stack_size, unsigned count) {
    size_t ps = page_size();
    size_t slot = stack_size + ps;  // one guard page below each stack
    size_t map_size = slot * count;
    void* p = mmap(nullptr, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return StackArena{nullptr, 0, 0, 0};
    for (unsigned i = 0; i < count; ++i) mprotect((char*)p + i * slot, ps, PROT_NONE);
    return StackArena{(char*)p, map_size, stack_size, count};
}

// A launch's stacks are unmapped when it ends: an arena is 2 * fibers + 1
// memory mappings (one guard page a stack), every kernel library has its
// own runtime, and cached arenas of a few hundred loaded libraries ran a
// test process past vm.max_map_count (65530), failing launches with "could
// not allocate fiber stacks". Mapping anew costs well under a millisecond
// a launch.
void put_arena(StackArena a) {
    if (!a.base) return;
    munmap(a.base, a.map_size);
}

void fiber_main(void* arg);
#if !defined(__x86_64__)
void fiber_main_uc();
#endif

void init_fiber_context(Worker* w, Fiber* f) {
#if defined(__x86_64__)
    char* top = f->stack_lo + f->stack_size;
    top = (char*)((uintptr_t)top & ~(uintptr_t)15);
    void** s = (void**)top;
    s[-1] = (void*)&__emu_fiber_trampoline;  // return address of the first swap
    s[-2] = nullptr;                         // rbp
    s[-3] = (void*)&fiber_main;              // rbx: function to call
    s[-4] = (void*)w;                        // r12: its argument
    s[-5] = nullptr; s[-6] = nullptr; s[-7] = nullptr;  // r13 r14 r15
    unsigned csr[2] = {0x1F80u, 0x037Fu};
    __asm__ volatile("stmxcsr %0" : "=m"(csr[0]));
    __asm__ volatile("fnstcw %0" : "=m"(*(unsigned short*)&csr[1]));
    csr[1] &= 0xffffu;
    std::memcpy(&s[-8], csr, 8);
    f->sp = (void*)&s[-8];
#else
    getcontext(&f->uc);
    f->uc.uc_stack.ss_sp = f->stack_lo;
    f->uc.uc_stack.ss_size = f->stack_size;
    f->uc.uc_link = nullptr;
    makecontext(&f->uc, (void (*)())fiber_main_uc, 0);
#endif
}

inline void switch_to_fiber(Worker* w, Fiber* f) {
    w->cur = f;
    t_threadIdx = f->tid;
#ifdef EMU_ASAN
    void* fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, f->stack_lo, f->stack_size);
#endif
#ifdef EMU_TSAN
    __tsan_switch_to_fiber(f->tsan, 1 /* no_sync */);
#endif
#if defined(__x86_64__)
    __emu_swap_ctx(&w->sched_sp, f->sp);
#else
    swapcontext(&w->sched_uc, &f->uc);
#endif
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
    w->cur = nullptr;
}

inline void switch_to_sched(Worker* w, Fiber* f, bool exiting) {
#ifdef EMU_ASAN
    __sanitizer_start_switch_fiber(exiting ? nullptr : &f->asan_fake, w->asan_sched_bottom, w->asan_sched_size);
#else
    (void)exiting;
#endif
#ifdef EMU_TSAN
    __tsan_switch_to_fiber(w->tsan_sched, 1 /* no_sync */);
#endif
#if defined(__x86_64__)
    __emu_swap_ctx(&f->sp, w->sched_sp);
#else
    swapcontext(&f->uc, &w->sched_uc);
#endif
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(f->asan_fake, nullptr, nullptr);
#endif
}

void fiber_main(void* arg) {
    Worker* w = (Worker*)arg;
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &w->asan_sched_bottom, &w->asan_sched_size);
#endif
    Fiber* f = w->cur;
    TSAN_ACQUIRE(&w->start_sync);
    w->L->fn(w->L->data);
    f = w->cur;
    f->state = ST_DONE;
    TSAN_RELEASE(&w->end_sync);
    switch_to_sched(w, f, true);
    __builtin_trap();  // never resumed
}

#if !defined(__x86_64__)
void fiber_main_uc() { fiber_main(t_worker); }
#endif

void record_error(Launch* L, const std::string& msg) {
    std::lock_guard<std::mutex> g(L->err_mu);
    if (L->err.empty()) L->err = msg;
    L->failed.store(true);
}

std::string block_where(Worker* w) {
    return "block " + fmt_u3(t_blockIdx);
}

// Release warp collectives whose participating lanes have all arrived.
// Returns number of lanes released; sets w->block_failed on a rule violation.
unsigned release_warps(Worker* w) {
    unsigned released = 0;
    unsigned n = w->n;
    for (unsigned base = 0; base < n; base += 32) {
        unsigned lanes = (n - base < 32) ? (n - base) : 32;
        for (unsigned l = 0; l < lanes; ++l) {
            Fiber& f = w->fibers[base + l];
            if (f.state != ST_WARP) continue;
            unsigned mask = f.wmask;
            if (!(mask & (1u << l))) {
                w->block_failed = true;
                w->block_err = "warp collective called by thread " + fmt_u3(f.tid) + " whose lane is not in its mask, " + block_where(w);
                return released;
            }
            bool ready = true;
            for (unsigned j = 0; j < lanes; ++j) {
                if (!(mask & (1u << j))) continue;
                Fiber& g = w->fibers[base + j];
                if (g.state == ST_DONE) {
                    w->block_failed = true;
                    w->block_err = "warp collective: lane " + std::to_string(j) + " named in mask has exited (thread " + fmt_u3(g.tid) + "), " + block_where(w);
                    return released;
                }
                if (g.state != ST_WARP) { ready = false; break; }
                if (g.wmask != mask || g.wop != f.wop) {
                    w->block_failed = true;
                    w->block_err = "warp collective mismatch: lanes of one warp wait at different warp operations/masks, " + block_where(w);
                    return released;
                }
            }
            if (!ready) continue;
            unsigned ballot = 0;
            for (unsigned j = 0; j < lanes; ++j)
                if ((mask & (1u << j)) && w->fibers[base + j].wval) ballot |= 1u << j;
            unsigned live = mask & (lanes == 32 ? 0xffffffffu : ((1u << lanes) - 1));
            for (unsigned j = 0; j < lanes; ++j) {
                if (!(mask & (1u << j))) continue;
                Fiber& g = w->fibers[base + j];
                int width = g.wwidth <= 0 ? 32 : g.wwidth;
                unsigned seg = (j / width) * width;
                long src = j;
                switch (g.wop) {
                    case 1: src = seg + ((unsigned)g.wparam % (unsigned)width); break;
                    case 2: src = (long)j - g.wparam; if (src < (long)seg) src = j; break;
                    case 3: src = (long)j + g.wparam; if (src >= (long)(seg + width)) src = j; break;
                    case 4: src = (long)(j ^ (unsigned)g.wparam); if (src >= (long)(seg + width)) src = j; break;
                    default: break;
                }
                if (g.wop >= 1 && g.wop <= 4) {
                    if (src < 0 || src >= (long)lanes || !(mask & (1u << src))) src = j;
                    g.wres = w->fibers[base + src].wval;
                } else if (g.wop == 5) {
                    g.wres = ballot;
                } else if (g.wop == 6) {
                    g.wres = ballot != 0;
                } else if (g.wop == 7) {
                    g.wres = ballot == live;
                } else {
                    g.wres = 0;
                }
            }
            for (unsigned j = 0; j < lanes; ++j)
                if (mask & (1u << j)) { w->fibers[base + j].state = ST_RUN; ++released; }
        }
    }
    return released;
}

void run_block(Worker* w, long long bid) {
    Launch* L = w->L;
    const LaunchCfg* c = L->cfg;
    unsigned gx = c->grid[0], gy = c->grid[1];
    t_blockIdx = uint3{(unsigned)(bid % gx), (unsigned)((bid / gx) % gy), (unsigned)(bid / ((long long)gx * gy))};
    unsigned bx = c->block[0], by = c->block[1];
    unsigned long long smem = c->shared_mem;
    unsigned long long canary = (unsigned long long)c->canary_bytes;
    unsigned char* dyn = __emu_dyn_smem;
    const unsigned long long dyn_total = kDynSmemMax + kCanaryMax;
#ifdef EMU_ASAN
    __asan_unpoison_memory_region(dyn, dyn_total);
#endif
    if (c->poison >= 0) {
        unsigned char* b = &__emu_shared_begin;
        unsigned char* e = &__emu_shared_end;
        if (e > b) std::memset(b, c->poison, (size_t)(e - b));
        std::memset(dyn, c->poison, smem);
    }
    for (unsigned long long i = 0; i < canary; ++i) dyn[smem + i] = (unsigned char)(0xA5u ^ (i * 29u));
#ifdef EMU_ASAN
    __asan_poison_memory_region(dyn + smem, dyn_total - smem);
#endif
    w->block_failed = false;
    for (unsigned i = 0; i < w->n; ++i) {
        Fiber& f = w->fibers[i];
        f.lin = i;
        f.tid = uint3{i % bx, (i / bx) % by, i / (bx * by)};
        f.state = ST_RUN;
        f.bar_phase = 0;
        f.warp_phase = 0;
        init_fiber_context(w, &f);
#ifdef EMU_ASAN
        __asan_unpoison_memory_region(f.stack_lo, f.stack_size);
#endif
#ifdef EMU_TSAN
        char name[96];
        snprintf(name, sizeof name, "CUDA threadIdx=(%u,%u,%u) blockIdx=(%u,%u,%u)", f.tid.x, f.tid.y, f.tid.z,
                 t_blockIdx.x, t_blockIdx.y, t_blockIdx.z);
        __tsan_set_fiber_name(f.tsan, name);
#endif
    }
    TSAN_RELEASE(&w->start_sync);
    for (;;) {
        if (c->thread_order == 2) {
            for (unsigned i = w->n; i > 1; --i) std::swap(w->order[i - 1], w->order[w->rng() % i]);
        }
        for (unsigned k = 0; k < w->n; ++k) {
            Fiber& f = w->fibers[w->order[k]];
            if (f.state != ST_RUN) continue;
            switch_to_fiber(w, &f);
            if (w->block_failed) goto fail;
        }
        if (release_warps(w)) continue;
        if (w->block_failed) goto fail;
        unsigned n_done = 0, n_bar = 0, n_warp = 0;
        const Fiber* a_done = nullptr; const Fiber* a_bar = nullptr;
        for (unsigned i = 0; i < w->n; ++i) {
            int s = w->fibers[i].state;
            if (s == ST_DONE) { ++n_done; if (!a_done) a_done = &w->fibers[i]; }
            else if (s == ST_BAR) { ++n_bar; if (!a_bar) a_bar = &w->fibers[i]; }
            else if (s == ST_WARP) ++n_warp;
        }
        if (n_bar == 0 && n_warp == 0) break;  // every thread finished
        if (n_warp) {
            w->block_err = "deadlock: " + std::to_string(n_warp) + " threads wait in warp collectives (__shfl_sync/__ballot_sync/__syncwarp) whose lanes never all arrive (" + std::to_string(n_bar) + " at __syncthreads, " + std::to_string(n_done) + " exited), " + block_where(w);
            goto fail;
        }
        if (n_done) {
            w->block_err = "divergent __syncthreads: " + std::to_string(n_bar) + " threads (e.g. " + fmt_u3(a_bar->tid) + ") wait at __syncthreads while " + std::to_string(n_done) + " threads (e.g. " + fmt_u3(a_done->tid) + ") of the same block exited without reaching it (on a GPU this hangs or is undefined), " + block_where(w);
            goto fail;
        }
        // release the block barrier
        int cnt = 0, all = 1, any = 0;
        for (unsigned i = 0; i < w->n; ++i) {
            int p = w->fibers[i].pred;
            cnt += p != 0; all &= p != 0; any |= p != 0;
        }
        w->red_count = cnt; w->red_and = all; w->red_or = any;
        for (unsigned i = 0; i < w->n; ++i) w->fibers[i].state = ST_RUN;
    }
    TSAN_ACQUIRE(&w->end_sync);
#ifdef EMU_ASAN
    __asan_unpoison_memory_region(dyn, dyn_total);
#endif
    for (unsigned long long i = 0; i < canary; ++i) {
        if (dyn[smem + i] != (unsigned char)(0xA5u ^ (i * 29u))) {
            w->block_err = "dynamic shared memory overflow: " + block_where(w) + " wrote byte " + std::to_string(i) +
                           " past the end of the " + std::to_string(smem) + " bytes of dynamic shared memory (offset " +
                           std::to_string(smem + i) + ")";
            goto fail;
        }
    }
    return;
fail:
    TSAN_ACQUIRE(&w->end_sync);
    record_error(L, w->block_err);
}

void worker_main(Launch* L) {
    const LaunchCfg* c = L->cfg;
    Worker w;
    w.L = L;
    w.n = c->block[0] * c->block[1] * c->block[2];
    w.fibers.resize(w.n);
    w.order.resize(w.n);
    w.warp_sync.assign((w.n + 31) / 32 * 2, 0);
    for (unsigned i = 0; i < w.n; ++i) w.order[i] = (c->thread_order == 1) ? (w.n - 1 - i) : i;
    w.rng.seed(c->seed * 0x9E3779B97F4A7C15ull + 12345u);
    size_t ps = page_size();
    size_t ss = ((size_t)c->stack_size + ps - 1) / ps * ps;
    w.arena = get_arena(ss, w.n);
    if (!w.arena.base) { record_error(L, "could not allocate fiber stacks"); return; }
    for (unsigned i = 0; i < w.n; ++i) {
        w.fibers[i].stack_lo = w.arena.base + (size_t)i * (ss + ps) + ps;
        w.fibers[i].stack_size = ss;
    }
#ifdef EMU_TSAN
    w.tsan_sched = __tsan_get_current_fiber();
    for (unsigned i = 0; i < w.n; ++i) w.fibers[i].tsan = __tsan_create_fiber(0);
#endif
    t_worker = &w;
    t_blockDim = dim3(c->block[0], c->block[1], c->block[2]);
    t_gridDim = dim3(c->grid[0], c->grid[1], c->grid[2]);
    for (;;) {
        if (L->failed.load(std::memory_order_relaxed)) break;
        long long k = L->next.fetch_add(1);
        if (k >= L->nblocks) break;
        long long bid = (c->block_order == 1) ? (L->nblocks - 1 - k) : k;
        run_block(&w, bid);
    }
    t_worker = nullptr;
#ifdef EMU_TSAN
    for (unsigned i = 0; i < w.n; ++i) __tsan_destroy_fiber(w.fibers[i].tsan);
#endif
    put_arena(w.arena);
}

Fiber* current_fiber(Worker*& w) {
    w = t_worker;
    if (!w || !w->cur) {
        fprintf(stderr, "corrconv_gpu emulator: CUDA device function called outside a kernel launch\n");
        abort();
    }
    return w->cur;
}

}  // namespace

__attribute__((noinline)) void syncthreads() {
    Worker* w;
    Fiber* f = current_fiber(w);
    f->state = ST_BAR;
    f->red_op = -1;
    f->pred = 0;
    TSAN_RELEASE(&w->bar_sync[f->bar_phase & 1]);
    switch_to_sched(w, f, false);
    TSAN_ACQUIRE(&w->bar_sync[f->bar_phase & 1]);
    f->bar_phase++;
}

__attribute__((noinline)) int syncthreads_reduce(int op, int pred) {
    Worker* w;
    Fiber* f = current_fiber(w);
    f->state = ST_BAR;
    f->red_op = op;
    f->pred = pred != 0;
    TSAN_RELEASE(&w->bar_sync[f->bar_phase & 1]);
    switch_to_sched(w, f, false);
    TSAN_ACQUIRE(&w->bar_sync[f->bar_phase & 1]);
    f->bar_phase++;
    return op == 0 ? w->red_count : (op == 1 ? w->red_and : w->red_or);
}

__attribute__((noinline)) unsigned long long warp_op(int op, unsigned mask, unsigned long long value, int param, int width) {
    Worker* w;
    Fiber* f = current_fiber(w);
    f->state = ST_WARP;
    f->wop = op; f->wmask = mask; f->wval = value; f->wparam = param; f->wwidth = width;
    // warp collectives also order memory between the participating lanes
    char* ws = &w->warp_sync[(f->lin / 32) * 2 + (f->warp_phase & 1)];
    TSAN_RELEASE(ws);
    switch_to_sched(w, f, false);
    TSAN_ACQUIRE(ws);
    (void)ws;
    f->warp_phase++;
    return f->wres;
}

__attribute__((noinline, noreturn)) void kernel_fail(const char* msg) {
    Worker* w;
    Fiber* f = current_fiber(w);
    f->state = ST_FAILED;
    w->block_failed = true;
    w->block_err = std::string(msg) + " (thread " + fmt_u3(f->tid) + ", " + block_where(w) + ")";
    TSAN_RELEASE(&w->end_sync);
    switch_to_sched(w, f, true);
    __builtin_trap();
}

void dyn_smem_info(void** base, unsigned long long* size) {
    *base = __emu_dyn_smem;
    *size = kDynSmemMax;
}

int run_grid(const LaunchCfg* cfg, BodyFn fn, void* data) {
    Launch L;
    L.cfg = cfg;
    L.fn = fn;
    L.data = data;
    L.nblocks = (long long)cfg->grid[0] * cfg->grid[1] * cfg->grid[2];
    long long nw = cfg->workers < 1 ? 1 : cfg->workers;
    if (nw > L.nblocks) nw = L.nblocks;
    if (L.nblocks > 0) {
        if (nw <= 1) {
            worker_main(&L);
        } else {
            std::vector<std::thread> ts;
            for (long long i = 0; i < nw; ++i) ts.emplace_back(worker_main, &L);
            for (auto& t : ts) t.join();
        }
    }
    if (L.failed.load()) {
        if (cfg->errbuf && cfg->errlen) {
            snprintf(cfg->errbuf, cfg->errlen, "%s", L.err.c_str());
        }
        return 1;
    }
    return 0;
}

}  // namespace __emu
