"""A rebuild that replays the trail in a second process (`Runner._rebuild_apart`), into a
scratch store on SQLite and into the read models themselves on PostgreSQL: the same rows and
seqs as one process and as the incremental catch-ups; a second process that fails or dies
mid-replay, or a rebuild stopped half-way, leaves read models that a catch-up completes to the
same rows, and no scratch store behind."""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import projections.runner as runner_module
from projections.registry import RegistryProjection
from projections.runner import Runner
from projections.store import SQLiteViewStore, ViewStore, open_view_store
from projections.trail import TrailProjection
from ssj.domain.targets import Target
from ssj.ledger.application import Ledger
from ssj.processes import process_cpu
from ssj.services.context import Services
from tests.projections.test_rebuild import indexes, rows
from tests.projections.test_registry import OPERATOR, ledger, record
from tests.projections.test_trail import demo

__all__ = ["demo", "ledger"]


@pytest.fixture
def apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second process for every SQLite rebuild, whatever the ledger's size and the load."""
    monkeypatch.setattr(runner_module, "APART_MIN_EVENTS", 0)
    monkeypatch.setattr(runner_module, "APART_FREE_CORES", -1_000.0)


@pytest.fixture
def filled(ledger: Ledger) -> Iterator[Runner]:
    """40 targets registered in batches of 8 and every third changed, behind a registry and a
    trail, caught up."""
    targets = [Target.register(record(n)) for n in range(40)]
    for start in range(0, 40, 8):
        ledger.save(*targets[start : start + 8], actor=OPERATOR)
    for n in range(0, 40, 3):
        targets[n].update(record(n, credit_class="C"))
    ledger.save(*targets[::3], actor=OPERATOR)
    store = open_view_store(ledger.settings)
    runner = Runner(ledger, store, [RegistryProjection(), TrailProjection()])
    runner.catch_up()
    yield runner
    store.close()


def taken(monkeypatch: pytest.MonkeyPatch, runner: Runner) -> list[bool]:
    """What each `_take_apart` of `runner` returned (whether the scratch tables came in)."""
    seen: list[bool] = []
    take = runner._take_apart

    def watched(group: Sequence[runner_module.Projection]) -> bool:
        seen.append(take(group))
        return seen[-1]

    monkeypatch.setattr(runner, "_take_apart", watched)
    return seen


def second_processes(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[bytes]]:
    """Every second process a rebuild starts from now on."""
    started: list[subprocess.Popen[bytes]] = []
    popen = subprocess.Popen

    class Watched(popen):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(runner_module.subprocess, "Popen", Watched)
    return started


class Ended(subprocess.Popen[bytes]):
    """A process that has ended by the time it is handed back: writing to it breaks the pipe."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wait()


def sqlite_only(store: ViewStore) -> None:
    if not isinstance(store, SQLiteViewStore):
        pytest.skip("PostgreSQL: no scratch store, the second process writes the read models")


def postgres_only(store: ViewStore) -> None:
    if not store.side_by_side:
        pytest.skip("SQLite: one writer lock for every projection")


def scratch_left(store: ViewStore) -> bool:
    assert isinstance(store, SQLiteViewStore)
    return any(Path(f"{store.apart_path}{s}").exists() for s in ("", "-wal", "-shm"))


@pytest.mark.usefixtures("apart")
def test_a_rebuild_apart_gives_the_rows_of_one_process(
    filled: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the second process writes the trail and its seq itself (here waited for
    at this process's last batch)."""
    incremental, made = rows(filled.store), indexes(filled.store)
    seen = taken(monkeypatch, filled)
    started = second_processes(monkeypatch)
    monkeypatch.setattr(runner_module, "LARGE_BATCH", 10)
    side_by_side = filled.store.side_by_side
    trail_seen: list[int] = []

    def progress(done: int, total: int) -> None:
        if side_by_side and done >= total:  # this process's last batch: wait for the other's
            started[0].wait()
        trail_seen.append(filled.seq("trail"))

    assert filled.rebuild(progress) == filled.ledger.size()
    assert [p.returncode for p in started] == [0]
    assert seen == ([] if side_by_side else [True])
    # Where the time went: the wait for the second process; on SQLite taking its tables in and
    # merging the write-ahead log.
    sqlite = [] if side_by_side else ["taking_in", "wal"]
    assert list(filled.phases) == [
        "start_over",
        "cores",
        "replay",
        "read_indexes",
        "waiting",
        *sqlite,
    ]
    assert trail_seen[-1] == (filled.ledger.head_seq() if side_by_side else -1)
    assert rows(filled.store) == incremental
    assert indexes(filled.store) == made
    if not side_by_side:
        assert not scratch_left(filled.store)
    monkeypatch.setattr(runner_module, "APART_MIN_EVENTS", 10**9)  # one process
    filled.rebuild()
    assert len(started) == 1
    assert rows(filled.store) == incremental


@pytest.mark.slow
@pytest.mark.usefixtures("apart")
def test_every_read_model_rebuilt_apart_equals_its_catch_ups(
    demo: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's year, every projection: the trail replayed in the second process, the others
    here, in batches of 500 events."""
    incremental = rows(demo.store)
    started = second_processes(monkeypatch)
    monkeypatch.setattr(runner_module, "LARGE_BATCH", 500)
    demo.runner.rebuild()
    assert [p.returncode for p in started] == [0]
    assert rows(demo.store) == incremental
    if not demo.store.side_by_side:
        assert not scratch_left(demo.store)


@pytest.mark.parametrize(
    ("how", "command"),
    [
        ("raises", ("-m", "tests.projections.apart_broken", "raises")),
        ("dies", ("-m", "tests.projections.apart_broken", "dies")),
        ("cannot start", ("-c", "import sys; sys.exit(3)")),
    ],
)
@pytest.mark.usefixtures("apart")
def test_a_second_process_that_fails_leaves_the_trail_to_this_one(
    filled: Runner,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    how: str,
    command: tuple[str, ...],
) -> None:
    """It raises at once, or dies (as by `kill -9`) after committing two batches
    (`tests/projections/apart_broken.py`), or ends before reading what to do: this process
    replays the trail (on SQLite nothing of the scratch store is taken in, and it is removed;
    on PostgreSQL from the seq the second process committed)."""
    incremental = rows(filled.store)
    seen = taken(monkeypatch, filled)
    monkeypatch.setattr(runner_module, "APART_COMMAND", command)
    if how == "cannot start":
        monkeypatch.setattr(runner_module.subprocess, "Popen", Ended)
    with caplog.at_level(logging.WARNING, logger="projections.runner"):
        filled.rebuild()
    assert seen == []
    code = {"raises": 1, "dies": 9, "cannot start": 3}[how]
    assert f"second process failed (exit code {code})" in caplog.text
    assert rows(filled.store) == incremental
    if not filled.store.side_by_side:
        assert not scratch_left(filled.store)


@pytest.mark.usefixtures("apart")
def test_a_rebuild_apart_stopped_half_way_is_caught_up_by_the_next_runner(
    filled: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped while this process replays (the second process is then killed): on SQLite the
    trail has no seq and no rows; on PostgreSQL what the second process committed; a runner
    started afterwards replays it to the same rows."""
    incremental, made = rows(filled.store), indexes(filled.store)
    monkeypatch.setattr(runner_module, "BATCH", 10)
    monkeypatch.setattr(runner_module, "LARGE_BATCH", 10)

    def stop(done: int, total: int) -> None:
        if done > 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        filled.rebuild(stop)
    if not filled.store.side_by_side:
        assert filled.seq("trail") == -1
        assert filled.store.query("SELECT count(*) FROM trail") == [(0,)]
        assert not scratch_left(filled.store)
    restarted = Runner(filled.ledger, filled.store, filled.projections)
    restarted.catch_up()
    assert rows(filled.store) == incremental
    assert indexes(filled.store) == made


@pytest.mark.usefixtures("apart")
def test_a_trail_applied_meanwhile_keeps_its_rows(
    filled: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another runner fed the trail while the rebuild ran: its rows stay, the scratch copy is
    dropped, and the rows are those of one process all the same."""
    sqlite_only(filled.store)
    incremental = rows(filled.store)
    take = runner_module.Runner._take_apart

    def after_another(self: Runner, group: Sequence[runner_module.Projection]) -> bool:
        Runner(self.ledger, self.store, [TrailProjection()], prepare=False).catch_up()
        return take(self, group)

    monkeypatch.setattr(runner_module.Runner, "_take_apart", after_another)
    seen = taken(monkeypatch, filled)
    filled.rebuild()
    assert seen == [False]
    assert rows(filled.store) == incremental
    assert not scratch_left(filled.store)


def test_a_small_ledger_or_a_busy_machine_rebuilds_in_one_process(
    filled: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small ledger starts no second process. On a busy machine the one started as the
    rebuild began is told nothing and is gone by its end; the rows are one process's."""
    incremental = rows(filled.store)
    started = second_processes(monkeypatch)
    filled.rebuild()  # 40-odd events: below APART_MIN_EVENTS
    assert started == []
    monkeypatch.setattr(runner_module, "APART_MIN_EVENTS", 0)
    monkeypatch.setattr(runner_module, "APART_FREE_CORES", 1_000.0)  # never so many free
    filled.rebuild()
    assert len(started) == 1
    assert started[0].poll() is not None
    assert list(filled.phases) == ["start_over", "cores", "replay", "read_indexes"] + (
        [] if filled.store.side_by_side else ["wal"]
    )
    # Every window counted before giving the second process up.
    windows = runner_module.APART_WINDOWS * runner_module.APART_SAMPLE_SECONDS
    assert filled.phases["cores"] >= windows
    assert rows(filled.store) == incremental
    if not filled.store.side_by_side:
        assert not scratch_left(filled.store)


def test_a_busy_spell_at_the_start_of_a_rebuild_still_leaves_the_trail_apart(
    filled: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two windows with one core free, then one with nearly two: the second process is told
    at the third, and the rows are one process's."""
    incremental = rows(filled.store)
    started = second_processes(monkeypatch)
    monkeypatch.setattr(runner_module, "APART_MIN_EVENTS", 0)
    counted = iter([1.0, 1.2, 1.9])
    asked: list[int | None] = []

    def cores(sample: runner_module.CoresSample) -> float:
        asked.append(sample.ours)
        return next(counted)

    monkeypatch.setattr(runner_module.CoresSample, "cores", cores)
    filled.rebuild()
    assert asked == [started[0].pid] * 3
    assert [p.returncode for p in started] == [0]
    assert "waiting" in filled.phases  # replayed apart, waited for
    assert rows(filled.store) == incremental


def test_free_cores_are_counted_window_after_window_until_enough_are_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`cores_free` stops at the first window with `APART_FREE_CORES` free, and gives up after
    `APART_WINDOWS` windows without."""
    counted: list[float] = []

    def cores(sample: runner_module.CoresSample) -> float:
        return counted.pop(0)

    monkeypatch.setattr(runner_module.CoresSample, "cores", cores)
    counted[:] = [0.9, 1.5, 0.2]
    assert runner_module.cores_free(4321)
    assert counted == [0.2]
    counted[:] = [1.4] * (runner_module.APART_WINDOWS + 1)
    assert not runner_module.cores_free(4321)
    assert counted == [1.4]


def test_a_second_process_told_nothing_exits_having_written_nothing(
    filled: Runner, tmp_path: Path
) -> None:
    """`python -m projections.apart` given the settings and a scratch store, then the end of its
    input (the rebuild went on in one process): exit 0, no scratch store made."""
    scratch = tmp_path / "views-apart.sqlite"
    second = runner_module.SecondProcess(filled.ledger.settings, scratch)
    second.release()
    assert second.wait() == 0
    assert not scratch.exists()


class Clock:
    """Stands in for `time` in `projections.runner`: seconds passed only by `sleep`, and this
    process's CPU as set."""

    def __init__(self) -> None:
        self.now, self.cpu, self.slept = 100.0, 5.0, 0.0

    def monotonic(self) -> float:
        return self.now

    def process_time(self) -> float:
        return self.cpu

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def test_free_cores_count_the_idle_time_and_this_process_over_the_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """0.1 s idle on all cores together and 0.05 s of this process's CPU over a 0.1 s window
    (waited for when the start of the rebuild took less): 1.5 cores free; 1.8 with 0.03 s of
    the rebuild's second process. Without /proc/stat, the cores less the load average."""
    clock = Clock()
    idle = iter([1_000.0, 1_000.1])
    monkeypatch.setattr(runner_module, "time", clock)
    monkeypatch.setattr(runner_module, "_idle_seconds", lambda: next(idle))
    sample = runner_module.CoresSample()
    clock.now += 0.04
    clock.cpu += 0.05
    assert sample.cores() == pytest.approx(1.5)
    assert clock.slept == pytest.approx(0.06)
    # The rebuild's second process, starting meanwhile: its 0.03 s are this rebuild's too.
    idle = iter([1_000.0, 1_000.1])
    theirs = iter([2.0, 2.03])
    monkeypatch.setattr(runner_module, "process_cpu", lambda pid: next(theirs))
    sample = runner_module.CoresSample(ours=4321)
    clock.cpu += 0.05
    assert sample.cores() == pytest.approx(1.8)
    monkeypatch.setattr(runner_module, "_idle_seconds", lambda: None)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.25, 0.0, 0.0))
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert runner_module.CoresSample().cores() == pytest.approx(2.75)


def one_lock_waits(store: ViewStore) -> bool:
    """Whether, within 30 s, exactly one advisory lock is waited for (PostgreSQL's pg_locks)."""
    waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    deadline = time.monotonic() + 30
    while store.query(waiting) != [(1,)] and time.monotonic() < deadline:
        time.sleep(0.01)
    return store.query(waiting) == [(1,)]


def test_postgresql_runners_of_disjoint_projections_write_at_once(filled: Runner) -> None:
    """While a transaction holds the trail's writer lock (as a part), a part runner of the
    registry applies new events, and a runner of every projection waits (seen waiting in
    PostgreSQL's pg_locks), then applies the rest: every event once."""
    store = filled.store
    postgres_only(store)
    targets = [Target.register(record(n)) for n in range(100, 103)]
    filled.ledger.save(*targets, actor=OPERATOR)
    registry, trail = filled.projections
    registry_only = Runner(filled.ledger, store, [registry], prepare=False, part=True)
    both = Runner(filled.ledger, store, [registry, trail], prepare=False)
    with store.transaction() as c:
        store.exclusive(c, ["trail"])
        applied: list[int] = []
        alone = threading.Thread(target=lambda: applied.append(registry_only.catch_up()))
        alone.start()
        alone.join(30)  # on a lock of all projections it would wait for this transaction
        assert applied == [3]
        caught_up = threading.Thread(target=both.catch_up)
        caught_up.start()
        assert one_lock_waits(store)
        assert caught_up.is_alive()
    caught_up.join(30)
    assert not caught_up.is_alive()
    assert filled.seqs() == {
        "registry": filled.ledger.head_seq(),
        "trail": filled.ledger.head_seq(),
    }
    incremental = rows(store)
    filled.rebuild()
    assert rows(store) == incremental


def test_postgresql_part_runners_wait_for_a_runner_of_every_projection(filled: Runner) -> None:
    """Runners of every projection hold one lock of the schema, as before there were parts:
    a part runner waits while one applies."""
    store = filled.store
    postgres_only(store)
    filled.ledger.save(Target.register(record(200)), actor=OPERATOR)
    with store.transaction() as c:
        store.exclusive(c)  # every projection's lock
        trail_part = Runner(filled.ledger, store, filled.projections[1:], prepare=False, part=True)
        caught_up = threading.Thread(target=trail_part.catch_up)
        caught_up.start()
        assert one_lock_waits(store)
    caught_up.join(30)
    assert filled.seqs()["trail"] == filled.ledger.head_seq()


def test_a_processs_cpu_seconds_are_read_from_proc() -> None:
    """This process's, as `time.process_time` counts them (to the kernel's ticks); 0 for a
    process that has ended."""
    busy = time.process_time() + 0.05
    while time.process_time() < busy:
        pass
    assert process_cpu(os.getpid()) == pytest.approx(time.process_time(), abs=0.05)
    ended = subprocess.Popen(["true"])
    ended.wait()
    assert process_cpu(ended.pid) == 0.0
