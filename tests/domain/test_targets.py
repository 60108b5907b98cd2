"""Target registry domain: validation, deterministic ids, change-only updates."""

from __future__ import annotations

import pytest

from ssj.domain.fields import FieldError
from ssj.domain.identifiers import make_uscc, organization_code_check_character
from ssj.domain.targets import CreditClass, Target, TargetRecord, TargetStatus, target_id


def uscc(body8: str) -> str:
    """A valid USCC for a Changzhou (320402) enterprise with organisation code body8."""
    return make_uscc("91320402" + body8 + organization_code_check_character(body8))


USCC = uscc("MA1M0000")


def raw(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "identifier": USCC,
        "name": "常州某某机械有限公司",
        "address": "江苏省常州市天宁区青洋北路 1 号",
        "region_code": "320402",
        "target_type": "企业",
        "department": "CZ-SJJ-XC",
        "credit_class": "B类",
        "status": "存续",
        "applicable_items": "SJ-001、SJ-002",
        "tags": ["投诉较多"],
    }
    base.update(overrides)
    return base


def test_parse_accepts_chinese_labels_and_normalises() -> None:
    record = TargetRecord.parse(raw(identifier=" " + USCC.lower() + "\u3000"))
    assert record.identifier == USCC
    assert record.credit_class is CreditClass.B
    assert record.status is TargetStatus.ACTIVE
    assert record.applicable_items == ("SJ-001", "SJ-002")
    assert record.id_kind == "uscc"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"identifier": USCC[:-1] + ("0" if USCC[-1] != "0" else "1")}, "identifier"),
        ({"name": "  "}, "name"),
        ({"region_code": "32040"}, "region_code"),
        ({"target_type": "公司"}, "target_type"),
        ({"credit_class": "E"}, "credit_class"),
        ({"status": "休眠"}, "status"),
    ],
)
def test_parse_names_the_bad_field_in_both_languages(
    overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(FieldError) as info:
        TargetRecord.parse(raw(**overrides))
    assert info.value.field == field
    assert info.value.zh.startswith(field) and info.value.en.startswith(field)


def test_ids_are_derived_from_the_identifier() -> None:
    target = Target.register(TargetRecord.parse(raw()))
    assert target.id == target_id(USCC)
    assert Target.register(TargetRecord.parse(raw(name="别的名字"))).id == target.id


def test_update_records_only_changed_fields() -> None:
    target = Target.register(TargetRecord.parse(raw()))
    target.collect_events()
    assert target.update(TargetRecord.parse(raw())) is False
    assert target.collect_events() == []
    assert target.update(TargetRecord.parse(raw(credit_class="D", tags="投诉较多,重点")))
    (updated,) = target.collect_events()
    assert updated.changes == {"credit_class": "D", "tags": ["投诉较多", "重点"]}  # type: ignore[attr-defined]
    assert target.state["credit_class"] == "D"


def test_identifier_cannot_change() -> None:
    target = Target.register(TargetRecord.parse(raw()))
    other = uscc("MA1M0001")
    with pytest.raises(FieldError):
        target.update(TargetRecord.parse(raw(identifier=other)))


def _outcome(parse: object, values: dict[str, object]) -> object:
    """What parsing gives: the record's state, or every error with its field and messages."""
    try:
        record = parse(values)  # type: ignore[operator]
    except FieldError as e:
        return [(x.field, x.zh, x.en) for x in getattr(e, "errors", [e])]
    return record.as_state()


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"identifier": None, "registration_no": "320402000000035", "region_code": None},
        {"identifier": USCC[:17] + ("0" if USCC[17] != "0" else "1")},
        {"name": "", "credit_class": "E类", "status": "歇业?"},
        {"established_on": "2017年3月7日", "extra": {"备注": "第一行\n第二行"}},
        {"established_on": "不详", "region_code": "32040"},
        {"target_type": None, "enterprise_type": "个体工商户", "id_kind": "统一社会信用代码"},
        {"target_type": None, "credit_class": None, "status": None, "region_fallback": "320400"},
        {"department": "x" * 65, "phone": "0519-1234567", "jurisdiction": " 天宁所 "},
        {"identifier": "ABC", "id_kind": "其他", "target_type": "项目"},
        {"target_type": "企业?", "tags": "甲、乙、甲"},
    ],
)
def test_parse_fast_path_matches_the_collecting_one(overrides: dict[str, object]) -> None:
    """A row is parsed directly and only rechecked field by field when something is wrong:
    the state, or the errors (every one, in order, in both languages), are those of checking
    field by field."""
    values = raw(**overrides)
    expected = _outcome(TargetRecord._parse_collecting, values)
    assert _outcome(TargetRecord.parse, values) == expected
    assert _outcome(TargetRecord.parse, values) == expected  # the remembered choices too
