"""A memo for values made once per key and then shared by every thread:
compiled CPU kernels (:mod:`._cpu._native`), CUDA modules
(:mod:`._cuda._kernels`)."""
import threading

__all__ = ["Memo"]


class Memo:
    """``get(key, make)`` returns the value stored for ``key``, calling
    ``make()`` once on a miss.  Hits take no lock; misses are made under one,
    so concurrent first calls make the value once."""

    def __init__(self):
        self._values = {}
        self._lock = threading.Lock()

    def get(self, key, make):
        value = self._values.get(key)
        if value is not None:
            return value
        with self._lock:
            value = self._values.get(key)
            if value is None:
                value = self._values[key] = make()
            return value

    def clear(self):
        with self._lock:
            self._values.clear()
