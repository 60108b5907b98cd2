"""Registering an entry by `_create` (the import's fast path) makes exactly the event and the
aggregate that calling the class makes."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate

from ssj.domain.inspectors import Inspector, InspectorRecord
from ssj.domain.items import Item, ItemRecord
from ssj.domain.targets import Target, TargetRecord
from tests.services.conftest import inspector_row, item_row, target_row


def made(aggregate: Aggregate) -> tuple[type[Aggregate], dict[str, Any], dict[str, Any]]:
    """The aggregate's class, its pending event's fields and its attributes, without clocks."""
    [created] = aggregate.collect_events()
    event = {k: v for k, v in created.__dict__.items() if k != "timestamp"}
    clocks = ("_created_on", "_modified_on", "_pending_events")
    attributes = {k: v for k, v in aggregate.__dict__.items() if k not in clocks}
    return type(aggregate), event, attributes


def test_a_registered_target_equals_one_made_by_calling_the_class() -> None:
    record = TargetRecord.parse(target_row(7))
    called = Target(identifier=record.identifier, state=record.as_state())
    assert made(Target.register(record)) == made(called)


def test_a_registered_inspector_equals_one_made_by_calling_the_class() -> None:
    record = InspectorRecord.parse(inspector_row(7))
    called = Inspector(certificate_no=record.certificate_no, state=record.as_state())
    assert made(Inspector.register(record)) == made(called)


def test_a_published_item_equals_one_made_by_calling_the_class() -> None:
    record = ItemRecord.parse(item_row("X-7"))
    called = Item(department=record.department, code=record.code, state=record.as_state())
    assert made(Item.publish(record)) == made(called)
