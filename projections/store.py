"""Where read models live: a second SQLite file beside the ledger, or a `<schema>_views` schema in
the same PostgreSQL database. One small adapter so every projection runs on both.

SQL is written once with `?` placeholders and JSON in TEXT columns; the PostgreSQL adapter
rewrites placeholders, and makes text columns compare by their bytes as SQLite's do
(`BINARY_TEXT`). Projections are not ledger tables: they may update and delete freely.

Both are safe to share between threads: each transaction takes a PostgreSQL connection from the
process's pool (a connection broken mid-request is discarded there, and one that sat idle is
checked before use), and SQLite gives each thread its own connection (WAL: readers never block the
projection writer).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from ssj.config import DatabaseURL, Settings

if TYPE_CHECKING:
    import psycopg

POOL_MAX = 8  # read-model connections per process (requests wait for one beyond that)
POOL_TIMEOUT = 10.0  # seconds a request waits for a connection before failing
# A pooled connection taken less than this long ago is handed out without a check (a round trip
# on every checkout was a fifth of a command's statements); an older one is checked first.
CHECK_IDLE_SECONDS = 2.0
# A text column of a read model on PostgreSQL. SQLite compares text by its bytes (BINARY);
# PostgreSQL by the database's collation unless the column names one, so a cluster made with
# another locale (zh_CN, en_US, ICU) sorted pages of the registry in another order than SQLite,
# and a ledger's answers depended on the machine. "C" is byte order, as SQLite's, and the
# server then compares keys with memcmp, not strcoll: a rebuild of the bench ledger's read
# models took 1.5-1.9 fewer server CPU-seconds of ~15 (docs/operators/benchmarks.md).
BINARY_TEXT = 'TEXT COLLATE "C"'
_TEXT_TYPE = re.compile(r"\bTEXT\b")
logger = logging.getLogger(__name__)


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


class ViewStore:
    """A connection to the projections database, with transactions and dialect helpers."""

    is_postgres: bool = False
    # Whether runners of disjoint parts of the projections write at once (`exclusive` with
    # names): then a rebuild's second process writes the read models themselves (PostgreSQL),
    # else a scratch store at `apart_path` (SQLite: one writer at a time).
    side_by_side: bool = False

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        raise NotImplementedError

    def exclusive(self, c: Cursor, names: Sequence[str] | None = None) -> None:
        """Hold the writer lock of the projections `names` (None: of every projection) until
        `c`'s transaction ends (SQLite: BEGIN IMMEDIATE already holds the one lock of all), so
        runners in several processes never apply an event twice."""

    def upgrade(self, c: Cursor) -> None:
        """Bring tables an older ssj made here to the shape this one makes (a runner, as it
        starts: `projections.runner.Runner`). Nothing on SQLite."""

    def checkpoint(self) -> None:
        """Copy what the journal holds into the database now (SQLite's WAL; nothing on
        PostgreSQL), without waiting for readers: after a rebuild, so that the next batch's
        commit does not pay for it."""

    @property
    def apart_path(self) -> Path | None:
        """Where a rebuild's second process writes the read models it replays
        (`projections.runner.Runner.rebuild`, a `ScratchSQLiteViewStore`), or None where there is
        no such place: SQLite's in-memory database, and PostgreSQL (whose runtime role may not
        create a scratch schema, and where that process writes the read models themselves:
        `side_by_side`)."""
        return None

    def clear_apart(self) -> None:
        """Remove the scratch store at `apart_path`, if any is left (a rebuild that stopped)."""

    @contextmanager
    def joined_apart(self) -> Iterator[tuple[Cursor, str]]:
        """A transaction of this store that also sees the scratch store's tables, by the
        returned prefix (`take_apart` moves them in)."""
        raise NotImplementedError
        yield  # pragma: no cover

    def take_apart(self, c: Cursor, table: str) -> None:
        """Inside `joined_apart`: `table` (empty here) gets the scratch store's rows."""
        raise NotImplementedError

    def query(
        self, sql: str, params: Sequence[Any] = (), *, planned_with_values: bool = False
    ) -> list[tuple[Any, ...]]:
        """`planned_with_values`: PostgreSQL plans the statement for these values every time,
        never with a prepared statement's generic plan (SQLite plans every statement so)."""
        with self.transaction() as c:
            c.execute(sql, params)
            return [tuple(r) for r in c.fetchall()]

    def close(self) -> None:
        raise NotImplementedError


# The writer's page cache (KiB): a large batch's pages stay in memory until its commit instead of
# spilling to the WAL mid-transaction (the default is 2 MiB). Only the runner's connection.
WRITER_CACHE_KIB = 65_536
# The page size of a store made as a file, set before its first table (a file made before keeps
# its 4 KiB: SQLite changes it only by a VACUUM out of WAL mode). Rebuilding the projection
# benchmark's read models (293,000 events, SQLite, the rebuild's scratch store alike) took
# 11.4-12.3 s in a file made with 8 KiB pages against 13.5-14.3 with SQLite's 4 KiB (four pairs
# alternated, 2026-12-07): fewer pages to allocate, split and write to the WAL. Copies of one
# file made over with 8 and 16 KiB pages rebuilt alike, but one-event batches took 360 and 404
# µs with 16 KiB, whose pages each small commit writes whole to the WAL, against 312 and 347 with
# 4 KiB, and 281 and 300 with 8 KiB against 300 and 307. A point read costs about 2 µs more
# (9.6-10.9 against 7.9-8.4): docs/operators/benchmarks.md, projection catch-up.
FILE_PAGE_BYTES = 8192
# The writer checkpoints the WAL into the database once it holds this many pages (64 MiB of
# 8 KiB pages: as much as the writer's cache) instead of SQLite's 1,000: a large batch's commit
# then seldom waits for a checkpoint (two fsyncs and a copy of its pages), and the pages that
# successive batches rewrite (the indexes) are copied once per checkpoint, not once per batch.
# The WAL stays the journal: a crash at any point leaves the last committed batch, as before.
# Unlike the ledger's (`ssj.ledger.sqlite.WRITER_BACKSTOP_PAGES`), this WAL does start again from
# its beginning: the writer checkpoints it itself. After a start it grows to 64 MiB before its
# first rewind (about 450 one-event batches of target changes, ~140 KiB of WAL each); one-event
# catch-ups after a start took 702-804 µs at the median per 1,000 with this value against
# 691-758 with SQLite's 1,000 pages (3,000 each, two pairs alternated, 2026-12-08): no
# difference above the spread.
WRITER_CHECKPOINT_PAGES = WRITER_CACHE_KIB * 1024 // FILE_PAGE_BYTES


class SQLiteViewStore(ViewStore):
    """One connection per thread (`:memory:`: one, shared: it would be another database)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.shared = str(path) == ":memory:"
        if not self.shared:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self.conn = self._connect()

    # Set on each connection. synchronous=NORMAL: a read model can be rebuilt. secure_delete
    # off: freed pages and deleted cells are left as they are, not zeroed: a read model holds
    # nothing the ledger beside it does not (and the ledger erases nothing). SQLite built with
    # SQLITE_SECURE_DELETE (Debian's is) zeroed them: a rebuild's drops wrote every page of the
    # old tables once more (1.2 of 8 s rebuilding a 53,000-event ledger's read models).
    PRAGMAS: tuple[str, ...] = (
        f"page_size={FILE_PAGE_BYTES}",
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "secure_delete=OFF",
    )
    # In memory (a replay's scratch read models: `ssj draws verify --replay`, the draws of
    # `ssj audit verify`): SQLite's largest pages, set before the first table: a replay of the
    # audit bundle benchmark's 530,000 registry, plan and draw events took about 0.8 CPU-s less
    # of its 13-14 (2026-12-07), fewer pages to allocate and split as the rows go in.
    MEMORY_PRAGMAS: tuple[str, ...] = ("page_size=65536", "secure_delete=OFF")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        for pragma in self.MEMORY_PRAGMAS if self.shared else self.PRAGMAS:
            conn.execute(f"PRAGMA {pragma}")
        with self._guard:
            self._all.append(conn)
        self._local.conn = conn
        return conn

    def connection(self) -> sqlite3.Connection:
        if self.shared:
            return self.conn
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        return conn if conn is not None else self._connect()

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        conn = self.connection()
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    def exclusive(self, c: Cursor, names: Sequence[str] | None = None) -> None:
        """BEGIN IMMEDIATE holds the writer lock already; the writer's connection gets a larger
        page cache and checkpoints the WAL less often, once (no statement more per batch)."""
        if not getattr(self._local, "writer_cache", False):
            c.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
            c.execute(f"PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}")
            self._local.writer_cache = True

    def checkpoint(self) -> None:
        self.connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    @property
    def apart_path(self) -> Path | None:
        return None if self.shared else self.path.with_name(self.path.stem + "-apart.sqlite")

    def clear_apart(self) -> None:
        if self.apart_path is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.apart_path}{suffix}").unlink(missing_ok=True)

    @contextmanager
    def joined_apart(self) -> Iterator[tuple[Cursor, str]]:
        """ATTACH is refused inside a transaction: the scratch file is attached to this
        thread's connection before it begins, and detached after it ends."""
        conn = self.connection()
        conn.execute("ATTACH DATABASE ? AS apart", (str(self.apart_path),))
        try:
            with self.transaction() as c:
                yield c, "apart."
        finally:
            conn.execute("DETACH DATABASE apart")

    def take_apart(self, c: Cursor, table: str) -> None:
        """One INSERT … SELECT of the whole table: SQLite copies the records (and those of the
        indexes, when the scratch table has every index this one has) as they are, without
        decoding them."""
        c.execute(f"INSERT INTO main.{table} SELECT * FROM apart.{table}")

    def close(self) -> None:
        with self._guard:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()


class ScratchSQLiteViewStore(SQLiteViewStore):
    """The scratch file a rebuild's second process writes (`ViewStore.apart_path`): nothing
    in it counts until the read models' store has taken its tables in, in one transaction of
    its own after that process exited, so it keeps no journal and syncs nothing (a crash
    leaves a file the next rebuild removes)."""

    PRAGMAS = (
        f"page_size={FILE_PAGE_BYTES}",
        "journal_mode=OFF",
        "synchronous=OFF",
        "secure_delete=OFF",
    )


class PgCursor:
    """Accepts SQLite's dialect: `?` placeholders, and a `CREATE TABLE`'s TEXT columns are
    `BINARY_TEXT` (compared by their bytes, as SQLite's)."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self.cur = cur

    @staticmethod
    def sql(sql: str) -> str:
        if sql.startswith("CREATE TABLE"):
            sql = _TEXT_TYPE.sub(BINARY_TEXT, sql)
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.cur.execute(self.sql(sql), params)

    def execute_planned(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """`execute`, planned for the tables as they are now, never from a plan kept for the
        statement: psycopg prepares a statement run five times, and PostgreSQL then keeps one
        generic plan for it until the table is analysed or altered, however much the table has
        grown meanwhile (`_in_lists`)."""
        return self.cur.execute(self.sql(sql), params, prepare=False)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        return self.cur.executemany(self.sql(sql), rows)

    def fetchall(self) -> list[Any]:
        return self.cur.fetchall()

    def fetchone(self) -> Any:
        return self.cur.fetchone()


def insert_rows(
    c: Cursor, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Append many rows in one go: COPY on PostgreSQL, one executemany on SQLite."""
    if not rows:
        return
    names = ", ".join(columns)
    if isinstance(c, PgCursor):
        with c.cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" * len(columns))
    c.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)


# A text array passed to PostgreSQL as one JSON array (`_json_list`): psycopg dumps a Python
# list as an array in Python, ~2 µs of CPU an element (a 10,000-key batch's lookups 19 ms of
# this process, against 0.3 ms for orjson; measured 2026-12-05). As the value of an InitPlan,
# `= ANY(…)` of it keeps the index scan of a generic plan, as a parameter array does.
PG_TEXT_ARRAY = "ARRAY(SELECT json_array_elements_text(?::json))"
PG_IN_SELECT = "IN (SELECT json_array_elements_text(?::json))"
PG_ARRAY_MAX = 50  # keys `_in_lists` tests as an array; more as a subquery, planned each time


def _json_list(values: Sequence[Any]) -> str:
    return orjson.dumps(values if isinstance(values, list | tuple) else list(values)).decode()


def _in_lists(c: Cursor, sql: str, values: Sequence[Any], chunk: int) -> Iterator[list[Any]]:
    """Run `sql`, whose `{}` stands for a membership test after a column, for all `values`: on
    PostgreSQL in one statement of one JSON parameter (a statement of hundreds of placeholders
    costs psycopg more to parse than to run). Up to `PG_ARRAY_MAX` keys, `= ANY(…)` of a text
    array: unlike a semi-join it keeps an index scan in a generic plan on a table without
    statistics (the semi-join read a whole 20,000-row trail table twice a daemon batch). More
    keys, `IN (SELECT …)`, which the planner may hash: with an array of thousands it chose a
    sequential scan that tested every row against every key (96 ms a rebuild batch on a
    430-row trail_memos). The subquery is planned afresh each time (`PgCursor.execute_planned`):
    a plan kept from when the table was empty (a new read model, an import's first batches on
    a cluster that had not analysed it yet) parsed the keys again for every row it scanned,
    which grew with the table without bound: the bench's import of 500,000 targets into a new
    database took over a minute a 1,000-row batch once the table held 490,000 rows (issue #13,
    2026-12-05). On SQLite `IN (?, …)` in chunks of placeholders, each key in one
    chunk only (a key asked twice in two chunks would give its rows twice, where one
    statement gives them once). Text values, as every key of the read models."""
    if not values:
        return
    if isinstance(c, PgCursor):
        if len(values) <= PG_ARRAY_MAX:
            c.execute(sql.format(f"= ANY({PG_TEXT_ARRAY})"), [_json_list(values)])
        else:
            c.execute_planned(sql.format(PG_IN_SELECT), [_json_list(values)])
        yield c.fetchall() if c.cur.description is not None else []
        return
    if len(values) > chunk:
        values = list(dict.fromkeys(values))
    for start in range(0, len(values), chunk):
        part = values[start : start + chunk]
        c.execute(sql.format("IN (" + ", ".join("?" * len(part)) + ")"), part)
        yield c.fetchall()


def select_in(c: Cursor, sql: str, values: Sequence[Any], chunk: int = 500) -> list[Any]:
    """The rows of `sql`, whose `{}` stands for a membership test after a column (`WHERE id
    {}`), for all `values` (a batch's keys in one statement or a few, not one each)."""
    return [row for rows in _in_lists(c, sql, values, chunk) for row in rows]


def execute_in(c: Cursor, sql: str, values: Sequence[Any], chunk: int = 500) -> None:
    """`sql`, an UPDATE or DELETE whose `{}` stands for a membership test, for all `values`."""
    for _ in _in_lists(c, sql, values, chunk):
        pass


def select_in_pairs(
    c: Cursor, sql: str, pairs: Sequence[tuple[Any, Any]], chunk: int = 400
) -> list[Any]:
    """The rows of `sql`, whose `{}` stands for a table of `pairs` with columns column1 and
    column2 (to join on: SQLite looks a row-value IN list up by scanning), for all `pairs`: on
    PostgreSQL one statement of two text arrays, planned each time (`_in_lists`: a join kept
    from a small table took 7x the time of a fresh plan on 100,000 rows), on SQLite chunked
    `VALUES`."""
    if not pairs:
        return []
    if isinstance(c, PgCursor):
        firsts, seconds = [p[0] for p in pairs], [p[1] for p in pairs]
        table = f"(SELECT * FROM unnest({PG_TEXT_ARRAY}, {PG_TEXT_ARRAY}) AS u (column1, column2))"
        c.execute_planned(sql.format(table), [_json_list(firsts), _json_list(seconds)])
        return c.fetchall()
    rows: list[Any] = []
    for start in range(0, len(pairs), chunk):
        part = pairs[start : start + chunk]
        values = "(VALUES " + ", ".join("(?, ?)" for _ in part) + ")"
        c.execute(sql.format(values), [v for p in part for v in p])
        rows += c.fetchall()
    return rows


def upsert_rows(
    c: Cursor,
    table: str,
    keys: Sequence[str],
    values: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    kept: Sequence[str] = (),
) -> None:
    """Insert or replace many rows by their primary key `keys` in one statement on PostgreSQL
    (TEXT columns; the rows passed as one JSON array of arrays: orjson writes it in a fraction
    of the time psycopg takes to quote text arrays, a third of a trail batch's client CPU), one
    executemany on SQLite. A column of `kept` keeps its stored value where the new one is
    NULL."""
    if not rows:
        return
    columns = (*keys, *values)
    names = ", ".join(columns)
    update = ", ".join(
        f"{v} = COALESCE(excluded.{v}, {table}.{v})" if v in kept else f"{v} = excluded.{v}"
        for v in values
    )
    conflict = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {update}"
    if isinstance(c, PgCursor):
        picks = ", ".join(f"r ->> {i}" for i in range(len(columns)))
        c.execute(
            f"INSERT INTO {table} ({names}) SELECT {picks} "
            f"FROM json_array_elements(?::json) AS r {conflict}",
            [orjson.dumps(rows).decode()],
        )
        return
    marks = ", ".join("?" * len(columns))
    c.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks}) {conflict}", rows)


class PostgresViewStore(ViewStore):
    """A pool of connections to the `<schema>_views` schema (of a replica, for `read_only`)."""

    is_postgres = True
    side_by_side = True

    def __init__(
        self, db: DatabaseURL, *, read_only: bool = False, pool_max: int = POOL_MAX
    ) -> None:
        # psycopg and its pool are imported here, not at the top: a process on SQLite never
        # loads them (about 0.2 CPU-s of every `ssj` start).
        import psycopg
        from psycopg_pool import ConnectionPool

        from ssj.ledger.migrate import connect

        self.db = db
        self.schema = f"{db.schema}_views"
        if not read_only:
            with connect(db) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
                ).fetchone()
                if not exists:  # `ssj db migrate` creates it for the runtime role in production
                    conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        schema = self.schema

        def configure(conn: psycopg.Connection[Any]) -> None:
            conn.autocommit = True
            conn.execute(f'SET search_path TO "{schema}"')

        taken: weakref.WeakKeyDictionary[psycopg.Connection[Any], float] = (
            weakref.WeakKeyDictionary()
        )

        def check(conn: psycopg.Connection[Any]) -> None:
            """A backend terminated while the connection sat idle is replaced before use; one
            taken moments ago is not checked (it broke mid-request at worst: a clean 503, and
            the pool discards it when it comes back). Timed from when it was last taken, not
            returned: never less than its idle time, so never fewer checks; and no `reset`
            callback, which made the pool hand every returned connection to its worker
            thread (~6 % of an API worker's samples under the write mix)."""
            now = time.monotonic()
            if now - taken.get(conn, 0.0) >= CHECK_IDLE_SECONDS:
                ConnectionPool.check_connection(conn)
            taken[conn] = now

        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            kwargs={
                "host": db.host,
                "port": db.port,
                "user": db.user,
                "password": db.password or None,
                "dbname": db.dbname,
                "connect_timeout": 5,
            },
            min_size=1,
            max_size=pool_max,
            timeout=POOL_TIMEOUT,
            configure=configure,
            check=check,
            name=f"views-{db.dbname}",
            open=False,
        )
        try:
            self.pool.open(wait=True, timeout=POOL_TIMEOUT)
        except psycopg.Error as e:
            self.pool.close()
            raise_unreachable(db, e)

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield PgCursor(cur)

    def query(
        self, sql: str, params: Sequence[Any] = (), *, planned_with_values: bool = False
    ) -> list[tuple[Any, ...]]:
        """One statement on an autocommit connection: atomic by itself, so no BEGIN and COMMIT
        round trips around it. psycopg prepares a statement run often; PostgreSQL may then use
        a generic plan, which guesses a third of the rows for `to_seq > ?` whatever the value:
        `planned_with_values` keeps it unprepared, planned for its values."""
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(PgCursor.sql(sql), params, prepare=False if planned_with_values else None)
            return [tuple(r) for r in cur.fetchall()]

    def upgrade(self, c: Cursor) -> None:
        """Text columns that an older ssj made with the cluster's collation become
        `BINARY_TEXT`: their rows stay, their indexes are made again. Found without a lock
        (one catalog query: nothing to do, nothing held), then again under the schema's lock,
        so that of several runners starting at once one alters them and the others find
        nothing left."""
        if not self._text_to_recollate(c):
            return
        self.exclusive(c)
        for table, names in self._text_to_recollate(c).items():
            logger.info("read model %s: text compared by bytes from now on (%s)", table, names)
            altered = ", ".join(f'ALTER COLUMN "{name}" TYPE {BINARY_TEXT}' for name in names)
            c.execute(f'ALTER TABLE "{table}" {altered}')

    @staticmethod
    def _text_to_recollate(c: Cursor) -> dict[str, list[str]]:
        """The text columns of this role's tables here not compared by bytes, by table."""
        c.execute(
            "SELECT c.relname, a.attname FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid "
            "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' "
            "AND c.relowner = current_user::regrole AND a.attnum > 0 AND NOT a.attisdropped "
            "AND a.atttypid = 'text'::regtype AND a.attcollation <> '\"C\"'::regcollation "
            "ORDER BY c.relname, a.attnum"
        )
        columns: dict[str, list[str]] = {}
        for table, column in c.fetchall():
            columns.setdefault(str(table), []).append(str(column))
        return columns

    def exclusive(self, c: Cursor, names: Sequence[str] | None = None) -> None:
        """Every projection's: the schema's transaction lock, as every runner took it before
        there were parts. A part's (`names`: a rebuild's two processes): the schema's lock
        shared, then one lock per projection, taken in name order (PostgreSQL evaluates a
        volatile output expression after ORDER BY): parts of disjoint projections write at
        once, two sharing one wait for each other without deadlock, and a runner of every
        projection waits for all of them, as they wait for it. (Every projection's costs one
        lock; the part's statement ~40 µs more a transaction.)"""
        if names is None:
            c.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")
            return
        c.execute(
            "WITH schema_lock AS MATERIALIZED ("
            "SELECT pg_advisory_xact_lock_shared(hashtext(current_schema()))) "
            "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '/' || name)) "
            f"FROM schema_lock, unnest({PG_TEXT_ARRAY}) AS name ORDER BY name",
            [_json_list(names)],
        )

    def close(self) -> None:
        self.pool.close()


def raise_unreachable(db: DatabaseURL, error: Exception) -> None:
    from ssj.errors import ConfigurationError

    raise ConfigurationError(
        f"无法连接数据库 {db.redacted()}：{error}", f"cannot connect to {db.redacted()}: {error}"
    ) from None


def open_view_store(settings: Settings) -> ViewStore:
    if settings.database.is_postgres:
        return PostgresViewStore(settings.database)
    ledger_file = Path(settings.database.path)
    return SQLiteViewStore(ledger_file.with_name(ledger_file.stem + "-views.sqlite"))
