"""A rebuild from seq 0 on both backends: large batches, the read-only indexes made at the end
(absent while it replays, back if it stops half-way), the same rows in every table as an
incremental catch-up, whatever the batch sizes; the multi-row upsert the trail writes its memos
with."""

from __future__ import annotations

import gc
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import projections.runner as runner_module
from projections.registry import RegistryProjection
from projections.runner import Runner
from projections.store import (
    WRITER_CACHE_KIB,
    WRITER_CHECKPOINT_PAGES,
    PgCursor,
    ScratchSQLiteViewStore,
    SQLiteViewStore,
    ViewStore,
    open_view_store,
    upsert_rows,
)
from projections.trail import TrailProjection
from ssj.config import Settings
from ssj.domain.targets import Target
from ssj.ledger.application import Ledger, LoggedEvent
from ssj.services.context import Services
from tests.projections.test_registry import OPERATOR, ledger, record
from tests.projections.test_trail import demo

__all__ = ["demo", "ledger"]
READ_INDEXES = {
    "trail_key",
    "targets_natural",
    "targets_key",
    "users_natural",
    "users_key",
}


@pytest.fixture
def filled(ledger: Ledger) -> Iterator[Runner]:
    """25 targets registered and every third changed, behind a registry and a trail."""
    targets = [Target.register(record(n)) for n in range(25)]
    ledger.save(*targets, actor=OPERATOR)
    for n in range(0, 25, 3):
        targets[n].update(record(n, credit_class="C"))
    ledger.save(*targets[::3], actor=OPERATOR)
    store = open_view_store(ledger.settings)
    yield Runner(ledger, store, [RegistryProjection(), TrailProjection()])
    store.close()


def indexes(store: ViewStore) -> set[str]:
    if store.is_postgres:
        sql = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    return {str(r[0]) for r in store.query(sql)}


def rows(store: ViewStore) -> dict[str, list[str]]:
    """Every table of the read models (positions and versions too) with its rows, sorted:
    what a rebuild must reproduce."""
    if store.is_postgres:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    tables = sorted(str(t) for (t,) in store.query(sql))
    return {t: sorted(repr(r) for r in store.query(f"SELECT * FROM {t}")) for t in tables}


@pytest.mark.slow
def test_every_read_model_rebuilt_whatever_the_batches_equals_its_catch_ups(
    demo: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every projection of the services on a small demo year, fed as it was written (many
    small catch-ups between the demo's writes): a rebuild in the default batches, then one in
    batches of 50 events, give every table's rows again."""
    incremental = rows(demo.store)
    assert {"targets", "tasks", "followups", "delivery_records", "trail"} <= incremental.keys()
    assert all(incremental[t] for t in ("targets", "tasks", "delivery_records", "trail_memos"))
    demo.runner.rebuild()
    assert rows(demo.store) == incremental
    monkeypatch.setattr(runner_module, "BATCH", 50)
    monkeypatch.setattr(runner_module, "LARGE_BATCH", 50)
    demo.runner.rebuild()
    assert rows(demo.store) == incremental


def read_indexes(store: ViewStore) -> set[str]:
    """The read indexes `filled` has: on PostgreSQL (migrated: pg_trgm) the trigram index of
    the targets' current names too."""
    return READ_INDEXES | ({"targets_name_trigrams"} if store.is_postgres else set())


def test_a_rebuild_makes_the_read_indexes_at_the_end(filled: Runner) -> None:
    filled.catch_up()
    made, deferred = indexes(filled.store), read_indexes(filled.store)
    assert made >= deferred
    incremental = rows(filled.store)
    seen: list[set[str]] = []
    filled.rebuild(lambda done, total: seen.append(indexes(filled.store)))
    assert seen and all(not (s & deferred) for s in seen)  # absent while replaying
    assert indexes(filled.store) == made
    assert rows(filled.store) == incremental


def test_a_postgresql_rebuild_makes_its_read_indexes_two_at_a_time_the_gin_first(
    filled: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL each read index is made in a transaction of its own, two at once (the
    first two meet at a barrier: made one after the other, the first would wait there until
    the barrier broke and failed the rebuild), the trigram (GIN) index first (SQLite: one
    transaction, one writer)."""
    if not filled.store.is_postgres:
        pytest.skip("PostgreSQL connections")
    filled.catch_up()
    made, incremental = indexes(filled.store), rows(filled.store)
    order: list[str] = []
    transactions: set[int] = set()
    both = threading.Barrier(2, timeout=30)
    execute = PgCursor.execute

    def watched(self: PgCursor, sql: str, params: Sequence[Any] = ()) -> Any:
        if threading.current_thread().name.startswith("read-indexes") and " INDEX " in sql:
            order.append(sql.split(" ON ")[0].split()[-1])
            if len(order) <= 2:
                both.wait()
            self.cur.execute("SELECT pg_current_xact_id()::text")
            transactions.add(int(self.cur.fetchone()[0]))
        return execute(self, sql, params)

    monkeypatch.setattr(PgCursor, "execute", watched)
    filled.rebuild()
    assert indexes(filled.store) == made
    assert rows(filled.store) == incremental
    with filled.store.transaction() as c:
        deferred = runner_module._read_indexes(c, filled.projections)
    assert sorted(order) == sorted(name for name, _ in deferred)
    assert order[0] == "targets_name_trigrams"
    assert len(transactions) == len(order)


def test_the_trail_key_alone_answers_a_subjects_filters_on_postgresql(filled: Runner) -> None:
    """The trail has one index, its key; on PostgreSQL it carries the columns a page filters
    by (time and actor), so a filtered count of one subject's trail reads the index alone."""
    if not filled.store.is_postgres:
        pytest.skip("PostgreSQL's INCLUDE")
    filled.rebuild()
    [(kind, ref, recorded_at, actor)] = filled.store.query(
        "SELECT subject_kind, subject_id, recorded_at, actor FROM trail ORDER BY seq LIMIT 1"
    )
    pool = filled.store.pool  # type: ignore[attr-defined]
    with pool.connection() as conn:  # autocommit: VACUUM marks the pages all-visible
        conn.execute("VACUUM ANALYZE trail")
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_bitmapscan = off")
        plan = conn.execute(
            "EXPLAIN SELECT count(*) FROM trail WHERE subject_kind = %s AND subject_id = %s "
            "AND recorded_at >= %s AND actor = %s",
            (kind, ref, recorded_at, actor),
        ).fetchall()
        conn.execute("RESET enable_seqscan")
        conn.execute("RESET enable_bitmapscan")
    assert "Index Only Scan using trail_key" in "\n".join(line for (line,) in plan)
    assert {i for i in indexes(filled.store) if i.startswith("trail_")} == {
        "trail_key",
        "trail_subjects_owner",
        "trail_subjects_pkey",
        "trail_memos_pkey",
    }


def test_a_rebuild_whose_index_fails_raises_and_a_restart_makes_the_indexes(
    filled: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index that cannot be made fails the rebuild (whichever connection made it: here a
    unique index, made on the empty table first, of an actor who recorded many events); its
    rows stay; on PostgreSQL the other read indexes too (each is made in a transaction of its
    own), on SQLite none (one transaction); and a runner started afterwards makes every read
    index."""
    filled.catch_up()
    made, incremental = indexes(filled.store), rows(filled.store)
    good = TrailProjection.read_indexes
    broken = [("trail_one", "CREATE UNIQUE INDEX IF NOT EXISTS trail_one ON trail (actor)")]
    monkeypatch.setattr(TrailProjection, "read_indexes", lambda self, c: good(self, c) + broken)
    with pytest.raises(Exception, match=r"(?i)unique"):
        filled.rebuild()
    monkeypatch.setattr(TrailProjection, "read_indexes", good)
    assert rows(filled.store) == incremental
    if filled.store.is_postgres:
        assert indexes(filled.store) >= made and "trail_one" not in indexes(filled.store)
    else:
        assert not indexes(filled.store) & read_indexes(filled.store)
    Runner(filled.ledger, filled.store, filled.projections)
    assert indexes(filled.store) == made
    assert rows(filled.store) == incremental


def test_the_trail_keeps_one_row_per_subject_and_seq(filled: Runner) -> None:
    """Its key is a unique index (made at the end of a rebuild), not a primary key: a second
    row for a subject and seq is refused all the same, after a catch-up and after a rebuild."""
    for make in (filled.catch_up, filled.rebuild):
        make()
        [row] = filled.store.query("SELECT * FROM trail ORDER BY seq LIMIT 1")
        marks = ", ".join("?" * len(row))
        with pytest.raises(Exception, match=r"(?i)unique"), filled.store.transaction() as c:
            c.execute(f"INSERT INTO trail VALUES ({marks})", row)


def test_a_rebuild_keeps_the_indexes_its_batches_read_by(demo: Services) -> None:
    """While the demo's read models replay, the indexes that some batch looks rows up by stay
    (the delivery records read a follow-up as of a seq and tasks by task id; every version
    table's prefetch and closes read its current rows; the trail its subjects' owners); the
    others are made at the end."""
    made = indexes(demo.store)
    read_by_batches = {
        "followups_key",
        "tasks_natural",
        "targets_current",
        "tasks_current",
        "followups_current",
        "trail_subjects_owner",
    }
    only_read = {"targets_key", "tasks_key", "draws_key", "followups_natural", "trail_key"}
    assert made >= read_by_batches | only_read
    seen: list[set[str]] = []
    demo.runner.rebuild(lambda done, total: seen.append(indexes(demo.store)))
    assert seen and all(s >= read_by_batches and not s & only_read for s in seen)
    assert indexes(demo.store) == made


def test_a_rebuild_stopped_half_way_gets_its_indexes_back(
    filled: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    filled.catch_up()
    made, incremental = indexes(filled.store), rows(filled.store)
    monkeypatch.setattr(runner_module, "BATCH", 10)

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        filled.rebuild(stop)
    assert not indexes(filled.store) & read_indexes(filled.store)
    assert 0 <= min(filled.seqs().values()) < filled.ledger.head_seq()
    restarted = Runner(filled.ledger, filled.store, filled.projections)
    assert indexes(filled.store) == made
    restarted.catch_up()
    assert rows(filled.store) == incremental


def test_a_catch_up_behind_goes_on_in_large_batches(
    filled: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind, on PostgreSQL, each next batch is read in the read-ahead thread while the one
    before is applied (on SQLite all in the caller's thread); every seq is read once, in order."""
    monkeypatch.setattr(runner_module, "BATCH", 4)
    monkeypatch.setattr(runner_module, "LARGE_BATCH", 10)
    sizes: list[int] = []
    apply = filled.apply_batch
    monkeypatch.setattr(filled, "apply_batch", lambda b: (sizes.append(len(b)), apply(b)))
    reads: list[tuple[int, int, bool]] = []
    read = filled.ledger.read

    def reading(start: int, limit: int) -> list[LoggedEvent]:
        reads.append((start, limit, threading.current_thread() is threading.main_thread()))
        return read(start, limit)

    monkeypatch.setattr(filled.ledger, "read", reading)
    assert filled.catch_up() == filled.ledger.size() == 36  # with the key ring's 2
    assert sizes == [4, 10, 10, 10, 2]
    ahead = filled.store.is_postgres
    assert reads == [(0, 4, True)] + [(s, 10, not ahead) for s in (4, 14, 24, 34)]
    sizes.clear()
    reads.clear()
    assert filled.catch_up() == 0 and sizes == [] and reads == [(36, 4, True)]
    assert rows(filled.store) == catch_up_in_one(filled)


def catch_up_in_one(runner: Runner) -> dict[str, list[str]]:
    """The rows of `runner`'s read models after a rebuild in one batch."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner_module, "BATCH", 1000)
        patch.setattr(runner_module, "LARGE_BATCH", 1000)
        runner.rebuild()
    return rows(runner.store)


def test_upsert_rows_keeps_text_as_given(settings: Settings) -> None:
    store = open_view_store(settings)
    awkward = [
        'quote " and \\ backslash',
        "行\n换\t制表",
        '{"json": [1]}',
        "'; --",
        "\u00e9\U0001f600",
    ]
    try:
        with store.transaction() as c:
            c.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, a TEXT, b TEXT)")
            upsert_rows(
                c, "kv", ("k",), ("a", "b"), [(f"k{i}", v, None) for i, v in enumerate(awkward)]
            )
        with store.transaction() as c:
            upsert_rows(c, "kv", ("k",), ("a", "b"), [("k0", "new", awkward[1]), ("k9", None, "x")])
        got = dict((k, (a, b)) for k, a, b in store.query("SELECT k, a, b FROM kv"))
        want = {f"k{i}": (v, None) for i, v in enumerate(awkward)}
        want |= {"k0": ("new", awkward[1]), "k9": (None, "x")}
        assert got == want
    finally:
        with store.transaction() as c:
            c.execute("DROP TABLE IF EXISTS kv")
        store.close()


def test_only_the_sqlite_writer_gets_the_large_page_cache_and_checkpoint_interval(
    filled: Runner,
) -> None:
    store = filled.store
    if not isinstance(store, SQLiteViewStore):
        pytest.skip("a SQLite page cache")
    filled.catch_up()

    def settings() -> tuple[int, int]:
        conn = store.connection()
        return (
            conn.execute("PRAGMA cache_size").fetchone()[0],
            conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0],
        )

    writer = settings()
    other: list[tuple[int, int]] = []
    reader = threading.Thread(target=lambda: other.append(settings()))
    reader.start()
    reader.join()
    assert writer == (-WRITER_CACHE_KIB, WRITER_CHECKPOINT_PAGES)
    assert other and other[0][0] != writer[0]
    assert other[0][1] == 1000  # SQLite's own


def test_a_catch_up_runs_with_the_collector_paused(filled: Runner, collector_on: None) -> None:
    """A batch's containers form no cycles: the collector's passes are skipped while the
    runner applies them and between its batches, and it is on again afterwards."""
    seen: list[bool] = []
    between: list[bool] = []
    apply = filled.apply_batch

    def watched(batch: Sequence[LoggedEvent]) -> None:
        seen.append(gc.isenabled())
        apply(batch)

    filled.apply_batch = watched  # type: ignore[method-assign]
    assert filled.catch_up(lambda done, total: between.append(gc.isenabled())) > 0
    assert seen and not any(seen)
    assert between and not any(between)
    assert gc.isenabled()


def test_sqlite_read_models_leave_freed_pages_unzeroed(filled: Runner) -> None:
    """A SQLite built with SQLITE_SECURE_DELETE would zero every page a rebuild's drops free:
    each connection of the store turns it off (a read model hides nothing the ledger holds)."""
    store = filled.store
    if not isinstance(store, SQLiteViewStore):
        pytest.skip("a SQLite pragma")
    filled.rebuild()
    found = [store.connection().execute("PRAGMA secure_delete").fetchone()[0]]
    reader = threading.Thread(
        target=lambda: found.append(
            store.connection().execute("PRAGMA secure_delete").fetchone()[0]
        )
    )
    reader.start()
    reader.join()
    assert found == [0, 0]


def pragma(store: SQLiteViewStore, name: str) -> Any:
    return store.connection().execute(f"PRAGMA {name}").fetchone()[0]


def test_read_models_in_memory_have_sqlites_largest_pages(tmp_path: Path) -> None:
    """A replay's scratch read models (`:memory:`) take 64 KiB pages, set before the first
    table; a file's take 8 KiB pages (a rebuild's scratch file too) and a WAL (the scratch file
    none)."""
    memory = SQLiteViewStore(Path(":memory:"))
    on_disk = SQLiteViewStore(tmp_path / "views.sqlite")
    scratch = ScratchSQLiteViewStore(tmp_path / "views-apart.sqlite")
    try:
        for store in (memory, on_disk, scratch):
            with store.transaction() as c:
                c.execute("CREATE TABLE t (x TEXT)")
        assert pragma(memory, "page_size") == 65536
        assert pragma(on_disk, "page_size") == pragma(scratch, "page_size") == 8192
        assert pragma(memory, "secure_delete") == pragma(on_disk, "secure_delete") == 0
        assert pragma(on_disk, "journal_mode") == "wal"
        assert pragma(scratch, "journal_mode") == "off"
    finally:
        for store in (memory, on_disk, scratch):
            store.close()


def test_a_read_model_file_made_with_smaller_pages_keeps_them(tmp_path: Path) -> None:
    """A file made before the stores took 8 KiB pages (SQLite's 4 KiB, in WAL mode) opens
    as it is: the page size it was made with, its rows, and new rows written."""
    path = tmp_path / "views.sqlite"
    older = sqlite3.connect(path)
    older.execute("PRAGMA journal_mode=WAL")
    older.execute("CREATE TABLE t (x TEXT)")
    older.execute("INSERT INTO t VALUES ('before')")
    older.commit()
    older.close()
    store = SQLiteViewStore(path)
    try:
        with store.transaction() as c:
            c.execute("INSERT INTO t VALUES ('after')")
        assert pragma(store, "page_size") == 4096
        assert store.query("SELECT x FROM t ORDER BY x") == [("after",), ("before",)]
    finally:
        store.close()


def test_a_sqlite_rebuild_ends_with_its_wal_checkpointed(filled: Runner) -> None:
    """The writer checkpoints only every 64 MiB: a rebuild copies its WAL into the database
    file at the end, which then holds every read model without the WAL."""
    store = filled.store
    if not isinstance(store, SQLiteViewStore):
        pytest.skip("SQLite's WAL")
    filled.catch_up()
    filled.rebuild()
    file_alone = sqlite3.connect(f"file:{store.path}?immutable=1", uri=True)
    try:
        tables = ("trail", "targets", "projection_positions")
        found = {t: file_alone.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        file_alone.close()
    assert found == {t: store.query(f"SELECT count(*) FROM {t}")[0][0] for t in tables}
    assert found["trail"] > 0


def test_a_rebuild_says_where_its_time_went(filled: Runner) -> None:
    """`Runner.phases`: the seconds of each phase of the last rebuild in one process (no
    second process: no waiting for one, nothing taken in), in the order `ssj projections
    rebuild` shows them, within the rebuild's own time; the replay is the phase that ran the
    progress callback."""
    seen: list[float] = []
    started = time.perf_counter()
    filled.rebuild(lambda done, total: seen.append(time.perf_counter()))
    elapsed = time.perf_counter() - started
    phases = filled.phases
    wal = [] if filled.store.is_postgres else ["wal"]  # SQLite's write-ahead log merged
    assert list(phases) == ["start_over", "replay", "read_indexes", *wal]
    assert list(phases) == [p for p in runner_module.REBUILD_PHASES if p in phases]
    assert all(seconds >= 0 for seconds in phases.values())
    assert sum(phases.values()) <= elapsed
    assert seen and phases["replay"] >= seen[-1] - seen[0]
    filled.rebuild()
    assert list(filled.phases) == list(phases)  # the same phases again, counted afresh
