"""One memory budget over every cache of the server: models, traces, sentence sets, corpora, results.

Each ProgressCache registers here with its entries' sizes (bytes, measured when stored). After a
store, the budget drops the least recently used entries across all caches until the total fits
the host's ``memory_budget_mb``: a burst of one visitor's corpora pushes out the oldest entries,
whichever cache holds them. Loaded models count against the budget but are never dropped by it (their
number and size have their own caps); the newest entry always stays. A result computed again
after it was dropped is reported to the run that recomputed it, so the page can say so.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from typing import Callable

import numpy as np

_RUN = threading.local()        # what this script run recomputed (Streamlit runs each script in its own thread)


class MemoryBudget:
    """Caches registered under one byte limit, dropped least recently used first across all of them."""

    def __init__(self, limit_bytes: Callable[[], int] | None = None):
        self._caches: list = []
        self._lock = threading.Lock()   # one enforcement at a time (never held while a cache computes)
        self._limit_bytes = limit_bytes

    def set_limit(self, limit_bytes: Callable[[], int]) -> None:
        """Where the limit comes from (the app: the host's settings, read at each enforcement)."""
        self._limit_bytes = limit_bytes

    def limit(self) -> int:
        if self._limit_bytes is not None:
            return int(self._limit_bytes())
        from core.hosting.settings import HostSettings

        return HostSettings.memory_budget_mb * 2**20

    def register(self, cache) -> None:
        with self._lock:
            self._caches.append(cache)

    def total_bytes(self) -> int:
        return sum(cache.total_bytes for cache in list(self._caches))

    def usage(self) -> dict[str, int]:
        """Bytes held per cache name (the caches' own accounting)."""
        out: dict[str, int] = {}
        for cache in list(self._caches):
            out[cache.name] = out.get(cache.name, 0) + cache.total_bytes
        return out

    def enforce(self, newest=None) -> list[tuple[str, object]]:
        """Drop least recently used entries (never a pinned cache's, never ``newest``: (cache, key)) until the
        caches fit; the dropped (cache name, key) pairs."""
        dropped = []
        with self._lock:
            limit = self.limit()
            while True:
                entries = [entry for cache in list(self._caches) for entry in cache.entries()]  # (used_at, size, cache, key)
                if sum(size for _, size, _, _ in entries) <= limit:
                    break
                candidates = [e for e in entries if not e[2].pinned and (newest is None or (e[2], e[3]) != newest)]
                if not candidates:
                    break
                _, _, cache, key = min(candidates, key=lambda e: e[0])
                cache.evict(key)
                dropped.append((cache.name, key))
        return dropped


SERVER = MemoryBudget()  # the process's budget: every ProgressCache joins it unless given another


def note_recomputed(cache_name: str) -> None:
    names = getattr(_RUN, "recomputed", None)
    if names is None:
        names = _RUN.recomputed = []
    names.append(cache_name)


def take_recomputed() -> list[str]:
    """What this run computed again after the budget had dropped it (and forget it)."""
    names = getattr(_RUN, "recomputed", None) or []
    _RUN.recomputed = []
    return names


def nbytes_of(value, _seen: set | None = None, _depth: int = 0) -> int:
    """Bytes a cached value holds: numpy arrays and tensors by their buffers, DataFrames deep, strings by
    length, containers and dataclasses by their contents (each object once)."""
    seen = set() if _seen is None else _seen
    if id(value) in seen or _depth > 6:
        return 0
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        return int(value.nbytes) if value.base is None or id(value.base) not in seen else 0
    if hasattr(value, "nbytes") and isinstance(getattr(value, "nbytes"), (int, np.integer)):
        return int(value.nbytes)   # Trace, corpus indexes: their own accounting
    if hasattr(value, "element_size") and hasattr(value, "numel"):
        return int(value.element_size() * value.numel())
    if hasattr(value, "memory_usage") and hasattr(value, "columns"):
        return int(value.memory_usage(deep=True).sum())
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, dict) or hasattr(value, "items") and callable(value.items):
        return sum(nbytes_of(k, seen, _depth + 1) + nbytes_of(v, seen, _depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return sum(nbytes_of(item, seen, _depth + 1) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(nbytes_of(getattr(value, f.name), seen, _depth + 1) for f in dataclasses.fields(value))
    return sys.getsizeof(value)
