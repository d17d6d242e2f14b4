"""One memory budget over every cache: filled past it, the caches shrink to fit, least recently used first
across caches; models count but stay; a result computed again after it was dropped is reported."""

from __future__ import annotations

import numpy as np
import pytest

from ui import memory_budget
from ui.memory_budget import MemoryBudget, nbytes_of
from ui.progress_cache import ProgressCache


def _array(kilobytes: int) -> np.ndarray:
    return np.zeros(kilobytes * 256, dtype=np.float32)  # 1 KB = 256 float32


def test_filled_past_the_budget_the_caches_shrink_to_fit():
    budget = MemoryBudget(lambda: 10 * 1024)
    traces = ProgressCache(max_entries=100, name="traces", budget=budget)
    corpora = ProgressCache(max_entries=100, name="corpora", budget=budget)
    models = ProgressCache(max_entries=3, name="models", pinned=True, budget=budget)
    models.get_or_compute("model", lambda: _array(3))
    for index in range(12):  # 12 × 2 KB of traces and corpora into a 10 KB budget that holds a 3 KB model
        (traces if index % 2 else corpora).get_or_compute(index, lambda: _array(2))
        assert budget.total_bytes() <= 10 * 1024
    assert "model" in models  # counted, never dropped
    assert budget.total_bytes() == 3 * 1024 + 3 * 2 * 1024  # room for three 2 KB entries beside the model
    assert set(traces._values) | set(corpora._values) == {9, 10, 11}  # the three most recent, whichever cache


def test_recently_used_entries_stay_and_recomputing_is_reported():
    budget = MemoryBudget(lambda: 4 * 1024)
    cache = ProgressCache(max_entries=100, name="sentence sets", budget=budget)
    other = ProgressCache(max_entries=100, name="traces", budget=budget)
    cache.get_or_compute("a", lambda: _array(2))
    other.get_or_compute("b", lambda: _array(2))
    cache.get("a")                                  # used again: now "b" is the oldest
    other.get_or_compute("c", lambda: _array(2))    # over the budget: "b" goes, not "a"
    assert "a" in cache and "b" not in other and "c" in other
    memory_budget.take_recomputed()
    other.get_or_compute("b", lambda: _array(2))
    assert memory_budget.take_recomputed() == ["traces"]
    other.get_or_compute("new", lambda: _array(1))
    assert memory_budget.take_recomputed() == []    # a first computation is not "again"


def test_the_newest_entry_stays_even_when_it_alone_is_over_the_budget():
    budget = MemoryBudget(lambda: 1024)
    cache = ProgressCache(max_entries=10, name="corpora", budget=budget)
    cache.get_or_compute("small", lambda: _array(1))
    cache.get_or_compute("huge", lambda: _array(8))
    assert list(cache._values) == ["huge"]


def test_sizes_are_measured_from_the_data():
    from core.trace.tracer import Trace  # noqa: F401 - its own nbytes accounting is used where present

    vectors = _array(4)
    assert nbytes_of({"mean": vectors, "cls": vectors}) == 4 * 1024 + len("mean") + len("cls")  # a shared array once
    assert nbytes_of((vectors[:10], "abc")) >= 3
    import pandas as pd

    frame = pd.DataFrame({"text": ["x" * 1000] * 10})
    assert nbytes_of(frame) >= 10_000


def test_the_servers_caches_stay_under_the_hosts_budget(monkeypatch, bundled):
    """The real caches: traces of long texts with a 160 MB budget beside the 87 MB bundled model."""
    from ui import state

    monkeypatch.setenv("EXPLORER_MEMORY_BUDGET_MB", "160")
    texts = [" ".join(f"word{i}x{j}" for j in range(90)) for i in range(6)]
    sizes = []
    for text in texts:
        state.cached_trace(state.BUNDLED_MODEL_ID, "cpu", text)
        sizes.append(memory_budget.SERVER.total_bytes())
        assert memory_budget.SERVER.total_bytes() <= 160 * 2**20 or len(state._TRACES) == 1
    assert len(state._TRACES) < len(texts)  # some traces were dropped to make room
    memory_budget.take_recomputed()
    state.cached_trace(state.BUNDLED_MODEL_ID, "cpu", texts[0])
    assert "traces" in memory_budget.take_recomputed()
