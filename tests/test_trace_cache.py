"""Traces are shared, not copied: a cache hit is the same read-only object, and the cache is bounded
by count and by bytes."""

import numpy as np
import pytest

from ui import state
from ui.progress_cache import ProgressCache


def _arrays(trace):
    yield trace.last_hidden_state
    yield trace.native_embedding
    yield trace.embeddings.output
    for layer in trace.layers:
        yield from (layer.query, layer.key, layer.value, layer.attention_probs, layer.ffn_activations, layer.output)
    yield from trace.activations.values()
    yield from trace.pooled.values()


def test_a_hit_is_the_same_read_only_trace():
    first = state.cached_trace(state.BUNDLED_MODEL_ID, "cpu", "Shared, not copied")
    second = state.cached_trace(state.BUNDLED_MODEL_ID, "cpu", "Shared, not copied")
    assert second is first
    for array in _arrays(second):
        assert not array.flags.writeable
        with pytest.raises(ValueError):
            array[...] = 0


def test_trace_bytes_count_shared_arrays_once():
    trace = state.cached_trace(state.BUNDLED_MODEL_ID, "cpu", "Count me once")
    distinct = {id(a): a.nbytes for a in _arrays(trace)}
    assert trace.nbytes >= sum(distinct.values())  # everything listed here, each array once …
    every_reference = sum(a.nbytes for a in _arrays(trace))
    assert trace.nbytes < every_reference  # … though the layers share their arrays with ``activations``


class _Blob:
    def __init__(self, nbytes):
        self.nbytes = nbytes


def test_the_byte_bound_evicts_oldest_first():
    cache = ProgressCache(max_entries=100, max_bytes=1000)
    for key in range(5):
        cache.get_or_compute(key, lambda: _Blob(300))
    assert len(cache) == 3 and cache.total_bytes == 900 and 0 not in cache and 1 not in cache
    cache.get_or_compute("big", lambda: _Blob(5000))  # larger than the budget alone: kept, everything else out
    assert len(cache) == 1 and "big" in cache


def test_entries_expire(monkeypatch):
    import ui.progress_cache as module

    now = [1000.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: now[0])
    cache = ProgressCache(max_entries=4, ttl_seconds=60)
    cache.get_or_compute("k", lambda: np.zeros(3))
    now[0] += 61
    assert cache.get("k") is None and len(cache) == 0
