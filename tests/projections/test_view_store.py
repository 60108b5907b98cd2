"""The read models' PostgreSQL pool: a connection whose backend died while it sat idle is
replaced before use, not handed to a request."""

from __future__ import annotations

import time
from dataclasses import replace

import psycopg
import pytest

from projections import store
from projections.store import PostgresViewStore
from ssj.config import DatabaseURL, Settings
from tests.conftest import PG_ADMIN_URL

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
