"""The bulk decoder gives exactly the domain events eventsourcing's mapper gives, for any state."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from ssj.config import Settings
from ssj.domain.targets import Target, TargetRecord
from ssj.ledger.application import Ledger
from ssj.ledger.bundle import offline_mapper
from ssj.ledger.decoding import EventDecoder
from ssj.ledger.envelope import Actor
from tests.conftest import examples
from tests.services.conftest import target_row

MAPPER = offline_mapper()
DECODER = EventDecoder(MAPPER)
TOPIC = "ssj.domain.targets:Target.Updated"

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.uuids()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.datetimes(timezones=st.just(UTC))
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 and 1.0 are not the same here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float) and a != a:
        return b != b
    return bool(a == b)


@settings(max_examples=examples(300))
@given(st.dictionaries(st.text(), values, max_size=6))
def test_any_state_decodes_as_the_mapper_decodes_it(state: dict[str, Any]) -> None:
    data = MAPPER.transcoder.encode(state)
    assert same(DECODER.state(data), MAPPER.transcoder.decode(data))


@pytest.mark.parametrize(
    "data",
    [
        b'{"n":123456789012345678901234567890}',  # orjson would make a float of it
        b'{"n":-9223372036854775809}',
        b'{"s":"\\ud800x"}',  # a lone surrogate: orjson refuses it
        b'{"s":"a\\u0000b"}',
        b'{"f":NaN,"g":-Infinity}',
        b'{"x":{"_type_":"uuid_hex","_data_":"' + UUID(int=7).hex.encode() + b'"}}',
        b'{"x":{"_type_":"uuid_hex","_data_":"00","extra":1}}',  # three keys: a plain dict
        b'{"x":[{"_type_":"decimal_str","_data_":"1.50"},{"_type_":"x"}]}',
        b'{"x":"{\\"_type_\\": 1}"}',  # the marker inside a string
    ],
)
def test_what_orjson_reads_differently_is_read_as_the_mapper_reads_it(data: bytes) -> None:
    assert same(DECODER.state(data), MAPPER.transcoder.decode(data))


def test_events_equal_the_mappers_with_ids_as_text_or_uuid() -> None:
    oid = UUID(int=42)
    data = MAPPER.transcoder.encode(
        {"changes": {"name": "甲", "at": datetime(2026, 1, 2, tzinfo=UTC), "r": Decimal("0.05")}}
    )
    expected = MAPPER.to_domain_event(StoredEvent(oid, 3, TOPIC, data))
    for given_id in (oid, oid.hex, str(oid)):
        event = DECODER.event(given_id, 3, TOPIC, data)
        assert type(event) is type(expected)
        assert same(vars(event), vars(expected))


def test_a_ledger_reads_back_the_events_it_saved(settings: Settings) -> None:
    ledger = Ledger(settings)
    try:
        ledger.initialise()
        actor = Actor("op", "CZ-SJJ-TZ", "operator")
        targets = [Target.register(TargetRecord.parse(target_row(n))) for n in range(5)]
        ledger.save(*targets, actor=actor)
        targets[1].update(TargetRecord.parse(target_row(1, credit_class="D")))
        ledger.save(targets[1], actor=actor)
        logged = ledger.read(0, 1000)
        assert [e.seq for e in logged] == list(range(ledger.size()))
        notifications = ledger.recorder.select_notifications(1, 1000)
        assert len(notifications) == len(logged)
        for read, stored in zip(logged, notifications, strict=True):
            expected = ledger.mapper.to_domain_event(stored)
            assert type(read.event) is type(expected)
            assert same(vars(read.event), vars(expected))
        assert {e.actor for e in logged[-6:]} == {actor}
        assert logged[-1].recorded_at.endswith("Z")
    finally:
        ledger.close()
