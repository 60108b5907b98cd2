"""Commands that create things recognise an identical existing record and write nothing (a
retried command is safe), on SQLite and PostgreSQL; anything that differs is new, or a
conflict where the key is taken.

What "identical" means, per command:
- departments add / users add / bootstrap: the same key with every registered field equal (an
  open department; an active user);
- conflicts declare: an active declaration with the same inspector, target, relation, period
  and reason;
- plans draft: the same plan code with every field equal (target types left out: the items');
- draw commit: the plan's last draw still committed (not revealed, not abandoned) under the
  same plan version, day, witnesses (in order) and drand round;
- draw request-recusal: an undecided request with the same target, inspector and reason;
- followup rectify: the last order, not yet re-checked, with the same date, deadline and
  requirement; remind and refer: the same entry on record; case: the same case number with
  every 双公示 field and the credit class equal (the same number otherwise is a conflict);
- calendar register: the same arrangement (see tests/services/test_calendar.py);
- items, targets, inspectors (PUT and imports): unchanged records write nothing (already so);
- tokens issue is never identical: every token is a new secret.
"""

from __future__ import annotations

import pytest

from ssj.errors import ConflictError
from ssj.services.followups import FollowUpService
from tests.services.conftest import OWN, Jurisdiction, inspector_row, target_row
from tests.services.test_draws import WITNESSES, World, world
from tests.services.test_followups import CASE_FIELDS
from tests.services.test_tasks import EVIDENCE, ITEM, TODAY, Tasks

__all__ = ["world"]


def writes_nothing(j: Jurisdiction) -> int:
    return j.services.ledger.size()


def test_departments_users_and_bootstrap(jurisdiction: Jurisdiction) -> None:
    j, r = jurisdiction, jurisdiction.registry
    size = writes_nothing(j)
    args = ("D-NEW", "新科室", "city", "section", "CZ-SJJ", "320400")
    assert r.add_department(j.root, *args) == "created"
    assert r.add_department(j.root, *args) == "unchanged"
    assert r.add_department(j.root, "D-NEW", " 新科室 ", "市级", "科室", "CZ-SJJ", "320400") == (
        "unchanged"  # the same after validation
    )
    with pytest.raises(ConflictError):
        r.add_department(j.root, "D-NEW", "另一科室", "city", "section", "CZ-SJJ", "320400")
    assert r.add_user(j.root, "wang", "王五", OWN, ["operator", "leader"]) == "created"
    assert r.add_user(j.root, "wang", "王五", OWN, ["leader", "operator"]) == "unchanged"
    with pytest.raises(ConflictError):
        r.add_user(j.root, "wang", "王五", OWN, ["operator"])
    assert writes_nothing(j) == size + 2
    r.deactivate_user(j.root, "wang", "调离")
    with pytest.raises(ConflictError):  # an inactive user is not "the same" again
        r.add_user(j.root, "wang", "王五", OWN, ["operator", "leader"])
    size = writes_nothing(j)
    assert r.bootstrap("root", "系统管理员", "CZ-SJJ", "常州市市场监督管理局", "320400") == (
        "unchanged"
    )
    with pytest.raises(ConflictError):
        r.bootstrap("root2", "系统管理员", "CZ-SJJ", "常州市市场监督管理局", "320400")
    assert writes_nothing(j) == size


def test_conflict_declarations(jurisdiction: Jurisdiction) -> None:
    j, r = jurisdiction, jurisdiction.registry
    r.save_target(j.root, target_row(1))
    r.save_inspector(j.root, inspector_row(1))
    declared = {
        "certificate_no": inspector_row(1)["certificate_no"],
        "target_identifier": target_row(1)["identifier"],
        "relation": "近亲属",
        "valid_from": "2025-01-01",
        "reason": "配偶任该企业法定代表人",
    }
    operator = j.root  # who may declare for whom is the authorisation tests' concern
    first, outcome = r.declare_conflict(operator, declared)
    assert outcome == "created"
    size = writes_nothing(j)
    assert r.declare_conflict(operator, {**declared, "relation": "亲属"}) == (first, "unchanged")
    assert writes_nothing(j) == size
    # Anything else is a declaration of its own.
    other, outcome = r.declare_conflict(operator, {**declared, "valid_to": "2026-12-31"})
    assert outcome == "created" and other != first
    # A withdrawn declaration is not the same: declaring it again records it again.
    r.withdraw_conflict(operator, first, "误报")
    again, outcome = r.declare_conflict(operator, declared)
    assert outcome == "created" and again not in (first, other)


def test_plan_drafts(jurisdiction: Jurisdiction) -> None:
    w = World(jurisdiction, targets=4, inspectors=2)
    raw = {"code": "P-1", "department": OWN, "title": "计划", "year": 2026, "items": ["TZ-001"]}
    assert w.plans.draft(w.operator, raw)["outcome"] == "created"
    size = writes_nothing(w.j)
    assert w.plans.draft(w.operator, raw)["outcome"] == "unchanged"
    assert w.plans.draft(w.operator, {**raw, "target_types": ["企业"]})["outcome"] == "unchanged"
    with pytest.raises(ConflictError):
        w.plans.draft(w.operator, {**raw, "team_size": 3})
    assert writes_nothing(w.j) == size


def test_draw_commits_and_recusal_requests(world: World) -> None:
    w = world
    first, outcome = w.draws.commit(w.operator, OWN, "2026-01", WITNESSES, drawn_on="2026-03-02")
    assert outcome == "created"
    size = writes_nothing(w.j)
    again, outcome = w.draws.commit(w.operator, OWN, "2026-01", WITNESSES, drawn_on="2026-03-02")
    assert (again.id, outcome) == (first.id, "unchanged")
    assert writes_nothing(w.j) == size
    # Other witnesses, another day, or the last draw abandoned: a new round.
    w.draws.abandon(w.leader, str(first.id), "见证人未到场")
    second, outcome = w.draws.commit(w.operator, OWN, "2026-01", WITNESSES, drawn_on="2026-03-02")
    assert outcome == "created" and second.round == 2
    w.dice(str(second.id))
    w.draws.reveal(w.operator, str(second.id))
    # A revealed draw is never "the same commit": the next commit is a new round.
    third, outcome = w.draws.commit(w.operator, OWN, "2026-01", WITNESSES, drawn_on="2026-03-02")
    assert outcome == "created" and third.round == 3
    revealed = w.draws.draw(str(second.id))
    target = next(iter(revealed.outcome["strata"][0]["sample"]))  # type: ignore[index]
    member = revealed.team_of(target)[0]
    request, outcome = w.draws.request_recusal(w.operator, str(second.id), target, member, "纠纷")
    assert outcome == "created"
    size = writes_nothing(w.j)
    assert w.draws.request_recusal(w.operator, str(second.id), target, member, "纠纷") == (
        request,
        "unchanged",
    )
    assert writes_nothing(w.j) == size
    w.draws.decide_recusal(w.leader, str(second.id), request, False, "理由不成立")
    # Decided: the same request again is a new request.
    later, outcome = w.draws.request_recusal(w.operator, str(second.id), target, member, "纠纷")
    assert outcome == "created" and later != request


def test_follow_up_entries(world: World) -> None:
    t = Tasks(world)
    f = FollowUpService(t.s, clock=lambda: TODAY)
    t.inspected(t.ref, "违法违规 (立案)")
    order = {"deadline": "2026-03-20", "requirement": "限期整改", "on": "2026-03-06"}
    assert f.order_rectification(t.operator, t.ref, **order)[1:] == (1, "created")
    size = writes_nothing(t.j)
    assert f.order_rectification(t.operator, t.ref, **order)[1:] == (1, "unchanged")
    assert f.remind(t.operator, t.ref, "请提交整改报告", "2026-03-07")[1:] == (1, "created")
    size += 1
    assert f.remind(t.operator, t.ref, "请提交整改报告", "2026-03-07")[1:] == (1, "unchanged")
    case = {
        "case_no": "常市监罚〔2026〕9号",
        "decision": "罚款",
        "decided_on": "2026-03-09",
        **CASE_FIELDS,
    }
    assert f.file_case(t.operator, t.ref, **case, credit_class="D")[1:] == (1, "created")
    size += 2  # the case, and the target's credit class lowered in the same save
    # The same case again: unchanged, though the target is now class D (not "lowered" again).
    assert f.file_case(t.operator, t.ref, **case, credit_class="D")[1:] == (1, "unchanged")
    with pytest.raises(ConflictError):
        f.file_case(t.operator, t.ref, **{**case, "decision": "警告"})
    referral = {"to_kind": "公安机关", "reason": "涉嫌伪造检验报告", "on": "2026-03-10"}
    assert f.refer(t.operator, t.ref, **referral)[1:] == (1, "created")
    size += 1
    assert f.refer(t.operator, t.ref, **referral)[1:] == (1, "unchanged")
    assert writes_nothing(t.j) == size
    # A new order after a failed re-check is new, even with the same words.
    first, _ = t.team(t.ref)
    f.recheck(first, t.ref, 1, "未通过", on="2026-03-20")
    assert f.order_rectification(t.operator, t.ref, **{**order, "on": "2026-03-20"})[1:] == (
        2,
        "created",
    )


def test_task_result_drafts(world: World) -> None:
    t = Tasks(world)
    first, second = t.team(t.ref)
    t.tasks.notify(t.operator, t.ref, "2026-03-03", "电话通知")
    values = {
        "method": "现场检查",
        "inspected_on": "2026-03-05",
        "findings": "未发现问题",
        "evidence": [EVIDENCE],
        "category": "未发现问题",
    }
    assert t.tasks.draft_result(first, t.ref, ITEM, **values)[1] == "created"
    size = writes_nothing(t.j)
    assert t.tasks.draft_result(first, t.ref, ITEM, **values)[1] == "unchanged"
    assert writes_nothing(t.j) == size
    # Another member's draft, or other findings, replace the draft as before.
    assert t.tasks.draft_result(second, t.ref, ITEM, **values)[1] == "created"
    changed = {**values, "findings": "现场检查未发现问题"}
    assert t.tasks.draft_result(second, t.ref, ITEM, **changed)[1] == "created"
