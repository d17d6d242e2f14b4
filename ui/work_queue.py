"""Long work takes turns: at most one long job (embedding thousands of sentences, a projection, a
training run, an STS evaluation, a corpus) runs at a time on the whole server, first come first
served; the rest wait and see their place in the queue. Stage pages never queue: their traces take
the model's lock batch by batch, so they slip in between a long job's batches.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from contextlib import contextmanager
from typing import Callable, Iterator


class WorkQueue:
    def __init__(self, workers: int = 1):
        self.workers = workers
        self._condition = threading.Condition()
        self._waiting: OrderedDict[int, str] = OrderedDict()   # ticket → what it is, in arrival order
        self._running: dict[int, str] = {}
        self._tickets = itertools.count()
        self._holder = threading.local()  # a job that already has its turn runs its inner long steps at once

    def snapshot(self) -> tuple[list[str], list[str]]:
        """(running, waiting) job labels, in order."""
        with self._condition:
            return list(self._running.values()), list(self._waiting.values())

    @contextmanager
    def turn(self, label: str, on_wait: Callable[[int, list[str]], None] | None = None,
             poll_seconds: float = 0.5) -> Iterator[None]:
        """Hold one of the workers for the block. While waiting, ``on_wait(place, running)`` is called about
        every ``poll_seconds`` (place 1 = next); an exception it raises (Streamlit's stop, a rerun) leaves the queue."""
        if getattr(self._holder, "active", False):
            yield
            return
        ticket = next(self._tickets)
        with self._condition:
            self._waiting[ticket] = label
        try:
            while True:
                with self._condition:
                    place = list(self._waiting).index(ticket) + 1
                    if place == 1 and len(self._running) < self.workers:
                        del self._waiting[ticket]
                        self._running[ticket] = label
                        break
                    running = list(self._running.values())
                    if on_wait is None:
                        self._condition.wait(poll_seconds)
                        continue
                on_wait(place, running)
                with self._condition:
                    self._condition.wait(poll_seconds)
            self._holder.active = True
            yield
        finally:
            self._holder.active = False
            with self._condition:
                self._waiting.pop(ticket, None)
                self._running.pop(ticket, None)
                self._condition.notify_all()


LONG_WORK = WorkQueue(workers=1)


def queued(label: str, compute: Callable[[], object], queue: WorkQueue = LONG_WORK):
    """Run ``compute`` in its turn, showing the wait in the page (a placeholder, removed when the turn comes)."""
    import streamlit as st

    slot = None

    def show(place: int, running: list[str]) -> None:
        nonlocal slot
        slot = slot or st.empty()
        ahead = f"{place - 1} more waiting before it, " if place > 1 else ""
        slot.info(f"Your {label} waits its turn: the server runs one long job at a time ({ahead}now running: "
                  f"{', '.join(running) or 'nothing'}). The stage pages keep working meanwhile.",
                  icon=":material/hourglass_top:")

    try:
        with queue.turn(label, show):
            if slot is not None:
                slot.empty()
            return compute()
    finally:
        if slot is not None:
            slot.empty()
