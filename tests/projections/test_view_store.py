"""The read models' PostgreSQL store: a connection whose backend died while it sat idle is
replaced before use, not handed to a request; text is compared by its bytes, as on SQLite,
whatever the cluster's locale."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from projections import store
from projections.store import PostgresViewStore, SQLiteViewStore, ViewStore
from ssj.config import DatabaseURL, Settings
from ssj.services.context import Services
from tests.conftest import PG_ADMIN_URL, require_postgres

pytestmark = pytest.mark.postgres


def test_an_idle_connection_whose_backend_died_is_replaced(
    postgres_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "CHECK_IDLE_SECONDS", 0.2)
    views = PostgresViewStore(postgres_settings.database, pool_max=1)
    admin = replace(DatabaseURL.parse(PG_ADMIN_URL), dbname=postgres_settings.database.dbname)
    try:
        [(first,)] = views.query("SELECT pg_backend_pid()")
        with psycopg.connect(admin.url(), autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s, 10000)", (first,))
        time.sleep(0.3)  # idle longer than CHECK_IDLE_SECONDS
        [(second,)] = views.query("SELECT pg_backend_pid()")
        assert second != first
    finally:
        views.close()


# Text compared by bytes on both backends -------------------------------------------------------

# Identifiers and names whose byte order differs from the order Chinese readers use (ICU "zh":
# Chinese first, by pinyin; then Latin letters, case and punctuation second).
KEYS = ["王", "张", "a1", "B1", "a-1", "A", "b-2"]
BY_BYTES = sorted(KEYS, key=lambda k: k.encode())  # SQLite's order


@pytest.fixture
def zh_database() -> Iterator[DatabaseURL]:
    """A database of its own whose default collation is ICU's "zh", as a cluster made for
    Chinese readers may have."""
    require_postgres()
    name = f"ssj_test_zh_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'zh' "
            "LOCALE 'C.UTF-8'"
        )
    try:
        yield replace(DatabaseURL.parse(PG_ADMIN_URL), dbname=name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def ordered(views: ViewStore) -> list[str]:
    with views.transaction() as c:
        c.execute("CREATE TABLE IF NOT EXISTS sorted (k TEXT PRIMARY KEY, name TEXT NOT NULL)")
        c.executemany("INSERT INTO sorted (k, name) VALUES (?, ?)", [(k, k) for k in KEYS])
    keys = [str(k) for (k,) in views.query("SELECT k FROM sorted ORDER BY k")]
    names = [str(n) for (n,) in views.query("SELECT name FROM sorted ORDER BY name")]
    assert names == keys
    return keys


def test_read_models_sort_text_by_bytes_as_sqlite_does(
    zh_database: DatabaseURL, tmp_path: Path
) -> None:
    with psycopg.connect(zh_database.url()) as conn:  # the database's own order is not bytes
        found = conn.execute("SELECT k FROM unnest(%s::text[]) AS k ORDER BY k", (KEYS,))
        assert [k for (k,) in found.fetchall()] != BY_BYTES
    sqlite_views = SQLiteViewStore(tmp_path / "views.sqlite")
    pg_views = PostgresViewStore(zh_database)
    try:
        assert ordered(sqlite_views) == BY_BYTES
        assert ordered(pg_views) == BY_BYTES
    finally:
        sqlite_views.close()
        pg_views.close()


def test_text_columns_an_older_ssj_made_are_recollated_once(zh_database: DatabaseURL) -> None:
    pg_views = PostgresViewStore(zh_database)
    try:
        with psycopg.connect(zh_database.url(), autocommit=True) as conn:  # as before BINARY_TEXT
            conn.execute(f'SET search_path TO "{pg_views.schema}"')
            conn.execute("CREATE TABLE sorted (k text PRIMARY KEY, name text, n bigint)")
            conn.execute("CREATE INDEX sorted_name ON sorted (name)")
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO sorted (k, name, n) VALUES (%s, %s, %s)",
                    [(k, k, n) for n, k in enumerate(KEYS)],
                )

        def collations() -> dict[str, str]:
            rows = pg_views.query(
                "SELECT a.attname, l.collname FROM pg_attribute a "
                "JOIN pg_collation l ON l.oid = a.attcollation "
                "WHERE a.attrelid = 'sorted'::regclass AND a.attnum > 0"
            )
            return {str(column): str(collation) for column, collation in rows}

        def index_file() -> int:
            return int(
                pg_views.query(
                    "SELECT relfilenode FROM pg_class WHERE relname = ?", ("sorted_name",)
                )[0][0]
            )

        assert collations() == {"k": "default", "name": "default"}
        with pg_views.transaction() as c:
            pg_views.upgrade(c)
        assert collations() == {"k": "C", "name": "C"}
        rows = pg_views.query("SELECT k, name, n FROM sorted ORDER BY name")
        assert rows == [(k, k, KEYS.index(k)) for k in BY_BYTES]
        made = index_file()
        with psycopg.connect(zh_database.url()) as other:  # a runner holding the schema's lock
            other.execute(f'SET search_path TO "{pg_views.schema}"')
            other.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")
            with pg_views.transaction() as c:
                c.execute("SET LOCAL lock_timeout = '2s'")
                pg_views.upgrade(c)  # nothing left to do: no lock waited for, no index made
        assert index_file() == made
    finally:
        pg_views.close()


def test_every_read_model_compares_text_by_bytes(postgres_settings: Settings) -> None:
    services = Services(postgres_settings)
    try:
        rows = services.store.query(
            "SELECT c.relname, a.attname, l.collname FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_collation l ON l.oid = a.attcollation "
            "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' "
            "AND a.attnum > 0 AND a.atttypid = 'text'::regtype"
        )
    finally:
        services.close()
    tables = {str(table) for table, _, _ in rows}
    assert {"targets", "tasks", "trail", "projection_positions"} <= tables
    assert {(t, c) for t, c, collation in rows if collation != "C"} == set()
