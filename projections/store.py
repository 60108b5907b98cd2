"""Where read models live: a second SQLite file beside the ledger, or a `<schema>_views` schema in
the same PostgreSQL database. One small adapter so every projection runs on both.

SQL is written once with `?` placeholders and JSON in TEXT columns; the PostgreSQL adapter
rewrites placeholders. Projections are not ledger tables: they may update and delete freely.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import psycopg

from ssj.config import Settings
from ssj.ledger.migrate import connect


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


class ViewStore:
    """A connection to the projections database, with transactions and dialect helpers."""

    is_postgres: bool = False

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        raise NotImplementedError

    def exclusive(self, c: Cursor) -> None:
        """Hold the projections' writer lock until `c`'s transaction ends (SQLite: BEGIN
        IMMEDIATE already does), so runners in several processes never apply an event twice."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.transaction() as c:
            c.execute(sql, params)
            return [tuple(r) for r in c.fetchall()]

    def close(self) -> None:
        raise NotImplementedError


class SQLiteViewStore(ViewStore):
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")  # a read model can be rebuilt

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            self.conn.rollback()
            raise
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


class _PgCursor:
    """Accepts `?` placeholders like sqlite3."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self.cur = cur

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.cur.execute(self._sql(sql), params)  # type: ignore[arg-type]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        return self.cur.executemany(self._sql(sql), rows)  # type: ignore[arg-type]

    def fetchall(self) -> list[Any]:
        return self.cur.fetchall()

    def fetchone(self) -> Any:
        return self.cur.fetchone()


class PostgresViewStore(ViewStore):
    is_postgres = True

    def __init__(self, settings: Settings) -> None:
        db = settings.database
        self.schema = f"{db.schema}_views"
        self.conn = connect(db)
        exists = self.conn.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
        ).fetchone()
        if not exists:  # `ssj db migrate` creates it for the runtime role in production
            self.conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        self.conn.execute(f'SET search_path TO "{self.schema}"')

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self.conn.transaction(), self.conn.cursor() as cur:
            yield _PgCursor(cur)

    def exclusive(self, c: Cursor) -> None:
        c.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")

    def close(self) -> None:
        self.conn.close()


def open_view_store(settings: Settings) -> ViewStore:
    if settings.database.is_postgres:
        return PostgresViewStore(settings)
    ledger_file = Path(settings.database.path)
    return SQLiteViewStore(ledger_file.with_name(ledger_file.stem + "-views.sqlite"))
