"""Inspector registry domain: validation and eligibility on a date."""

from __future__ import annotations

from datetime import date

import pytest

from ssj.domain.fields import FieldError
from ssj.domain.inspectors import Inspector, InspectorRecord, Pool


def raw(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "certificate_no": "32040012345",
        "name": "张三",
        "department": "CZ-SJJ-XC",
        "specialties": "特种设备、食品",
        "certificate_valid_from": "2024-01-01",
        "certificate_valid_to": "2026-12-31",
        "status": "在岗",
    }
    base.update(overrides)
    return base


def test_certificate_window_bounds_eligibility() -> None:
    inspector = Inspector.register(InspectorRecord.parse(raw()))
    assert inspector.state["pool"] == Pool.INSPECTOR
    assert inspector.eligible_on(date(2024, 1, 1))
    assert inspector.eligible_on(date(2026, 12, 31))
    assert not inspector.eligible_on(date(2023, 12, 31))
    assert not inspector.eligible_on(date(2027, 1, 1))


def test_leave_excludes_only_its_days() -> None:
    record = InspectorRecord.parse(
        raw(status="休假", leave_from="2025-03-01", leave_to="2025-03-10")
    )
    inspector = Inspector.register(record)
    assert not inspector.eligible_on(date(2025, 3, 5))
    assert inspector.eligible_on(date(2025, 3, 11))


@pytest.mark.parametrize("status", ["暂停执法", "调离", "退休"])
def test_inactive_statuses_are_never_eligible(status: str) -> None:
    assert not Inspector.register(InspectorRecord.parse(raw(status=status))).eligible_on(
        date(2025, 6, 1)
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"certificate_valid_to": "2023-01-01"}, "certificate_valid_to"),
        ({"certificate_valid_from": "2024-13-01"}, "certificate_valid_from"),
        ({"status": "休假"}, "leave_from"),
        ({"pool": "顾问"}, "pool"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_input_names_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(FieldError) as info:
        InspectorRecord.parse(raw(**overrides))
    assert info.value.field == field


def test_update_records_only_changes() -> None:
    inspector = Inspector.register(InspectorRecord.parse(raw()))
    inspector.collect_events()
    assert not inspector.update(InspectorRecord.parse(raw()))
    assert inspector.update(InspectorRecord.parse(raw(status="退休")))
    (event,) = inspector.collect_events()
    assert event.changes == {"status": "retired"}  # type: ignore[attr-defined]
