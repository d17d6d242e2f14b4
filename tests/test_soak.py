"""A short soak: many reruns with distinct texts leave no hook, no open file and no error behind.
The full 500-rerun version with its memory curve is `python -m bench.soak` (README)."""

from bench.soak import soak


def test_sixty_reruns_leave_nothing_behind():
    curve = soak(reruns=60, every=20, report=lambda line: None)
    assert [hooks for _, _, _, hooks in curve] == [0, 0, 0]
    files = [fds for _, _, fds, _ in curve]
    assert max(files) - min(files) <= 2, files
