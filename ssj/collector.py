"""The cyclic garbage collector paused while much is allocated and nothing forms a cycle.

A draw allocates hundreds of thousands of short-lived containers (rank lists, team dicts, key
tuples) beside a heap of a million ids, so the collector's full passes ran several times per
draw: about 0.3 CPU-s of a 1M commit + reveal and 0.5 CPU-s of its verification (measured
with gc.callbacks, issue #13). The same holds for a catch-up's batches (`projections.runner`),
an audit's replay (`ssj.services.audit_bundle`) and the sampler's hashes
(`ssj.draw.sampler.sample`). Reference counting still frees everything they drop; only cycles
wait until the pause ends. Nested and concurrent pauses (threads of one server) share one
count, and the collector is switched back on only if it was on when the first began.
"""

from __future__ import annotations

import functools
import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_state = {"depth": 0, "was_enabled": False}


@contextmanager
def paused() -> Iterator[None]:
    with _lock:
        if _state["depth"] == 0:
            _state["was_enabled"] = gc.isenabled()
            gc.disable()
        _state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0 and _state["was_enabled"]:
                gc.enable()


def pausing(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn` run with the collector paused."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with paused():
            return fn(*args, **kwargs)

    return wrapper
