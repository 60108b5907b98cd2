"""Group commit (ssj/ledger/group.py): saves of concurrent threads share one append.

Groups are made to form for certain by holding the ledger's write lock from another connection
(the advisory lock on PostgreSQL, a write transaction on SQLite) while the saves queue, then
letting go. Every test runs on both backends and ends with `verify_ledger`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import replace
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError

from ssj.config import Settings
from ssj.ledger import postgres as postgres_recorder
from ssj.ledger.application import Ledger
from ssj.ledger.audit import verify_ledger
from ssj.ledger.envelope import Actor, Envelope
from ssj.ledger.group import GroupCommitter, GroupInterruptedError
from tests.ledger.test_ledger import Thing


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    """An initialised ledger, closed afterwards."""
    with closing(Ledger(settings)) as opened:
        opened.initialise()
        yield opened


@contextmanager
def write_lock_held(ledger: Ledger) -> Iterator[None]:
    """The ledger's write lock, taken by another connection until the block ends."""
    db = ledger.settings.database
    if db.is_postgres:
        with psycopg.connect(db.url()) as conn:
            conn.execute(ledger.ledger_recorder.lock_table_statements[1])  # type: ignore[attr-defined]
            try:
                yield
            finally:
                conn.rollback()
    else:
        lite = sqlite3.connect(db.path, isolation_level=None)
        try:
            lite.execute("BEGIN IMMEDIATE")
            yield
            lite.execute("ROLLBACK")
        finally:
            lite.close()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def actors_by_aggregate(ledger: Ledger) -> dict[str, set[tuple[str, str, str]]]:
    """Each aggregate's events' actors as their envelopes record them."""
    found: dict[str, set[tuple[str, str, str]]] = {}
    for _, _, data, _ in ledger.ledger_recorder.select_envelopes(0, 100_000):
        env = Envelope.from_bytes(data)
        found.setdefault(env.originator_id, set()).add(
            (env.actor.user, env.actor.department, env.actor.role)
        )
    return found


def run_queued(
    ledger: Ledger, first: Callable[[], Any], queued: list[Callable[[], Any]]
) -> tuple[Any, list[Any]]:
    """`first` leads an append stuck behind the held lock; `queued` save meanwhile (each in its
    own thread, in order) and wait behind it; then the lock goes. Returns each one's result or
    the exception it raised."""

    def outcome(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as e:
            return e

    with ThreadPoolExecutor(1 + len(queued)) as pool, write_lock_held(ledger):
        lead = pool.submit(outcome, first)
        wait_until(lambda: ledger.group_commit.busy, "the leader")
        others = []
        for n, call in enumerate(queued, 1):
            others.append(pool.submit(outcome, call))
            wait_until(lambda n=n: ledger.group_commit.queued() == n, f"{n} queued saves")  # type: ignore[misc]
    return lead.result(timeout=30), [f.result(timeout=30) for f in others]


def test_queued_saves_share_one_append_each_with_its_actor(ledger: Ledger) -> None:
    actors = [Actor(f"user-{n}", f"DEPT-{n % 3}", ("operator", "admin")[n % 2]) for n in range(6)]
    things = [Thing(f"thing-{n}") for n in range(6)]
    for thing in things[1:]:
        thing.rename(f"{thing.name} renamed")  # two events for some commands
    before = ledger.size()
    stats = ledger.group_commit.stats
    lead, rest = run_queued(
        ledger,
        lambda: ledger.save(things[0], actor=actors[0]),
        [lambda n=n: ledger.save(things[n], actor=actors[n]) for n in range(1, 6)],  # type: ignore[misc]
    )
    assert not isinstance(lead, Exception)
    assert not any(isinstance(r, Exception) for r in rest), rest
    assert (stats.groups, stats.grouped_saves, stats.fallbacks) == (1, 5, 0)
    assert ledger.size() == before + 1 + 5 * 2  # nothing lost, nothing doubled
    recorded = actors_by_aggregate(ledger)
    for thing, actor in zip(things, actors, strict=True):
        assert recorded[str(thing.id)] == {(actor.user, actor.department, actor.role)}
        assert [v for v, _ in ledger.ledger_recorder.select_seqs(thing.id)] == (
            [1] if thing is things[0] else [1, 2]
        )
    assert verify_ledger(ledger, jobs=1).ok


def test_a_conflicting_save_fails_alone_and_the_others_land(
    ledger: Ledger, settings: Settings
) -> None:
    """Two commands change the same aggregate from the same version in one group: the group's
    append fails, each is appended alone, and only the second gets the conflict."""
    shared = Thing("shared")
    ledger.save(shared, actor=Actor("setup", "D", "admin"))
    other = Ledger(settings)  # a second reader: its own copy of the same version
    try:
        mine: Thing = ledger.repository.get(shared.id)
        theirs: Thing = other.repository.get(shared.id)
        mine.rename("mine")
        theirs.rename("theirs")
        alone, bystander = Thing("alone"), Thing("bystander")
        stats = ledger.group_commit.stats
        lead, (first, second, third) = run_queued(
            ledger,
            lambda: ledger.save(alone, actor=Actor("lead", "D", "operator")),
            [
                lambda: ledger.save(mine, actor=Actor("first", "D", "operator")),
                lambda: ledger.save(theirs, actor=Actor("second", "D", "operator")),
                lambda: ledger.save(bystander, actor=Actor("third", "D", "operator")),
            ],
        )
    finally:
        other.close()
    assert not isinstance(lead, Exception) and not isinstance(first, Exception)
    assert isinstance(second, IntegrityError)
    assert not isinstance(third, Exception)
    assert (stats.groups, stats.fallbacks) == (0, 1)
    assert ledger.repository.get(shared.id).name == "mine"
    recorded = actors_by_aggregate(ledger)
    assert recorded[str(shared.id)] == {("setup", "D", "admin"), ("first", "D", "operator")}
    assert recorded[str(bystander.id)] == {("third", "D", "operator")}
    assert verify_ledger(ledger, jobs=1).ok


THREADS = 8
SAVES = 25


def test_many_threads_lose_and_double_nothing(ledger: Ledger) -> None:
    """Eight threads save as fast as they can: every command's events land once, with its
    actor, in one unbroken chain."""
    start = threading.Barrier(THREADS)

    def writer(worker: int) -> list[tuple[UUID, Actor]]:
        actor = Actor(f"writer-{worker}", f"DEPT-{worker}", "operator")
        start.wait(timeout=30)
        saved = []
        for n in range(SAVES):
            thing = Thing(f"w{worker}-{n}")
            if n % 2:
                thing.rename(f"w{worker}-{n}-renamed")
            ledger.save(thing, actor=actor)
            saved.append((thing.id, actor))
        return saved

    before, stats = ledger.size(), ledger.group_commit.stats
    saves_before = stats.alone + stats.grouped_saves
    with ThreadPoolExecutor(THREADS) as pool:
        saved = [s for f in [pool.submit(writer, w) for w in range(THREADS)] for s in f.result()]
    assert ledger.size() == before + THREADS * sum(2 if n % 2 else 1 for n in range(SAVES))
    recorded = actors_by_aggregate(ledger)
    for thing_id, actor in saved:
        assert recorded[str(thing_id)] == {(actor.user, actor.department, actor.role)}
    assert stats.alone + stats.grouped_saves - saves_before == THREADS * SAVES
    assert verify_ledger(ledger, jobs=1).ok


class Stopped(BaseException):
    """What stops a thread mid-append (as KeyboardInterrupt or SystemExit would)."""


def test_a_leader_stopped_mid_append_gives_its_group_a_bilingual_error() -> None:
    """The committer alone, with an append that blocks the first save and is stopped on the
    group after it: the stopped leader's save raises what stopped it, the other save of its
    group an error saying its outcome is unknown, in Chinese and English."""
    entered, release = threading.Event(), threading.Event()

    def append(events: Any, actors: Any) -> list[Any]:
        if list(events) == ["first"]:
            entered.set()
            release.wait(10)
            return ["recorded"]
        raise Stopped

    committer = GroupCommitter(append)
    actor = Actor("u", "d", "operator")

    def outcome(events: list[str]) -> Any:
        try:
            return committer.save(events, actor)
        except BaseException as e:
            return e

    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(outcome, ["first"])
        assert entered.wait(10)
        second = pool.submit(outcome, ["second"])
        wait_until(lambda: committer.queued() == 1, "the second save queued")
        third = pool.submit(outcome, ["third"])
        wait_until(lambda: committer.queued() == 2, "the third save queued")
        release.set()
        results = [f.result(timeout=10) for f in (first, second, third)]
    assert results[0] == ["recorded"]
    assert isinstance(results[1], Stopped)  # it led the group of the second and third saves
    error = results[2]
    assert isinstance(error, GroupInterruptedError)
    assert error.code == "group_interrupted"
    assert "结果未知" in error.zh and "outcome is unknown" in error.en
    assert not committer.busy and committer.queued() == 0


@pytest.mark.postgres
def test_an_append_behind_the_held_lock_gives_up_after_the_lock_timeout(
    postgres_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock timeout is set before the lock is asked for, in the one statement that takes
    it and notifies (ssj/ledger/postgres.py): the append fails, writes nothing, and the ledger
    appends again once the lock is free. It asks for the lock once: the library's retries (ten
    attempts) would make the wait ten lock timeouts."""
    attempts: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        attempts.append(1)
        return library_insert(*args, **kwargs)

    library_insert = postgres_recorder._LIBRARY_INSERT
    monkeypatch.setattr(postgres_recorder, "_LIBRARY_INSERT", counted)
    settings = replace(postgres_settings, lock_timeout_seconds=1)
    actor = Actor("late", "DEPT", "operator")
    with closing(Ledger(settings)) as ledger:
        ledger.initialise()
        before = ledger.size()
        attempts.clear()
        with ThreadPoolExecutor(1) as pool, write_lock_held(ledger):
            attempt = pool.submit(ledger.save, Thing("late"), actor=actor)
            error = attempt.exception(timeout=120)  # without the timeout it would wait for ever
        assert error is not None
        assert "lock timeout" in str(error), error
        assert len(attempts) == 1
        assert ledger.size() == before
        ledger.save(Thing("on time"), actor=actor)
        assert ledger.size() == before + 1
        assert verify_ledger(ledger, jobs=1).ok
