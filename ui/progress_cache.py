"""A bounded, process-wide cache for long computations that report progress.

st.cache_data replays the Streamlit elements a cached function touched, and refuses (on
the next cache hit) a function that updated a progress bar created outside it. Embedding
thousands of sentences needs that bar, so those results live here instead: keyed by
content (model id, device, a digest of the texts, options), least recently used first out,
one computation per key at a time however many sessions ask for it. Values are numpy
arrays and frozen dataclasses, never session state.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Callable, Hashable, TypeVar

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
    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._values: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable):
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        return None

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._values

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        found = self.get(key)
        if found is not None:
            return found
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # a second session asking for the same key waits for the first
            try:
                found = self.get(key)
                if found is not None:
                    return found
                value = compute()  # a Stop (Streamlit's rerun exception) or an error leaves nothing half-stored
                with self._lock:
                    self._values[key] = value
                    self._values.move_to_end(key)
                    while len(self._values) > self.max_entries:
                        self._values.popitem(last=False)
                return value
            finally:
                with self._lock:
                    self._key_locks.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
