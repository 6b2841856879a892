"""The one memo mechanism: values made once per key and then shared by every
thread (compiled kernels, CUDA modules, launch setups, plans, FFT plans,
weight decompositions, cost-model choices)."""

import functools
import threading

__all__ = ["Memo", "memoize"]


class Memo:
    """``get(key, make)`` returns the value stored for ``key``, calling
    ``make()`` once on a miss. Hits take no lock; misses are made under one,
    so concurrent first calls make the value once. With ``maxsize`` the memo
    is emptied when it is full (the keys are few and cheap to remake)."""

    def __init__(self, maxsize=None):
        self._values = {}
        self._lock = threading.Lock()
        self.maxsize = maxsize

    def get(self, key, make):
        value = self._values.get(key, _MISSING)
        if value is not _MISSING:
            return value
        with self._lock:
            value = self._values.get(key, _MISSING)
            if value is _MISSING:
                value = self.put(key, make())
            return value

    def peek(self, key, default=None):
        """The stored value, or ``default`` (nothing is made)."""
        return self._values.get(key, default)

    def put(self, key, value):
        if self.maxsize is not None and len(self._values) >= self.maxsize:
            self._values.clear()
        self._values[key] = value
        return value

    def __len__(self):
        return len(self._values)

    def __contains__(self, key):
        return key in self._values

    def values(self):
        return list(self._values.values())

    def items(self):
        return list(self._values.items())

    def clear(self):
        with self._lock:
            self._values.clear()


_MISSING = object()


def memoize(maxsize=None):
    """Decorator: a function of hashable arguments memoized in a :class:`Memo`
    (``fn.cache_clear()`` empties it)."""
    def decorate(fn):
        memo = Memo(maxsize)

        @functools.wraps(fn)
        def memoized(*args, **kwargs):
            key = (args, tuple(kwargs.items())) if kwargs else args
            return memo.get(key, lambda: fn(*args, **kwargs))
        memoized.cache_clear = memo.clear
        memoized.memo = memo
        return memoized
    return decorate
