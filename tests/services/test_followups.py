"""Follow-up of inspected tasks through the services, on SQLite and PostgreSQL: rectification
and re-checks by team members, reminders, penalty cases (credit class lowered in the same save,
publication within 7 working days), referrals; results that put a target on the
abnormal-operations list or mark it deregistered, as the registry and the next draw see them;
permissions and bad input that writes nothing; the overdue report on follow-ups."""

from __future__ import annotations

import pytest

from ssj.domain.access import Forbidden, Refusal
from ssj.domain.fields import FieldError
from ssj.domain.followup import FollowUp
from ssj.domain.organisation import Role
from ssj.errors import ConflictError, NotFoundError
from ssj.services.followups import FollowUpService
from ssj.services.overdue import OverdueService
from tests.services.conftest import OTHER, uscc
from tests.services.test_draws import World, unchanged, world
from tests.services.test_tasks import ITEM, TODAY, Tasks

__all__ = ["world"]

# A penalty decision's 双公示 fields besides its number, decision and date.
CASE_FIELDS: dict[str, object] = {
    "violation_type": "未按规定定期检验特种设备",
    "facts": "在用压力容器超过检验有效期仍继续使用",
    "basis": "《中华人民共和国特种设备安全法》第八十四条",
    "penalty_types": ["罚款"],
    "fine": "2",
    "authority_code": uscc(900),
    "legal_representative": "王某",
}


@pytest.fixture
def t(world: World) -> Tasks:
    return Tasks(world)


@pytest.fixture
def f(t: Tasks) -> FollowUpService:
    return FollowUpService(t.s, clock=lambda: TODAY)


def target_row(t: Tasks, identifier: str) -> dict[str, object]:
    t.s.refresh()
    found = t.s.queries.get("targets", [identifier])
    assert found is not None
    return found


def test_rectification_and_rechecks_by_team_members(t: Tasks, f: FollowUpService) -> None:
    first, second = t.team(t.ref)
    unchanged(  # not notified yet
        t.w,
        lambda: f.order_rectification(t.operator, t.ref, deadline="2026-04-01", requirement="x"),
        ConflictError,
    )
    t.tasks.notify(t.operator, t.ref, "2026-03-03", "电话通知")
    error = unchanged(
        t.w,
        lambda: f.order_rectification(t.operator, t.ref, deadline="2026-04-01", requirement="x"),
        ConflictError,
    )
    assert "检查尚未完成" in error.zh
    t.draft(first, t.ref, category="rectified")
    t.tasks.sign_result(second, t.ref, ITEM)
    t.tasks.complete(first, t.ref, "2026-03-05")
    requirement = "安全阀未定期校验，限期校验并提交报告"
    for bad in ({"deadline": "2026-03-01"}, {"deadline": "明天"}, {"requirement": ""}):
        values = {"deadline": "2026-03-20", "requirement": requirement, "on": "2026-03-06", **bad}
        unchanged(t.w, lambda v=values: f.order_rectification(t.operator, t.ref, **v), FieldError)
    unchanged(
        t.w,
        lambda: f.order_rectification(
            t.j.as_role(Role.INSPECTOR), t.ref, deadline="2026-03-20", requirement=requirement
        ),
        Forbidden,
    )
    follow, number, outcome = f.order_rectification(
        t.operator, t.ref, deadline="2026-03-20", requirement=requirement, on="2026-03-06"
    )
    assert (number, outcome) == (1, "created")
    assert follow.rectifications[0]["deadline"] == "2026-03-20"
    # Only the task's team re-checks; the refusal is recorded.
    before = len(t.s.ledger.read(0, t.s.ledger.size()))
    with pytest.raises(Forbidden):
        f.recheck(t.outsider(t.ref), t.ref, 1, "通过")
    refused = t.s.ledger.read(before, t.s.ledger.size() - before)
    assert any(isinstance(e.event, Refusal.Event) for e in refused)  # type: ignore[attr-defined]
    unchanged(t.w, lambda: f.recheck(first, t.ref, 2, "通过"), FieldError)
    unchanged(t.w, lambda: f.recheck(first, t.ref, 1, "也许"), FieldError)
    unchanged(t.w, lambda: f.recheck(first, t.ref, 1, "通过", on="2026-03-05"), FieldError)
    f.recheck(first, t.ref, 1, "未通过", notes="报告未提交", on="2026-03-18")
    # Past the deadline with no passed re-check: overdue.
    report = OverdueService(t.s).report(t.operator, on="2026-03-25")
    (row,) = report["rectifications"]
    assert (row["identifier"], row["deadline"], row["days_past"]) == (t.target, "2026-03-20", 5)
    assert row["passed_on"] is None and row["rechecks"] == 1
    assert report["summary"][0]["rectification_overdue"] == 1
    follow = f.recheck(second, t.ref, "1", True, on="2026-03-27")
    assert follow.rectifications[0]["passed_on"] == "2026-03-27"
    unchanged(t.w, lambda: f.recheck(first, t.ref, 1, "通过"), ConflictError)
    (row,) = OverdueService(t.s).report(t.operator, on="2026-04-01")["rectifications"]
    assert row["passed_on"] == "2026-03-27" and row["days_past"] == 7  # passed late
    assert OverdueService(t.s).report(t.operator, on="2026-03-20")["rectifications"] == []
    shown = f.row(t.ref)
    assert [r["passed"] for r in shown["rectifications"][0]["rechecks"]] == [False, True]
    assert shown["rectifications"][0]["rechecks"][1]["by"] == second.certificate_no
    events = [
        e for e in t.s.ledger.read(0, t.s.ledger.size()) if isinstance(e.event, FollowUp.Event)
    ]  # type: ignore[attr-defined]
    assert [type(e.event).__name__ for e in events] == [
        "Opened",
        "RectificationOrdered",
        "Rechecked",
        "Rechecked",
    ]
    assert events[2].actor.user == t.users[first.certificate_no or ""]
    with pytest.raises(NotFoundError):
        f.row(t.ref_of(1))


def test_reminders_and_referrals(t: Tasks, f: FollowUpService) -> None:
    t.inspected(t.ref, "follow_up")
    f.remind(t.operator, t.ref, "请于5个工作日内提交整改报告", on="2026-03-10")
    follow, _, _ = f.refer(
        t.operator, t.ref, to_kind="公安机关", reason="涉嫌伪造检验报告", on="2026-03-11"
    )
    assert follow.referrals[0]["to"] == "公安机关"
    unchanged(  # another department must be named
        t.w, lambda: f.refer(t.operator, t.ref, to_kind="其他部门", reason="x"), FieldError
    )
    unchanged(t.w, lambda: f.refer(t.operator, t.ref, to_kind="法院", reason="x"), FieldError)
    unchanged(t.w, lambda: f.remind(t.operator, t.ref, "x", on="2027-01-01"), FieldError)
    f.refer(t.leader, t.ref, to_kind="department", to="常州市生态环境局", reason="排污问题")
    shown = f.row(t.ref)
    assert shown["reminders"] == [{"on": "2026-03-10", "text": "请于5个工作日内提交整改报告"}]
    assert [r["to_kind"] for r in shown["referrals"]] == ["public_security", "department"]


def test_penalty_case_lowers_credit_class_in_the_same_save(t: Tasks, f: FollowUpService) -> None:
    t.inspected(t.ref, "违法违规 (立案)")
    before_class = target_row(t, t.target)["credit_class"]
    assert before_class in "ABC"
    unchanged(  # only to a riskier class
        t.w,
        lambda: f.file_case(
            t.operator,
            t.ref,
            case_no="常市监罚〔2026〕1号",
            decision="罚款",
            credit_class="A",
            **CASE_FIELDS,
        ),
        FieldError,
    )
    size = t.s.ledger.size()
    follow, _, _ = f.file_case(
        t.operator,
        t.ref,
        case_no="常市监罚〔2026〕1号",
        decision="罚款人民币2万元",
        decided_on="2026-03-09",
        credit_class="D类",
        **CASE_FIELDS,
    )
    assert follow.cases[0]["previous_class"] == before_class
    written = t.s.ledger.read(size, t.s.ledger.size() - size)
    names = [type(e.event).__qualname__ for e in written]
    assert names == ["FollowUp.Opened", "FollowUp.CaseFiled", "Target.Updated"]
    assert len({e.actor.user for e in written}) == 1 and written[-1].actor.user == "operator-own"
    assert target_row(t, t.target)["credit_class"] == "D"
    unchanged(
        t.w,
        lambda: f.file_case(
            t.operator, t.ref, case_no="常市监罚〔2026〕1号", decision="x", **CASE_FIELDS
        ),
        ConflictError,
    )
    # Penalty information: within 7 working days of the decision (2026-03-18).
    report = OverdueService(t.s).report(t.operator, on="2026-03-20")
    (row,) = report["penalties"]
    assert (row["due_on"], row["state"], row["working_days_late"]) == ("2026-03-18", "overdue", 2)
    unchanged(
        t.w,
        lambda: f.publish_case(t.operator, t.ref, "常市监罚〔2026〕1号", "2026-03-08"),
        FieldError,
    )
    f.publish_case(t.operator, t.ref, "常市监罚〔2026〕1号", "2026-03-19")
    unchanged(t.w, lambda: f.publish_case(t.operator, t.ref, "1", "2026-03-20"), ConflictError)
    (row,) = OverdueService(t.s).report(t.operator, on="2026-03-25")["penalties"]
    assert (row["state"], row["working_days_late"], row["done_on"]) == ("late", 1, "2026-03-19")
    assert (
        OverdueService(t.s).report(t.operator, on="2026-03-25")["summary"][0][
            "penalty_published_late"
        ]
        == 1
    )


def test_unreachable_and_deregistered_results_change_the_registry(
    t: Tasks, f: FollowUpService
) -> None:
    unreachable, gone = t.ref, t.ref_of(1)
    size = t.s.ledger.size()
    t.inspected(unreachable, "通过登记的住所（经营场所）无法联系")
    completed = [e for e in t.s.ledger.read(size, t.s.ledger.size() - size)][-2:]
    assert [type(e.event).__qualname__ for e in completed] == ["Task.Inspected", "Target.Updated"]
    assert completed[-1].event.changes == {"status": "abnormal"}  # type: ignore[attr-defined]
    assert completed[-1].actor.user == completed[0].actor.user
    t.inspected(gone, "已注销或已迁出")
    assert target_row(t, t.target)["status"] == "abnormal"
    assert target_row(t, t.targets[1])["status"] == "deregistered"
    # The next draw excludes them by their status, not as open tasks.
    second = t.w.commit()
    facts = t.w.draws.draw(second).facts
    assert facts["exclusions"] == {
        "open_task": len(t.targets) - 2,
        "status:abnormal": 1,
        "status:deregistered": 1,
    }


def test_follow_up_is_for_the_tasks_departments(t: Tasks, f: FollowUpService) -> None:
    t.inspected(t.ref)
    t.j.registry.add_user(t.j.root, "operator-other", "操作员", OTHER, ["operator"])
    stranger = t.s.principal("operator-other")
    unchanged(t.w, lambda: f.remind(stranger, t.ref, "催告"), Forbidden)
    unchanged(t.w, lambda: f.remind(t.j.as_role(Role.SUPERVISOR), t.ref, "催告"), Forbidden)
