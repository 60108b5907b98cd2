"""A rebuild that replays the trail in a second process (`Runner._rebuild_apart`), on SQLite
(PostgreSQL has no scratch store: one process there): the same rows and seqs as one process and as the incremental catch-ups; a second
process that fails or dies mid-replay, or a rebuild stopped half-way, leaves read models that a
catch-up completes to the same rows, and no scratch store behind."""

from __future__ import annotations

import logging
import os
import subprocess
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


class Ended(subprocess.Popen[bytes]):
    """A process that has ended by the time it is handed back: writing to it breaks the pipe."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wait()


def sqlite_only(store: ViewStore) -> None:
    if not isinstance(store, SQLiteViewStore):
        pytest.skip("no scratch store on PostgreSQL: one process there")


def scratch_left(store: ViewStore) -> bool:
    assert isinstance(store, SQLiteViewStore)
    return any(Path(f"{store.apart_path}{s}").exists() for s in ("", "-wal", "-shm"))


@pytest.mark.usefixtures("apart")
def test_a_rebuild_apart_gives_the_rows_of_one_process(
    filled: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_only(filled.store)
    incremental, made = rows(filled.store), indexes(filled.store)
    seen = taken(monkeypatch, filled)
    assert filled.rebuild() == filled.ledger.size()
    assert seen == [True]
    assert rows(filled.store) == incremental
    assert indexes(filled.store) == made
    assert not scratch_left(filled.store)
    monkeypatch.setattr(runner_module, "APART_MIN_EVENTS", 10**9)  # one process
    filled.rebuild()
    assert seen == [True]
    assert rows(filled.store) == incremental


@pytest.mark.slow
@pytest.mark.usefixtures("apart")
def test_every_read_model_rebuilt_apart_equals_its_catch_ups(
    demo: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's year, every projection: the trail replayed in the second process, the others
    here, in batches of 500 events."""
    sqlite_only(demo.store)
    incremental = rows(demo.store)
    seen = taken(monkeypatch, demo.runner)
    monkeypatch.setattr(runner_module, "LARGE_BATCH", 500)
    demo.runner.rebuild()
    assert seen == [True]
    assert rows(demo.store) == incremental
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
    """It raises at once, or dies (as by `kill -9`) after committing two batches to the
    scratch store (`tests/projections/apart_broken.py`), or ends before reading what to do:
    nothing of it is taken in, this process replays the trail, and the scratch store is
    removed."""
    sqlite_only(filled.store)
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
    assert not scratch_left(filled.store)


@pytest.mark.usefixtures("apart")
def test_a_rebuild_apart_stopped_half_way_is_caught_up_by_the_next_runner(
    filled: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped while this process replays (the second process is then killed): the trail has
    no seq and no rows, and a runner started afterwards replays it to the same rows."""
    sqlite_only(filled.store)
    incremental, made = rows(filled.store), indexes(filled.store)
    monkeypatch.setattr(runner_module, "BATCH", 10)
    monkeypatch.setattr(runner_module, "LARGE_BATCH", 10)

    def stop(done: int, total: int) -> None:
        if done > 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        filled.rebuild(stop)
    assert "trail" not in dict(filled.store.query("SELECT name, seq FROM projection_positions"))
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
    sqlite_only(filled.store)
    seen = taken(monkeypatch, filled)
    filled.rebuild()  # 40-odd events: below APART_MIN_EVENTS
    monkeypatch.setattr(runner_module, "APART_MIN_EVENTS", 0)
    monkeypatch.setattr(runner_module, "APART_FREE_CORES", 1_000.0)  # never so many free
    filled.rebuild()
    assert seen == []


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
    (waited for when the start of the rebuild took less): 1.5 cores free. Without /proc/stat,
    the cores less the load average."""
    clock = Clock()
    idle = iter([1_000.0, 1_000.1])
    monkeypatch.setattr(runner_module, "time", clock)
    monkeypatch.setattr(runner_module, "_idle_seconds", lambda: next(idle))
    sample = runner_module.CoresSample()
    clock.now += 0.04
    clock.cpu += 0.05
    assert sample.cores() == pytest.approx(1.5)
    assert clock.slept == pytest.approx(0.06)
    monkeypatch.setattr(runner_module, "_idle_seconds", lambda: None)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.25, 0.0, 0.0))
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert runner_module.CoresSample().cores() == pytest.approx(2.75)
