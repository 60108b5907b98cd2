"""A created event made from values already encoded (`TextCheckingMapper.created`) is stored as
the very bytes the mapper writes for the event the aggregate makes, is refused for the same text,
and is saved beside aggregates as they are."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from hypothesis import given, settings
from hypothesis import strategies as st

from ssj.config import Settings
from ssj.domain import text as policy
from ssj.domain.fields import FieldError
from ssj.ledger.application import Ledger
from ssj.ledger.audit import verify_ledger
from ssj.ledger.encoding import LedgerTranscoder
from ssj.ledger.mapper import PreparedEvent, TextCheckingMapper
from tests.conftest import examples
from tests.ledger.test_ledger import ALICE, Thing


class Entry(Aggregate):
    class Registered(Aggregate.Created):
        code: str
        state: dict[str, Any]

    def __init__(self, code: str, state: dict[str, Any]) -> None:
        self.code = code
        self.state = dict(state)


class Versioned(Aggregate):
    class Registered(Aggregate.Created):
        class_version = 2
        code: str

    def __init__(self, code: str) -> None:
        self.code = code


def _mapper() -> TextCheckingMapper:
    transcoder = LedgerTranscoder()
    Application.register_transcodings(None, transcoder)  # type: ignore[arg-type]
    return TextCheckingMapper(transcoder=transcoder)


MAPPER = _mapper()

# What an import's checked states hold: text, whole numbers, booleans, None, lists and dicts.
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


def _as_the_aggregate_stores_it(prepared: PreparedEvent, **fields: Any) -> bytes:
    """What the mapper stores for the event `Entry._create` makes with the prepared event's
    id and timestamp."""
    stored = prepared.stored
    timestamp = MAPPER.transcoder.decode(stored.state)["timestamp"]
    assert isinstance(timestamp, datetime)
    aggregate = Entry._create(
        Entry.Registered, id=stored.originator_id, timestamp=timestamp, **fields
    )
    [event] = aggregate.collect_events()
    expected = MAPPER.to_stored_event(event)
    assert (expected.originator_id, expected.originator_version, expected.topic) == (
        stored.originator_id,
        stored.originator_version,
        stored.topic,
    )
    return expected.state


@settings(max_examples=examples(300), deadline=None)
@given(code=text, state=st.dictionaries(text, values, max_size=8))
def test_a_prepared_event_is_the_bytes_the_mapper_writes(code: str, state: dict[str, Any]) -> None:
    if policy.first_problem({"code": code, "state": state}) is not None:
        return  # refused either way: the next test
    prepared = MAPPER.created(
        Entry,
        Entry.Registered,
        uuid.uuid4(),
        [("code", orjson.dumps(code)), ("state", orjson.dumps(state))],
    )
    assert prepared.stored.state == _as_the_aggregate_stores_it(prepared, code=code, state=state)
    assert MAPPER.to_stored_event(prepared) is prepared.stored


@pytest.mark.parametrize("bad", ["a\x07b", "\ufdd0", "a\x85b"])
def test_text_the_mapper_refuses_is_refused_when_prepared(bad: str) -> None:
    fields = {"code": "c1", "state": {"name": bad}}
    aggregate = Entry._create(Entry.Registered, id=uuid.uuid4(), **fields)
    with pytest.raises(FieldError) as refused:
        MAPPER.to_stored_event(aggregate.collect_events()[0])
    with pytest.raises(FieldError) as prepared:
        MAPPER.created(
            Entry,
            Entry.Registered,
            uuid.uuid4(),
            [(name, orjson.dumps(value)) for name, value in fields.items()],
        )
    assert (prepared.value.field, prepared.value.zh, prepared.value.en) == (
        refused.value.field,
        refused.value.zh,
        refused.value.en,
    )


def test_a_class_version_is_stored_as_the_mapper_stores_it() -> None:
    prepared = MAPPER.created(
        Versioned, Versioned.Registered, uuid.uuid4(), [("code", orjson.dumps("v"))]
    )
    timestamp = MAPPER.transcoder.decode(prepared.stored.state)["timestamp"]
    aggregate = Versioned._create(
        Versioned.Registered, id=prepared.stored.originator_id, timestamp=timestamp, code="v"
    )
    expected = MAPPER.to_stored_event(aggregate.collect_events()[0])
    assert b'"class_version":2' in expected.state
    assert prepared.stored.state == expected.state


def test_prepared_events_are_saved_beside_aggregates_and_read_back(settings: Settings) -> None:
    """One batch of aggregates and prepared events, in order: the prepared ones read back as
    the aggregates their events make, and the ledger verifies."""
    ledger = Ledger(settings)
    try:
        ledger.initialise()
        mapper = ledger.mapper
        assert isinstance(mapper, TextCheckingMapper)
        first, last = Thing("first"), Thing("last")
        prepared = [
            mapper.created(
                Entry,
                Entry.Registered,
                uuid.uuid4(),
                [("code", orjson.dumps(f"c{i}")), ("state", orjson.dumps({"n": i}))],
            )
            for i in range(40)
        ]
        recordings = ledger.save(first, *prepared, last, actor=ALICE)
        assert [r.notification.originator_id for r in recordings] == [
            first.id,
            *(p.stored.originator_id for p in prepared),
            last.id,
        ]
        entry = ledger.repository.get(prepared[7].stored.originator_id)
        assert isinstance(entry, Entry)
        assert (entry.code, entry.state, entry.version) == ("c7", {"n": 7}, 1)
        report = verify_ledger(ledger, jobs=1)
        assert report.ok, report.first
    finally:
        ledger.close()
