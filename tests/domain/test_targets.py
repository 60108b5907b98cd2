"""Target registry domain: validation, deterministic ids, change-only updates."""

from __future__ import annotations

import dataclasses
import uuid
from enum import StrEnum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssj.domain.fields import FieldError
from ssj.domain.identifiers import IdKind, make_uscc, organization_code_check_character
from ssj.domain.targets import (
    OPTIONAL_STATE,
    TARGET_NAMESPACE,
    CreditClass,
    Target,
    TargetRecord,
    TargetStatus,
    target_id,
)
from tests.conftest import examples


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
    """What parsing gives: the record (its fields, in order, and equality), its state with its
    keys in order, or every error with its field and messages."""
    try:
        record = parse(values)  # type: ignore[operator]
    except FieldError as e:
        return [(x.field, x.zh, x.en) for x in getattr(e, "errors", [e])]
    return record, list(vars(record).items()), list(record.as_state().items())


def _reference_state(record: TargetRecord) -> dict[str, object]:
    """`as_state` as first written (every field looked at with isinstance): the reference for
    the faster one."""
    state = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    state["applicable_items"] = list(record.applicable_items)
    state["tags"] = list(record.tags)
    for name in OPTIONAL_STATE:
        if state[name] in (None, {}, ""):
            del state[name]
    for name, value in state.items():
        if isinstance(value, StrEnum):
            state[name] = value.value
    return state


TEXTS = st.sampled_from(
    [
        "",
        " ",
        "N/A",
        "常州某某有限公司",
        " 天宁所\u3000",
        "甲、乙",
        "个体工商户",
        "企业",
        "项目",
        "B类",
        "E类",
        "存续",
        "注销",
        "2017年3月7日",
        "不详",
        "320402",
        "3204",
        "x" * 70,
        "a\nb",
        "\x07",
    ]
)
IDENTIFIERS = st.sampled_from(
    [
        USCC,
        USCC.lower(),
        USCC[:17] + ("0" if USCC[17] != "0" else "1"),
        "320402000000035",
        "32040200000003",
        "ABC",
        "",
        None,
        "１" + USCC[1:],
    ]
)
# Every field a row may hold besides the identifier's two and the extra columns.
FIELDS = [
    *(f.name for f in dataclasses.fields(TargetRecord) if f.name not in ("identifier", "extra")),
    "region_fallback",
]


@settings(max_examples=examples(400), deadline=None)
@given(
    identifier=IDENTIFIERS,
    registration_no=IDENTIFIERS,
    values=st.dictionaries(st.sampled_from(FIELDS), st.none() | TEXTS, max_size=10),
    extra=st.dictionaries(TEXTS, TEXTS, max_size=2),
)
def test_generated_rows_parse_as_the_collecting_parser_parses_them(
    identifier: str | None,
    registration_no: str | None,
    values: dict[str, object],
    extra: dict[str, str],
) -> None:
    """Generated rows (good, bad, blank, placeholder and edged cells): the fast path's record,
    field order and state (keys in order) are the collecting parser's, or it gives the same
    errors; and the state is `as_state` as first written."""
    row = {"identifier": identifier, "registration_no": registration_no, **values, "extra": extra}
    expected = _outcome(TargetRecord._parse_collecting, row)
    assert _outcome(TargetRecord.parse, row) == expected
    if not isinstance(expected, list):
        record = TargetRecord.parse(row)
        assert list(record.as_state().items()) == list(_reference_state(record).items())


def test_as_state_converts_any_field_holding_an_enum() -> None:
    """Constructed directly, a record may hold an enum where parsing puts text (id_kind)."""
    record = dataclasses.replace(
        TargetRecord.parse(raw()), id_kind=IdKind.USCC, region_code="320402"
    )
    assert record.as_state() == _reference_state(record)
    assert record.as_state()["id_kind"] == "uscc" and type(record.as_state()["id_kind"]) is str


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


@settings(max_examples=examples(500), deadline=None)
@given(st.text(max_size=40) | st.sampled_from([USCC, "320402000000035", "项目-2024-01"]))
def test_target_id_is_the_uuid5_of_the_identifier(identifier: str) -> None:
    """target_id computes uuid5 itself (faster): every id stays the one stored until now."""
    assert target_id(identifier) == uuid.uuid5(TARGET_NAMESPACE, identifier)
    assert str(target_id(identifier)) == str(uuid.uuid5(TARGET_NAMESPACE, identifier))
