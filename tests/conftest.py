"""Fixtures shared by every storage test: one Settings per backend.

PostgreSQL tests get a fresh database (a clone of one this process migrated, dropped after) and
run as the restricted runtime role that `ssj db migrate` sets up. Without a server they skip with one line, except
under CI=true, where they fail.
"""

from __future__ import annotations

import gc
import os
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import hypothesis
import psycopg
import pytest

from ssj.config import DatabaseURL, Settings

pytest_plugins = ["tests.timing"]  # --cpu-durations=N: wall beside CPU time, per test

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

# `make test-fast` sets SSJ_TEST_TIER=fast: property tests run a fifth of their examples (at
# least 10; hypothesis's default 100 becomes 20). `make test` and CI=true run every example.
FAST_TIER = os.environ.get("SSJ_TEST_TIER") == "fast" and not IN_CI
hypothesis.settings.register_profile("fast", max_examples=20)
if FAST_TIER:
    hypothesis.settings.load_profile("fast")


def examples(full: int) -> int:
    """A property test's example count: `full` in the full suite, a fifth in the fast tier."""
    return max(10, full // 5) if FAST_TIER else full


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
def collector_on() -> Iterator[None]:
    """The cyclic collector on for the test, and left afterwards as it was before."""
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return base_settings(tmp_path, f"sqlite:///{tmp_path / 'data' / 'ssj.sqlite'}")


# What a database holds besides its rows: relations, columns, constraints, indexes, triggers,
# functions, schemas, privileges, sequence positions, settings. A reused database must match
# a fresh clone of the template here (object ids differ; names and definitions must not).
_CATALOG = r"""
SELECT coalesce(md5(string_agg(line, E'\n' ORDER BY line)), '') FROM (
  SELECT format('ns %s %s %s', nspname, nspowner::regrole, nspacl) AS line FROM pg_namespace
   WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'
  UNION ALL
  SELECT format('rel %s %s %s %s %s %s', c.oid::regclass, c.relkind, c.relowner::regrole,
                c.relacl, c.relrowsecurity, c.relpersistence)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
  UNION ALL
  SELECT format('col %s %s %s %s %s %s %s', a.attrelid::regclass, a.attnum, a.attname,
                format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attisdropped,
                pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema' AND a.attnum > 0
  UNION ALL
  SELECT format('con %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
    FROM pg_constraint WHERE connamespace NOT IN (SELECT oid FROM pg_namespace
         WHERE nspname LIKE 'pg\_%' OR nspname = 'information_schema')
  UNION ALL
  SELECT format('idx %s', pg_get_indexdef(indexrelid)) FROM pg_index
   WHERE indrelid::regclass::text NOT LIKE 'pg\_%'
     AND indrelid NOT IN (SELECT oid FROM pg_class WHERE relnamespace IN
         (SELECT oid FROM pg_namespace WHERE nspname LIKE 'pg\_%'
             OR nspname = 'information_schema'))
  UNION ALL
  SELECT format('trg %s %s', tgenabled, pg_get_triggerdef(oid)) FROM pg_trigger
   WHERE NOT tgisinternal
  UNION ALL
  SELECT format('fn %s %s %s %s', p.oid::regprocedure, p.proowner::regrole, p.proacl,
                md5(p.prosrc))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
  UNION ALL
  SELECT format('seq %s.%s %s', schemaname, sequencename, last_value) FROM pg_sequences
  UNION ALL
  SELECT format('pol %s', p) FROM pg_policies p
  UNION ALL
  SELECT format('rule %s', definition) FROM pg_rules
   WHERE schemaname NOT LIKE 'pg\_%' AND schemaname <> 'information_schema'
  UNION ALL
  SELECT format('acl %s', d) FROM pg_default_acl d
  UNION ALL
  SELECT format('ext %s %s', extname, extversion) FROM pg_extension
  UNION ALL
  SELECT format('set %s %s', setrole, setconfig) FROM pg_db_role_setting
   WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
  UNION ALL
  SELECT 'prepared ' || gid FROM pg_prepared_xacts WHERE database = current_database()
  UNION ALL
  SELECT 'lo ' || count(*) FROM pg_largeobject_metadata HAVING count(*) > 0
) AS catalog
"""


def create_database(conn: psycopg.Connection, name: str, template: str = "") -> None:
    """CREATE DATABASE, whose commits do not wait for their WAL to reach the disk
    (`synchronous_commit = off`; about 0.1 ms a commit here): a test's database need not
    survive a crash of the server, which no test causes (the replica test's cluster is its
    own). A clone does not inherit the setting, so each database gets it."""
    conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')


class ScratchDatabases:
    """Each test's own PostgreSQL database, as `ssj db migrate` and the runtime role's first
    start (which makes the read models' tables) leave a new one.

    Migrating takes a second and dropping a database makes the server checkpoint (seconds
    under load), per test. So this process migrates one template, starts ssj on it once, clones
    it (`CREATE DATABASE ... TEMPLATE`), and after a test renames and empties its database for
    the next one: every table the template has is emptied with DELETE and given back the rows
    the template holds (the schema version, the read models' versions), every sequence
    restarted, every schema it did not have (or had empty) dropped and made again. It is handed
    out again only if its catalog then matches the template's (_CATALOG); otherwise it is
    dropped, in the background. DELETE, not TRUNCATE, and read-model tables made once, not per
    test: TRUNCATE gives every table and index a new file, and making ~30 tables and their
    indexes was most of the server's work of a test's database (a database's use and reset,
    server CPU: 153 ms with both, 54 ms without; tests/services and tests/projections on
    PostgreSQL with -n 4: 58.4 and 56.8 s before, 50.0 and 49.6 s after).
    """

    def __init__(self) -> None:
        self._template: str | None = None
        self._catalog = ""
        self._tables: list[str] = []  # qualified, quoted: the template's tables
        self._sequences: list[str] = []  # qualified, quoted: the template's sequences
        self._schemas: set[str] = set()
        self._rows: dict[str, bytes] = {}
        self._empty_schemas: list[tuple[str, str]] = []  # (schema, owner) holding nothing
        self._free: list[str] = []
        self._dropper = ThreadPoolExecutor(1, thread_name_prefix="ssj-test-drop")
        self._drops: list[Future[None]] = []
        self.reused = self.cloned = 0

    @staticmethod
    def _connect(dbname: str = "") -> psycopg.Connection:
        if not dbname:
            return psycopg.connect(PG_ADMIN_URL, autocommit=True)
        admin = replace(DatabaseURL.parse(PG_ADMIN_URL), dbname=dbname)
        return psycopg.connect(admin.url(), autocommit=True)

    @staticmethod
    def _name() -> str:
        return f"ssj_test_{uuid.uuid4().hex[:12]}"

    def _make_template(self) -> str:
        from ssj.ledger.migrate import migrate

        name = self._name()
        with self._connect() as conn:
            create_database(conn, name)
        database = replace(DatabaseURL.parse(PG_ADMIN_URL), dbname=name)
        with tempfile.TemporaryDirectory(prefix="ssj-template-") as tmp:
            settings = base_settings(Path(tmp), database.redacted())
            migrate(settings, OWNER_ROLE, RUNTIME_ROLE)
            # The read models' tables too, as the runtime role's first start makes them: each
            # test's start then finds them (creating them per test was most of the server's
            # work of a test's database), and a reset empties them like the migration's.
            from ssj.services.context import Services

            Services(as_runtime(settings)).close()
        with self._connect() as conn:  # a template must have no other sessions
            conn.execute(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
        with self._connect(name) as conn:
            self._catalog = str(_one(conn, _CATALOG))
            self._tables = [
                str(r[0])
                for r in conn.execute(
                    "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                    "WHERE schemaname NOT LIKE 'pg\\_%' AND schemaname <> 'information_schema'"
                ).fetchall()
            ]
            self._sequences = [
                str(r[0])
                for r in conn.execute(
                    "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences"
                ).fetchall()
            ]
            self._rows = {}  # what the template holds (versions), put back on reuse
            for table in self._tables:
                with conn.cursor().copy(f"COPY {table} TO STDOUT") as copy:
                    self._rows[table] = b"".join(bytes(block) for block in copy)
            self._schemas = {
                str(r[0])
                for r in conn.execute(
                    "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                    "AND nspname <> 'information_schema'"
                ).fetchall()
            }
            self._empty_schemas = [
                (str(r[0]), str(r[1]))
                for r in conn.execute(
                    "SELECT nspname, nspowner::regrole::text FROM pg_namespace n "
                    "WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' "
                    "AND NOT EXISTS (SELECT 1 FROM pg_class WHERE relnamespace = n.oid) "
                    "AND NOT EXISTS (SELECT 1 FROM pg_proc WHERE pronamespace = n.oid) "
                    "AND nspacl IS NULL"
                ).fetchall()
            ]
        return name

    def _reset(self, used: str) -> str | None:
        """Empties a used database under a new name (a pool the test left open cannot
        reconnect into the next test's); the name, when it is again as the template made it."""
        name = self._name()
        with self._connect() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (used,),
            )
            conn.execute(f'ALTER DATABASE "{used}" RENAME TO "{name}"')
        try:
            with self._connect(name) as conn:
                found = {
                    str(r[0])
                    for r in conn.execute(
                        "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
                        "AND nspname <> 'information_schema'"
                    ).fetchall()
                }
                for schema in found - self._schemas:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
                for schema, owner in self._empty_schemas:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                    conn.execute(f'CREATE SCHEMA "{schema}" AUTHORIZATION "{owner}"')
                conn.execute(
                    "".join(f"DELETE FROM {table};" for table in self._tables)
                    + "".join(f"ALTER SEQUENCE {seq} RESTART;" for seq in self._sequences)
                )
                for table, rows in self._rows.items():
                    if rows:
                        with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                            copy.write(rows)
                if _one(conn, _CATALOG) == self._catalog:
                    return name
        except psycopg.Error:
            pass  # whatever the test left, a new clone replaces it
        self._drops.append(self._dropper.submit(self._drop, name))
        return None

    def _drop(self, name: str) -> None:
        try:
            with self._connect() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error as e:
            raise RuntimeError(f"{name}: {e}") from None

    def empty(self) -> str:
        name = self._name()
        with self._connect() as conn:
            create_database(conn, name)
        return name

    def template(self) -> str:
        """This process's migrated template (made on first use): what `migrated` clones, and
        what a database handed back to `release` is emptied to match."""
        if self._template is None:
            self._template = self._make_template()
        return self._template

    def fresh_name(self) -> str:
        """A name for a database the caller creates and then hands to `release`."""
        self.template()  # release empties a database for reuse only against the template
        return self._name()

    def migrated(self) -> str:
        if self._free:
            self.reused += 1
            return self._free.pop()
        template = self.template()
        name = self._name()
        with self._connect() as conn:
            create_database(conn, name, template)
        self.cloned += 1
        return name

    def release(self, name: str, reuse: bool) -> None:
        if reuse and self._template is not None:
            try:
                emptied = self._reset(name)
            except psycopg.Error:
                pass  # whatever the test left, a new clone replaces it
            else:
                if emptied is not None:
                    self._free.append(emptied)
                return
        self._drops.append(self._dropper.submit(self._drop, name))

    def close(self) -> None:
        """Drops the databases kept for reuse and the template; waits for every drop."""
        for name in self._free:
            self._drops.append(self._dropper.submit(self._drop, name))
        self._free.clear()
        if self._template is not None:
            self._drops.append(self._dropper.submit(self._drop, self._template))
            self._template = None
        self._dropper.shutdown(wait=True)
        left = [str(done.exception()) for done in self._drops if done.exception()]
        self._drops.clear()
        if left:  # reported, not hidden; the tests' own outcome stands
            print(f"\nPostgreSQL test databases not dropped: {len(left)}; first: {left[0]}")


def _one(conn: psycopg.Connection, query: str, params: tuple[object, ...] = ()) -> object:
    row = conn.execute(query, params or None).fetchone()
    assert row is not None
    return row[0]


SCRATCH = ScratchDatabases()


def pytest_sessionfinish(session: pytest.Session) -> None:
    SCRATCH.close()
    if not hasattr(session.config, "workerinput"):  # the controller: every worker is done
        from tests.worlds import drop_templates

        drop_templates(session.config._tmp_path_factory)  # type: ignore[attr-defined]
    if os.environ.get("SSJ_TEST_DATABASE_STATS"):
        print(f"\nPostgreSQL test databases: {SCRATCH.cloned} cloned, {SCRATCH.reused} reused")


@contextmanager
def scratch_database(migrated: bool = False) -> Iterator[DatabaseURL]:
    """A database of the test's own, dropped (or emptied for reuse) afterwards whatever
    happens; `migrated`: as `ssj db migrate` (roles OWNER_ROLE, RUNTIME_ROLE) leaves it."""
    require_postgres()
    name = SCRATCH.migrated() if migrated else SCRATCH.empty()
    try:
        yield replace(DatabaseURL.parse(PG_ADMIN_URL), dbname=name)
    finally:
        SCRATCH.release(name, reuse=migrated)


def runtime_settings(tmp_path: Path, database: DatabaseURL) -> Settings:
    """Migrated as the administrator; the settings of the restricted runtime role."""
    from ssj.ledger.migrate import migrate

    admin = base_settings(tmp_path, database.redacted())
    migrate(admin, owner=OWNER_ROLE, runtime=RUNTIME_ROLE)
    return as_runtime(admin)


def as_runtime(admin: Settings) -> Settings:
    """The settings of the restricted runtime role over the administrator's migrated database."""
    runtime_url = replace(admin.database, user=RUNTIME_ROLE, password="")
    return replace(admin, database=runtime_url, create_tables=False)


@pytest.fixture
def postgres_database() -> Iterator[DatabaseURL]:
    """The test's own database, migrated; the administrator's URL."""
    with scratch_database(migrated=True) as database:
        yield database


@pytest.fixture
def postgres_settings(tmp_path: Path, postgres_database: DatabaseURL) -> Settings:
    return as_runtime(base_settings(tmp_path, postgres_database.redacted()))


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
    with scratch_database(migrated=True) as database:
        yield as_runtime(base_settings(tmp_path, database.redacted()))
