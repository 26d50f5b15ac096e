"""The one cache shape of the host layer: a bounded, locked least-recently-used map.

The loaded adapters, the adapter outputs and the parsed API units are each one of these; what differs is given as
parameters:

- the bound: ``max_entries`` (a number, or a callable read on every use, e.g. a setting) and optionally
  ``max_bytes`` with ``size_of`` (the bytes a value holds; a value larger than ``max_bytes`` alone is not kept);
- what counts as a hit: the caller's key, and ``stale(key)`` — an entry whose source changed (a model file
  rewritten in place) is never a hit;
- what is evicted first: stale entries, then the least recently used.

Values are computed outside the lock (an adapter pass or a file load can take seconds; other threads keep using
the cache meanwhile); two threads missing the same key both compute it, and the later one is kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """``hits`` counts lookups answered from the cache, ``misses`` values computed by :meth:`get_or_create`."""

    def __init__(
        self,
        max_entries: int | Callable[[], int],
        *,
        max_bytes: int | None = None,
        size_of: Callable[[V], int] | None = None,
        stale: Callable[[K], bool] | None = None,
        on_evict: Callable[[], None] | None = None,
    ) -> None:
        self._max_entries = max_entries if callable(max_entries) else (lambda: max_entries)
        self.max_bytes = max_bytes
        self._size_of = size_of or (lambda value: 0)
        self._stale = stale
        self._on_evict = on_evict
        self._items: OrderedDict[K, V] = OrderedDict()
        self._sizes: dict[K, int] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: K, default: V | None = None) -> V | None:
        """The value kept for ``key`` (now the most recent), or ``default``."""
        with self._lock:
            found = key in self._items and not (self._stale is not None and self._stale(key))
            if found:
                self._items.move_to_end(key)
                self.hits += 1
                value = self._items[key]
            evicted = self._evict()  # the bound may have shrunk (a setting), an entry may have gone stale
        self._evicted(evicted)
        return value if found else default

    def put(self, key: K, value: V) -> None:
        size = int(self._size_of(value))
        with self._lock:
            if self.max_bytes is not None and size > self.max_bytes:
                return  # would evict everything else and still not fit
            self._items[key] = value
            self._items.move_to_end(key)
            self._sizes[key] = size
            evicted = self._evict()
        self._evicted(evicted)

    def get_or_create(self, key: K, create: Callable[[], V]) -> V:
        """The value kept for ``key``, else ``create()`` (outside the lock; an exception keeps nothing)."""
        missing = object()
        value = self.get(key, missing)
        if value is not missing:
            return value
        value = create()
        with self._lock:
            self.misses += 1
        self.put(key, value)
        return value

    def clear(self) -> None:
        with self._lock:
            evicted = bool(self._items)
            self._items.clear()
            self._sizes.clear()
        self._evicted(evicted)

    def __len__(self) -> int:
        with self._lock:  # a put holds one entry over the bound until it evicts, under the lock
            return len(self._items)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items

    @property
    def nbytes(self) -> int:
        """The bytes the kept values hold (as ``size_of`` counts them)."""
        with self._lock:
            return sum(self._sizes.values())

    def _evict(self) -> bool:
        """Drop stale entries, then the least recently used until within bounds; under the lock."""
        evicted = False
        if self._stale is not None:
            for key in [k for k in self._items if self._stale(k)]:
                self._drop(key)
                evicted = True
        limit = max(0, int(self._max_entries()))
        while self._items and (
            len(self._items) > limit or (self.max_bytes is not None and sum(self._sizes.values()) > self.max_bytes)
        ):
            self._drop(next(iter(self._items)))
            evicted = True
        return evicted

    def _drop(self, key: K) -> None:
        del self._items[key]
        del self._sizes[key]

    def _evicted(self, evicted: bool) -> None:
        if evicted and self._on_evict is not None:
            self._on_evict()  # outside the lock: it may free memory, or use the cache
