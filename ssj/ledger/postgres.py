"""The chained PostgreSQL recorder: production.

The library serialises writers with `LOCK TABLE ... IN EXCLUSIVE MODE` inside the insert
transaction; `_fetch_ids_after_insert_events` is the first hook that runs after that lock, so the
head read there is the true head. The head query is queued in the same pipeline as the lock and
the insert, so a chained append costs no more round trips than a plain one. Both hooks are
private because the library has no public one inside its insert transaction; the pinned version's
hooks are checked by tests/ledger/test_eventsourcing_hooks.py, and what the ledger asks of this
recorder is `ssj.ledger.contract.ChainedRecorder`.

The statements a command runs are composed once, as bytes (`_text`): psycopg renders a
`Composed` statement again at every execution (about 7 us, and as much to compose it), several
times per command.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Composed, Identifier, Literal

from ssj.errors import SchemaError
from ssj.ledger.keyring import KEYRING_ID
from ssj.ledger.recorder import (
    SCHEMA_VERSION,
    AbortTransaction,
    ChainedRecorderMixin,
    check_schema_version,
    known_first,
)

ENVELOPES = "ssj_envelopes"
NODES = "ssj_merkle_nodes"
META = "ssj_meta"
TAIL = 256  # envelopes of other writers read with the head, at most (else nodes are read)
NO_TAIL = 2**62  # a tail start no ledger reaches: this process has not appended yet

# The library's `insert_events` without its retry decorator (`functools.wraps` keeps it).
_LIBRARY_INSERT = PostgresApplicationRecorder.insert_events.__wrapped__


def _text(statement: Composed) -> bytes:
    """A statement as the bytes psycopg would send (identifiers quoted as on any connection)."""
    return statement.as_bytes(None)


@dataclass(frozen=True)
class _Insert:
    """One table's INSERT of a batch's rows as arrays, in binary format (%b: the text format
    escapes every byte of every bytea array element with a regular expression, which cost a
    batch writer about half its time in issue #11's import benchmark), and of a single row as
    plain VALUES (less than half the cost of one-element arrays, building, sending and unnesting
    them, in the client and the server: the 1-event commits of ops.bench.ledger). The values
    stored are the same either way."""

    many: bytes
    one: bytes

    @classmethod
    def of(
        cls, table: Composed, columns: Sequence[str], types: Sequence[str], returning: str = ""
    ) -> _Insert:
        head = SQL("INSERT INTO {} ({}) ").format(table, SQL(", ").join(map(Identifier, columns)))
        arrays = ", ".join(f"%b::{t}[]" for t in types)
        values = ", ".join(f"%b::{t}" for t in types)
        tail = f" {returning}" if returning else ""
        return cls(
            _text(head + SQL(f"SELECT * FROM unnest({arrays}){tail}")),
            _text(head + SQL(f"VALUES ({values}){tail}")),
        )

    def execute(self, curs: Cursor[DictRow], columns: Sequence[list[Any]]) -> None:
        """Insert the rows whose columns these are (one list per column, rows in order)."""
        if len(columns[0]) == 1:
            curs.execute(self.one, [column[0] for column in columns], prepare=True)
        else:
            curs.execute(self.many, columns, prepare=True)


class ChainedPostgresRecorder(ChainedRecorderMixin, PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        self.init_chain()
        schema = Identifier(self.datastore.schema)
        self.t_envelopes = SQL("{}.{}").format(schema, Identifier(ENVELOPES))
        self.t_nodes = SQL("{}.{}").format(schema, Identifier(NODES))
        self.t_meta = SQL("{}.{}").format(schema, Identifier(META))
        self.t_events = SQL("{}.{}").format(schema, Identifier(self.events_table_name))
        self.sql_create_statements.extend(self.ssj_create_statements())
        # LOCK TABLE ... IN EXCLUSIVE MODE needs UPDATE, DELETE or TRUNCATE privilege on
        # PostgreSQL 15, which the runtime role must not have. A transaction-level advisory lock
        # needs no privilege and serialises our writers just the same: the head read and the
        # notification ids still happen after it, and it is held until commit.
        lock_key = int.from_bytes(
            hashlib.sha256(
                f"ssj:{self.datastore.schema}.{self.events_table_name}".encode()
            ).digest()[:8],
            "big",
            signed=True,
        )
        self.lock_table_statements = [
            _text(SQL("SET LOCAL lock_timeout = '{0}s'").format(self.datastore.lock_timeout)),
            _text(SQL("SELECT pg_advisory_xact_lock({0})").format(lock_key)),
        ]
        # An append's SET LOCAL lock_timeout, lock and NOTIFY (the library's three statements)
        # as one: two statements fewer per append. The FROM subquery sets the timeout before
        # the lock is asked for (a subquery with a volatile function is scanned, never pulled
        # up), and the notification is delivered on commit wherever the transaction asks for it.
        self.sql_lock_and_notify = _text(
            SQL(
                "SELECT pg_advisory_xact_lock({key}), pg_notify({channel}, '') "
                "FROM (SELECT set_config('lock_timeout', {timeout}, true)) AS timeout"
            ).format(
                key=lock_key,
                channel=Literal(self.channel_name),
                timeout=Literal(f"{self.datastore.lock_timeout}s"),
            )
        )
        # The newest envelope, the key ring's version, and the envelopes other processes
        # appended after this one's last append (at most TAIL of them): with those the head is
        # advanced in memory, without reading Merkle nodes while the lock is held.
        self.sql_head = _text(
            SQL(
                "SELECT h.seq, h.envelope, "
                "(SELECT MAX(originator_version) FROM {events} WHERE originator_id = %s) AS kv, "
                "(SELECT array_agg(t.envelope ORDER BY t.seq) FROM {env} t "
                "WHERE t.seq >= %s AND t.seq < h.seq AND t.seq >= h.seq - {tail}) AS tail "
                "FROM (SELECT 1) AS one LEFT JOIN "
                "(SELECT seq, envelope FROM {env} ORDER BY seq DESC LIMIT 1) AS h ON true"
            ).format(events=self.t_events, env=self.t_envelopes, tail=TAIL)
        )
        self.insert_event_rows = _Insert.of(
            self.t_events,
            ("originator_id", "originator_version", "topic", "state"),
            (self.datastore.originator_id_type, "bigint", "text", "bytea"),
            "RETURNING notification_id",
        )
        self.insert_envelope_rows = _Insert.of(
            self.t_envelopes,
            ("seq", "notification_id", "envelope", "signature"),
            ("bigint", "bigint", "bytea", "bytea"),
        )
        self.insert_node_rows = _Insert.of(
            self.t_nodes, ("level", "idx", "hash"), ("smallint", "bigint", "bytea")
        )
        self.sql_size = _text(SQL("SELECT max(seq) AS m FROM {}").format(self.t_envelopes))
        self.sql_nodes = _text(
            SQL(
                "SELECT n.level, n.idx, n.hash FROM {} n "
                "JOIN unnest(%s::smallint[], %s::bigint[]) AS c(level, idx) "
                "ON n.level = c.level AND n.idx = c.idx"
            ).format(self.t_nodes)
        )
        self.sql_events_in = _text(
            SQL(
                "SELECT originator_version AS v, topic, state FROM {} WHERE originator_id = %s "
                "ORDER BY originator_version"
            ).format(self.t_events)
        )
        self.sql_envelope_bytes = _text(
            SQL("SELECT envelope FROM {} WHERE seq >= %s AND seq < %s ORDER BY seq").format(
                self.t_envelopes
            )
        )

    def ssj_create_statements(self) -> list[Composed]:
        return [
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (seq bigint PRIMARY KEY, "
                "notification_id bigint NOT NULL UNIQUE, envelope bytea NOT NULL, "
                "signature bytea NOT NULL)"
            ).format(self.t_envelopes),
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (level smallint NOT NULL, idx bigint NOT NULL, "
                "hash bytea NOT NULL, PRIMARY KEY (level, idx))"
            ).format(self.t_nodes),
            SQL("CREATE TABLE IF NOT EXISTS {} (key text PRIMARY KEY, value text NOT NULL)").format(
                self.t_meta
            ),
            SQL(
                "INSERT INTO {} (key, value) VALUES ('schema_version', {}) "
                "ON CONFLICT (key) DO NOTHING"
            ).format(self.t_meta, str(SCHEMA_VERSION)),
        ]

    def check_schema(self) -> None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                "SELECT to_regclass(%s) AS t",
                (f'"{self.datastore.schema}"."{META}"',),
            )
            row = curs.fetchone()
            if row is None or row["t"] is None:
                raise SchemaError(
                    "数据库未初始化：请先运行 `ssj db migrate`",
                    "database is not initialised: run `ssj db migrate` first",
                )
            curs.execute(
                SQL("SELECT value FROM {} WHERE key = 'schema_version'").format(self.t_meta)
            )
            found_row = curs.fetchone()
        found = int(found_row["value"]) if found_row else 0
        check_schema_version(found)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self._before_insert(stored_events, kwargs)
        try:
            ids: Sequence[int] | None = self._insert_retrying(stored_events, **kwargs)
        except AbortTransaction as abort:
            self._discard()
            raise abort.cause from None
        except BaseException:
            self._discard()
            raise
        self._after_commit()
        return ids

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _insert_retrying(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The library's `insert_events` with its retries, except after a lock timeout: the
        writer has then waited the whole `SSJ_LOCK_TIMEOUT` its operators set (the library
        would wait it ten times over, past the API's request deadline)."""
        try:
            return _LIBRARY_INSERT(self, stored_events, **kwargs)  # type: ignore[no-any-return]
        except OperationalError as e:
            if isinstance(e.__cause__, psycopg.errors.LockNotAvailable):
                raise AbortTransaction(e) from e
            raise

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        # The library's statements (lock, notify, insert of a composite-type array) with the
        # insert's arrays in binary format; what the library's `_fetch_ids_after_insert_events`
        # reads (the returned notification ids, in insert order) is unchanged.
        try:
            curs.execute(self.sql_lock_and_notify, prepare=True)
            self.insert_event_rows.execute(
                curs,
                (
                    [e.originator_id for e in stored_events],
                    [e.originator_version for e in stored_events],
                    [e.topic for e in stored_events],
                    [e.state for e in stored_events],
                ),
            )
            self._queue_head(curs)
        except psycopg.Error:
            # An earlier statement's error (the insert's conflict, the lock timeout) arrived
            # while a later one was being queued, before the library's sync: the pipeline is
            # still aborted, so the COMMIT the library ends its transaction with would fail
            # with "pipeline aborted" in place of this error. A synchronisation point (a
            # nested pipeline's exit) ends that state, as the library's own sync does; its
            # errors are this one's consequences.
            with suppress(psycopg.Error), curs.connection.pipeline():
                pass
            raise

    def _queue_head(self, curs: Cursor[DictRow]) -> None:
        """Queue the head read behind the lock and the insert, in the same pipeline."""
        head_curs = curs.connection.cursor()
        cached = self._cached_head
        tail_start = NO_TAIL if cached is None else cached.size
        head_curs.execute(self.sql_head, (KEYRING_ID, tail_start), prepare=True)
        self._local.head_curs = head_curs
        self._local.tail_start = tail_start

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        assert ids is not None
        try:
            head_curs = self._local.head_curs
            self._local.head_curs = None
            row = head_curs.fetchone()
            head_curs.close()
            d = self._under_lock(
                None if row["seq"] is None else (row["seq"], bytes(row["envelope"])),
                row["kv"],
                stored_events,
                kwargs,
                lambda coords: self._select_nodes(curs, coords),
                lambda lo, hi: self._select_envelope_bytes(curs, lo, hi),
                lambda: self._select_events_in(curs, KEYRING_ID),
                (self._local.tail_start, [bytes(e) for e in row["tail"] or ()]),
            )
            signatures = d.signatures()
        except Exception as e:
            raise AbortTransaction(e) from e
        self.insert_envelope_rows.execute(
            curs, (list(range(d.start.size, d.end.size)), list(ids), d.envelopes, signatures)
        )
        if d.nodes:
            self.insert_node_rows.execute(
                curs, ([n[0] for n in d.nodes], [n[1] for n in d.nodes], [n[2] for n in d.nodes])
            )
        return ids

    # Reading -------------------------------------------------------------------------------

    def _select_nodes(
        self, curs: Cursor[DictRow], coords: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], bytes]:
        """Planned each time, not prepared: psycopg prepares a statement on its fifth run and
        PostgreSQL then keeps one generic plan for it until the table is analysed; the join
        planned when the nodes were few took 0.09 s against 0.001 s planned afresh once they
        were ~400,000 (2026-12-05; as `projections.store.PgCursor.execute_planned`)."""
        if not coords:
            return {}
        curs.execute(
            self.sql_nodes, ([c[0] for c in coords], [c[1] for c in coords]), prepare=False
        )
        return {(r["level"], r["idx"]): bytes(r["hash"]) for r in curs.fetchall()}

    def _select_events_in(self, curs: Cursor[DictRow], originator_id: UUID) -> list[StoredEvent]:
        curs.execute(self.sql_events_in, (originator_id,))
        return [
            StoredEvent(originator_id, r["v"], r["topic"], bytes(r["state"]))
            for r in curs.fetchall()
        ]

    def _select_envelope_bytes(self, curs: Cursor[DictRow], lo: int, hi: int) -> list[bytes]:
        curs.execute(self.sql_envelope_bytes, (lo, hi))
        return [bytes(r["envelope"]) for r in curs.fetchall()]

    def node_hashes(
        self, coords: Sequence[tuple[int, int]], leaves: Mapping[int, bytes] | None = None
    ) -> dict[tuple[int, int], bytes]:
        """Complete-subtree hashes for proofs, from one read transaction (envelopes in
        `leaves` are not read again)."""
        with self.datastore.transaction(commit=False) as curs:
            return self._resolve_nodes(
                coords,
                lambda cs: self._select_nodes(curs, cs),
                known_first(lambda lo, hi: self._select_envelope_bytes(curs, lo, hi), leaves),
                self.suite,
            )

    def ledger_size(self) -> int:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.sql_size)
            row = curs.fetchone()
        return 0 if row is None or row["m"] is None else int(row["m"]) + 1

    def _envelope_rows(self, columns: str, start: int, limit: int, stop: int | None) -> list[Any]:
        sql = SQL(f"SELECT {columns} FROM {{}} WHERE seq >= %s").format(self.t_envelopes)
        params: list[int] = [start]
        if stop is not None:
            sql += SQL(" AND seq < %s")
            params.append(stop)
        sql += SQL(" ORDER BY seq LIMIT %s")
        params.append(limit)
        # Binary results: bytea as it is stored, not hex text to encode and decode, and loaded
        # as `bytes` already, so the rows are returned as fetched (the log is read whole by
        # catch-up and verification).
        with self._binary_cursor() as curs:
            curs.execute(sql, params, prepare=True)
            return curs.fetchall()

    def select_event_rows(
        self, start: int, limit: int, stop: int | None = None
    ) -> list[tuple[int, str, int, str, bytes]]:
        """(notification id, originator id as canonical UUID text, version, topic, state) from
        notification id `start` (to `stop`, inclusive): what the verifier compares, as plain
        values (the UUID text is spelled out by PostgreSQL, not parsed into objects)."""
        sql = SQL(
            "SELECT notification_id, originator_id::text, originator_version, topic, state "
            "FROM {} WHERE notification_id >= %s"
        ).format(self.t_events)
        params: list[int] = [start]
        if stop is not None:
            sql += SQL(" AND notification_id <= %s")
            params.append(stop)
        sql += SQL(" ORDER BY notification_id LIMIT %s")
        params.append(limit)
        with self._binary_cursor() as curs:
            curs.execute(sql, params, prepare=True)
            return curs.fetchall()

    @contextmanager
    def _binary_cursor(self) -> Iterator[Cursor[tuple[Any, ...]]]:
        """A cursor whose results come in binary format, as plain tuples."""
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row, binary=True) as curs,
        ):
            yield curs

    def select_seqs(self, originator_id: UUID) -> list[tuple[int, int]]:
        """(originator_version, seq) of every event of one aggregate: where it sits in the log."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                SQL(
                    "SELECT s.originator_version AS v, e.seq FROM {} s "
                    "JOIN {} e ON e.notification_id = s.notification_id "
                    "WHERE s.originator_id = %s ORDER BY s.originator_version"
                ).format(self.t_events, self.t_envelopes),
                (originator_id,),
            )
            return [(r["v"], r["seq"]) for r in curs.fetchall()]
