"""Long jobs take turns, first come first served, and the waiting ones learn their place; a job that
gives up (a visitor's Stop) leaves the queue; a job's own inner long steps do not queue behind it."""

from __future__ import annotations

import threading
import time

import pytest

from ui.work_queue import WorkQueue


def test_one_long_job_at_a_time_in_arrival_order():
    queue = WorkQueue(workers=1)
    order, places, running_now, peak = [], {}, [0], [0]
    lock = threading.Lock()

    def job(name: str, delay: float):
        time.sleep(delay)  # arrive in this order
        def on_wait(place, running):
            places.setdefault(name, []).append(place)
        with queue.turn(name, on_wait, poll_seconds=0.01):
            with lock:
                running_now[0] += 1
                peak[0] = max(peak[0], running_now[0])
            order.append(name)
            time.sleep(0.15)
            with lock:
                running_now[0] -= 1

    threads = [threading.Thread(target=job, args=(name, delay)) for name, delay in (("a", 0), ("b", 0.03), ("c", 0.06))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert order == ["a", "b", "c"] and peak[0] == 1
    assert places["c"][0] == 2 and places["c"][-1] == 1  # second in line behind b, then next
    assert queue.snapshot() == ([], [])


def test_a_job_that_gives_up_leaves_the_queue_and_inner_steps_do_not_wait():
    queue = WorkQueue(workers=1)
    release = threading.Event()

    def holder():
        with queue.turn("projection"):
            with queue.turn("inner embedding"):  # the same job's own inner step: no deadlock
                release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    time.sleep(0.05)

    class Stopped(Exception):
        pass

    def stop(place, running):
        assert running == ["projection"]
        raise Stopped  # what Streamlit's stop or rerun does inside the waiting page

    with pytest.raises(Stopped):
        with queue.turn("training run", stop, poll_seconds=0.01):
            pass
    assert queue.snapshot() == (["projection"], [])  # the stopped job is gone from the line
    release.set()
    thread.join()
    assert queue.snapshot() == ([], [])
