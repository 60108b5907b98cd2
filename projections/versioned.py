"""Version tables: every state an entity had, with the ledger seqs it held between.

A row holds the full state (JSON) from `from_seq` until `to_seq` (exclusive; NULL while current).
So "the registry as it stood at seq S" is one indexed scan: from_seq <= S and (to_seq is NULL or
to_seq > S). A few state fields are copied into columns for filters and indexes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter
from typing import Any, ClassVar

import orjson

from projections.store import Cursor, PgCursor, insert_rows, select_in
from ssj.ledger.application import LoggedEvent


@dataclass(frozen=True)
class Versioned:
    """Rows keyed by aggregate id (events carry only that); natural keys are indexed columns."""

    table: str
    natural_key: tuple[str, ...]
    columns: tuple[str, ...] = ()
    keys: tuple[str, ...] = ("aggregate_id",)
    indexed: tuple[str, ...] = ()  # more columns that lookups filter on
    # Whether a projection's batch looks rows up by the natural key (the delivery outbox finds
    # tasks by task id): then its index is kept up to date during a rebuild too.
    natural_in_batches: bool = False
    # Whether a projection's batch reads a row as of a seq by its keys (the delivery records
    # read a follow-up as its event found it): then the key-and-seq index is kept up to date
    # during a rebuild too. Prefetches and closes read the current rows by the current-row
    # index.
    as_of_in_batches: bool = False
    # Whether `RegistryQueries.list` searches the name column for a substring (`name LIKE
    # %text%`): on PostgreSQL with pg_trgm, a trigram index of the current rows serves it.
    searched: bool = False

    def __hash__(self) -> int:
        """By table name (unique): a batch looks its writes up by table once per event, and
        the generated hash of every field took 0.23-0.41 us a lookup (against 0.11-0.20)."""
        return hash(self.table)

    @cached_property
    def all_columns(self) -> tuple[str, ...]:
        return (*self.natural_key, *self.columns)

    def ddl(self) -> list[str]:
        cols = ", ".join(f"{c} TEXT" for c in (*self.keys, *self.all_columns))
        keys = ", ".join(self.keys)
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table} ({cols}, from_seq BIGINT NOT NULL, "
            "to_seq BIGINT, state TEXT NOT NULL)",
            f"CREATE UNIQUE INDEX IF NOT EXISTS {self.table}_current ON {self.table} ({keys}) "
            "WHERE to_seq IS NULL",
            *(create for _, create in self._indexes()),
        ]

    def _indexes(self) -> list[tuple[str, str]]:
        natural = ", ".join(self.natural_key)
        keys = ", ".join(k for k in self.keys if k not in self.natural_key)
        # A page of current rows (`RegistryQueries.list`) reads them in natural-key order from
        # this index alone, with from_seq and the keys to fetch its states by: no sort of every
        # row's state, no scan of the superseded versions (about two of every three rows of a
        # registry whose targets changed twice). Those a past seq still needs are found by
        # to_seq, of which the current rows have none.
        return [
            (
                f"{self.table}_key",
                f"CREATE INDEX IF NOT EXISTS {self.table}_key ON {self.table} "
                f"({', '.join(self.keys)}, from_seq)",
            ),
            (
                f"{self.table}_natural",
                f"CREATE INDEX IF NOT EXISTS {self.table}_natural ON {self.table} ({natural})",
            ),
            (
                f"{self.table}_current_order",
                f"CREATE INDEX IF NOT EXISTS {self.table}_current_order ON {self.table} "
                f"({natural}, from_seq{', ' + keys if keys else ''}) WHERE to_seq IS NULL",
            ),
            (
                f"{self.table}_closed",
                f"CREATE INDEX IF NOT EXISTS {self.table}_closed ON {self.table} (to_seq) "
                "WHERE to_seq IS NOT NULL",
            ),
            *(
                (
                    f"{self.table}_{c}",
                    f"CREATE INDEX IF NOT EXISTS {self.table}_{c} ON {self.table} ({c})",
                )
                for c in self.indexed
            ),
        ]

    def read_indexes(self, c: Cursor) -> list[tuple[str, str]]:
        """The indexes only reads use (`projections.runner.ReadIndexed`): by keys and seq
        (unless batches read rows as of a seq), by natural key (unless batches look it up),
        the `indexed` columns and the names' trigrams. The current-row index serves every
        batch's prefetch and closes."""
        kept = {
            f"{self.table}_key" if self.as_of_in_batches else "",
            f"{self.table}_natural" if self.natural_in_batches else "",
        }
        return [i for i in self._indexes() if i[0] not in kept] + self._trigrams(c)

    def _trigrams(self, c: Cursor) -> list[tuple[str, str]]:
        """The trigram index of the current names of a `searched` table, on PostgreSQL with
        pg_trgm (a trusted extension; `ssj db migrate` creates it), whose operator class is
        named by the extension's schema: it indexes Chinese names too. Without it a search
        reads every current row, as on SQLite. Its GIN index took half of a rebuild's COPY
        into the targets, row by row: a rebuild makes it at the end with the other read
        indexes."""
        if not (self.searched and isinstance(c, PgCursor)):
            return []
        c.execute(
            "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
        )
        found = c.fetchone()
        if found is None:
            return []
        name = f"{self.table}_name_trigrams"
        return [
            (
                name,
                f"CREATE INDEX IF NOT EXISTS {name} ON {self.table} "
                f"USING gin (name {found[0]}.gin_trgm_ops) WHERE to_seq IS NULL",
            )
        ]

    def drop(self, c: Cursor) -> None:
        c.execute(f"DROP TABLE IF EXISTS {self.table}")

    def create(self, c: Cursor) -> None:
        for statement in self.ddl():
            c.execute(statement)
        for _, statement in self._trigrams(c):
            c.execute(statement)

    def _row(self, key: Sequence[str], seq: int, state: dict[str, Any]) -> list[Any]:
        # Text and None (most columns) are stored as they are, without a call each.
        extracted = [
            v if v is None or type(v) is str else _column_value(v)
            for v in map(state.get, self.all_columns)
        ]
        return [*key, *extracted, seq, None, orjson.dumps(state).decode()]

    @cached_property
    def row_columns(self) -> tuple[str, ...]:
        return (*self.keys, *self.all_columns, "from_seq", "to_seq", "state")

    def insert(self, c: Cursor, key: Sequence[str], seq: int, state: dict[str, Any]) -> None:
        """One row now (callers outside a runner's batch: see `Writes` for the batched path)."""
        insert_rows(c, self.table, self.row_columns, [self._row(key, seq, state)])

    def current(self, c: Cursor, key: Sequence[str]) -> dict[str, Any] | None:
        where = " AND ".join(f"{k} = ?" for k in self.keys)
        c.execute(f"SELECT state FROM {self.table} WHERE {where} AND to_seq IS NULL", list(key))
        row = c.fetchone()
        return None if row is None else orjson.loads(row[0])

    def change(self, c: Cursor, key: Sequence[str], seq: int, changes: dict[str, Any]) -> None:
        """Close the current version at `seq` and open the next with `changes` applied."""
        state = self.current(c, key)
        if state is None:
            raise LookupError(f"{self.table}: no current row for {tuple(key)}")
        where = " AND ".join(f"{k} = ?" for k in self.keys)
        c.execute(
            f"UPDATE {self.table} SET to_seq = ? WHERE {where} AND to_seq IS NULL", [seq, *key]
        )
        self.insert(c, key, seq, {**state, **changes})


class Writes:
    """One batch's writes to one version table, held in memory and written at `flush`: the
    current states a batch reads come from one prefetch query (or what the batch itself wrote),
    versions opened and closed inside the batch are written once, already closed, and the rest
    go out as one multi-row write (COPY on PostgreSQL). Only valid inside one transaction."""

    def __init__(self, table: Versioned, c: Cursor) -> None:
        self.table = table
        self.c = c
        self._current: dict[tuple[str, ...], dict[str, Any] | None] = {}
        self._rows: list[list[Any]] = []
        self._open: dict[tuple[str, ...], int] = {}  # key -> index of its open row in _rows
        self._closes: list[tuple[int, tuple[str, ...]]] = []  # versions stored before the batch
        self._to_seq = len(table.keys) + len(table.all_columns) + 1

    def prefetch(self, keys: Iterable[Sequence[str]]) -> None:
        """Load the current states of `keys` in chunked queries (one-column keys only)."""
        wanted = [k for k in dict.fromkeys(tuple(k) for k in keys) if k not in self._current]
        if not wanted:
            return
        [column] = self.table.keys
        sql = f"SELECT {column}, state FROM {self.table.table} WHERE {column} {{}} "
        rows = select_in(self.c, sql + "AND to_seq IS NULL", [k[0] for k in wanted])
        found = {str(r[0]): r[1] for r in rows}
        for k in wanted:
            raw = found.get(k[0])
            self._current[k] = None if raw is None else orjson.loads(raw)

    def current(self, key: Sequence[str]) -> dict[str, Any] | None:
        k = tuple(key)
        if k not in self._current:
            self._current[k] = self.table.current(self.c, k)
        return self._current[k]

    def insert(self, key: Sequence[str], seq: int, state: dict[str, Any]) -> None:
        k = tuple(key)
        self._open[k] = len(self._rows)
        self._rows.append(self.table._row(k, seq, state))
        self._current[k] = state

    def change(self, key: Sequence[str], seq: int, changes: dict[str, Any]) -> None:
        """Close the current version at `seq` and open the next with `changes` applied."""
        k = tuple(key)
        state = self.current(k)
        if state is None:
            raise LookupError(f"{self.table.table}: no current row for {k}")
        opened = self._open.get(k)
        if opened is None:
            self._closes.append((seq, k))
        else:
            self._rows[opened][self._to_seq] = seq
        self.insert(k, seq, {**state, **changes})

    def flush(self) -> None:
        """Write what the batch did: closes first (the current-row index stays unique), then
        the new rows in the order of their first key: the current-row index (and the key-and-
        seq index, when kept) then takes them leaf by leaf, not at random (a COPY of 10,000 rows
        keyed by random ids into a table with that one index: 1.5-1.8 server CPU-s per 300,000
        rows in key order against 2.0-2.3 in seq order)."""
        if self._closes:
            where = " AND ".join(f"{k} = ?" for k in self.table.keys)
            self.c.executemany(
                f"UPDATE {self.table.table} SET to_seq = ? WHERE {where} AND to_seq IS NULL",
                [(seq, *k) for seq, k in self._closes],
            )
        rows = sorted(self._rows, key=itemgetter(0))
        insert_rows(self.c, self.table.table, self.table.row_columns, rows)
        self._closes, self._rows, self._open = [], [], {}


Tables = Mapping[Versioned, Writes]  # one batch's writes, by version table


class _Batch(dict[Versioned, Writes]):
    """A batch's `Writes`, made for a table when the batch first touches it (a replay that
    feeds one event at a time pays for one table, not all)."""

    def __init__(self, c: Cursor) -> None:
        super().__init__()
        self.c = c

    def __missing__(self, table: Versioned) -> Writes:
        writes = self[table] = Writes(table, self.c)
        return writes


class VersionedProjection:
    """A read model made of version tables, applied a batch at a time: each table's writes are
    held in a `Writes` for the batch, current states prefetched for the events that change
    them (`routes`: aggregate class name -> its table; `creations`: event names that start a
    row and read none), and everything flushed at the end of the batch."""

    tables: tuple[Versioned, ...] = ()
    routes: ClassVar[Mapping[str, Versioned]] = {}
    creations: frozenset[str] = frozenset()

    def create(self, c: Cursor) -> None:
        for table in self.tables:
            table.create(c)

    def drop(self, c: Cursor) -> None:
        for table in self.tables:
            table.drop(c)

    def read_indexes(self, c: Cursor) -> list[tuple[str, str]]:
        return [i for table in self.tables for i in table.read_indexes(c)]

    def _route(self, cls: type) -> tuple[Versioned | None, bool]:
        """(the table an event class goes to or None, whether it reads the current row),
        worked out once per class and projection."""
        try:
            return self._routed[cls]
        except AttributeError:
            self._routed: dict[type, tuple[Versioned | None, bool]] = {}
        except KeyError:
            pass
        aggregate, name = event_kind(cls)
        found = self._routed[cls] = (self.routes.get(aggregate), name not in self.creations)
        return found

    def apply_batch(self, c: Cursor, events: Sequence[LoggedEvent]) -> None:
        writes = _Batch(c)
        wanted: dict[Versioned, list[tuple[str]]] = {}
        mine: list[LoggedEvent] = []
        routed = getattr(self, "_routed", {})
        route = self._route
        for logged in events:
            cls = type(logged.event)
            table, reads = routed.get(cls) or route(cls)
            if table is None:
                continue  # another context's event: not looked at again
            mine.append(logged)
            if reads:
                wanted.setdefault(table, []).append((logged.aggregate_id,))
        for table, keys in wanted.items():
            writes[table].prefetch(keys)
        for logged in mine:
            self.apply_one(writes, logged)
        for w in writes.values():
            w.flush()

    def apply(self, c: Cursor, logged: LoggedEvent) -> None:
        """One event (a replay outside a runner)."""
        self.apply_batch(c, [logged])

    def apply_one(self, w: Tables, logged: LoggedEvent) -> None:
        raise NotImplementedError


_KINDS: dict[type, tuple[str, str]] = {}


def event_kind(cls: type) -> tuple[str, str]:
    """(aggregate class name, event name) of an event class, `Target.Updated` ->
    ("Target", "Updated"); worked out once per class."""
    try:
        return _KINDS[cls]
    except KeyError:
        aggregate, _, name = cls.__qualname__.rpartition(".")
        found = _KINDS[cls] = (aggregate, name)
        return found


def _column_value(value: Any) -> Any:
    kind = type(value)
    if kind is str or value is None:  # the common cases first
        return value
    if kind is bool:
        return "1" if value else "0"
    if isinstance(value, (list, dict)):
        return orjson.dumps(value).decode()
    return str(value)


def as_of_parts(seq: int | None) -> list[tuple[str, list[int]]]:
    """`at_seq_clause` as disjoint parts (SQL, parameters), each served by an index of its own:
    the current rows opened by `seq`, and the rows closed after it (none when `seq` is None)."""
    if seq is None:
        return [("to_seq IS NULL", [])]
    return [
        ("to_seq IS NULL AND from_seq <= ?", [seq]),
        ("to_seq > ? AND from_seq <= ?", [seq, seq]),
    ]


def at_seq_clause(seq: int | None) -> tuple[str, list[int]]:
    """The WHERE fragment selecting the versions valid at `seq` (None: current)."""
    if seq is None:
        return "to_seq IS NULL", []
    return "from_seq <= ? AND (to_seq IS NULL OR to_seq > ?)", [seq, seq]
