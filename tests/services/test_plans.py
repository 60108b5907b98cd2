"""Plans through PlanService on both backends: the workflow, who may do what, the item-list
checks, nothing written on bad input, and plans as of an earlier seq."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ssj.domain.access import Forbidden, Principal, Refusal
from ssj.domain.fields import FieldError
from ssj.domain.organisation import Role
from ssj.domain.plans import PlanStatus
from ssj.errors import ConflictError, NotFoundError, SsjError
from ssj.services.plans import PlanService
from tests.services.conftest import OTHER, OWN, Jurisdiction, accounted, item_row


def plan_row(code: str = "2026-A1", **overrides: object) -> dict[str, Any]:
    row: dict[str, Any] = {
        "code": code,
        "department": OWN,
        "title": "2026 年度特种设备使用单位双随机抽查计划",
        "year": 2026,
        "kind": "annual",
        "items": ["TZ-001", "TZ-002"],
    }
    row.update(overrides)
    return row


@pytest.fixture
def plans(jurisdiction: Jurisdiction) -> PlanService:
    j = jurisdiction
    j.registry.save_item(j.root, item_row("TZ-001"))
    j.registry.save_item(j.root, item_row("TZ-002", target_type="个体工商户"))
    j.registry.save_item(j.root, item_row("TZ-009"))
    j.registry.retire_item(j.root, OWN, "TZ-009", "法规废止")
    j.registry.save_item(j.root, item_row("SP-001", OTHER, name="食品生产企业监督检查"))
    j.registry.add_user(j.root, "operator-other", "他科操作员", OTHER, ["operator"])
    j.registry.add_user(j.root, "leader-other", "他科领导", OTHER, ["leader"])
    return PlanService(j.services)


def refused(j: Jurisdiction, call: Callable[[], object], command: str) -> None:
    """Forbidden, and the only event written is the refusal naming the command."""
    ledger = j.services.ledger
    size, before = ledger.size(), accounted(j.services)
    with pytest.raises(Forbidden) as info:
        call()
    assert info.value.zh and info.value.en
    assert accounted(j.services) == before + 1
    logged = ledger.read(size, 10)
    if logged:  # else counted with an identical refusal just before it
        assert len(logged) == 1 and isinstance(logged[0].event, Refusal.Recorded)  # type: ignore[attr-defined]
        assert logged[0].event.command == command


def rejected(j: Jurisdiction, call: Callable[[], object], error: type[SsjError]) -> SsjError:
    """The error, bilingual, and nothing written at all."""
    size = j.services.ledger.size()
    with pytest.raises(error) as info:
        call()
    assert info.value.zh and info.value.en
    assert j.services.ledger.size() == size
    return info.value


def test_whole_workflow(jurisdiction: Jurisdiction, plans: PlanService) -> None:
    j = jurisdiction
    operator, leader = j.as_role(Role.OPERATOR), j.as_role(Role.LEADER)
    drafted = plans.draft(operator, plan_row())
    assert drafted["status"] == "draft" and drafted["version"] == 1
    assert drafted["target_types"] == ["enterprise", "individual"]  # filled from the items
    assert drafted["label"] == f"{OWN}/2026-A1"
    assert plans.submit(operator, OWN, "2026-A1")["status"] == "submitted"
    refused(j, lambda: plans.approve(operator, OWN, "2026-A1"), "approve_plans")
    returned = plans.return_plan(leader, OWN, "2026-A1", "D 类比例偏低")
    assert returned["status"] == "draft"
    plans.amend(operator, OWN, "2026-A1", {"ratios": {"D": "40"}})
    plans.submit(operator, OWN, "2026-A1")
    assert plans.approve(leader, OWN, "2026-A1", "同意")["status"] == "approved"
    published = plans.publish(operator, OWN, "2026-A1")
    assert published["status"] == "published" and published["version"] == 7
    published_seq = j.services.ledger.head_seq()

    j.services.refresh()
    row = j.services.plan_queries.get(OWN, "2026-A1")
    assert row is not None
    assert row["status"] == "published" and row["version"] == 7
    assert row["ratios"] == {"A": "1", "B": "3", "C": "10", "D": "40"}
    assert row["approved_by"] == "leader-own" and row["approval_comment"] == "同意"
    assert row["drafted_by"] == "operator-own" and row["amendments"] == 1
    assert row["published_at"] == j.services.ledger.read(published_seq, 1)[0].recorded_at
    assert row["plan_id"] == drafted["plan_id"]

    # Amending a published plan needs a reason and sends it back for approval.
    rejected(j, lambda: plans.amend(operator, OWN, "2026-A1", {"team_size": 3}), FieldError)
    amended = plans.amend(operator, OWN, "2026-A1", {"team_size": 3}, "增加特种设备检验人员")
    assert amended["status"] == "draft" and amended["team_size"] == 3
    j.services.refresh()
    row = j.services.plan_queries.get(OWN, "2026-A1")
    assert row is not None and row["status"] == "draft" and row["amendments"] == 2
    assert row["approved_by"] is None and row["published_at"] is None
    # The published version is still there as of its seq.
    before = j.services.plan_queries.get(OWN, "2026-A1", at_seq=published_seq)
    assert before is not None and before["status"] == "published" and before["team_size"] == 2

    rejected(j, lambda: plans.publish(operator, OWN, "2026-A1"), ConflictError)
    cancelled = plans.cancel(leader, OWN, "2026-A1", "机构改革，并入新计划")
    assert cancelled["status"] == PlanStatus.CANCELLED
    error = rejected(j, lambda: plans.submit(operator, OWN, "2026-A1"), ConflictError)
    assert "已撤销" in error.zh and "cancelled" in error.en
    assert plans.load(OWN, "2026-A1").status is PlanStatus.CANCELLED


def test_who_may_do_what(jurisdiction: Jurisdiction, plans: PlanService) -> None:
    j = jurisdiction
    operator, leader = j.as_role(Role.OPERATOR), j.as_role(Role.LEADER)
    other = j.services.principal("operator-other")
    other_leader = j.services.principal("leader-other")
    refused(j, lambda: plans.draft(other, plan_row()), "edit_plans")
    refused(j, lambda: plans.draft(j.as_role(Role.INSPECTOR), plan_row()), "edit_plans")
    refused(j, lambda: plans.draft(j.as_role(Role.SUPERVISOR), plan_row()), "edit_plans")
    refused(j, lambda: plans.draft(j.as_role(Role.PUBLIC), plan_row()), "edit_plans")
    plans.draft(operator, plan_row())
    refused(j, lambda: plans.submit(other, OWN, "2026-A1"), "edit_plans")
    plans.submit(leader, OWN, "2026-A1")
    refused(j, lambda: plans.approve(other_leader, OWN, "2026-A1"), "approve_plans")
    refused(j, lambda: plans.cancel(operator, OWN, "2026-A1", "不需要"), "approve_plans")
    plans.approve(j.root, OWN, "2026-A1")  # administrators act anywhere


def test_items_must_be_on_the_list_and_current(
    jurisdiction: Jurisdiction, plans: PlanService
) -> None:
    j = jurisdiction
    operator = j.as_role(Role.OPERATOR)

    def draft(**overrides: object) -> Callable[[], object]:
        return lambda: plans.draft(operator, plan_row(**overrides))

    error = rejected(j, draft(items=["TZ-001", "TZ-404"]), FieldError)
    assert "TZ-404" in error.zh and "TZ-404" in error.en
    error = rejected(j, draft(items=["TZ-009"]), FieldError)
    assert "已废止" in error.zh and "retired" in error.en
    error = rejected(j, draft(items=["SP-001"]), FieldError)  # OTHER's item under OWN
    assert OWN in error.zh
    rejected(j, draft(cooperating={OTHER: ["TZ-001"]}), FieldError)
    rejected(j, draft(cooperating={"CZ-NOWHERE": ["X-1"]}), NotFoundError)
    error = rejected(j, draft(target_types=["产品"]), FieldError)
    assert "产品" in error.zh and "product" in error.en
    rejected(j, draft(team_size=1), FieldError)
    rejected(j, draft(ratios={"A": "0"}), FieldError)
    assert plans.draft(operator, plan_row(target_types=["企业"]))["outcome"] == "created"
    rejected(j, draft(title="另一份计划"), ConflictError)  # the same code, drafted otherwise
    # The same draft again (target types left to the items, which give the same): unchanged.
    size = j.services.ledger.size()
    assert plans.draft(operator, plan_row())["outcome"] == "unchanged"
    assert j.services.ledger.size() == size
    # Amendments are checked the same way, and nothing changed writes nothing.
    rejected(j, lambda: plans.amend(operator, OWN, "2026-A1", {"items": ["TZ-009"]}), FieldError)
    rejected(
        j, lambda: plans.amend(operator, OWN, "2026-A1", {"window_end": "2027-01-05"}), FieldError
    )
    rejected(
        j, lambda: plans.amend(operator, OWN, "2026-A1", {"target_types": ["产品"]}), FieldError
    )
    rejected(j, lambda: plans.amend(operator, OWN, "2026-B9", {"team_size": 3}), NotFoundError)
    # New items bring their own target types unless the amendment lists them.
    amended = plans.amend(operator, OWN, "2026-A1", {"items": ["TZ-002"]})
    assert amended["target_types"] == ["individual"]


def test_joint_plan_with_another_departments_items(
    jurisdiction: Jurisdiction, plans: PlanService
) -> None:
    j = jurisdiction
    operator = j.as_role(Role.OPERATOR)
    plan = plans.draft(
        operator, plan_row("2026-J1", items=["TZ-001"], cooperating={OTHER: ["SP-001"]})
    )
    assert plan["cooperating"] == {OTHER: ["SP-001"]}
    assert plans.load(OWN, "2026-J1").departments == (OWN, OTHER)
    rejected(
        j,
        lambda: plans.amend(
            operator, OWN, "2026-J1", {"cooperating": {OTHER: ["SP-001"], OWN: ["TZ-002"]}}
        ),
        FieldError,
    )
    j.services.refresh()
    queries = j.services.plan_queries
    assert [p["code"] for p in queries.list(involving=OTHER).rows] == ["2026-J1"]
    assert queries.list({"department": OTHER}).total == 0
    assert queries.list({"department": OWN, "year": 2026, "status": "draft"}).total == 1
    assert queries.list(search="特种设备").total == 1 and queries.list(search="食品").total == 0


def test_as_of_reads_and_unchanged_amendments(
    jurisdiction: Jurisdiction, plans: PlanService
) -> None:
    j = jurisdiction
    operator: Principal = j.as_role(Role.OPERATOR)
    plans.draft(operator, plan_row())
    drafted_seq = j.services.ledger.head_seq()
    size = j.services.ledger.size()
    unchanged = plans.amend(
        operator, OWN, "2026-A1", {"team_size": "2", "title": plan_row()["title"]}
    )
    assert unchanged["version"] == 1 and j.services.ledger.size() == size
    plans.amend(operator, OWN, "2026-A1", {"fixed_count": 30, "window_start": "2026-04-01"})
    j.services.refresh()
    queries = j.services.plan_queries
    then = queries.get(OWN, "2026-A1", at_seq=drafted_seq)
    now = queries.get(OWN, "2026-A1")
    assert then is not None and now is not None
    assert then["fixed_count"] is None and then["ratios"]["B"] == "3"
    assert then["window_start"] == "2026-01-01" and then["version"] == 1
    assert now["fixed_count"] == 30 and now["ratios"] == {} and now["version"] == 2
    assert queries.get(OWN, "2026-A1", at_seq=drafted_seq - 1) is None
    page = queries.list(at_seq=drafted_seq)
    assert page.total == 1 and page.rows[0]["fixed_count"] is None
