"""The ledger on both backends: appends, envelopes, proofs, checkpoints, keys."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import ConnectionPoolClosedError, IntegrityError

from ssj.config import Settings
from ssj.errors import SigningKeyError, ValidationError
from ssj.ledger import merkle, note
from ssj.ledger.application import Ledger
from ssj.ledger.audit import verify_ledger
from ssj.ledger.checkpoint import open_checkpoint
from ssj.ledger.envelope import Actor, Envelope, envelope_hash
from ssj.ledger.sqlite import CHECKPOINT_WORK, WRITER_BACKSTOP_PAGES, LedgerSQLitePool

ALICE = Actor("alice", "city-market", "operator")


class Thing(Aggregate):
    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name

    @event("Renamed")
    def rename(self, name: str) -> None:
        self.name = name


@pytest.fixture
def ledger(settings: Settings) -> Ledger:
    led = Ledger(settings)
    led.initialise()
    return led


def test_envelopes_are_contiguous_chained_and_signed(ledger: Ledger) -> None:
    things = [Thing(f"t{i}") for i in range(5)]
    for t in things:
        t.rename(t.name + "!")
    ledger.save(*things, actor=ALICE)
    ledger.save(things[0], actor=ALICE)  # nothing pending: no event
    rows = ledger.ledger_recorder.select_envelopes(0, 100)
    assert [r[0] for r in rows] == list(range(len(rows)))
    assert len(rows) == 2 + 10
    keyring = ledger.keyring()
    verifier = note.parse_verifier_key(keyring.keys[keyring.active_key_id])
    prev = bytes(32)
    for seq, _nid, data, signature in rows:
        env = Envelope.from_bytes(data)
        assert env.seq == seq
        assert env.prev_hash == prev
        assert verifier.verify(data, signature)
        prev = envelope_hash(data)
    last = Envelope.from_bytes(rows[-1][2])
    assert last.actor == ALICE
    assert last.topic.endswith("Thing.Renamed")


def test_save_without_actor_writes_nothing(ledger: Ledger) -> None:
    size = ledger.size()
    with pytest.raises(ValidationError):
        ledger.save(Thing("x"))
    assert ledger.size() == size


def test_proofs_from_storage_match_pure_functions(ledger: Ledger) -> None:
    for i in range(11):
        ledger.save(Thing(f"t{i}"), actor=ALICE)
    rows = ledger.ledger_recorder.select_envelopes(0, 1000)
    leaves = [merkle.leaf_hash(r[2]) for r in rows]
    n = len(leaves)
    assert ledger.root(n) == merkle.root(leaves)
    for size in range(1, n + 1):
        root = merkle.root(leaves[:size])
        assert ledger.root(size) == root
        for index in range(size):
            proof = ledger.inclusion_proof(index, size)
            assert proof == merkle.inclusion_proof(index, size, leaves)
            assert merkle.verify_inclusion(leaves[index], index, size, proof, root)
        for old in range(size + 1):
            proof = ledger.consistency_proof(old, size)
            assert proof == merkle.consistency_proof(old, size, leaves)
    with pytest.raises(ValidationError):
        ledger.inclusion_proof(n, n)
    with pytest.raises(ValidationError):
        ledger.root(n + 1)


def test_batch_proofs_match_single_proofs_with_and_without_leaves(ledger: Ledger) -> None:
    # The delivery worker proves a turn's records at once (shared upper ranges folded once)
    # and hands over the envelopes it read (the low nodes are hashed from them, not re-read).
    for i in range(40):
        ledger.save(Thing(f"t{i}"), actor=ALICE)
    rows = ledger.ledger_recorder.select_envelopes(0, 1000)
    size = len(rows)
    indices = [0, 3, 7, 8, 9, 17, 30, 31, size - 1]
    single = {i: ledger.inclusion_proof(i, size) for i in indices}
    assert ledger.inclusion_proofs(indices, size) == single
    everything = {seq: data for seq, _, data, _ in rows}
    assert ledger.inclusion_proofs(indices, size, everything) == single
    some = {seq: data for seq, data in everything.items() if seq < 16}  # the rest is read
    smaller = [i for i in indices if i < size - 3]  # a tree whose last block is not full
    assert ledger.inclusion_proofs(smaller, size - 3, some) == {
        i: ledger.inclusion_proof(i, size - 3) for i in smaller
    }
    with pytest.raises(ValidationError):
        ledger.inclusion_proofs([size], size)


def test_checkpoints_are_signed_notes_over_the_ledger(ledger: Ledger) -> None:
    ledger.save(Thing("a"), Thing("b"), actor=ALICE)
    size = ledger.size()
    signed = ledger.issue_checkpoint()
    keyring = ledger.keyring()
    cp = open_checkpoint(signed, list(keyring.keys.values()))
    assert cp.origin == ledger.settings.log_origin
    assert cp.size == size
    assert cp.root_hash == ledger.root(size)
    assert ledger.checkpoints()[-1] == (size, signed)
    assert ledger.latest_checkpoint() == signed


def test_checkpoints_are_issued_automatically_every_n_events(settings: Settings) -> None:
    from dataclasses import replace

    led = Ledger(replace(settings, checkpoint_every_events=5))
    led.initialise()
    for i in range(12):
        led.save(Thing(f"t{i}"), actor=ALICE)
    sizes = [size for size, _ in led.checkpoints()]
    assert len(sizes) >= 2
    assert all(b - a >= 5 for a, b in zip([0, *sizes], sizes, strict=False))


def test_rotation_switches_the_signing_key(ledger: Ledger) -> None:
    old = ledger.keyring().active_key_id
    new = ledger.rotate_key(ALICE)
    assert new != old
    ledger.save(Thing("after"), actor=ALICE)
    rows = ledger.ledger_recorder.select_envelopes(0, 100)
    rotation_seq = len(rows) - 2
    assert Envelope.from_bytes(rows[rotation_seq][2]).key_id == old
    assert Envelope.from_bytes(rows[-1][2]).key_id == new
    # Another process with a stale cache must also switch: a fresh Ledger instance.
    other = Ledger(ledger.settings)
    other.save(Thing("other"), actor=ALICE)
    assert Envelope.from_bytes(other.ledger_recorder.select_envelopes(0, 100)[-1][2]).key_id == new


def test_revoking_the_active_key_is_refused(ledger: Ledger) -> None:
    active = ledger.keyring().active_key_id
    size = ledger.size()
    with pytest.raises(Exception, match="rotate first"):
        ledger.revoke_key(ALICE, active, 0, "lost laptop")
    assert ledger.size() == size


def test_missing_private_key_is_a_clear_error(ledger: Ledger) -> None:
    active = ledger.keyring().active_key_id
    ledger.keystore.path_for(active).unlink()
    other = Ledger(ledger.settings)
    size = other.size()
    with pytest.raises(SigningKeyError, match="not found"):
        other.save(Thing("x"), actor=ALICE)
    assert other.size() == size


def test_sqlite_ledger_connections_come_from_the_statement_caching_pool(
    sqlite_settings: Settings,
) -> None:
    """The embedded ledger opens its connections through `LedgerSQLitePool` (a statement cache
    instead of eventsourcing's one statement), in WAL mode, with rows read by column name as
    the library reads them; appends and reads work through it."""
    ledger = Ledger(sqlite_settings)
    try:
        ledger.initialise()
        pool = ledger.ledger_recorder.datastore.pool
        assert type(pool) is LedgerSQLitePool
        ledger.save(Thing(name="一"), actor=ALICE)
        with ledger.ledger_recorder.datastore.transaction(commit=False) as c:
            c.execute("PRAGMA journal_mode")
            assert c.fetchone()[0] == "wal"
            c.execute("SELECT COUNT(*) AS n FROM ssj_envelopes")
            assert c.fetchone()["n"] == ledger.size() >= 2
        assert verify_ledger(ledger).ok
    finally:
        ledger.close()


def test_sqlite_appends_share_one_connection_kept_out_of_the_pool(
    sqlite_settings: Settings,
) -> None:
    """Appends from several threads go through the one connection the pool keeps aside for
    them; a conflicting append rolls back on it and leaves no transaction open for the next;
    closing the ledger closes it, and an append after that is refused."""
    ledger = Ledger(sqlite_settings)
    pool = ledger.ledger_recorder.datastore.pool
    assert isinstance(pool, LedgerSQLitePool)
    try:
        ledger.initialise()
        first = Thing(name="一")
        ledger.save(first, actor=ALICE)
        before = ledger.size()
        writer = pool.writer()
        changes = writer._sqlite_conn.total_changes
        errors: list[BaseException] = []

        def append(n: int) -> None:
            try:
                for i in range(20):
                    ledger.save(Thing(name=f"{n}-{i}"), actor=ALICE)
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=append, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert ledger.size() == before + 80
        assert writer._sqlite_conn.total_changes >= changes + 2 * 80  # events and envelopes
        assert pool.writer() is writer
        stale = ledger.repository.get(first.id)
        first.rename("二")
        stale.rename("三")
        ledger.save(first, actor=ALICE)
        size = ledger.size()
        with pytest.raises(IntegrityError):
            ledger.save(stale, actor=ALICE)
        assert ledger.size() == size
        assert not writer._sqlite_conn.in_transaction
        ledger.save(Thing(name="四"), actor=ALICE)
        assert ledger.size() == size + 1
        assert verify_ledger(ledger).ok
    finally:
        ledger.close()
    with pytest.raises(ConnectionPoolClosedError):
        ledger.save(Thing(name="五"), actor=ALICE)
    with pytest.raises(sqlite3.ProgrammingError):  # the kept connection was closed
        writer._sqlite_conn.execute("SELECT 1")


def _rows_in_database_file(path: Path, copy: Path) -> int:
    """Envelopes the database file holds by itself, without its WAL (read from a copy)."""
    shutil.copyfile(path, copy)
    with contextlib.closing(sqlite3.connect(copy)) as c:
        found = c.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'ssj_envelopes'"
        ).fetchone()
        return (
            0
            if found is None
            else int(c.execute("SELECT COUNT(*) FROM ssj_envelopes").fetchone()[0])
        )


def test_sqlite_appends_leave_the_wal_checkpoints_to_a_thread_of_their_own(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    """The appends' connection checkpoints only past `WRITER_BACKSTOP_PAGES`; after
    `CHECKPOINT_WORK` (commits plus events) the checkpointer's thread copies the WAL into the
    database file itself; closing the ledger stops that thread."""
    ledger = Ledger(sqlite_settings)
    pool = ledger.ledger_recorder.datastore.pool
    assert isinstance(pool, LedgerSQLitePool)
    path = Path(pool.db_name)
    try:
        ledger.initialise()
        with pool.writer_lock:
            (pages,) = pool.writer()._sqlite_conn.execute("PRAGMA wal_autocheckpoint").fetchone()
        assert pages == WRITER_BACKSTOP_PAGES
        ledger.save(Thing(name="一"), actor=ALICE)
        assert _rows_in_database_file(path, tmp_path / "early.sqlite") == 0  # all in the WAL
        assert pool.checkpointer._thread is None
        commits = CHECKPOINT_WORK // 2  # one event each
        for i in range(commits):
            ledger.save(Thing(name=f"{i}"), actor=ALICE)
        thread = pool.checkpointer._thread
        assert thread is not None and thread.is_alive()
        deadline = time.monotonic() + 30
        held = 0
        while held < commits // 2 and time.monotonic() < deadline:  # its first checkpoint
            try:
                held = _rows_in_database_file(path, tmp_path / "late.sqlite")
            except sqlite3.DatabaseError:  # copied while the checkpoint was writing the file
                held = 0
            time.sleep(0.05)
        assert held >= commits // 2
        assert verify_ledger(ledger).ok
    finally:
        ledger.close()
    assert not thread.is_alive()


def test_sqlite_wal_starts_again_under_steady_appends(sqlite_settings: Settings) -> None:
    """One-event appends one after another, the checkpointer's thread copying beside them: the
    WAL is rewound to its beginning again and again (`WRITER_BACKSTOP_PAGES`), so its file stays
    far smaller than everything appended, not growing with each commit (a commit that extends
    the file syncs more)."""
    ledger = Ledger(sqlite_settings)
    pool = ledger.ledger_recorder.datastore.pool
    assert isinstance(pool, LedgerSQLitePool)
    wal = Path(pool.db_name + "-wal")
    try:
        ledger.initialise()
        commits = 4_000  # each writes at least three pages: 12,000 or more in all
        for i in range(commits):
            ledger.save(Thing(name=f"{i}"), actor=ALICE)
        appended = 3 * commits * 4096
        assert wal.stat().st_size < appended / 2
        assert verify_ledger(ledger).ok
    finally:
        ledger.close()
