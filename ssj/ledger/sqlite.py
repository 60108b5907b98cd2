"""The chained SQLite recorder: the embedded default.

eventsourcing runs `_insert_events` inside SQLite's write transaction, so the events, their
envelopes and Merkle nodes commit or roll back together. The first statement is the events
INSERT, which takes SQLite's write lock before we read the head (or learn from SQLite's
`data_version` that no other connection has written since our last commit, so the head is the
one we committed: `Committed`): no other writer can interleave.
The hook is private because the library has no public one inside its write transaction; the
pinned version's hooks are checked by tests/ledger/test_eventsourcing_hooks.py, and what the
ledger asks of this recorder is `ssj.ledger.contract.ChainedRecorder`. Its connections come
from `LedgerSQLitePool` (the library's, with a statement cache, and one connection kept aside
for appends, whose WAL a thread of its own checkpoints: `WalCheckpointer`), through
`LedgerSQLiteFactory`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ConnectionPoolClosedError, InterfaceError, StoredEvent
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
    SQLiteTransaction,
)
from eventsourcing.utils import Environment, EnvType

from ssj.errors import SchemaError
from ssj.ledger.chain import Head
from ssj.ledger.keyring import KEYRING_ID
from ssj.ledger.recorder import (
    SCHEMA_VERSION,
    ChainedRecorderMixin,
    check_schema_version,
    known_first,
)

ENVELOPES = "ssj_envelopes"
NODES = "ssj_merkle_nodes"
META = "ssj_meta"
# Prepared statements each connection keeps. eventsourcing opens its connections with
# `cached_statements=True`, which Python reads as a cache of one: an append's four statements
# (events, head, envelopes, nodes) were compiled again on every commit, the three-part head
# query alone ~30 µs (measured 2026-12-05: a 1-event append 430 -> 350 µs wall).
STATEMENT_CACHE = 64
# Appends between two checkpoints of the WAL by `WalCheckpointer`, counted as commits plus
# events: about every 250 one-event commits (~4 pages each) or 5 batches of 100 events, near
# SQLite's own default of a checkpoint per 1,000 pages.
CHECKPOINT_WORK = 500
# The appends' connection checkpoints itself past this many pages of WAL (about twice what the
# checkpointer is nudged after): the few pages appended since the thread's last pass, or all of
# them where the thread is gone (a forked process) or falls behind. This is also what lets the
# WAL start again from its beginning: SQLite rewinds it only when an append begins with every
# frame copied, which a thread copying beside a steady writer never sees. At 16,384 pages the
# WAL grew to 64 MiB after each start, every commit extending the file: the 1,001st to 4,000th
# one-event appends after a start took 569 us at the median (system CPU 148 us a commit), the
# next 4,000 315 (69 us); at 2,000 pages 345 and 313 (66 and 70 us); plain eventsourcing 269
# and 302 (2026-12-07, medians of 12, 8 and 12 runs alternated).
WRITER_BACKSTOP_PAGES = 2_000
logger = logging.getLogger(__name__)


class WalCheckpointer:
    """Copies the WAL into the database file from a thread and connection of its own, so that
    no append waits for it.

    SQLite's default has the commit that fills the WAL past 1,000 pages checkpoint it: copy
    those pages to the database file and sync it, some milliseconds on that one commit. A
    1-event append's wall time, alternated on the benchmark's ledger (15 rounds of 1,000,
    2026-12-07), medians 339-361 against 393-483 us; plain eventsourcing's 321-359. A PASSIVE
    checkpoint copies what readers no longer need and waits for nobody, as the default does;
    the commits themselves still sync the WAL (synchronous=FULL)."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect  # the pool's own way to open a connection
        self._due = threading.Event()
        self._closing = False
        self._work = 0
        self._thread: threading.Thread | None = None

    def wrote(self, events: int) -> None:
        """Told after each commit of appends (one at a time: under the writer lock)."""
        self._work += 1 + events
        if self._work < CHECKPOINT_WORK or self._closing:
            return
        self._work = 0
        if self._thread is None or not self._thread.is_alive():  # first, or after a fork
            self._thread = threading.Thread(
                target=self._run, name="ledger-wal-checkpoint", daemon=True
            )
            self._thread.start()
        self._due.set()

    def _run(self) -> None:
        try:
            c = self._connect()
        except (InterfaceError, sqlite3.Error):
            logger.exception("the ledger's WAL checkpointer could not open the database")
            return
        try:
            while True:
                self._due.wait()
                self._due.clear()
                if self._closing:
                    return
                try:
                    c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:  # the next nudge tries again; the backstop meanwhile
                    logger.warning("ledger WAL checkpoint failed", exc_info=True)
        finally:
            c.close()

    def close(self) -> None:
        self._closing = True
        self._due.set()
        if self._thread is not None:
            self._thread.join()


class LedgerSQLitePool(SQLiteConnectionPool):
    """eventsourcing's pool, its connections keeping `STATEMENT_CACHE` prepared statements, and
    one connection kept aside for the ledger's appends (`writer`).

    Taking a connection from the library's pool and giving it back (semaphore, writer lock,
    queue) and its three nested context managers cost ~24 us a transaction against ~4 for a
    BEGIN and a rollback on a connection at hand (measured 2026-12-06): a 1-event append pays
    that on every commit. Appends are one at a time anyway (SQLite's write lock; in a process,
    the ledger's group commit), so they share one connection under `writer_lock`. Reads keep
    using the pool. An in-memory database has no second connection to it: there the library's
    own path is used."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.writer_lock = threading.Lock()
        self._writer: SQLiteConnection | None = None
        self.checkpointer = WalCheckpointer(self._connect)

    def writer(self) -> SQLiteConnection:
        """The appends' connection (hold `writer_lock`), opened on first use; it leaves the
        WAL's checkpoints to `checkpointer` up to `WRITER_BACKSTOP_PAGES`, then finishes them."""
        if self.closed:
            raise ConnectionPoolClosedError
        if self._writer is None:
            c = self._connect()
            c.execute(f"PRAGMA wal_autocheckpoint = {WRITER_BACKSTOP_PAGES}")
            self._writer = SQLiteConnection(sqlite_conn=c, max_age=self.max_age)
        return self._writer

    def close(self) -> None:
        self.checkpointer.close()
        with self.writer_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            super().close()

    def _create_connection(self) -> SQLiteConnection:
        return SQLiteConnection(sqlite_conn=self._connect(), max_age=self.max_age)

    def _connect(self) -> sqlite3.Connection:
        try:
            c = sqlite3.connect(
                database=self.db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # autocommit: the library begins its own transactions
                cached_statements=STATEMENT_CACHE,
                timeout=self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT,
            )
        except (sqlite3.Error, TypeError) as e:
            raise InterfaceError(e) from e
        if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:
            if c.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                c.execute("PRAGMA journal_mode=WAL")
                self.journal_mode_was_changed_to_wal = True
            self.is_journal_mode_wal = True
        c.row_factory = sqlite3.Row  # the library reads its rows by column name
        return c


class LedgerSQLiteFactory(SQLiteFactory):
    """eventsourcing's SQLite factory with `LedgerSQLitePool` (the ledger's PERSISTENCE_MODULE)."""

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        pool = self.datastore.pool
        self.datastore.pool = LedgerSQLitePool(
            db_name=pool.db_name,
            lock_timeout=pool.lock_timeout,
            pool_size=pool.pool_size,
            max_overflow=pool.max_overflow,
            pool_timeout=pool.pool_timeout,
            max_age=pool.max_age,
            pre_ping=pool.pre_ping,
        )


@dataclass(frozen=True)
class Committed:
    """The head an append committed on the appends' connection, with the key ring's version
    and SQLite's `data_version` as that transaction saw them. SQLite changes a connection's
    `data_version` whenever another connection commits; while it is unchanged on the same
    connection, that head is still the log's, and the next append skips the head query and
    the envelope hash it needs (about 4-5 us of CPU of a 1-event commit's ~150, alternated
    2026-12-06). A key ring change of its own is not seen by `data_version`: such a batch
    leaves none."""

    connection: sqlite3.Connection
    data_version: int
    keyring_version: int | None
    head: Head


class ChainedSQLiteRecorder(ChainedRecorderMixin, SQLiteApplicationRecorder):
    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)
        self.init_chain()
        # Read and set holding the pool's `writer_lock`, `_committed` right after the commit:
        # the next append (another thread's, perhaps) never sees a head older than the log's.
        self._committed: Committed | None = None
        self._drafted: Committed | None = None  # the transaction in progress's, if it commits
        self.sql_head = (
            f"SELECT (SELECT seq FROM {ENVELOPES} ORDER BY seq DESC LIMIT 1), "
            f"(SELECT envelope FROM {ENVELOPES} ORDER BY seq DESC LIMIT 1), "
            f"(SELECT MAX(originator_version) FROM {self.events_table_name} "
            "WHERE originator_id = ?)"
        )

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {ENVELOPES} (seq INTEGER PRIMARY KEY, "
            "notification_id INTEGER NOT NULL, envelope BLOB NOT NULL, "
            "signature BLOB NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {NODES} (level INTEGER NOT NULL, idx INTEGER NOT NULL, "
            "hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {META} (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            f"INSERT OR IGNORE INTO {META} (key, value) VALUES "
            f"('schema_version', '{SCHEMA_VERSION}')",
        ]

    def check_schema(self) -> None:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (META,))
            if c.fetchone() is None:
                raise SchemaError(
                    "数据库未初始化（缺少 ssj 表）", "database is not initialised (no ssj tables)"
                )
            c.execute(f"SELECT value FROM {META} WHERE key = 'schema_version'")
            row = c.fetchone()
        found = int(row[0]) if row else 0
        check_schema_version(found)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self._before_insert(stored_events, kwargs)
        pool = self.datastore.pool
        try:
            if isinstance(pool, LedgerSQLitePool) and not pool.is_sqlite_memory_mode:
                # The library's transaction (BEGIN, its errors translated, commit or rollback)
                # on the appends' connection.
                with pool.writer_lock:
                    self._committed, known = None, self._committed
                    with SQLiteTransaction(pool.writer(), commit=True) as c, c:
                        ids = self._insert_events(c, stored_events, known, **kwargs)
                    self._committed = self._drafted
                    pool.checkpointer.wrote(len(stored_events))
            else:
                ids = super().insert_events(stored_events, **kwargs)
        except BaseException:
            self._discard()
            raise
        self._after_commit()
        return ids

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        known: Committed | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        """`known`: what this recorder's last append committed on this connection, if it
        was the last thing it did there (the library's own path passes none)."""
        self._drafted = None
        ids = super()._insert_events(c, stored_events, **kwargs)
        if not stored_events:
            return ids
        assert ids is not None
        c.execute("PRAGMA data_version")
        (version,) = c.fetchone()
        connection = c.sqlite_cursor.connection
        if known is not None and known.connection is connection and known.data_version == version:
            last, keyring_version, head = None, known.keyring_version, known.head
        else:
            c.execute(self.sql_head, (KEYRING_ID.hex,))
            seq, envelope, keyring_version = c.fetchone()
            last, head = (None if seq is None else (seq, bytes(envelope))), None
        d = self._under_lock(
            last,
            keyring_version,
            stored_events,
            kwargs,
            lambda coords: self._select_nodes(c, coords),
            lambda lo, hi: self._select_envelope_bytes(c, lo, hi),
            lambda: self._select_events_in(c, KEYRING_ID),
            known=head,
        )
        if all(s.originator_id != KEYRING_ID for s in stored_events):
            self._drafted = Committed(connection, version, keyring_version, d.end)
        c.executemany(
            f"INSERT INTO {ENVELOPES} (seq, notification_id, envelope, signature) "
            "VALUES (?, ?, ?, ?)",
            zip(range(d.start.size, d.end.size), ids, d.envelopes, d.each_signature(), strict=True),
        )
        if d.nodes:
            c.executemany(f"INSERT INTO {NODES} (level, idx, hash) VALUES (?, ?, ?)", d.nodes)
        return ids

    # Reading -------------------------------------------------------------------------------

    @staticmethod
    def _select_nodes(
        c: SQLiteCursor, coords: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], bytes]:
        found: dict[tuple[int, int], bytes] = {}
        for start in range(0, len(coords), 200):
            part = coords[start : start + 200]
            where = " OR ".join("(level = ? AND idx = ?)" for _ in part)
            c.execute(
                f"SELECT level, idx, hash FROM {NODES} WHERE {where}",
                [x for coord in part for x in coord],
            )
            for level, idx, h in c.fetchall():
                found[(level, idx)] = bytes(h)
        return found

    def _select_events_in(self, c: SQLiteCursor, originator_id: UUID) -> list[StoredEvent]:
        c.execute(
            f"SELECT originator_id, originator_version, topic, state FROM {self.events_table_name} "
            "WHERE originator_id = ? ORDER BY originator_version",
            (originator_id.hex,),
        )
        return [StoredEvent(originator_id, r[1], r[2], bytes(r[3])) for r in c.fetchall()]

    @staticmethod
    def _select_envelope_bytes(c: SQLiteCursor, lo: int, hi: int) -> list[bytes]:
        c.execute(
            f"SELECT envelope FROM {ENVELOPES} WHERE seq >= ? AND seq < ? ORDER BY seq", (lo, hi)
        )
        return [bytes(r[0]) for r in c.fetchall()]

    def node_hashes(
        self, coords: Sequence[tuple[int, int]], leaves: Mapping[int, bytes] | None = None
    ) -> dict[tuple[int, int], bytes]:
        """Complete-subtree hashes for proofs, from one read transaction (envelopes in
        `leaves` are not read again)."""
        with self.datastore.transaction(commit=False) as c:
            return self._resolve_nodes(
                coords,
                lambda cs: self._select_nodes(c, cs),
                known_first(lambda lo, hi: self._select_envelope_bytes(c, lo, hi), leaves),
                self.suite,
            )

    def ledger_size(self) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT seq FROM {ENVELOPES} ORDER BY seq DESC LIMIT 1")
            row = c.fetchone()
        return 0 if row is None else int(row[0]) + 1

    def _envelope_rows(self, columns: str, start: int, limit: int, stop: int | None) -> list[Any]:
        sql = f"SELECT {columns} FROM {ENVELOPES} WHERE seq >= ?"
        params: list[int] = [start]
        if stop is not None:
            sql += " AND seq < ?"
            params.append(stop)
        sql += " ORDER BY seq LIMIT ?"
        params.append(limit)
        with self.datastore.transaction(commit=False) as c:
            c.sqlite_cursor.row_factory = None  # tuples, not the library's `sqlite3.Row`s
            c.execute(sql, params)
            rows: list[Any] = c.fetchall()  # BLOBs come as bytes
            return rows

    def select_event_rows(
        self, start: int, limit: int, stop: int | None = None
    ) -> list[tuple[int, str, int, str, bytes]]:
        """(notification id, originator id as canonical UUID text, version, topic, state) from
        notification id `start` (to `stop`, inclusive): what the verifier compares, as plain
        values (the UUID text is spelled out by SQLite, not parsed into objects)."""
        sql = (
            "SELECT rowid, substr(originator_id, 1, 8) || '-' || substr(originator_id, 9, 4) "
            "|| '-' || substr(originator_id, 13, 4) || '-' || substr(originator_id, 17, 4) "
            "|| '-' || substr(originator_id, 21), originator_version, topic, state "
            f"FROM {self.events_table_name} WHERE rowid >= ?"
        )
        params: list[int] = [start]
        if stop is not None:
            sql += " AND rowid <= ?"
            params.append(stop)
        sql += " ORDER BY rowid LIMIT ?"
        params.append(limit)
        with self.datastore.transaction(commit=False) as c:
            c.sqlite_cursor.row_factory = None  # tuples, as the contract says
            c.execute(sql, params)
            return c.fetchall()  # type: ignore[no-any-return]

    def select_seqs(self, originator_id: UUID) -> list[tuple[int, int]]:
        """(originator_version, seq) of every event of one aggregate: where it sits in the log."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT s.originator_version, e.seq FROM {self.events_table_name} s "
                f"JOIN {ENVELOPES} e ON e.notification_id = s.rowid "
                "WHERE s.originator_id = ? ORDER BY s.originator_version",
                (originator_id.hex,),
            )
            return [(r[0], r[1]) for r in c.fetchall()]
