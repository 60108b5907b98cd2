"""The demo's small year (300 targets, seed 3), built once per test run and backend and copied
for every test that starts from it.

Why: tests of the demo's draws, inspections, trail and assessment each built the same
jurisdiction (and drew, and inspected) before doing their own part: about 0.6 CPU-s a build on
SQLite, twice that on PostgreSQL (and as much again in the server), a dozen times a run. Built
once, a world is a directory (the data directory: SQLite files, keys, draw nonces; the demo's
files) and, on PostgreSQL, a template database; a test gets a copy of both, so it may write.

Stages, each the one before it and more: `built` (the jurisdiction), `drawn` (the demo's plans
and draws), `inspected` (the year's inspections up to 2026-11-20), `followed` (and its follow-up).

pytest-xdist's workers share the worlds: the first to need a stage builds it under a file lock
in the run's base temporary directory, the others copy it. The controller (or a run without
xdist) drops the template databases when the session ends (`drop_templates`).
"""

from __future__ import annotations

import fcntl
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path

import psycopg
import pytest

from ssj.config import DatabaseURL, Settings
from ssj.services.context import Services
from tests.conftest import (
    PG_ADMIN_URL,
    SCRATCH,
    as_runtime,
    base_settings,
    create_database,
    require_postgres,
)

SMALL, SEED = 300, 3
NOVEMBER = date(2026, 11, 20)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
STAGES = ("built", "drawn", "inspected", "followed")
TEMPLATE_PREFIX = "ssj_world_"


def _build(services: Services, directory: Path) -> None:
    from ssj.demo.jurisdiction import build

    build(services, directory / "demo", targets=SMALL, seed=SEED)


def _draw(services: Services, directory: Path) -> None:
    from ssj.demo import draws

    assert not draws.run(services, seed=SEED).skipped


def _inspect(services: Services, directory: Path) -> None:
    from ssj.demo import inspections

    inspections.run(services, seed=SEED, today=NOVEMBER)


def _follow(services: Services, directory: Path) -> None:
    from ssj.demo import followups

    followups.run(services, seed=SEED, today=NOVEMBER)


STEPS: dict[str, Callable[[Services, Path], None]] = {
    "built": _build,
    "drawn": _draw,
    "inspected": _inspect,
    "followed": _follow,
}


def worlds_root(factory: pytest.TempPathFactory) -> Path:
    """The run's base temporary directory: under xdist, the parent of every worker's."""
    base = factory.getbasetemp()
    root = base.parent if base.name.startswith("popen-gw") else base
    return root / "worlds"


def _admin(name: str) -> DatabaseURL:
    return replace(DatabaseURL.parse(PG_ADMIN_URL), dbname=name)


def _settings(backend: str, directory: Path, database: str = "") -> Settings:
    if backend == "sqlite":
        return base_settings(directory, f"sqlite:///{directory / 'data' / 'ssj.sqlite'}")
    return as_runtime(base_settings(directory, _admin(database).redacted()))


def _disconnect(name: str) -> None:
    """A template database must have no sessions when it is copied."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )


class DemoWorld:
    """One stage on one backend: its directory (data/, demo/) and its template database."""

    def __init__(self, root: Path, backend: str, stage: str) -> None:
        self.backend, self.stage = backend, stage
        self.directory = root / f"{backend}-{stage}"
        self._lock = root / f"{backend}-{stage}.lock"
        self._done = root / f"{backend}-{stage}.done"  # holds the template's name

    def ready(self, root: Path) -> str:
        """Builds the world unless another process did; its template database's name."""
        self._lock.parent.mkdir(parents=True, exist_ok=True)
        with self._lock.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not self._done.exists():
                self._done.write_text(self._make(root))
        return self._done.read_text()

    def _make(self, root: Path) -> str:
        shutil.rmtree(self.directory, ignore_errors=True)
        database = ""
        if self.backend == "postgres":
            database = f"{TEMPLATE_PREFIX}{uuid.uuid4().hex[:12]}"
            (root / f"{database}.database").touch()  # dropped at the end even if this fails
        index = STAGES.index(self.stage)
        if index == 0:
            self.directory.mkdir(parents=True)
            if database:
                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                    create_database(conn, database, SCRATCH.template())
        else:
            before = DemoWorld(root, self.backend, STAGES[index - 1])
            _copy(before, before.ready(root), self.directory, database)
        services = Services(_settings(self.backend, self.directory, database))
        try:
            if index == 0:
                services.ledger.initialise()
            STEPS[self.stage](services, self.directory)
            services.refresh()
        finally:
            services.close()
        if database:
            _disconnect(database)
        return database


def _copy(world: DemoWorld, template: str, directory: Path, database: str) -> None:
    shutil.copytree(world.directory, directory, dirs_exist_ok=True)
    if template:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            create_database(conn, database, template)


@contextmanager
def copied(
    backend: str, stage: str, tmp_path: Path, factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Settings over a copy of the world at `stage`: the data directory and the demo's files in
    `tmp_path` (as if built there), on PostgreSQL a database of the test's own."""
    if backend == "postgres":
        require_postgres()
    root = worlds_root(factory)
    world = DemoWorld(root, backend, stage)
    template = world.ready(root)
    if backend == "sqlite":
        _copy(world, "", tmp_path, "")
        yield _settings(backend, tmp_path)
        return
    name = SCRATCH.fresh_name()
    _copy(world, template, tmp_path, name)
    try:
        yield _settings(backend, tmp_path, name)
    finally:
        SCRATCH.release(name, reuse=True)


@contextmanager
def services_over(request: pytest.FixtureRequest, stage: str) -> Iterator[Services]:
    """Services over a copy of the world at `stage`, on the backend `request.param` names, in
    the test's tmp_path; its read models caught up."""
    tmp_path: Path = request.getfixturevalue("tmp_path")
    factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
    with copied(request.param, stage, tmp_path, factory) as settings:
        services = Services(settings)
        try:
            services.refresh()
            yield services
        finally:
            services.close()


def drop_templates(factory: pytest.TempPathFactory) -> None:
    """Drops the run's template databases (by the controller, once every worker is done)."""
    root = worlds_root(factory)
    if not root.is_dir():
        return
    names = [p.name.removesuffix(".database") for p in root.glob(f"{TEMPLATE_PREFIX}*.database")]
    if not names:
        return
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            (root / f"{name}.database").unlink()
