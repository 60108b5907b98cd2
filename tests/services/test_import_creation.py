"""An import writes each new entry's created event from the key and the state bytes checking
wrote (`Kind.creation`, `TextCheckingMapper.created`), without building the aggregate: the same
stored event the domain's `register` or `publish` makes, byte for byte, for every kind,
with optional fields, extra columns and text that needs escaping. What a whole import stores is
held to a recording in test_import_stored_bytes.py."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from eventsourcing.domain import Aggregate

from ssj.domain.inspectors import Inspector
from ssj.domain.items import Item
from ssj.domain.targets import Target
from ssj.ledger.mapper import TextCheckingMapper
from ssj.services.imports import INSPECTORS, ITEMS, TARGETS, Kind, _View
from tests.ledger.test_prepared import MAPPER
from tests.services.conftest import inspector_row, item_row, target_row

WHEN = datetime(2026, 12, 6, 1, 2, 3, 456789, tzinfo=UTC)
ON_THE_SECOND = datetime(2026, 12, 6, 1, 2, 3, tzinfo=UTC)  # isoformat drops the microseconds

ROWS: dict[str, list[Mapping[str, Any]]] = {
    "targets": [
        target_row(1),
        target_row(
            2,
            address="江苏省常州市天宁区“某”路 1 号\\2",
            tags="重点,食品",
            applicable_items="TZ-001,TZ-002",
            legal_representative="张三",
            phone="0519-88888888",
            extra={"经营范围": "机械制造；\n进出口", "备注": 'a "quoted" \\ value'},
        ),
        target_row(3, credit_class="D", status="注销"),
    ],
    "inspectors": [
        inspector_row(1),
        inspector_row(2, specialties="特种设备,食品安全", phone="13800000000", leave_from=""),
    ],
    "items": [
        item_row("TZ-001"),
        item_row("TZ-002", default_ratio="12.5", methods="现场检查、书面检查"),
    ],
}


# How the domain makes a new entry of each kind, from a record (or a state seen as one).
CREATE: dict[str, Callable[[Any], Aggregate]] = {
    "targets": Target.register,
    "inspectors": Inspector.register,
    "items": Item.publish,
}


def _stored_by_create(kind: Kind, state: bytes) -> Any:
    """What the writer stored before: the aggregate the domain makes of the checked state,
    mapped."""
    [event] = CREATE[kind.name](_View(orjson.loads(state))).collect_events()
    return MAPPER.to_stored_event(event)


@pytest.mark.parametrize("when", [WHEN, ON_THE_SECOND], ids=["microseconds", "whole second"])
@pytest.mark.parametrize("kind", [TARGETS, INSPECTORS, ITEMS], ids=lambda k: k.name)
def test_a_new_entry_is_stored_as_create_stores_it(
    kind: Kind, when: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kind.creation.event, "create_timestamp", staticmethod(lambda: when))
    for raw in ROWS[kind.name]:
        record = kind.parse(dict(raw))
        state = orjson.dumps(record.as_state())  # as `_check_record` writes it
        key = kind.natural_key(record)
        assert isinstance(MAPPER, TextCheckingMapper)
        prepared = kind.creation.prepared(MAPPER, key, state).stored
        expected = _stored_by_create(kind, state)
        assert prepared == expected
        assert prepared.originator_id == kind.aggregate_id(record)
        [event] = CREATE[kind.name](record).collect_events()  # the record, not its state
        assert MAPPER.to_stored_event(event) == expected
