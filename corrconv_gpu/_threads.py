"""Threads of the CPU methods: how many, the pool, and the shared-counter loop.

The compiled direct kernel (called through ctypes) and NumPy / scipy.fft
(copies, ufuncs, transforms) release the GIL, so plain Python threads run them
in parallel.  The thread count is ``numba.get_num_threads()`` when Numba is
imported, else ``NUMBA_NUM_THREADS``, else the CPUs this process may use.
"""
import itertools
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["num_threads", "run_shared"]

_POOLS = {}
_POOL_LOCK = threading.Lock()


def num_threads():
    """Threads for the CPU methods (see the module docstring)."""
    numba = sys.modules.get("numba")
    if numba is not None and hasattr(numba, "get_num_threads"):
        return int(numba.get_num_threads())
    env = os.environ.get("NUMBA_NUM_THREADS")
    if env and env.strip().isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _pool(n):
    """A thread pool of exactly n workers (created once per n and process:
    a pool inherited through fork has no live threads)."""
    key = (os.getpid(), n)
    with _POOL_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = ThreadPoolExecutor(
                max_workers=n, thread_name_prefix="corrconv-cpu")
        return pool


def run_shared(nitems, fn, threads):
    """Call ``fn(i)`` for ``i`` in ``range(nitems)`` on the calling thread and
    ``threads - 1`` pool workers, which take the items from a shared counter
    (a worker that wakes late, or a busy core, takes fewer), so a call waits
    for at most one item after the work.  The first exception is re-raised."""
    threads = max(1, min(int(threads), nitems))
    if threads == 1:
        for i in range(nitems):
            fn(i)
        return
    ticket = itertools.count()

    def worker():
        for i in iter(ticket.__next__, None):
            if i >= nitems:
                return
            fn(i)

    futs = [_pool(threads - 1).submit(worker) for _ in range(threads - 1)]
    try:
        worker()
    finally:
        for f in futs:
            f.result()
