"""The one cache helper: a thread-safe LRU memo over ``cachetools``, built outside the lock.

Building a value (a grid index, a planner analysis, a rendered map) can take a second;
holding the lock meanwhile would make every other request wait for it. Two requests
that miss the same key at once may both build it; the second result simply replaces
the first, which is harmless for values that depend only on their key.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from collections.abc import Hashable
from typing import Generic
from typing import TypeVar

from cachetools import LRUCache

V = TypeVar("V")


class Memo(Generic[V]):
    def __init__(self, size: int) -> None:
        self._cache: LRUCache[Hashable, V] = LRUCache(maxsize=size)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, build: Callable[[], V]) -> V:
        with self._lock:
            try:
                value = self._cache[key]
            except KeyError:
                self.misses += 1
            else:
                self.hits += 1
                return value
        value = build()
        with self._lock:
            self._cache[key] = value
        return value

    def peek(self, key: Hashable) -> V | None:
        with self._lock:
            return self._cache.get(key)

    def last(self) -> V | None:
        """The value stored most recently (benchmarks look at what they just computed)."""
        with self._lock:
            keys = list(self._cache.keys())
            return self._cache.get(keys[-1]) if keys else None

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)
