"""A small thread-safe LRU store: what a process keeps of the network, bounded."""

import threading
from collections import OrderedDict

__all__ = ["BoundedStore"]


class BoundedStore:
    """A mapping that keeps its ``maxsize`` most recently used entries, safe across threads.

    Each value is made once by :meth:`get_or_create`: threads asking for a key
    that another thread is making wait for it rather than make it again, while
    other keys are looked up and made meanwhile (the factory runs outside the
    store's lock).

    Parameters
    ----------
    maxsize : int
        How many entries are kept, >= 1; the least recently used one goes first.
    on_evict : callable, default=None
        Called as ``on_evict(key, value)`` for each entry pushed out by a new
        one (outside the lock, so it may use other stores).
    """

    def __init__(self, maxsize, on_evict=None):
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}.")
        self.maxsize = maxsize
        self._on_evict = on_evict
        self._lock = threading.Lock()
        self._entries = OrderedDict()
        self._making = {}  # key -> threading.Event set when its maker is done

    def get_or_create(self, key, factory):
        """The value stored at ``key``, made by ``factory()`` and stored if absent.

        Parameters
        ----------
        key : hashable
        factory : callable
            Takes no argument. If it raises, nothing is stored, the error
            reaches its caller, and a thread that was waiting makes the value
            itself.

        Returns
        -------
        value : object
        """
        while True:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    return self._entries[key]
                done = self._making.get(key)
                if done is None:
                    self._making[key] = done = threading.Event()
                    break
            done.wait()
        try:
            value = factory()
        except BaseException:
            with self._lock:
                del self._making[key]
            done.set()
            raise
        with self._lock:
            self._entries[key] = value
            evicted = []
            while len(self._entries) > self.maxsize:
                evicted.append(self._entries.popitem(last=False))
            del self._making[key]
        done.set()
        if self._on_evict is not None:
            for old_key, old_value in evicted:
                self._on_evict(old_key, old_value)
        return value

    def reserve(self, n):
        """Make room for at least ``n`` entries: ``maxsize`` becomes ``max(maxsize, n)``.

        For a caller that uses ``n`` entries in turn on every call, which an
        LRU store with fewer places would make again each time.

        Parameters
        ----------
        n : int
        """
        with self._lock:
            self.maxsize = max(self.maxsize, int(n))

    def discard_if(self, predicate):
        """Remove the entries whose key satisfies ``predicate(key)``."""
        with self._lock:
            for key in [k for k in self._entries if predicate(k)]:
                del self._entries[key]

    def clear(self):
        """Remove every entry."""
        with self._lock:
            self._entries.clear()

    def keys(self):
        """The keys stored, least recently used first (a list: a snapshot)."""
        with self._lock:
            return list(self._entries)

    def __contains__(self, key):
        with self._lock:
            return key in self._entries

    def __len__(self):
        with self._lock:
            return len(self._entries)
