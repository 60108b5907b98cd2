"""The task aggregate on its own (no storage): categories, sign-offs, states and dates."""

from __future__ import annotations

import hashlib
from datetime import date
from uuid import uuid4

import pytest

from ssj.domain.fields import FieldError
from ssj.domain.tasks import (
    CATEGORY_LABELS_ZH,
    ResultCategory,
    Task,
    TaskStatus,
    parse_category,
    summary_category,
    task_id,
)
from ssj.errors import ConflictError

TODAY = date(2026, 6, 30)
DRAW = str(uuid4())
ITEMS = {"CZ-SJJ-TZ": ["TZ-001"], "CZ-SJJ-SP": ["SP-001"]}
DIGEST = hashlib.sha256(b"record").hexdigest()

# As the brief lists them (the national credit-publicity system's categories).
BRIEF = (
    "未发现问题; 未按规定公示应当公示的信息; 公示信息隐瞒真实情况、弄虚作假; "
    "通过登记的住所（经营场所）无法联系; 不配合检查情节严重; 发现问题已责令改正; "
    "发现问题待后续处理; 未发现开展本次抽查涉及的经营活动; 违法违规 (立案); 已注销或已迁出"
)


def notified() -> Task:
    return Task.notify(
        draw_id=DRAW,
        plan_id=str(uuid4()),
        identifier="91320402MA0000001X",
        departments=list(ITEMS),
        items=ITEMS,
        drawn_on="2026-03-02",
        on="2026-03-03",
        how="电话通知",
        today=TODAY,
    )


def draft(task: Task, item: str, by: str, **overrides: object) -> None:
    values: dict[str, object] = {
        "method": "现场",
        "inspected_on": "2026-03-05",
        "findings": "未发现问题",
        "evidence": [DIGEST.upper()],
        "category": "no_problem",
    }
    values.update(overrides)
    task.draft_result(item=item, drafted_by=by, today=TODAY, **values)  # type: ignore[arg-type]


def test_the_ten_categories_by_code_or_label() -> None:
    assert [CATEGORY_LABELS_ZH[c] for c in ResultCategory] == BRIEF.split("; ")
    for category, zh in CATEGORY_LABELS_ZH.items():
        assert parse_category(zh) is category and parse_category(category.value) is category
    assert parse_category("违法违规（立案）") is ResultCategory.CASE_FILED
    with pytest.raises(FieldError):
        parse_category("基本合格")
    assert summary_category(["no_problem", "rectified", "follow_up"]) == "follow_up"
    assert summary_category([]) is None


def test_two_sign_offs_per_item_before_completion() -> None:
    task = notified()
    assert task.id == task_id(DRAW, "91320402MA0000001X")
    assert task.item_keys == ["CZ-SJJ-TZ/TZ-001", "CZ-SJJ-SP/SP-001"]
    draft(task, "CZ-SJJ-TZ/TZ-001", "A")
    assert task.results["CZ-SJJ-TZ/TZ-001"]["evidence"] == [DIGEST]
    with pytest.raises(ConflictError):
        task.sign_result("CZ-SJJ-TZ/TZ-001", "A")  # the drafter
    task.sign_result("CZ-SJJ-TZ/TZ-001", "B")
    with pytest.raises(ConflictError):
        draft(task, "CZ-SJJ-TZ/TZ-001", "B")  # signed by two: no redraft
    with pytest.raises(ConflictError) as missing:
        task.complete("2026-03-05", TODAY)
    assert "CZ-SJJ-SP/SP-001" in missing.value.zh
    draft(task, "CZ-SJJ-SP/SP-001", "C", category="发现问题待后续处理")
    draft(task, "CZ-SJJ-SP/SP-001", "B", category="发现问题已责令改正")  # replaces the draft
    task.sign_result("CZ-SJJ-SP/SP-001", "C")
    assert task.category == "rectified"
    task.complete("2026-03-05", TODAY)
    assert task.status is TaskStatus.INSPECTED
    with pytest.raises(ConflictError) as wrong:
        task.confirm()
    assert "已检查" in wrong.value.zh and "inspected" in wrong.value.en


def test_dates_items_and_evidence_are_checked() -> None:
    with pytest.raises(FieldError):
        Task.notify(
            draw_id=DRAW,
            plan_id="p",
            identifier="x",
            departments=["D"],
            items={"D": ["I"]},
            drawn_on="2026-03-02",
            on="2026-03-01",
            how="电话",
            today=TODAY,
        )
    task = notified()
    for bad in (
        {"item": "CZ-SJJ-TZ/TZ-999"},
        {"evidence": ["not-a-digest"]},
        {"inspected_on": "2026-07-01"},
        {"inspected_on": "2026-03-02"},  # before the notification
        {"method": "电话"},
    ):
        values = {"item": "CZ-SJJ-TZ/TZ-001", **bad}
        item = str(values.pop("item"))
        with pytest.raises(FieldError):
            draft(task, item, "A", **values)
    assert task.results == {} and task.status is TaskStatus.NOTIFIED


def test_withholding_and_closure() -> None:
    task = notified()
    for item, (a, b) in zip(task.item_keys, (("A", "B"), ("B", "A")), strict=True):
        draft(task, item, a)
        task.sign_result(item, b)
    task.complete("2026-03-05", TODAY)
    task.inform("2026-03-06", TODAY)
    task.object_to("结论有误")
    task.decide_objection(False, "异议不成立")
    task.withhold("涉及商业秘密", until_final=False)
    with pytest.raises(ConflictError):
        task.publish("2026-03-10", [], "x", TODAY)
    task.close("2026-03-10", TODAY)
    assert task.status is TaskStatus.CLOSED and task.publication is None
