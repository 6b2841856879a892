"""The worker threads of the CPU methods (``_threads.run_shared``)."""
import threading
import time

import pytest

from corrconv_gpu import _threads


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
