"""The chained recorder contract (ssj/ledger/contract.py), one test case run once per backend.

A new backend subclasses `RecorderContract` with its settings fixture's name and must pass it
unchanged; the eventsourcing hooks the backends override are pinned in test_eventsourcing_hooks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from copy import deepcopy
from typing import ClassVar

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import StoredEvent

from ssj.config import Settings
from ssj.errors import ValidationError
from ssj.ledger import chain, merkle, note, signing
from ssj.ledger import suite as suites
from ssj.ledger.application import MAP_PART, Ledger
from ssj.ledger.audit import verify_ledger
from ssj.ledger.contract import ChainedRecorder
from ssj.ledger.envelope import Actor, Envelope, envelope_hash
from ssj.ledger.keys import LedgerSigner
from ssj.ledger.postgres import ChainedPostgresRecorder
from ssj.ledger.sqlite import ChainedSQLiteRecorder, LedgerSQLitePool

ACTOR = Actor(user="tester", department="TEST", role="operator")


class Note(Aggregate):
    class Written(Aggregate.Created):
        text: str

    @event(Written)
    def __init__(self, text: str) -> None:
        self.text = text

    class Amended(Aggregate.Event):
        text: str

    @event(Amended)
    def amend(self, text: str) -> None:
        self.text = text


def _wait_for_signers(signer: LedgerSigner, workers: int) -> None:
    """Until `workers` signer processes have started and sign batches."""
    for _ in range(400):
        batch = signing.Signing(signer.signer_key, signer.sign, [b"m"] * signing.FROM)
        used = {id(w) for w, _, _ in batch._parts if w is not None}
        batch.result()
        if len(used) == workers:
            return
        time.sleep(0.05)
    pytest.fail("the signer processes never became ready")


def test_a_batch_sent_in_many_parts_is_signed_without_deadlock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch of thousands of envelopes sent part by part to one signer process (an import's
    batch): the writer reads the answers written so far before each send, so neither pipe fills
    with the other side waiting (before, the 64th part or so hung both processes for good). Run
    in a thread, so that a deadlock fails this test instead of hanging the suite."""
    monkeypatch.setenv("SSJ_SIGN_WORKERS", "1")
    key, _ = note.generate_key("test.example/log", suites.DEFAULT)
    signer = LedgerSigner(note.parse_signer_key(key), key)
    _wait_for_signers(signer, 1)
    messages = [f"envelope {i} ".encode() * 30 for i in range(5000)]  # ~400 bytes, as real ones
    found: list[list[bytes]] = []

    def sign_in_parts() -> None:
        batch = signing.Signing(signer.signer_key, signer.sign, size=len(messages))
        for lo in range(0, len(messages), MAP_PART):
            batch.add(messages[lo : lo + MAP_PART])
        found.append(batch.result())

    worker = threading.Thread(target=sign_in_parts, daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "the writer and its signer process deadlocked"
    assert found == [[signer.sign(m) for m in messages]]
    assert all(not w.busy.locked() for w in signing._workers)


@pytest.mark.parametrize("backlog", [0, 1, 10**6])
def test_a_writer_ahead_of_its_signer_signs_parts_itself(
    backlog: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that drafts faster than its signer process signs (an import's prepared events)
    signs the next part itself once the worker has `BACKLOG` parts waiting: every part by the
    writer (0), parts by both (1), every part by the worker (unbounded); the same signatures,
    in order, in each case."""
    monkeypatch.setenv("SSJ_SIGN_WORKERS", "1")
    key, _ = note.generate_key("test.example/log", suites.DEFAULT)
    signer = LedgerSigner(note.parse_signer_key(key), key)
    _wait_for_signers(signer, 1)
    monkeypatch.setattr(signing, "BACKLOG", backlog)
    messages = [f"envelope {i} ".encode() * 30 for i in range(1000)]
    batch = signing.Signing(signer.signer_key, signer.sign, size=len(messages))
    for lo in range(0, len(messages), MAP_PART):
        batch.add(messages[lo : lo + MAP_PART])
    by_worker = sum(w is not None for w, _, _ in batch._parts)
    by_writer = len(batch._own)
    assert batch.result() == [signer.sign(m) for m in messages]
    assert all(not w.busy.locked() for w in signing._workers)
    if backlog == 0:
        assert by_worker == 0 and by_writer > 0
    elif backlog == 1:
        assert by_worker > 0 and by_writer > 0
    else:
        assert by_writer == 0 and by_worker > 0


def test_the_writer_share_grows_after_a_wait_and_shrinks_after_none() -> None:
    """By one step, up or down, whatever the wait; never below 0 nor above MAX_SHARE."""
    per, step = 20e-6, signing.STEP
    assert signing.rebalance(0.05, 5e-3, per) == pytest.approx(0.05 + step)
    assert signing.rebalance(0.05, 21e-6, per) == pytest.approx(0.05 + step)
    assert signing.rebalance(0.05, 19e-6, per) == pytest.approx(0.05 - step)
    assert signing.rebalance(step / 2, 0.0, per) == 0.0
    assert signing.rebalance(signing.MAX_SHARE, 1.0, per) == signing.MAX_SHARE


def test_a_writer_that_waited_for_its_signer_takes_more_of_the_next_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch whose writer has nothing to do but sign its 5 % and collect the rest waits for
    the worker's 95 % (some 20 ms of signing against its 1), and the next batch leaves the
    worker a step fewer. Signatures unchanged."""
    monkeypatch.setenv("SSJ_SIGN_WORKERS", "1")
    key, _ = note.generate_key("test.example/log", suites.DEFAULT)
    signer = LedgerSigner(note.parse_signer_key(key), key)
    _wait_for_signers(signer, 1)
    messages = [f"envelope {i} ".encode() * 30 for i in range(1000)]
    expected = [signer.sign(m) for m in messages]
    balance = signing.balance(signer.signer_key, len(messages))  # not the 16-message batches'
    assert balance.share == signing.OWN_SHARE
    batch = signing.Signing(signer.signer_key, signer.sign, messages)
    assert batch._given == 950
    assert batch.result() == expected
    assert balance.per_signature > 0
    assert balance.share == pytest.approx(signing.OWN_SHARE + signing.STEP)
    assert signing.balance(signer.signer_key, signing.FROM) is not balance
    batch = signing.Signing(signer.signer_key, signer.sign, messages)
    assert batch._given == 1000 - int(1000 * (signing.OWN_SHARE + signing.STEP))
    assert batch.result() == expected
    assert all(not w.busy.locked() for w in signing._workers)


def test_signatures_are_collected_as_the_writer_reaches_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`each` yields the signatures in order and reads a worker's part only when it gets
    there, so a writer inserts the rows of the parts answered while later ones are signed. A
    writer that stops part way (its insert failed) leaves the rest to `discard`: the worker
    is freed and its next batch gets its own answers, not the abandoned batch's."""
    monkeypatch.setenv("SSJ_SIGN_WORKERS", "1")
    key, _ = note.generate_key("test.example/log", suites.DEFAULT)
    signer = LedgerSigner(note.parse_signer_key(key), key)
    _wait_for_signers(signer, 1)
    monkeypatch.setattr(signing, "BACKLOG", 10**6)  # every part the worker's
    messages = [f"envelope {i} ".encode() * 30 for i in range(1000)]
    batch = signing.Signing(signer.signer_key, signer.sign, size=len(messages))
    for lo in range(0, len(messages), MAP_PART):
        batch.add(messages[lo : lo + MAP_PART])
    parts = len(batch._parts)
    assert parts > 2
    stream = batch.each()
    assert [next(stream) for _ in range(MAP_PART)] == [signer.sign(m) for m in messages[:MAP_PART]]
    assert len(batch._parts) == parts - 1  # one part collected, the others not yet read
    assert any(w.busy.locked() for w in signing._workers)
    stream.close()
    assert all(not w.busy.locked() for w in signing._workers)
    others = [f"other {i} ".encode() * 30 for i in range(200)]
    again = signing.Signing(signer.signer_key, signer.sign, others)
    assert any(w is not None for w, _, _ in again._parts)
    assert list(again.each()) == [signer.sign(m) for m in others]
    assert all(not w.busy.locked() for w in signing._workers)
    # Read to the end once, the signatures are kept: nothing is signed or collected again.
    assert again.result() == list(again.each()) == [signer.sign(m) for m in others]


class RecorderContract:
    """Every item of `ChainedRecorder`, on a fresh ledger of one backend."""

    settings_fixture: ClassVar[str]

    @pytest.fixture
    def ledger(self, request: pytest.FixtureRequest) -> Iterator[Ledger]:
        settings: Settings = request.getfixturevalue(self.settings_fixture)
        ledger = Ledger(settings)
        try:
            ledger.initialise()
            yield ledger
        finally:
            ledger.close()

    @staticmethod
    def recorder(ledger: Ledger) -> ChainedRecorder:
        return ledger.ledger_recorder

    def test_the_recorder_has_every_item_of_the_contract(self, ledger: Ledger) -> None:
        assert isinstance(ledger.recorder, ChainedRecorder)
        recorder = self.recorder(ledger)
        assert recorder.suite is ledger.suite
        assert isinstance(recorder.events_table_name, str) and recorder.events_table_name
        recorder.check_schema()

    def test_appends_are_chained_and_read_back(self, ledger: Ledger) -> None:
        recorder = self.recorder(ledger)
        before = recorder.ledger_size()
        assert before > 0  # the genesis: key ring and transparency log
        note = Note("first")
        note.amend("second")
        ledger.save(note, actor=ACTOR)
        size = recorder.ledger_size()
        assert size == before + 2
        seqs = recorder.select_seqs(note.id)
        assert seqs == [(1, before), (2, before + 1)]
        head = recorder.cached_head
        assert head is not None and head.size == size

        rows = recorder.select_envelopes(before, 10)
        assert [r[0] for r in rows] == [before, before + 1]
        stored = recorder.select_events(note.id)
        notes = recorder.select_notifications(rows[0][1], 2)
        assert [n.id for n in notes] == [r[1] for r in rows]
        for (seq, _, data, _), one, (version, _) in zip(rows, stored, seqs, strict=True):
            envelope = Envelope.from_bytes(data)
            assert envelope.seq == seq and envelope.originator_version == version
            assert envelope.topic == one.topic and envelope.actor == ACTOR
        assert head.last_hash == envelope_hash(rows[-1][2], ledger.suite)
        assert recorder.select_envelopes(before, 10, stop=before + 1) == rows[:1]
        assert recorder.select_envelopes(size, 10) == []
        texts = recorder.select_envelope_texts(before, 10)
        assert texts == [(seq, nid, data) for seq, nid, data, _ in rows]
        assert recorder.select_envelope_texts(before, 10, stop=before + 1) == texts[:1]
        assert recorder.select_envelope_texts(before + 1, 1) == texts[1:]
        assert recorder.select_envelope_texts(size, 10) == []

    def test_node_hashes_fold_to_the_root_of_the_envelopes(self, ledger: Ledger) -> None:
        recorder = self.recorder(ledger)
        ledger.save(Note("a"), Note("b"), Note("c"), actor=ACTOR)
        size = recorder.ledger_size()
        tree = ledger.suite.tree
        leaves = [tree.leaf_hash(r[2]) for r in recorder.select_envelopes(0, size)]
        plan = merkle.subtree_nodes(0, size)
        found = recorder.node_hashes(plan)
        assert set(found) >= set(plan)
        assert tree.fold([found[c] for c in plan]) == tree.root(leaves)

    def test_nothing_is_written_without_an_actor(self, ledger: Ledger) -> None:
        recorder = self.recorder(ledger)
        before = recorder.ledger_size()
        stored = ledger.mapper.to_stored_event(Note("x").collect_events()[0])
        with pytest.raises(ValidationError):
            recorder.insert_events([stored])
        assert recorder.ledger_size() == before
        ledger.save(Note("y"), actor=ACTOR)  # and the recorder still appends afterwards
        assert recorder.ledger_size() == before + 1

    def test_a_signer_is_loaded_inside_the_write_when_none_is_configured(
        self, ledger: Ledger
    ) -> None:
        recorder = self.recorder(ledger)
        loaded: list[int] = []

        def loader(stored: Sequence[StoredEvent]) -> tuple[int | None, LedgerSigner]:
            loaded.append(len(stored))
            return ledger._load_signer(stored)

        recorder.configure_signer(None, None, loader)
        ledger.save(Note("z"), actor=ACTOR)
        assert loaded and loaded[0] > 0  # the key ring's events, read under the lock
        [row] = recorder.select_envelopes(recorder.ledger_size() - 1, 1)
        assert Envelope.from_bytes(row[2]).key_id == ledger.keyring().active_key_id

    @pytest.mark.parametrize("workers", ["0", "1", "2"])
    def test_batches_drafted_while_mapped_store_the_reference_bytes(
        self, ledger: Ledger, workers: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A large batch is mapped in parts, each drafted and sent to sign as it is mapped
        (`start_draft`, `use_draft`): the event rows, envelopes, signatures and Merkle nodes
        stored are, byte for byte, what the library's mapping of the whole batch and `draft`
        of it at once (the reference path) make, whoever signs, one actor or one per event;
        so are one-event appends' (single-row statements on PostgreSQL)."""
        monkeypatch.setenv("SSJ_SIGN_WORKERS", workers)
        monkeypatch.setattr(chain, "utc_now_text", lambda: "2026-12-04T23:00:00.000000Z")
        recorder = self.recorder(ledger)
        started: list[object] = []
        start_draft = recorder.start_draft
        monkeypatch.setattr(
            recorder, "start_draft", lambda *a: started.append(start_draft(*a)) or started[-1]
        )
        if workers != "0":
            _wait_for_signers(ledger._load_signer()[1], int(workers))
        other = Actor(user="other", department="TEST", role="reviewer")
        existing = Note("amended")
        ledger.save(existing, actor=ACTOR)
        # nine one-event appends (one Merkle node stored among them), then batches
        for n in (*[1] * 9, signing.FROM, MAP_PART, MAP_PART + 1, 3 * MAP_PART + 7, 100, 3):
            notes: list[Aggregate] = [Note(f"{n}-{i}-名") for i in range(n - 1)]
            existing.amend(f"amended {n}")
            notes.append(existing)
            events = [e for a in notes for e in deepcopy(a).collect_events()]
            actors = [ACTOR if i % 3 else other for i in range(n)] if n % 2 == 0 else None
            head = recorder.cached_head
            assert head is not None
            signer = ledger._load_signer()[1]
            reference = chain.draft(
                head, [ledger.mapper.to_stored_event(e) for e in events], actors or ACTOR, signer
            )
            assert reference.signatures() == [signer.sign(m) for m in reference.envelopes]
            domain = [e for a in notes for e in a.collect_events()]
            if actors:
                ledger.events.put(domain, actor=ACTOR, actors=actors)
            else:
                ledger.events.put(domain, actor=ACTOR)
            # drafted while mapped from signing.FROM events on, else by the reference path
            assert (started[-1] is not None) == (n >= signing.FROM)
            rows = recorder.select_envelopes(head.size, n + 1)
            assert [r[0] for r in rows] == list(range(head.size, head.size + n))
            assert [r[2] for r in rows] == reference.envelopes
            assert [r[3] for r in rows] == reference.signatures()
            assert recorder.cached_head == reference.end
            stored = recorder.select_event_rows(rows[0][1], n + 1, rows[-1][1])
            assert [(str(r[1]), r[2], r[3], bytes(r[4])) for r in stored] == [
                (str(e.originator_id), e.originator_version, e.topic, e.state)
                for e in map(ledger.mapper.to_stored_event, events)
            ]
            coords = [(level, index) for level, index, _ in reference.nodes]
            found = recorder.node_hashes(coords)
            assert [(c[0], c[1], found.get(c)) for c in coords] == reference.nodes
        assert verify_ledger(ledger, jobs=1).ok
        assert all(not w.busy.locked() for w in signing._workers)

    def test_a_batch_whose_mapping_fails_writes_nothing_and_frees_the_signers(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An event refused by the mapper in the batch's last part: the parts drafted before
        it are discarded (signer processes freed), nothing is written, and the next batch
        chains on as if it had never been tried."""
        monkeypatch.setenv("SSJ_SIGN_WORKERS", "1")
        recorder = self.recorder(ledger)
        size = recorder.ledger_size()
        bad = [Note(f"n{i}") for i in range(2 * MAP_PART)] + [Note("\x00")]
        with pytest.raises(ValidationError):
            ledger.save(*bad, actor=ACTOR)
        assert recorder.ledger_size() == size
        assert all(not w.busy.locked() for w in signing._workers)
        ledger.save(*[Note(f"m{i}") for i in range(2 * MAP_PART)], actor=ACTOR)
        assert recorder.ledger_size() == size + 2 * MAP_PART
        assert verify_ledger(ledger, jobs=1).ok


class TestSQLiteRecorder(RecorderContract):
    settings_fixture = "sqlite_settings"

    def test_the_head_is_read_only_after_another_connection_wrote(
        self, ledger: Ledger, sqlite_settings: Settings
    ) -> None:
        """SQLite's `data_version` tells the appends' connection whether anyone else committed
        since its own last append: if not, the head it committed is the log's and the head
        query is skipped; after another connection's append it is read again, and the chain
        stays whole."""
        recorder = ledger.ledger_recorder
        assert isinstance(recorder, ChainedSQLiteRecorder)
        pool = recorder.datastore.pool
        assert isinstance(pool, LedgerSQLitePool)
        ledger.save(Note("first"), actor=ACTOR)
        size = ledger.size()
        statements: list[str] = []
        pool.writer()._sqlite_conn.set_trace_callback(statements.append)

        def head_queries() -> int:
            found = sum(s.startswith(recorder.sql_head[:40]) for s in statements)
            statements.clear()
            return found

        for n in range(3):
            ledger.save(Note(f"alone {n}"), actor=ACTOR)
            assert head_queries() == 0
        other = Ledger(sqlite_settings)
        try:
            other.save(Note("another connection"), actor=ACTOR)
        finally:
            other.close()
        ledger.save(Note("after it"), actor=ACTOR)
        assert head_queries() == 1
        ledger.save(Note("alone again"), actor=ACTOR)
        assert head_queries() == 0
        report = verify_ledger(ledger, jobs=1)
        assert report.ok, report.damage[:5]
        assert ledger.size() == size + 6


@pytest.mark.postgres
class TestPostgresRecorder(RecorderContract):
    settings_fixture = "postgres_settings"

    def test_the_merkle_node_lookup_is_never_kept_prepared(self, ledger: Ledger) -> None:
        """psycopg prepares a statement on its fifth run and PostgreSQL keeps that statement's
        generic plan until the table is analysed: the node lookup's join, planned while the
        nodes were few, stayed slow as they grew (`_select_nodes`). The control, a lookup of
        one aggregate's events, is kept: the check would see a kept node lookup."""
        recorder = ledger.ledger_recorder
        assert isinstance(recorder, ChainedPostgresRecorder)
        note = Note("n")
        ledger.save(note, *[Note(f"n{i}") for i in range(31)], actor=ACTOR)
        coords = [c for c in merkle.subtree_nodes(0, recorder.ledger_size()) if c[0] >= 3]
        assert coords
        with recorder.datastore.transaction(commit=False) as curs:
            for _ in range(8):
                found = recorder._select_nodes(curs, coords)
                recorder._select_events_in(curs, note.id)
            curs.execute("SELECT statement FROM pg_prepared_statements")
            kept = [str(row["statement"]) for row in curs.fetchall()]
        assert set(found) == set(coords)
        assert any("originator_id = $1" in k for k in kept)
        # The lookup itself, as psycopg sends it (the appends' inserts also unnest arrays and
        # are kept once a pooled connection has made five).
        lookup = recorder.sql_nodes.decode().replace("%s", "$1", 1).replace("%s", "$2", 1)
        assert lookup not in kept
