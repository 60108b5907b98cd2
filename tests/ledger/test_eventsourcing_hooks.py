"""The eventsourcing internals the chained recorders build on, pinned: fails loudly on change.

The backends chain and sign inside the library's insert transaction by overriding private hooks
(no public hook runs under the writers' lock): SQLite's `_insert_events`, called by
`insert_events` inside the write transaction; PostgreSQL's `_insert_stored_events` (after
`_lock_table`, in one pipeline) and `_fetch_ids_after_insert_events` (the first hook after the
lock and the insert), called by `insert_events` inside `conn.transaction()`, which catches
`Exception` (so our hook raises `AbortTransaction`, a BaseException); and the event store's
`put`, which the ledger's event store redoes for large batches; and the SQLite pool's
`_create_connection` and factory's `__init__`, which `ssj.ledger.sqlite.LedgerSQLiteFactory`
redoes to give each connection a statement cache. If a new eventsourcing
release changes any of these, this test names it: re-read that method, check the hooks still run
in the same transaction and order, then update the pin here.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import pytest
from eventsourcing.persistence import EventStore
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteConnectionPool, SQLiteFactory

from ssj.ledger.postgres import ChainedPostgresRecorder
from ssj.ledger.sqlite import ChainedSQLiteRecorder

PINNED_VERSION = "9.5.6"
# (class, method): SHA-256 prefix of the method's source in the pinned version
PINNED_SOURCES = {
    (SQLiteApplicationRecorder, "insert_events"): "32f60619a2ca6e6a",
    (SQLiteApplicationRecorder, "_insert_events"): "413cdf219c7bae63",
    (PostgresApplicationRecorder, "insert_events"): "f1a98da0239e3ea7",
    (PostgresApplicationRecorder, "_lock_table"): "42bc9c135b4a93c1",
    (PostgresApplicationRecorder, "_insert_stored_events"): "139580714a659085",
    (PostgresApplicationRecorder, "_fetch_ids_after_insert_events"): "9c8efbc1baf72b52",
    # ssj.ledger.application.LedgerEventStore.put maps a large batch in parts and then does
    # what this does with the stored events (insert them, return the recordings)
    (EventStore, "put"): "7cbbe45730a0d3b9",
    # ssj.ledger.sqlite.LedgerSQLitePool opens connections as this does, with a statement cache;
    # LedgerSQLiteFactory swaps it in for the pool this makes
    (SQLiteConnectionPool, "_create_connection"): "4635cb356e9ae4ec",
    (SQLiteFactory, "__init__"): "31a496bb9dab899a",
}


def source_digest(method: Callable[..., Any]) -> str:
    code = inspect.getsource(inspect.unwrap(method))
    return hashlib.sha256(code.encode("utf-8")).hexdigest()[:16]


def test_the_pinned_version_is_installed() -> None:
    assert version("eventsourcing") == PINNED_VERSION, (
        "eventsourcing is not the version the chained recorders were checked against: "
        "run the hook checks below, then update PINNED_VERSION"
    )


@pytest.mark.parametrize(
    ("cls", "name"), list(PINNED_SOURCES), ids=[f"{c.__name__}.{n}" for c, n in PINNED_SOURCES]
)
def test_the_hooks_we_override_are_unchanged(cls: type, name: str) -> None:
    assert source_digest(getattr(cls, name)) == PINNED_SOURCES[(cls, name)], (
        f"eventsourcing changed {cls.__name__}.{name}: the chained recorders rely on it "
        "running inside the insert transaction, in this order (see this module's docstring)"
    )


def test_our_recorders_override_exactly_these_hooks() -> None:
    assert "_insert_events" in vars(ChainedSQLiteRecorder)
    assert {"_insert_stored_events", "_fetch_ids_after_insert_events"} <= set(
        vars(ChainedPostgresRecorder)
    )
    for cls, base in (
        (ChainedSQLiteRecorder, SQLiteApplicationRecorder),
        (ChainedPostgresRecorder, PostgresApplicationRecorder),
    ):
        for name, ours in vars(cls).items():
            private = name.startswith("_") and not name.startswith("__")
            if private and inspect.isfunction(ours) and hasattr(base, name):
                theirs = getattr(base, name)
                assert (cls.__name__, name, list(inspect.signature(ours).parameters)[:3]) == (
                    cls.__name__,
                    name,
                    list(inspect.signature(theirs).parameters)[:3],
                )


def test_the_database_functions_path_that_skips_the_hooks_is_off() -> None:
    """With `enable_db_functions` the library inserts through a stored function and never calls
    the hooks: events would be written unchained. ssj never turns it on."""
    assert inspect.signature(PostgresDatastore).parameters["enable_db_functions"].default is False
