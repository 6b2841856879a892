"""Threads of the CPU methods: how many, the workers, and the shared-counter loop.

The compiled direct kernel (called through ctypes) and NumPy / scipy.fft
(copies, ufuncs, transforms) release the GIL, so plain Python threads run them
in parallel.  The thread count is ``numba.get_num_threads()`` when Numba is
imported, else ``NUMBA_NUM_THREADS``, else the CPUs this process may use.
"""
import itertools
import os
import sys
import threading

__all__ = ["num_threads", "run_shared"]

_WORKERS = []          # the _Worker threads of this process
_WORKERS_LOCK = threading.Lock()
_BUSY = threading.Lock()  # held while run_shared uses the workers


def _after_fork():
    """A forked child has none of the parent's threads: new locks (one held by a
    parent thread at the fork would stay held), workers made on first use."""
    global _WORKERS_LOCK, _BUSY
    _WORKERS_LOCK, _BUSY = threading.Lock(), threading.Lock()
    _WORKERS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


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


class _Worker:
    """A daemon thread that runs one job at a time: ``start(job)`` hands it
    over by releasing a lock the thread waits on, ``join()`` waits for the
    job's end and returns its exception (or None).  Two plain locks: waking
    the thread costs one lock release, several times less than a
    ``concurrent.futures`` task (benchmarks/results/fitted_constants.md)."""

    def __init__(self, name):
        self._go = threading.Lock()
        self._go.acquire()
        self._done = threading.Lock()
        self._done.acquire()
        self._job = self._exc = None
        threading.Thread(target=self._loop, name=name, daemon=True).start()

    def _loop(self):
        while True:
            self._go.acquire()
            try:
                self._job()
            except BaseException as exc:   # handed to the caller by join()
                self._exc = exc
            self._job = None
            self._done.release()

    def start(self, job):
        self._job, self._exc = job, None
        self._go.release()

    def join(self):
        self._done.acquire()
        exc, self._exc = self._exc, None
        return exc


def _workers(n):
    """n worker threads of this process (made on first use)."""
    with _WORKERS_LOCK:
        while len(_WORKERS) < n:
            _WORKERS.append(_Worker(f"corrconv-cpu-{len(_WORKERS)}"))
        return _WORKERS[:n]


def run_shared(nitems, fn, threads):
    """Call ``fn(i)`` for ``i`` in ``range(nitems)`` on the calling thread and
    ``threads - 1`` worker threads, which take the items from a shared counter
    (a worker that wakes late, or a busy core, takes fewer), so a call waits
    for at most one item after the work.  The first exception is re-raised.
    A call made while another thread's call has the workers runs on its
    calling thread alone (each caller keeps a core busy)."""
    threads = max(1, min(int(threads), nitems))
    if threads > 1 and not _BUSY.acquire(blocking=False):
        threads = 1
    if threads == 1:
        for i in range(nitems):
            fn(i)
        return
    try:
        ticket = itertools.count()

        def work():
            for i in iter(ticket.__next__, None):
                if i >= nitems:
                    return
                fn(i)

        helpers = _workers(threads - 1)
        for w in helpers:
            w.start(work)
        try:
            work()
        finally:
            errors = [w.join() for w in helpers]
        for exc in errors:
            if exc is not None:
                raise exc
    finally:
        _BUSY.release()
