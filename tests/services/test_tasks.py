"""Inspection tasks through the services, on SQLite and PostgreSQL: the lifecycle from
notification to closure, two sign-offs by team members, the target's objection, publication and
withholding, bad input, and what a closed task means for the next draw."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

import pytest

from ssj.domain.access import Forbidden, Principal, Refusal
from ssj.domain.fields import FieldError
from ssj.domain.tasks import Task, task_id
from ssj.errors import ConflictError, NotFoundError, ValidationError
from ssj.services.tasks import TaskService
from tests.services.conftest import OWN, Jurisdiction, inspector_row
from tests.services.test_draws import World, unchanged, world

__all__ = ["world"]  # the draws tests' fixture, shared here

TODAY = date(2026, 6, 30)
ITEM = f"{OWN}/TZ-001"
EVIDENCE = hashlib.sha256("现场检查记录.pdf".encode()).hexdigest()


class Tasks:
    """A revealed draw, its tasks, and a user linked to each team member as needed: the
    `inspector-own` user and a second inspector user for the first task's team."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.j: Jurisdiction = world.j
        self.s = world.s
        self.tasks = TaskService(world.s, clock=lambda: TODAY)
        self.draw_id = world.run()
        draw = world.draws.draw(self.draw_id)
        assert draw.outcome is not None
        self.label = f"{OWN}/2026-01/第1轮"
        self.targets = [i for s in draw.outcome["strata"] for i in s["sample"]]
        self.target = self.targets[0]
        self.ref = f"{self.label}/{self.target}"
        self.users: dict[str, str] = {}
        first, second = draw.current_team(self.target)["inspectors"]
        reg, root = self.j.registry, self.j.root
        reg.add_user(root, "inspector-two", "检查员乙", OWN, ["inspector"])
        for username, certificate_no in (("inspector-own", first), ("inspector-two", second)):
            reg.link_certificate(root, username, certificate_no)
            self.users[certificate_no] = username
        self.operator = world.operator
        self.leader = world.leader

    def member(self, certificate_no: str) -> Principal:
        """The user linked to a certificate (one is added and linked the first time)."""
        if certificate_no not in self.users:
            username = f"inspector-{certificate_no}"
            self.j.registry.add_user(self.j.root, username, "检查员", OWN, ["inspector"])
            self.j.registry.link_certificate(self.j.root, username, certificate_no)
            self.users[certificate_no] = username
        return self.s.principal(self.users[certificate_no])

    def team(self, ref: str) -> tuple[Principal, Principal]:
        first, second = self.tasks.row(ref)["inspectors"]
        return self.member(first), self.member(second)

    def outsider(self, ref: str) -> Principal:
        team = self.tasks.row(ref)["inspectors"]
        everyone = (str(inspector_row(n)["certificate_no"]) for n in range(6))
        return self.member(next(c for c in everyone if c not in team))

    def ref_of(self, n: int) -> str:
        return f"{self.label}/{self.targets[n]}"

    def draft(self, who: Principal, ref: str, **overrides: Any) -> Task:
        values: dict[str, Any] = {
            "method": "现场检查",
            "inspected_on": "2026-03-05",
            "findings": "未发现问题",
            "evidence": [EVIDENCE],
            "category": "未发现问题",
        }
        values.update(overrides)
        item = values.pop("item", ITEM)
        task, _ = self.tasks.draft_result(who, ref, item, **values)
        return task

    def inspected(self, ref: str, category: str = "no_problem") -> None:
        """Notified, one result drafted and countersigned, completed."""
        first, second = self.team(ref)
        self.tasks.notify(self.operator, ref, "2026-03-03", "电话通知")
        self.draft(first, ref, category=category)
        self.tasks.sign_result(second, ref, ITEM)
        self.tasks.complete(first, ref, "2026-03-05")

    def confirmed(self, ref: str) -> None:
        self.inspected(ref)
        self.tasks.inform(self.operator, ref, "2026-03-06")
        self.tasks.confirm(self.operator, ref)


@pytest.fixture
def t(world: World) -> Tasks:
    return Tasks(world)


def test_lifecycle_from_notification_to_closure(t: Tasks) -> None:
    row = t.tasks.row(t.ref)
    assert row["status"] == "drawn" and row["items"] == [ITEM] and row["category"] is None
    assert row["task_id"] == str(task_id(t.draw_id, t.target))
    assert t.tasks.resolve(row["task_id"]) == t.tasks.resolve(t.ref) == row["task_id"]
    first, second = t.team(t.ref)

    task = t.tasks.notify(t.operator, t.ref, "2026-03-03", "电话通知")
    assert (task.draw_id, task.identifier, task.drawn_on) == (t.draw_id, t.target, "2026-03-02")
    assert task.items == {OWN: ["TZ-001"]} and task.departments == [OWN]
    unchanged(t.w, lambda: t.tasks.notify(t.operator, t.ref, "2026-03-03", "再次"), ConflictError)

    t.draft(first, t.ref, category="发现问题已责令改正", findings="安全附件未定期校验")
    # One sign-off is not enough: neither completion nor publication.
    error = unchanged(t.w, lambda: t.tasks.complete(first, t.ref, "2026-03-05"), ConflictError)
    assert "两人签署" in error.zh and ITEM in error.zh
    error = unchanged(
        t.w, lambda: t.tasks.publish(t.operator, t.ref, public_summary="x"), ConflictError
    )
    assert "检查中" in error.zh and "inspecting" in error.en
    error = unchanged(t.w, lambda: t.tasks.sign_result(first, t.ref, ITEM), ConflictError)
    assert "起草人" in error.zh
    # A redraft before the second signature replaces the draft (both stay in the ledger).
    t.draft(second, t.ref, category="rectified", findings="安全附件未定期校验，已责令改正")
    task = t.tasks.sign_result(first, t.ref, ITEM)
    result = task.results[ITEM]
    assert result["drafted_by"] == second.certificate_no
    assert result["signed_by"] == first.certificate_no
    assert result["evidence"] == [EVIDENCE] and result["method"] == "on_site"
    drafted = [e for e in t.tasks.events(t.ref) if isinstance(e.event, Task.ResultDrafted)]
    assert len(drafted) == 2 and drafted[0].actor.user == "inspector-own"
    unchanged(t.w, lambda: t.draft(first, t.ref), ConflictError)  # signed: no redraft

    t.tasks.complete(second, t.ref, "2026-03-05")
    t.tasks.inform(t.operator, t.ref, "2026-03-06")
    t.tasks.confirm(t.operator, t.ref)
    unchanged(  # findings are never public: there is nothing to redact by that name
        t.w,
        lambda: t.tasks.publish(
            t.operator, t.ref, on="2026-03-10", redacted_fields=["findings"], public_summary="摘要"
        ),
        ValidationError,
    )
    t.tasks.publish(
        t.operator,
        t.ref,
        on="2026-03-10",
        redacted_fields=["完成日期"],
        public_summary="发现问题已责令改正",
    )
    task = t.tasks.close(t.operator, t.ref, "2026-03-11")
    assert task.status == "closed" and task.publication is not None
    assert task.publication["redacted_fields"] == ["completed_on"]

    row = t.tasks.row(t.ref)
    assert row["status"] == "closed" and row["category"] == "rectified"
    assert (row["completed_on"], row["published_on"], row["closed_on"]) == (
        "2026-03-05",
        "2026-03-10",
        "2026-03-11",
    )
    assert row["signed"] == 1 and row["results"][ITEM]["signed_by"] == first.certificate_no
    names = [type(e.event).__name__ for e in t.tasks.events(t.ref)]
    assert names == [
        "Notified",
        "ResultDrafted",
        "ResultDrafted",
        "ResultSigned",
        "Inspected",
        "TargetInformed",
        "Confirmed",
        "Published",
        "Closed",
    ]
    assert t.tasks.page(status="已办结").total == 1
    assert (
        t.tasks.page(category="发现问题已责令改正", involving=OWN).rows[0]["task_id"]
        == (row["task_id"])
    )
    assert t.tasks.page(draw=t.label, status="drawn").total == len(t.targets) - 1
    assert t.tasks.page(involving="CZ-SJJ-SP").total == 0
    # The read model, rebuilt from the ledger alone, says the same.
    replayed = t.w.draws.replay_store(t.s.ledger.head_seq())
    try:
        from projections.draws import TABLES
        from projections.registry import RegistryQueries

        again = RegistryQueries(replayed, TABLES).get("tasks", [row["task_id"]])
    finally:
        replayed.close()
    assert again == row


def test_only_team_members_record_results_and_refusals_are_recorded(t: Tasks) -> None:
    first, second = t.team(t.ref)
    outsider = t.outsider(t.ref)
    error = unchanged(t.w, lambda: t.draft(first, t.ref), ConflictError)  # not notified yet
    assert "待检查" in error.zh
    t.tasks.notify(t.operator, t.ref, "2026-03-03", "现场告知")
    for who in (outsider, t.leader):  # a leader without a certificate on the team
        size = t.s.ledger.size()
        error = unchanged(t.w, lambda who=who: t.draft(who, t.ref), Forbidden)
        assert "检查组" in error.zh
        refusal = t.s.ledger.read(size, 1)[0].event
        assert isinstance(refusal, Refusal.Recorded)  # type: ignore[attr-defined]
        assert refusal.command == "record_results"
    unchanged(t.w, lambda: t.draft(t.operator, t.ref), Forbidden)  # role: operators never
    unchanged(t.w, lambda: t.tasks.notify(first, t.ref_of(1), "2026-03-03", "x"), Forbidden)
    t.draft(first, t.ref)
    unchanged(t.w, lambda: t.tasks.sign_result(outsider, t.ref, ITEM), Forbidden)
    unchanged(t.w, lambda: t.tasks.sign_result(first, t.ref, ITEM), ConflictError)
    t.tasks.sign_result(second, t.ref, ITEM)
    unchanged(t.w, lambda: t.tasks.sign_result(first, t.ref, ITEM), ConflictError)
    unchanged(t.w, lambda: t.tasks.complete(outsider, t.ref, "2026-03-05"), Forbidden)
    t.tasks.complete(first, t.ref, "2026-03-05")
    unchanged(t.w, lambda: t.tasks.inform(first, t.ref, "2026-03-06"), Forbidden)  # role


def test_bad_results_and_dates_write_nothing(t: Tasks) -> None:
    first, second = t.team(t.ref)
    notify = t.tasks.notify
    error = unchanged(t.w, lambda: notify(t.operator, t.ref, "2026-03-01", "x"), FieldError)
    assert "早于抽取日期" in error.zh and "before the draw date" in error.en
    error = unchanged(t.w, lambda: notify(t.operator, t.ref, "2026-07-01", "x"), FieldError)
    assert "晚于今天" in error.zh and "future" in error.en
    unchanged(t.w, lambda: notify(t.operator, t.ref, "2026-02-30", "x"), FieldError)
    unchanged(t.w, lambda: notify(t.operator, t.ref, "2026-03-03", " "), FieldError)
    unchanged(
        t.w, lambda: notify(t.operator, f"{t.label}/nobody", "2026-03-03", "x"), NotFoundError
    )
    unchanged(t.w, lambda: notify(t.operator, "no-such-draw/x", "2026-03-03", "x"), ValidationError)
    notify(t.operator, t.ref, "2026-03-04", "书面通知")

    error = unchanged(t.w, lambda: t.draft(first, t.ref, item=f"{OWN}/TZ-999"), FieldError)
    assert "不在本任务的抽查事项中" in error.zh and error.field == "item"
    error = unchanged(t.w, lambda: t.draft(first, t.ref, method="书面检查"), FieldError)
    assert error.field == "method" and "现场" in error.zh
    unchanged(t.w, lambda: t.draft(first, t.ref, category="基本合格"), FieldError)
    unchanged(t.w, lambda: t.draft(first, t.ref, evidence=["abc"]), FieldError)
    unchanged(t.w, lambda: t.draft(first, t.ref, findings=""), FieldError)
    error = unchanged(t.w, lambda: t.draft(first, t.ref, inspected_on="2026-03-03"), FieldError)
    assert "早于通知日期" in error.zh
    unchanged(t.w, lambda: t.draft(first, t.ref, inspected_on="2026-07-01"), FieldError)
    task = t.draft(first, t.ref, category="违法违规（立案）", inspected_on="2026-03-06")
    assert task.results[ITEM]["category"] == "case_filed"
    t.tasks.sign_result(second, t.ref, ITEM)
    error = unchanged(t.w, lambda: t.tasks.complete(first, t.ref, "2026-03-05"), FieldError)
    assert "最后一项检查日期" in error.zh
    t.tasks.complete(first, t.ref, "2026-03-06")
    unchanged(t.w, lambda: t.tasks.inform(t.operator, t.ref, "2026-03-05"), FieldError)
    unchanged(t.w, lambda: t.tasks.confirm(t.operator, t.ref), ConflictError)  # not informed
    unchanged(t.w, lambda: t.tasks.close(t.operator, t.ref, "2026-03-07"), ConflictError)


def test_objections_are_decided_by_a_leader(t: Tasks) -> None:
    rejected, upheld = t.ref, t.ref_of(1)
    for ref in (rejected, upheld):
        t.inspected(ref, category="follow_up")
        t.tasks.inform(t.operator, ref, "2026-03-06")
        unchanged(t.w, lambda ref=ref: t.tasks.record_objection(t.operator, ref, " "), FieldError)
        t.tasks.record_objection(t.operator, ref, "企业已于检查前完成整改，检查结论与事实不符")
        unchanged(
            t.w,
            lambda ref=ref: t.tasks.publish(t.operator, ref, public_summary="x"),
            ConflictError,
        )
        unchanged(
            t.w,
            lambda ref=ref: t.tasks.decide_objection(t.operator, ref, False, "x"),
            Forbidden,
        )
    t.tasks.decide_objection(t.leader, rejected, False, "整改记录晚于检查日期，异议不成立")
    assert t.tasks.row(rejected)["status"] == "objection_rejected"
    task = t.tasks.publish(
        t.operator, rejected, on="2026-03-12", public_summary="发现问题待后续处理"
    )
    assert task.objection is not None and task.objection["upheld"] is False

    task = t.tasks.decide_objection(t.leader, upheld, True, "异议成立，重新检查")
    assert task.status == "inspecting" and task.results == {} and len(task.reopened) == 1
    row = t.tasks.row(upheld)
    assert row["status"] == "inspecting" and row["results"] == {} and row["completed_on"] is None
    assert row["objection"]["upheld"] is True
    first, second = t.team(upheld)
    t.draft(second, upheld, inspected_on="2026-03-09", category="未发现问题")
    t.tasks.sign_result(first, upheld, ITEM)
    t.tasks.complete(first, upheld, "2026-03-09")
    t.tasks.inform(t.operator, upheld, "2026-03-10")
    t.tasks.confirm(t.operator, upheld)
    assert t.tasks.row(upheld)["category"] == "no_problem"


def test_withheld_until_final_is_published_later_withheld_for_good_never(t: Tasks) -> None:
    until_final, for_good = t.ref, t.ref_of(1)
    for ref in (until_final, for_good):
        t.confirmed(ref)
        unchanged(t.w, lambda ref=ref: t.tasks.withhold(t.operator, ref, "", True), FieldError)
    t.tasks.withhold(t.operator, until_final, "等待检验检测结果", until_final=True)
    error = unchanged(
        t.w, lambda: t.tasks.close(t.operator, until_final, "2026-03-20"), ConflictError
    )
    assert "暂缓公示" in error.zh
    assert t.tasks.row(until_final)["withheld"] == {
        "reason": "等待检验检测结果",
        "until_final": True,
    }
    t.tasks.publish(t.operator, until_final, on="2026-04-20", public_summary="检验合格，未发现问题")
    t.tasks.close(t.operator, until_final, "2026-04-21")

    t.tasks.withhold(t.operator, for_good, "涉及国家秘密，依法不予公示", until_final=False)
    error = unchanged(
        t.w,
        lambda: t.tasks.publish(t.operator, for_good, on="2026-03-20", public_summary="x"),
        ConflictError,
    )
    assert "不予公示" in error.zh and "withheld for good" in error.en
    unchanged(t.w, lambda: t.tasks.close(t.operator, for_good, "2026-03-05"), FieldError)
    t.tasks.close(t.operator, for_good, "2026-03-20")
    assert t.tasks.row(for_good)["published_on"] is None


def test_a_closed_task_stops_excluding_its_target_as_open(t: Tasks) -> None:
    t.confirmed(t.ref)
    t.tasks.publish(t.operator, t.ref, on="2026-03-10", public_summary="未发现问题")
    t.tasks.close(t.operator, t.ref, "2026-03-11")
    second = t.w.commit(drawn_on="2026-04-01")
    facts = t.w.draws.draw(second).facts
    assert facts["exclusions"] == {
        "open_task": len(t.targets) - 1,
        "recent_inspection": 1,
    }
