import threading
import time

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
