import threading
import time

import pytest

from ui.progress_cache import ProgressCache, digest


def test_bounded_lru():
    cache = ProgressCache(max_entries=2)
    for key in "abc":
        cache.get_or_compute(key, lambda key=key: key.upper())
    assert "a" not in cache and cache.get("b") == "B" and cache.get("c") == "C"
    cache.get("b")
    cache.get_or_compute("d", lambda: "D")
    assert "c" not in cache and "b" in cache  # b was used more recently than c


def test_one_computation_per_key_across_threads():
    cache = ProgressCache(max_entries=4)
    calls = []

    def compute():
        calls.append(1)
        time.sleep(0.2)
        return 42

    threads = [threading.Thread(target=lambda: cache.get_or_compute("k", compute)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and cache.get("k") == 42


def test_digest_separates_items():
    assert digest(["ab", "c"]) != digest(["a", "bc"])
    assert digest(["x"]) == digest(("x",))


class _Stopped(BaseException):
    """Like Streamlit's RerunException when a visitor presses Stop: a BaseException raised mid-run."""


def test_a_stopped_computation_leaves_the_cache_usable():
    cache = ProgressCache(max_entries=2)

    def interrupted():
        raise _Stopped()

    for _ in range(3):
        with pytest.raises(_Stopped):
            cache.get_or_compute("texts", interrupted)
    assert "texts" not in cache and cache._key_locks == {}  # nothing half-stored, no lock left behind
    assert cache.get_or_compute("texts", lambda: 42) == 42


def test_a_stopped_embedding_leaves_the_model_usable(bundled):
    from core import embed_texts
    from core.embed.embedding import EmbeddingStopped
    from core.models.hooks import live_hooks

    texts = [f"sentence number {i}" for i in range(100)]
    seen = []  # batches are cut by padded tokens: a small budget makes several, reported as they finish
    embed_texts(bundled, texts, max_tokens=96, progress=lambda done, total: seen.append(done))
    assert len(seen) > 3
    calls = []
    with pytest.raises(EmbeddingStopped) as stopped:
        embed_texts(bundled, texts, max_tokens=96, should_stop=lambda: calls.append(1) or len(calls) > 2)
    assert (stopped.value.done, stopped.value.total) == (seen[1], 100)
    assert live_hooks() == 0
    again = embed_texts(bundled, texts[:3])
    assert again.shape == (3, bundled.info.d_model) and not bundled._lock._is_owned()
