"""The plan endpoints over PlanService, on both backends, through FastAPI's TestClient."""

from __future__ import annotations

from typing import Any

import pytest

from ssj.domain.access import Refusal
from tests.api.test_registry_api import Api, api, assert_bilingual
from tests.services.conftest import OTHER, OWN, item_row, jurisdiction

__all__ = ["api", "jurisdiction"]  # the registry API tests' fixtures, shared here

PLAN = f"/plans/{OWN}/2026-A1"


def plan_body(code: str = "2026-A1", **overrides: object) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "department": OWN,
        "title": "2026 年度特种设备使用单位双随机抽查计划",
        "year": 2026,
        "kind": "年度",
        "items": ["TZ-001"],
    }
    body.update(overrides)
    return body


@pytest.fixture
def plans_api(api: Api) -> Api:
    for row in (item_row("TZ-001"), item_row("TZ-002", target_type="个体工商户")):
        assert api.put("/items", row).status_code == 201
    assert api.put("/items", item_row("SP-001", OTHER)).status_code == 201
    return api


def test_workflow_and_public_view(plans_api: Api) -> None:
    api = plans_api
    created = api.post("/plans", plan_body(cooperating={OTHER: ["SP-001"]}), who="operator")
    assert created.status_code == 201, created.text
    plan = created.json()["plan"]
    assert plan["status"] == "draft" and plan["target_types"] == ["enterprise"]
    assert plan["cooperating"] == {OTHER: ["SP-001"]} and plan["drafted_by"] == "operator-own"
    drafted_seq = created.json()["seq"]

    # Drafts, submitted and approved plans are never public.
    assert_bilingual(api.get(f"/public{PLAN}", who=None), 404, "not_found")
    assert api.post(f"{PLAN}/submit", who="operator").json()["plan"]["status"] == "submitted"
    assert_bilingual(api.get(f"/public{PLAN}", who=None), 404)

    size = api.size()
    refused = api.post(f"{PLAN}/approve", {"comment": "同意"}, who="operator")
    assert_bilingual(refused, 403, "forbidden")
    assert api.size() == size + 1
    logged = api.j.services.ledger.read(size, 1)[0].event
    assert isinstance(logged, Refusal.Recorded) and logged.command == "approve_plans"  # type: ignore[attr-defined]

    returned = api.post(f"{PLAN}/return", {"reason": "比例偏低"}, who="leader")
    assert returned.json()["plan"]["return_reason"] == "比例偏低"
    amended = api.call("PATCH", PLAN, "operator", json={"ratios": {"D": 40}})
    assert amended.status_code == 200, amended.text
    assert amended.json()["outcome"] == "updated" and amended.json()["plan"]["ratios"]["D"] == "40"
    same = api.call("PATCH", PLAN, "operator", json={"ratios": {"D": "40.0"}})
    assert same.json()["outcome"] == "unchanged"
    api.post(f"{PLAN}/submit", who="operator")
    approved = api.post(f"{PLAN}/approve", {"comment": "同意"}, who="leader")
    assert approved.json()["plan"]["approved_by"] == "leader-own"
    assert_bilingual(api.get(f"/public{PLAN}", who=None), 404)
    published = api.post(f"{PLAN}/publish", who="operator").json()
    assert published["plan"]["status"] == "published"

    shown = api.get(f"/public{PLAN}", who=None)
    assert shown.status_code == 200, shown.text
    public = shown.json()["plan"]
    assert public["department_name"] == "特种设备安全监察科"
    assert public["ratios"]["D"] == "40" and public["published_at"]
    assert "approved_by" not in public and "drafted_by" not in public
    listed = api.get("/public/plans", who=None, params={"department": OTHER}).json()
    assert listed["total"] == 1 and listed["items"][0]["code"] == "2026-A1"
    # The public cannot look back at the draft.
    assert_bilingual(api.get(f"/public{PLAN}", who=None, params={"as_of": drafted_seq}), 404)

    # Amending the published plan withdraws it from the public until it is published again.
    assert_bilingual(api.call("PATCH", PLAN, "operator", json={"team_size": 3}), 422)
    again = api.call(
        "PATCH", PLAN, "operator", json={"team_size": 3, "reason": "增加特种设备检验人员"}
    )
    assert again.json()["plan"]["status"] == "draft" and again.json()["plan"]["amendments"] == 2
    assert api.get("/public/plans", who=None).json()["total"] == 0

    cancelled = api.post(f"{PLAN}/cancel", {"reason": "并入新计划"}, who="leader")
    assert cancelled.json()["plan"]["status"] == "cancelled"
    assert_bilingual(api.post(f"{PLAN}/submit", who="operator"), 409, "conflict")


def test_reads_are_scoped_and_as_of(plans_api: Api) -> None:
    api = plans_api
    assert api.post("/plans", plan_body(), who="operator").status_code == 201
    joint = plan_body("2026-J1", items=["TZ-002"], cooperating={OTHER: ["SP-001"]})
    created = api.post("/plans", joint, who="leader")
    assert created.status_code == 201
    seq = created.json()["seq"]
    api.call("PATCH", f"/plans/{OWN}/2026-J1", "leader", json={"title": "联合抽查计划"})

    mine = api.get("/plans", who="operator").json()
    assert mine["total"] == 2 and [p["code"] for p in mine["items"]] == ["2026-A1", "2026-J1"]
    everything = api.get("/plans", who="supervisor", params={"status": "草稿"}).json()
    assert everything["total"] == 2
    joined = api.get("/plans", who="reviewer", params={"department": OTHER}).json()
    assert [p["code"] for p in joined["items"]] == ["2026-J1"]
    paged = api.get("/plans", params={"limit": 1, "offset": 1}).json()
    assert paged["total"] == 2 and [p["code"] for p in paged["items"]] == ["2026-J1"]
    found = api.get("/plans", params={"search": "联合"}).json()
    assert [p["code"] for p in found["items"]] == ["2026-J1"]
    assert_bilingual(api.get("/plans", who="operator", params={"department": OTHER}), 403)
    assert_bilingual(api.get("/plans", params={"kind": "季度"}), 422)

    then = api.get(f"/plans/{OWN}/2026-J1", params={"as_of": seq}).json()
    assert then["as_of"] == seq and then["plan"]["title"] == joint["title"]
    now = api.get(f"/plans/{OWN}/2026-J1", who="inspector").json()
    assert now["plan"]["title"] == "联合抽查计划" and now["plan"]["version"] == 2
    assert_bilingual(api.get(f"/plans/{OWN}/2026-B9"), 404, "not_found")


def test_bad_input_writes_nothing(plans_api: Api) -> None:
    api = plans_api
    size = api.size()
    cases = [
        (plan_body(ratios={"A": 0}), "ratios"),
        (plan_body(ratios={"B": "abc"}), "ratios"),
        (plan_body(team_size=1), "team_size"),
        (plan_body(window_start="2025-12-01"), "window_start"),
        (plan_body(kind="月度"), "month"),
        (plan_body(fixed_count=10, ratios={"A": "1"}), "fixed_count"),
        (plan_body(items=["TZ-404"]), "items"),
        (plan_body(team_szie=3), "team_szie"),
    ]
    for body, field in cases:
        body_out = assert_bilingual(api.post("/plans", body, who="operator"), 422)
        assert body_out["field"] == field, body_out
    assert_bilingual(api.post("/plans", plan_body(), who="inspector"), 403, "forbidden")
    assert api.size() == size + 1  # only the refusal
    assert api.post("/plans", plan_body(), who="operator").status_code == 201
    size = api.size()
    again = api.post("/plans", plan_body(), who="operator")  # the same draft: nothing written
    assert (again.status_code, again.json()["outcome"]) == (200, "unchanged")
    other = plan_body(title="另一份计划")
    assert_bilingual(api.post("/plans", other, who="operator"), 409, "conflict")
    assert api.size() == size


def test_openapi_lists_the_plan_endpoints(plans_api: Api) -> None:
    paths = plans_api.client.get("/openapi.json").json()["paths"]
    assert {"/plans", "/plans/{department}/{code}", "/public/plans"} <= set(paths)
    assert "patch" in paths["/plans/{department}/{code}"]
