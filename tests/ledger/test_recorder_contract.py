"""The chained recorder contract (ssj/ledger/contract.py), one test case run once per backend.

A new backend subclasses `RecorderContract` with its settings fixture's name and must pass it
unchanged; the eventsourcing hooks the backends override are pinned in test_eventsourcing_hooks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import StoredEvent

from ssj.config import Settings
from ssj.errors import ValidationError
from ssj.ledger import merkle
from ssj.ledger.application import Ledger
from ssj.ledger.contract import ChainedRecorder
from ssj.ledger.envelope import Actor, Envelope, envelope_hash
from ssj.ledger.keys import LedgerSigner

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


class TestSQLiteRecorder(RecorderContract):
    settings_fixture = "sqlite_settings"


@pytest.mark.postgres
class TestPostgresRecorder(RecorderContract):
    settings_fixture = "postgres_settings"
