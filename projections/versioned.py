"""Version tables: every state an entity had, with the ledger seqs it held between.

A row holds the full state (JSON) from `from_seq` until `to_seq` (exclusive; NULL while current).
So "the registry as it stood at seq S" is one indexed scan: from_seq <= S and (to_seq is NULL or
to_seq > S). A few state fields are copied into columns for filters and indexes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from projections.store import Cursor


@dataclass(frozen=True)
class Versioned:
    """Rows keyed by aggregate id (events carry only that); natural keys are indexed columns."""

    table: str
    natural_key: tuple[str, ...]
    columns: tuple[str, ...] = ()
    keys: tuple[str, ...] = ("aggregate_id",)
    indexed: tuple[str, ...] = ()  # more columns that lookups filter on

    @property
    def all_columns(self) -> tuple[str, ...]:
        return (*self.natural_key, *self.columns)

    def ddl(self) -> list[str]:
        cols = ", ".join(f"{c} TEXT" for c in (*self.keys, *self.all_columns))
        keys = ", ".join(self.keys)
        natural = ", ".join(self.natural_key)
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table} ({cols}, from_seq BIGINT NOT NULL, "
            "to_seq BIGINT, state TEXT NOT NULL)",
            f"CREATE UNIQUE INDEX IF NOT EXISTS {self.table}_current ON {self.table} ({keys}) "
            "WHERE to_seq IS NULL",
            f"CREATE INDEX IF NOT EXISTS {self.table}_key ON {self.table} ({keys}, from_seq)",
            f"CREATE INDEX IF NOT EXISTS {self.table}_natural ON {self.table} ({natural})",
            *(
                f"CREATE INDEX IF NOT EXISTS {self.table}_{c} ON {self.table} ({c})"
                for c in self.indexed
            ),
        ]

    def drop(self, c: Cursor) -> None:
        c.execute(f"DROP TABLE IF EXISTS {self.table}")

    def create(self, c: Cursor) -> None:
        for statement in self.ddl():
            c.execute(statement)

    def _row(self, key: Sequence[str], seq: int, state: dict[str, Any]) -> list[Any]:
        extracted = [_column_value(state.get(col)) for col in self.all_columns]
        return [*key, *extracted, seq, None, orjson.dumps(state).decode()]

    def insert(self, c: Cursor, key: Sequence[str], seq: int, state: dict[str, Any]) -> None:
        names = ", ".join((*self.keys, *self.all_columns, "from_seq", "to_seq", "state"))
        marks = ", ".join("?" * (len(self.keys) + len(self.all_columns) + 3))
        c.execute(
            f"INSERT INTO {self.table} ({names}) VALUES ({marks})", self._row(key, seq, state)
        )

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


class VersionedProjection:
    """A read model made of version tables: creating and dropping them is the same for all."""

    tables: tuple[Versioned, ...] = ()

    def create(self, c: Cursor) -> None:
        for table in self.tables:
            table.create(c)

    def drop(self, c: Cursor) -> None:
        for table in self.tables:
            table.drop(c)


def _column_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, dict)):
        return orjson.dumps(value).decode()
    return None if value is None else str(value)


def as_of_clause(seq: int | None) -> tuple[str, list[int]]:
    """The WHERE fragment selecting the versions valid at `seq` (None: current)."""
    if seq is None:
        return "to_seq IS NULL", []
    return "from_seq <= ? AND (to_seq IS NULL OR to_seq > ?)", [seq, seq]
