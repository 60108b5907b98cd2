"""Inspection-item domain: validation, versioned amendments, retirement."""

from __future__ import annotations

import pytest

from ssj.domain.deadlines import publication_days
from ssj.domain.fields import FieldError, FieldErrors
from ssj.domain.items import Item, ItemClass, ItemRecord, Method, item_id
from ssj.domain.targets import TargetType
from ssj.errors import ConflictError


def raw(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "code": "SJ-TZSB-001",
        "department": "CZ-SJJ-TZ",
        "category": "特种设备",
        "name": "特种设备使用单位监督检查",
        "target_type": "企业",
        "item_class": "重点",
        "methods": "现场检查、书面检查",
        "subject": "市市场监管局",
        "legal_bases": [
            "《中华人民共和国特种设备安全法》第五十七条",
            "《特种设备安全监察条例》第五十条",
        ],
        "content": "使用登记、定期检验、作业人员持证",
        "required_specialties": "特种设备",
        "default_ratio": "30%",
        "yearly_frequency": "2次",
        "cooperating_departments": "CZ-YJJ, CZ-SJJ-TZ",
    }
    base.update(overrides)
    return base


def test_parse_reads_official_wording() -> None:
    record = ItemRecord.parse(raw())
    assert record.item_class is ItemClass.KEY
    assert record.methods == (Method.ON_SITE, Method.DOCUMENTS)
    assert record.default_ratio == "30"
    assert record.yearly_frequency == 2
    assert record.cooperating_departments == ("CZ-YJJ",)  # the lead is not its own cooperator
    assert len(record.legal_bases) == 2
    assert record.publish_within_days is None  # the plan's period applies
    assert ItemRecord.parse(raw(publish_within_days=" 5 ")).publish_within_days == 5


def test_a_task_takes_the_shortest_publication_period_its_items_set() -> None:
    assert publication_days(None, [None, None]) == 20
    assert publication_days(15, [None]) == 15
    assert publication_days(15, [7, None, 5]) == 5
    assert publication_days(3, [7]) == 7  # the item's own setting wins, even if longer


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"default_ratio": "0"}, "default_ratio"),
        ({"default_ratio": "120%"}, "default_ratio"),
        ({"default_ratio": "不少于120%"}, "default_ratio"),
        ({"yearly_frequency": "0"}, "yearly_frequency"),
        ({"yearly_frequency": "每年60次"}, "yearly_frequency"),
        ({"name": ""}, "name"),
        ({"publish_within_days": "0"}, "publish_within_days"),
        ({"publish_within_days": "61"}, "publish_within_days"),
        ({"publish_within_days": "二十"}, "publish_within_days"),
    ],
)
def test_bad_input_names_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(FieldError) as info:
        ItemRecord.parse(raw(**overrides))
    assert info.value.field == field


def test_published_text_is_kept_and_blanks_stay_blank() -> None:
    """Issue #11: free text that states nothing without doubt is kept, not refused; nothing is
    defaulted; every bad field is reported at once."""
    record = ItemRecord.parse(
        raw(
            default_ratio="五",
            methods="电话",
            legal_bases=[],
            target_type="单位",
            yearly_frequency="",
        )
    )
    assert record.default_ratio is None and record.published["default_ratio"] == "五"
    assert record.methods == () and record.published["methods"] == "电话"
    assert record.legal_bases == () and record.yearly_frequency is None
    assert record.target_type == TargetType.ENTERPRISE and record.published["target_type"] == "单位"
    assert "yearly_frequency" not in record.published
    with pytest.raises(FieldErrors) as info:
        ItemRecord.parse(raw(default_ratio="0", yearly_frequency="0", publish_within_days="0"))
    assert [e.field for e in info.value.errors] == [
        "default_ratio",
        "yearly_frequency",
        "publish_within_days",
    ]


def test_amendments_are_versions_of_changed_fields_and_retirement_is_final() -> None:
    item = Item.publish(ItemRecord.parse(raw()))
    assert item.id == item_id("CZ-SJJ-TZ", "SJ-TZSB-001")
    assert item.departments == ("CZ-SJJ-TZ", "CZ-YJJ")
    assert not item.amend(ItemRecord.parse(raw()))
    assert item.amend(ItemRecord.parse(raw(default_ratio="40")))
    assert item.version == 2
    assert item.collect_events()[-1].changes == {"default_ratio": "40"}  # type: ignore[attr-defined]
    item.retire("法规废止")
    with pytest.raises(ConflictError):
        item.amend(ItemRecord.parse(raw(default_ratio="50")))
    with pytest.raises(ConflictError):
        item.retire("again")
