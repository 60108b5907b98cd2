"""Inspection-plan domain: validation of every rule, the workflow, amendments of changed fields."""

from __future__ import annotations

import pytest

from ssj.domain.fields import FieldError
from ssj.domain.plans import (
    DEFAULT_RATIOS,
    FIELD_LABELS,
    Plan,
    PlanKind,
    PlanRecord,
    PlanStatus,
    patched,
    plan_id,
)
from ssj.domain.targets import TargetType
from ssj.errors import ConflictError

LEAD, PARTNER = "CZ-SJJ-TZ", "CZ-SJJ-SP"


def raw(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "code": "2026-A1",
        "department": LEAD,
        "title": "2026 年度特种设备使用单位双随机抽查计划",
        "year": 2026,
        "kind": "年度",
        "items": ["TZ-001", "TZ-002"],
    }
    base.update(overrides)
    return base


def test_defaults_are_recorded_explicitly() -> None:
    record = PlanRecord.parse(raw())
    assert record.kind is PlanKind.ANNUAL and record.month is None
    assert record.ratios == DEFAULT_RATIOS and record.fixed_count is None
    assert (record.window_start, record.window_end) == ("2026-01-01", "2026-12-31")
    assert record.team_size == 2 and record.experts == 0 and record.minimum == 0
    assert (record.yearly_cap_department, record.yearly_cap_all) == (2, 4)
    assert record.exclusion_days == 90 and record.workload_cap is None
    assert record.priority_uncovered is False and record.coverage_years == 1
    state = record.as_state()
    assert set(state) == set(FIELD_LABELS)
    assert state["kind"] == "annual" and state["items"] == ["TZ-001", "TZ-002"]
    assert state["cooperating"] == {} and state["target_types"] == []


def test_official_wording_and_normalisation() -> None:
    record = PlanRecord.parse(
        raw(
            kind="月度计划",
            month="3",
            items="TZ-001、TZ-002",
            cooperating={PARTNER: "SP-001,SP-002"},
            target_types=["企业", "individual", "企业"],
            region_codes="3204, 320402",
            ratios={"A类": "0.50", "D": "30.0%"},
            team_size="3",
            priority_uncovered="是",
        )
    )
    assert record.kind is PlanKind.MONTHLY and record.month == 3
    assert (record.window_start, record.window_end) == ("2026-03-01", "2026-03-31")
    assert record.items == ("TZ-001", "TZ-002")
    assert record.cooperating == {PARTNER: ("SP-001", "SP-002")}
    assert record.departments == (LEAD, PARTNER)
    assert record.target_types == (TargetType.ENTERPRISE, TargetType.INDIVIDUAL)
    assert record.region_codes == ("3204", "320402")
    assert record.ratios == {"A": "0.5", "B": "3", "C": "10", "D": "30"}
    assert record.priority_uncovered is True
    state = record.as_state()
    assert state["cooperating"] == {PARTNER: ["SP-001", "SP-002"]}
    assert state["target_types"] == ["enterprise", "individual"]


def test_fixed_count_records_no_ratios() -> None:
    record = PlanRecord.parse(raw(fixed_count=50))
    assert record.fixed_count == 50 and record.ratios == {}


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"ratios": {"A": "0"}}, "ratios", "A 类"),
        ({"ratios": {"C": "0"}}, "ratios", "C 类"),
        ({"ratios": {"D": "101"}}, "ratios", "100"),
        ({"ratios": {"B": "abc"}}, "ratios", "abc"),
        ({"ratios": {"B": "NaN"}}, "ratios", "NaN"),
        ({"ratios": {"E": "3"}}, "ratios", "E"),
        ({"ratios": "3"}, "ratios", "比例"),
        ({"fixed_count": 10, "ratios": {"A": "1"}}, "fixed_count", "只能填一项"),
        ({"fixed_count": 0}, "fixed_count", "1"),
        ({"fixed_count": "十"}, "fixed_count", "整数"),
        ({"team_size": 1}, "team_size", "检查组至少 2 人"),
        ({"team_size": 11}, "team_size", "10"),
        (
            {"team_size": 2, "cooperating": {PARTNER: ["SP-1"], "CZ-YJJ": ["YJ-1"]}},
            "team_size",
            "3",
        ),
        ({"experts": 6}, "experts", "0–5"),
        ({"window_start": "2025-12-31"}, "window_start", "2026 年"),
        ({"window_end": "2027-01-01"}, "window_end", "2026 年"),
        ({"window_start": "2026-06-01", "window_end": "2026-05-31"}, "window_end", "早于"),
        ({"window_start": "2026-02-30"}, "window_start", "日期无效"),
        ({"kind": "monthly", "month": 4, "window_end": "2026-05-01"}, "window_end", "4 月"),
        ({"kind": "monthly"}, "month", "不能为空"),
        ({"kind": "monthly", "month": 13}, "month", "1–12"),
        ({"month": 3}, "month", "年度计划"),
        ({"kind": "季度"}, "kind", "季度"),
        ({"year": 1999}, "year", "2000–2100"),
        ({"year": "二〇二六"}, "year", "整数"),
        ({"year": True}, "year", "整数"),
        ({"yearly_cap_department": 3, "yearly_cap_all": 2}, "yearly_cap_all", "不能小于"),
        ({"yearly_cap_department": 13}, "yearly_cap_department", "1–12"),
        ({"yearly_cap_all": 25}, "yearly_cap_all", "1–24"),
        ({"exclusion_days": 366}, "exclusion_days", "0–365"),
        ({"workload_cap": 0}, "workload_cap", "1"),
        ({"coverage_years": 4}, "coverage_years", "1–3"),
        ({"minimum": -1}, "minimum", "0"),
        ({"items": []}, "items", "至少"),
        ({"items": ["TZ-001", "TZ-001"]}, "items", "重复"),
        ({"items": "TZ-001、TZ-001"}, "items", "重复"),
        ({"cooperating": {LEAD: ["TZ-003"]}}, "cooperating", "牵头部门"),
        ({"cooperating": {PARTNER: []}}, "cooperating", "至少"),
        ({"cooperating": [PARTNER]}, "cooperating", "部门编码"),
        ({"target_types": "单位"}, "target_types", "单位"),
        ({"region_codes": "32A4"}, "region_codes", "2–12"),
        ({"region_codes": "3"}, "region_codes", "2–12"),
        ({"priority_uncovered": "maybe"}, "priority_uncovered", "是/否"),
        ({"code": ""}, "code", "不能为空"),
        ({"title": " "}, "title", "不能为空"),
        ({"team_szie": 3}, "team_szie", "不是抽查计划的字段"),
    ],
)
def test_bad_input_names_the_field(overrides: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(FieldError) as info:
        PlanRecord.parse(raw(**overrides))
    assert info.value.field == field
    assert words in info.value.zh, info.value.zh
    assert info.value.en


def test_workflow_and_wrong_state_transitions() -> None:
    plan = Plan.draft(PlanRecord.parse(raw()))
    assert plan.id == plan_id(LEAD, "2026-A1")
    assert plan.label == "CZ-SJJ-TZ/2026-A1"
    assert plan.status is PlanStatus.DRAFT and plan.departments == (LEAD,)
    for wrong in (plan.approve, plan.publish, lambda: plan.return_("不合格")):
        with pytest.raises(ConflictError) as info:
            wrong()
        assert "草稿" in info.value.zh and "draft" in info.value.en
    plan.submit()
    assert plan.status is PlanStatus.SUBMITTED
    with pytest.raises(ConflictError) as info:
        plan.amend(PlanRecord.parse(raw(team_size=3)))
    assert "已提交" in info.value.zh and "submitted" in info.value.en
    with pytest.raises(ConflictError):
        plan.submit()
    with pytest.raises(FieldError):
        plan.return_("")
    plan.return_("比例偏低")
    assert plan.status is PlanStatus.DRAFT
    plan.submit()
    plan.approve("同意")
    assert plan.status is PlanStatus.APPROVED
    plan.publish()
    assert plan.status is PlanStatus.PUBLISHED
    with pytest.raises(ConflictError):
        plan.publish()
    with pytest.raises(FieldError):
        plan.cancel(" ")
    plan.cancel("机构改革，计划并入新计划")
    assert plan.status is PlanStatus.CANCELLED
    with pytest.raises(ConflictError) as info:
        plan.cancel("again")
    assert "已撤销" in info.value.zh
    with pytest.raises(ConflictError):
        plan.amend(PlanRecord.parse(raw(team_size=3)), "理由")
    names = [type(e).__qualname__ for e in plan.collect_events()]
    assert names == [
        "Plan.Drafted",
        "Plan.Submitted",
        "Plan.Returned",
        "Plan.Submitted",
        "Plan.Approved",
        "Plan.Published",
        "Plan.Cancelled",
    ]
    assert plan.version == 7


def test_amend_records_only_changes_and_sends_approved_plans_back() -> None:
    plan = Plan.draft(PlanRecord.parse(raw()))
    assert not plan.amend(PlanRecord.parse(raw()))
    assert plan.amend(PlanRecord.parse(raw(team_size=3, exclusion_days="30")))  # no reason: draft
    event = plan.collect_events()[-1]
    assert event.changes == {"team_size": 3, "exclusion_days": 30}  # type: ignore[attr-defined]
    assert event.status == "draft" and event.reason == ""  # type: ignore[attr-defined]
    plan.submit()
    plan.approve()
    with pytest.raises(FieldError) as info:
        plan.amend(PlanRecord.parse(raw(team_size=4, exclusion_days=30)))
    assert info.value.field == "reason" and "理由" in info.value.zh
    assert plan.status is PlanStatus.APPROVED
    plan.publish()
    assert plan.amend(PlanRecord.parse(raw(team_size=4, exclusion_days=30)), "增加专业人员")
    event = plan.collect_events()[-1]
    assert event.changes == {"team_size": 4}  # type: ignore[attr-defined]
    assert event.status == "draft" and event.reason == "增加专业人员"  # type: ignore[attr-defined]
    assert plan.status is PlanStatus.DRAFT and plan.state["team_size"] == 4
    with pytest.raises(FieldError):
        plan.amend(PlanRecord.parse(raw(code="2026-A2")))


def test_patched_keeps_unchanged_fields_and_follows_derived_ones() -> None:
    state = PlanRecord.parse(raw(target_types=["企业"], window_start="2026-03-01")).as_state()
    fixed = PlanRecord.parse(patched(state, {"fixed_count": 20}))
    assert fixed.fixed_count == 20 and fixed.ratios == {}
    assert fixed.window_start == "2026-03-01" and fixed.target_types == (TargetType.ENTERPRISE,)
    back = PlanRecord.parse(patched(fixed.as_state(), {"ratios": {"D": "40"}}))
    assert back.fixed_count is None and back.ratios["D"] == "40" and back.ratios["A"] == "1"
    monthly = PlanRecord.parse(patched(state, {"kind": "monthly", "month": 5}))
    assert (monthly.window_start, monthly.window_end) == ("2026-05-01", "2026-05-31")
    annual = PlanRecord.parse(patched(monthly.as_state(), {"kind": "年度"}))
    assert annual.month is None and annual.window_end == "2026-12-31"
    assert PlanRecord.parse(patched(state, {"items": ["TZ-009"]})).target_types == ()
    assert PlanRecord.parse(patched(state, {"workload_cap": 5})).workload_cap == 5
