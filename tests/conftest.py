"""Fixtures shared by every storage test: one Settings per backend.

PostgreSQL tests get a fresh database (created here, dropped after) and run as the restricted
runtime role that `ssj db migrate` sets up. Without a server they skip with one line, except
under CI=true, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from ssj.config import DatabaseURL, Settings

# pytest-xdist's workers get COLUMNS=80; rich consoles created at import would keep that width
# for good, while in-process CLI tests set COLUMNS per call (as a new process would read it).
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

PG_ADMIN_URL = os.environ.get(
    "SSJ_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
OWNER_ROLE = "ssj_test_owner"
RUNTIME_ROLE = "ssj_test_app"

_pg_problem: list[str | None] = []


def _postgres_problem() -> str | None:
    if not _pg_problem:
        try:
            with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
                _pg_problem.append(None)
        except psycopg.Error as e:
            _pg_problem.append(str(e).strip().splitlines()[0] if str(e).strip() else repr(e))
    return _pg_problem[0]


def require_postgres() -> None:
    problem = _postgres_problem()
    if problem is None:
        return
    if IN_CI:
        pytest.fail(
            f"PostgreSQL is required under CI=true but unreachable at {PG_ADMIN_URL}: {problem}"
        )
    pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL} ({problem})")


def base_settings(tmp_path: Path, url: str) -> Settings:
    data_dir = tmp_path / "data"
    return Settings(
        database=DatabaseURL.parse(url),
        data_dir=data_dir,
        keys_dir=data_dir / "keys",
        checkpoint_every_events=0,
        checkpoint_every_seconds=10**9,
        # Tests send requests faster than any client should; the limit has its own tests.
        rate_limit_per_minute=0,
        rate_limit_anonymous_per_minute=0,
        # Refusal windows close on a clock the flood tests set, never while a slow test runs.
        refusal_window_seconds=86400,
    )


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment for a subprocess (the CLI) that must see the same ledger."""
    env = dict(os.environ)
    env.update(
        SSJ_DATABASE_URL=settings.database.url(),
        SSJ_DATA_DIR=str(settings.data_dir),
        SSJ_KEYS_DIR=str(settings.keys_dir),
        SSJ_CHECKPOINT_EVERY_EVENTS=str(settings.checkpoint_every_events),
        SSJ_CREATE_TABLES="yes" if settings.create_tables else "no",
    )
    return env


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return base_settings(tmp_path, f"sqlite:///{tmp_path / 'data' / 'ssj.sqlite'}")


@contextmanager
def scratch_database() -> Iterator[DatabaseURL]:
    """A database of the test's own, dropped afterwards whatever happens."""
    require_postgres()
    admin = DatabaseURL.parse(PG_ADMIN_URL)
    name = f"ssj_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield replace(admin, dbname=name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def runtime_settings(tmp_path: Path, database: DatabaseURL) -> Settings:
    """Migrated as the administrator; the settings of the restricted runtime role."""
    from ssj.ledger.migrate import migrate

    admin = base_settings(tmp_path, database.redacted())
    migrate(admin, owner=OWNER_ROLE, runtime=RUNTIME_ROLE)
    runtime_url = replace(database, user=RUNTIME_ROLE, password="")
    return replace(admin, database=runtime_url, create_tables=False)


@pytest.fixture
def postgres_database() -> Iterator[DatabaseURL]:
    with scratch_database() as database:
        yield database


@pytest.fixture
def postgres_settings(tmp_path: Path, postgres_database: DatabaseURL) -> Settings:
    return runtime_settings(tmp_path, postgres_database)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest) -> Settings:
    """For tests written once and run on both backends."""
    return request.getfixturevalue(f"{request.param}_settings")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def module_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """`settings` shared by a module's tests, one ledger per backend: for a large world built
    once and only read by the tests that use it (a test that writes needs `settings`)."""
    tmp_path = tmp_path_factory.mktemp(f"module-{request.param}")
    if request.param == "sqlite":
        yield base_settings(tmp_path, f"sqlite:///{tmp_path / 'data' / 'ssj.sqlite'}")
        return
    with scratch_database() as database:
        yield runtime_settings(tmp_path, database)
