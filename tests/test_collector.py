"""The collector pause (ssj/collector.py): nested and concurrent pauses share one
count, and the collector ends as it was before the first began."""

from __future__ import annotations

import gc
import threading

import pytest

from ssj import collector


def test_nested_pauses_switch_the_collector_back_on_after_the_last(collector_on: None) -> None:
    with collector.paused():
        assert not gc.isenabled()
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off(collector_on: None) -> None:
    gc.disable()
    with collector.paused():
        pass
    assert not gc.isenabled()


def test_a_failing_call_still_ends_the_pause(collector_on: None) -> None:
    @collector.pausing
    def fails() -> None:
        assert not gc.isenabled()
        raise ValueError("x")

    with pytest.raises(ValueError):
        fails()
    assert gc.isenabled()


def test_threads_overlapping_pauses(collector_on: None) -> None:
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with collector.paused():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=other)
    t.start()
    inside.wait(10)
    with collector.paused():
        pass
    assert not gc.isenabled()  # the other thread's pause still runs
    release.set()
    t.join()
    assert gc.isenabled()
