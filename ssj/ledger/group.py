"""Group commit: commands of one process that are ready to save at the same time share one
ledger append — one lock, one transaction, one batch of envelopes — instead of queueing for the
ledger's lock one by one.

The first thread to save leads: it takes every save queued behind it (itself first) and appends
them as one batch, each event still signed on its own and its envelope naming the actor of the
command that caused it. While it writes, other threads queue; when it is done it hands the lead
to the oldest of them, which takes everything queued by then. So groups form only when saves
overlap — a lone command is appended alone, as before — and grow with the load, which is when
sharing the lock, the commit and the projection daemon's round pays most.

If a group's append fails (two commands changed the same aggregate, one event cannot be
stored, the database refused), nothing of it was written (one transaction), and each command
is appended alone, in the order they queued: one bad command never fails or changes another's
outcome, and each gets the answer it would have had on its own.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ssj.errors import UnavailableError
from ssj.ledger.envelope import Actor

# Appends `events` (domain events, in order) with one actor per event; returns one recording per
# event, in the same order, or raises and writes nothing.
Append = Callable[[Sequence[Any], Sequence[Actor]], list[Any]]

MAX_GROUP_EVENTS = 500  # a group's batch stays well inside one transaction's comfortable size


class GroupInterruptedError(UnavailableError):
    """The thread appending a group was stopped mid-append (not an ordinary failure: those
    fall back to each save alone), so a save it carried has no known outcome."""

    code = "group_interrupted"

    def __init__(self) -> None:
        super().__init__(
            "与本次保存一同写入的批次被中断，结果未知：请先查询账本再重试",
            "the group append carrying this save was interrupted; its outcome is unknown: "
            "read the ledger before retrying",
        )


@dataclass
class _Save:
    """One command's save, queued: its events and actor, then its outcome."""

    events: Sequence[Any]
    actor: Actor
    # Made (under the committer's lock) only for a save that waits: a lone save never does.
    woken: threading.Event | None = None
    lead: bool = False  # woken to lead the next group, not because it was saved
    recordings: list[Any] | None = None
    error: BaseException | None = None

    def outcome(self) -> list[Any]:
        if self.error is not None:
            raise self.error
        assert self.recordings is not None
        return self.recordings


@dataclass
class GroupStats:
    """What the committer did, for tests and benchmarks (appends, and saves they carried)."""

    groups: int = 0  # appends of two saves or more that were written together
    grouped_saves: int = 0  # saves written in those
    alone: int = 0  # saves appended on their own (no company, or a group fell back)
    fallbacks: int = 0  # groups whose append failed, each save then appended alone


class GroupCommitter:
    """Runs `append` for the saves of concurrent threads, grouped (see the module docstring)."""

    def __init__(self, append: Append, max_events: int = MAX_GROUP_EVENTS) -> None:
        self._append = append
        self._max_events = max_events
        self._lock = threading.Lock()
        self._queue: deque[_Save] = deque()
        self._busy = False  # a leader is appending; invariant: not busy => the queue is empty
        self.stats = GroupStats()

    def queued(self) -> int:
        """Saves waiting for the append in progress (0 when none is)."""
        with self._lock:
            return len(self._queue)

    @property
    def busy(self) -> bool:
        """An append is in progress."""
        return self._busy

    def save(self, events: Sequence[Any], actor: Actor) -> list[Any]:
        """Append one command's events with its actor; returns their recordings, or raises
        what appending them alone would have raised."""
        me = _Save(events, actor)
        with self._lock:
            self._queue.append(me)
            lead = not self._busy
            self._busy = True
            if not lead:
                me.woken = threading.Event()
        if not lead:
            assert me.woken is not None
            me.woken.wait()
            if not me.lead:
                return me.outcome()
        # Leading: `me` is the oldest queued save, so it is in the group taken here.
        with self._lock:
            group: list[_Save] = []
            size = 0
            while self._queue and (
                not group or size + len(self._queue[0].events) <= self._max_events
            ):
                size += len(self._queue[0].events)
                group.append(self._queue.popleft())
        try:
            self._write(group)
        finally:
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    assert successor.woken is not None
                    successor.woken.set()
                else:
                    self._busy = False
            for other in group:
                if other.recordings is None and other.error is None:  # the leader was stopped
                    other.error = GroupInterruptedError()
                if other is not me:
                    assert other.woken is not None
                    other.woken.set()
        return me.outcome()

    def _write(self, group: list[_Save]) -> None:
        if len(group) > 1:
            events = [e for s in group for e in s.events]
            actors = [s.actor for s in group for _ in s.events]
            try:
                recordings = self._append(events, actors)
            except Exception:
                self.stats.fallbacks += 1  # nothing of it written: each on its own below
            else:
                start = 0
                for s in group:
                    s.recordings = recordings[start : start + len(s.events)]
                    start += len(s.events)
                self.stats.groups += 1
                self.stats.grouped_saves += len(group)
                return
        for s in group:
            self.stats.alone += 1
            try:
                s.recordings = self._append(s.events, [s.actor] * len(s.events))
            except BaseException as e:  # the save's own outcome, raised in its own thread
                s.error = e
