"""A bounded, process-wide cache of shared results: long computations that report progress, and traces.

st.cache_data replays the Streamlit elements a cached function touched, and refuses (on
the next cache hit) a function that updated a progress bar created outside it. Embedding
thousands of sentences needs that bar, so those results live here instead: keyed by
content (model id, device, a digest of the texts, options), least recently used first out,
one computation per key at a time however many sessions ask for it. Values are numpy
arrays and frozen dataclasses, never session state; a hit hands back the stored object itself
(no copy), so they must be read-only. Bounded by count, optionally by bytes (``size_of``) and age, and
together with every other cache by the server's memory budget (ui/memory_budget.py).
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections import OrderedDict
from typing import Callable, Hashable, TypeVar

import numpy as np

from . import memory_budget

T = TypeVar("T")


def digest(items) -> str:
    """A stable key for a sequence of strings (or bytes)."""
    hasher = hashlib.sha256()
    for item in items:
        data = item if isinstance(item, bytes) else str(item).encode("utf-8", "surrogatepass")
        hasher.update(len(data).to_bytes(8, "little"))
        hasher.update(data)
    return hasher.hexdigest()


class ProgressCache:
    def __init__(self, max_entries: int, *, max_bytes: int | None = None, size_of: Callable[[object], int] | None = None,
                 ttl_seconds: float | None = None, name: str = "results", pinned: bool = False,
                 budget: memory_budget.MemoryBudget | None = memory_budget.SERVER, long_work: str | None = None):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._size_of = size_of or memory_budget.nbytes_of
        self.ttl_seconds = ttl_seconds
        self.name = name                # what the entries are, for the page and the budget's report
        self.pinned = pinned            # counted against the memory budget but never dropped by it (models)
        self._values: OrderedDict[Hashable, object] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self._stored_at: dict[Hashable, float] = {}
        self._used_at: dict[Hashable, float] = {}
        self._evicted: OrderedDict[Hashable, None] = OrderedDict()  # recently dropped keys (to say "computed again")
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._budget = budget           # None: bounded only by its own limits
        self.long_work = long_work      # what one computation is called while it waits its turn (ui/work_queue.py)
        if budget is not None:
            budget.register(self)

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(self._sizes.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    def get(self, key: Hashable):
        with self._lock:
            if key in self._values:
                if self.ttl_seconds is not None and time.monotonic() - self._stored_at[key] > self.ttl_seconds:
                    self._drop(key)
                    return None
                self._values.move_to_end(key)
                self._used_at[key] = time.monotonic()
                return self._values[key]
        return None

    def _drop(self, key: Hashable, *, remember: bool = True) -> None:
        if key in self._values and remember:
            self._evicted[key] = None
            while len(self._evicted) > 512:
                self._evicted.popitem(last=False)
        self._values.pop(key, None)
        self._sizes.pop(key, None)
        self._stored_at.pop(key, None)
        self._used_at.pop(key, None)

    def entries(self) -> list[tuple[float, int, "ProgressCache", Hashable]]:
        """(last used, bytes, this cache, key) of every entry: what the memory budget chooses from."""
        with self._lock:
            return [(self._used_at.get(key, 0.0), self._sizes.get(key, 0), self, key) for key in self._values]

    def evict(self, key: Hashable) -> None:
        with self._lock:
            self._drop(key)

    def _store(self, key: Hashable, value) -> None:
        self._values[key] = value
        self._values.move_to_end(key)
        self._sizes[key] = self._size_of(value) if (self.max_bytes is not None or self._budget is not None) else 0
        self._stored_at[key] = self._used_at[key] = time.monotonic()
        # oldest out first, until both bounds hold; the newest entry always stays
        while len(self._values) > 1 and (len(self._values) > self.max_entries or
                                          (self.max_bytes is not None and sum(self._sizes.values()) > self.max_bytes)):
            self._drop(next(iter(self._values)))

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._values

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        found = self.get(key)
        if found is not None:
            return found
        if self.long_work is not None:  # one long job at a time on the server: the turn first, then the key
            from .work_queue import queued

            return queued(self.long_work, lambda: self._compute_once(key, compute))
        return self._compute_once(key, compute)

    def _compute_once(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # a second session asking for the same key waits for the first
            try:
                found = self.get(key)
                if found is not None:
                    return found
                with self._lock:
                    recomputing = key in self._evicted
                value = compute()  # a Stop (Streamlit's rerun exception) or an error leaves nothing half-stored
                with self._lock:
                    self._store(key, value)
                    self._evicted.pop(key, None)
                if recomputing:
                    memory_budget.note_recomputed(self.name)
                if self._budget is not None:
                    self._budget.enforce(newest=(self, key))
                return value
            finally:
                with self._lock:
                    self._key_locks.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._sizes.clear()
            self._stored_at.clear()
            self._used_at.clear()


def _key_part(value):
    """A hashable, compact stand-in for one argument: arrays and long sequences by a digest of their content."""
    if isinstance(value, np.ndarray):
        return ("array", value.shape, str(value.dtype), hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest())
    if isinstance(value, (tuple, list)) and len(value) > 64:
        return ("sequence", len(value), digest(value))
    return value


def budgeted(name: str, max_entries: int, long_work: str | None = None):
    """Memoise a function in a ProgressCache under the memory budget (instead of st.cache_data, which
    pickles a copy on every hit and cannot be bounded by bytes). Its results are shared: read-only."""
    def decorate(function):
        cache = ProgressCache(max_entries=max_entries, name=name, long_work=long_work)

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            key = (tuple(_key_part(a) for a in args), tuple(sorted((k, _key_part(v)) for k, v in kwargs.items())))
            return cache.get_or_compute(key, lambda: function(*args, **kwargs))

        wrapper.cache = cache
        return wrapper
    return decorate
