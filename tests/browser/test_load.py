"""Twelve browser sessions at once against one server, each typing its own text and walking three stage
pages by the sidebar links: the short version of bench/class_load.py (same driver, which walks all six
stage pages and Projections with 30). Timings are printed, never asserted."""

import urllib.request

import pytest

from bench.class_load import WALK, WORDS, drive, problems, summary_line
from core.models.bundled import bundled_model_dir

pytestmark = pytest.mark.browser

SESSIONS = 12
# after the overview (opened, then typed into): three pages that draw the text, a light one, the heaviest
# in the browser (Attention) and the heaviest on the server (Pooling); the whole walk takes twice as long
TEST_WALK = tuple(stop for stop in WALK if stop.title.split(" · ")[0] in ("1", "4", "6"))


def test_words_are_one_wordpiece_each():
    """Each word shows up whole in token labels (and in the leak check) only if it is one token."""
    vocabulary = set((bundled_model_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines())
    assert len(set(WORDS)) == len(WORDS) >= 30
    assert [w for w in WORDS if w not in vocabulary or not w.isalpha() or not w.islower()] == []


def test_twelve_sessions_see_only_their_own_text(server):
    assert len(TEST_WALK) == 3
    results = drive(server, SESSIONS, walk=TEST_WALK, timeout_s=600)
    print(f"\n{summary_line(results)}")
    found = problems(results, TEST_WALK)
    with urllib.request.urlopen(server + "/_stcore/health", timeout=10) as response:
        assert response.status == 200, "the server stopped answering"
    assert found["leaks"] == [], "a session saw another session's text"
    assert found["errors"] == []
    assert found["own word missing"] == []
    assert found["unfinished"] == []
    assert all(result.finished(TEST_WALK) for result in results)
