"""The worker threads of the CPU methods (``_threads.run_shared``)."""
import os
import threading
import time

import pytest

from corrconv_gpu._util import threads as _threads


@pytest.mark.parametrize("threads", [1, 2, 3, 5])
@pytest.mark.parametrize("nitems", [1, 2, 7])
def test_every_item_runs_once(threads, nitems):
    seen, lock = [], threading.Lock()

    def item(i):
        with lock:
            seen.append(i)

    _threads.run_shared(nitems, item, threads)
    assert sorted(seen) == list(range(nitems))


def test_items_run_on_several_threads():
    names, lock = set(), threading.Lock()

    def item(i):
        time.sleep(0.02)     # releases the GIL, as the compiled kernel does
        with lock:
            names.add(threading.current_thread().name)

    _threads.run_shared(6, item, 2)
    assert len(names) == 2


@pytest.mark.parametrize("where", [0, 5])   # on the caller, on a worker
def test_an_exception_is_raised_and_the_workers_stay_usable(where):
    def item(i):
        if i == where:
            raise ZeroDivisionError(f"item {i}")
        time.sleep(0.002)

    with pytest.raises(ZeroDivisionError, match=f"item {where}"):
        _threads.run_shared(6, item, 2)
    seen = []
    _threads.run_shared(4, seen.append, 2)
    assert sorted(seen) == [0, 1, 2, 3]


def test_concurrent_callers_each_finish():
    """A caller that finds the workers busy runs its items itself."""
    results = {}

    def caller(c):
        got, lock = [], threading.Lock()

        def item(i):
            time.sleep(0.005)
            with lock:
                got.append(i)

        _threads.run_shared(8, item, 2)
        results[c] = sorted(got)

    ts = [threading.Thread(target=caller, args=(c,)) for c in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert results == {c: list(range(8)) for c in range(3)}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_makes_its_own_workers():
    """A fork taken while the parent's workers are busy: the child's calls
    still run every item on its own threads."""
    _threads.run_shared(2, lambda i: None, 2)         # the parent has workers
    started, release = threading.Event(), threading.Event()

    def item(i):
        if i == 0:
            started.set()
            release.wait(10)

    t = threading.Thread(target=_threads.run_shared, args=(2, item, 2))
    t.start()
    assert started.wait(10)                           # _BUSY held in the parent
    pid = os.fork()
    if pid == 0:                                      # the child
        code = 1
        try:
            names, seen = set(), []

            def job(i):
                time.sleep(0.02)
                seen.append(i)
                names.add(threading.current_thread().name)

            _threads.run_shared(6, job, 2)
            code = 0 if sorted(seen) == list(range(6)) and len(names) == 2 else 1
        finally:
            os._exit(code)
    release.set()
    t.join(10)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
