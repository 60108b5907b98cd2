"""The text policy, and every command's validation fed arbitrary Unicode (hypothesis).

Whatever text arrives, a command either refuses it with a bilingual FieldError naming the field,
or records values the policy allows: never a crash, never a value a read model cannot store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssj.domain import fields
from ssj.domain import text as policy
from ssj.domain.calendar import Arrangement
from ssj.domain.conflicts import Declaration
from ssj.domain.draws import parse_dice
from ssj.domain.inspectors import InspectorRecord
from ssj.domain.items import ItemRecord
from ssj.domain.organisation import Department, User
from ssj.domain.plans import PlanRecord
from ssj.domain.targets import TargetRecord
from ssj.errors import ValidationError
from tests.conftest import examples
from tests.domain.test_plans import raw as plan_row
from tests.services.conftest import inspector_row, item_row, target_row

# Every code point, surrogate halves included, with the troublesome ones made likely.
SPECIAL = st.sampled_from(
    ["\x00", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\x9f", "\ud800", "\udfff", "\ufdd0",
     "\ufffe", "\uffff", "\U0010ffff", "\u3000", "\u200b", "\ufeff", "e\u0301", " "]
)  # fmt: skip
ANY_CHAR = st.characters(exclude_categories=())
ARBITRARY = st.lists(st.one_of(ANY_CHAR, SPECIAL, st.text(max_size=3)), max_size=12).map("".join)


@pytest.mark.parametrize(
    ("value", "multiline", "allowed"),
    [
        ("公司名称", False, True),
        ("公司\x00名", False, False),
        ("a\tb", False, False),
        ("a\nb", False, False),
        ("a\tb\nc", True, True),
        ("a\x0bb", True, False),
        ("a\x7fb", True, False),
        ("a\x85b", True, False),
        ("a\ud800b", True, False),
        ("a\ufdd0b", True, False),
        ("a\U0001fffeb", True, False),
        ("a\U0010ffffb", False, False),
        ("𠀀 emoji 😀 and e\u0301", False, True),
    ],
)
def test_policy(value: str, multiline: bool, allowed: bool) -> None:
    assert (policy.problem(value, multiline=multiline) is None) is allowed


def test_messages_name_the_field_and_the_code_point_not_the_text() -> None:
    with pytest.raises(fields.FieldError) as refused:
        fields.text("name", "公司\x00名")
    assert refused.value.field == "name"
    assert refused.value.zh == "name：第 3 个字符是不允许的控制字符 U+0000"
    assert refused.value.en == "name: character 3 is a forbidden control character U+0000"
    assert "\x00" not in refused.value.zh + refused.value.en
    with pytest.raises(fields.FieldError, match="single line"):
        fields.text("name", "第一行\n第二行")


def test_prose_keeps_lines_and_folds_windows_line_ends() -> None:
    assert fields.prose("reason", "第一行\r\n第二行\r第三行\t完") == "第一行\n第二行\n第三行\t完"


def test_escaping_for_read_models_is_visible_and_total() -> None:
    found: list[str] = []
    escaped = policy.escape_all({"name": "a\x00b", "tags": ["\ud800"], "k\x00": 1}, found=found)
    assert escaped == {"name": "a\\u0000b", "tags": ["\\ud800"], "k\\u0000": 1}
    assert found == ["name", "tags[0]", "k\x00"]


@given(ARBITRARY, st.booleans())
def test_text_refuses_or_returns_allowed_text(value: str, multiline: bool) -> None:
    try:
        result = fields.text("f", value, required=False, multiline=multiline)
    except fields.FieldError as e:
        assert e.field == "f" and e.zh.startswith("f：") and e.en.startswith("f: ")
        return
    assert policy.problem(result, multiline=multiline) is None
    assert result == result.strip()
    assert len(result) <= 500


def _with(base: dict[str, Any], key: str, value: str) -> dict[str, Any]:
    return {**base, key: value}


Command = Callable[[str, str], Any]

COMMANDS: dict[str, tuple[list[str], Command]] = {
    "target": (
        [*target_row(1), "address", "tags", "status", "id_kind"],
        lambda k, v: TargetRecord.parse(_with(target_row(1), k, v)).as_state(),
    ),
    "inspector": (
        [*inspector_row(1), "pool", "home_region_code"],
        lambda k, v: InspectorRecord.parse(_with(inspector_row(1), k, v)).as_state(),
    ),
    "item": (
        [*item_row("I-1"), "category", "content", "subject", "cooperating_departments"],
        lambda k, v: ItemRecord.parse(_with(item_row("I-1"), k, v)).as_state(),
    ),
    "plan": (
        list(plan_row()),
        lambda k, v: PlanRecord.parse(_with(plan_row(), k, v)).as_state(),
    ),
    "declaration": (
        ["certificate_no", "target_identifier", "relation", "reason"],
        lambda k, v: vars(
            Declaration.declare(
                **_with(
                    {
                        "certificate_no": "3204000001",
                        "target_identifier": "91320402MA00000155",
                        "relation": "近亲属",
                        "valid_from": "2025-01-01",
                        "valid_to": None,
                        "reason": "配偶",
                    },
                    k,
                    v,
                )
            )
        ),
    ),
    "department": (
        ["code", "name", "parent"],
        lambda k, v: vars(
            Department.register(
                **_with(
                    {
                        "code": "CZ-X",
                        "name": "科",
                        "level": "city",
                        "kind": "section",
                        "parent": None,
                        "region_code": "320400",
                    },
                    k,
                    v,
                )
            )
        ),
    ),
    "user": (
        ["username", "name", "department", "roles"],
        lambda k, v: vars(
            User.register(
                **_with(
                    {"username": "u", "name": "张三", "department": "D", "roles": "operator"},
                    k,
                    v,
                )
            )
        ),
    ),
    "calendar": (
        ["document"],
        lambda k, v: Arrangement.parse(2027, v, ["2027-01-01"], []).document,
    ),
    "dice": (["digits"], lambda k, v: parse_dice(v)),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_command_refuses_or_records_allowed_text(command: str, data: st.DataObject) -> None:
    keys, call = COMMANDS[command]
    key = data.draw(st.sampled_from(keys), label="field")
    value = data.draw(ARBITRARY, label="value")
    try:
        recorded = call(key, value)
    except ValidationError as e:
        assert e.zh and e.en
        return
    assert policy.first_problem(recorded) is None, recorded


def test_no_forbidden_character_is_printable() -> None:
    """`problem` lets printable text through without the pattern's search: over every code
    point, none that `str.isprintable` passes is one the patterns forbid (a string is printable
    when each of its characters is, and the patterns test one character at a time)."""
    printable = "".join(c for c in map(chr, range(0x110000)) if c.isprintable())
    assert policy.FORBIDDEN_SINGLE_LINE.search(printable) is None
    assert policy.FORBIDDEN_MULTI_LINE.search(printable) is None


@settings(max_examples=examples(300), suppress_health_check=[HealthCheck.too_slow])
@given(value=ARBITRARY, multiline=st.booleans())
def test_the_policy_is_its_pattern(value: str, multiline: bool) -> None:
    """Whatever the text, `problem` refuses exactly what the field's pattern finds."""
    pattern = policy.FORBIDDEN_MULTI_LINE if multiline else policy.FORBIDDEN_SINGLE_LINE
    assert (policy.problem(value, multiline=multiline) is None) is (pattern.search(value) is None)
