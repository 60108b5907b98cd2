"""The task endpoints over TaskService, on both backends, through FastAPI's TestClient: the
lifecycle over HTTP, who may record results, and bad input that writes nothing."""

from __future__ import annotations

import pytest

from ssj.domain.access import Refusal
from tests.api.test_registry_api import Api, api, assert_bilingual
from tests.services.conftest import jurisdiction
from tests.services.test_draws import World
from tests.services.test_tasks import EVIDENCE, ITEM, Tasks

__all__ = ["api", "jurisdiction"]  # the registry API tests' fixtures, shared here


@pytest.fixture
def tasks_api(api: Api) -> tuple[Api, Tasks, str]:
    world = World(api.j)
    world.publish()
    t = Tasks(world)
    t.outsider(t.ref)  # a linked inspector off the team
    for certificate_no, username in t.users.items():
        api.tokens[certificate_no] = api.j.registry.issue_token(api.j.root, username, "api tests")
    return api, t, t.tasks.resolve(t.ref)


def result(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "item": ITEM,
        "method": "现场检查",
        "inspected_on": "2026-03-05",
        "findings": "未发现问题",
        "evidence": [EVIDENCE],
        "category": "未发现问题",
    }
    body.update(overrides)
    return body


def test_lifecycle_over_http(tasks_api: tuple[Api, Tasks, str]) -> None:
    api, t, task_id = tasks_api
    first, second = t.tasks.row(t.ref)["inspectors"]
    url = f"/tasks/{task_id}"
    drawn = api.get("/tasks", who="operator", params={"draw": t.draw_id, "status": "待检查"})
    assert drawn.json()["total"] == len(t.targets)

    notified = api.post(f"{url}/notify", {"on": "2026-03-03", "how": "电话通知"}, who="operator")
    assert notified.status_code == 200, notified.text
    assert notified.json()["task"]["status"] == "notified"
    drafted = api.post(f"{url}/results", result(), who=first)
    assert drafted.status_code == 200, drafted.text
    assert drafted.json()["task"]["results"][ITEM]["drafted_by"] == first
    signed = api.post(f"{url}/signatures", {"item": ITEM}, who=second)
    assert signed.status_code == 200, signed.text
    steps: list[tuple[str, object, str]] = [
        ("complete", {"on": "2026-03-05"}, first),
        ("inform", {"on": "2026-03-06"}, "operator"),
        ("objection", {"reason": "检查当日负责人不在场"}, "operator"),
        ("objection/decision", {"upheld": False, "reason": "不影响检查结论"}, "leader"),
        ("publish", {"on": "2026-03-10", "public_summary": "未发现问题"}, "operator"),
        ("close", {"on": "2026-03-11"}, "operator"),
    ]
    for step, body, who in steps:
        done = api.post(f"{url}/{step}", body, who=who)
        assert done.status_code == 200, (step, done.text)
    row = done.json()["task"]
    assert row["status"] == "closed" and row["category"] == "no_problem"
    assert row["completed_on"] == "2026-03-05" and row["published_on"] == "2026-03-10"
    assert row["objection"] == {
        "reason": "检查当日负责人不在场",
        "upheld": False,
        "decision": "不影响检查结论",
    }

    listed = api.get("/tasks", who="supervisor", params={"status": "closed"}).json()
    assert [r["task_id"] for r in listed["items"]] == [task_id]
    assert api.get("/tasks", who="operator", params={"category": "未发现问题"}).json()["total"] == 1
    page = api.get("/tasks", who="operator", params={"limit": 5, "offset": 5}).json()
    assert page["total"] == len(t.targets) and len(page["items"]) == 5
    shown = api.get(url, who="operator").json()
    assert [e["event"] for e in shown["events"]][:3] == [
        "Notified",
        "ResultDrafted",
        "ResultSigned",
    ]
    assert (
        shown["events"][1]["user"] == t.users[first] and shown["events"][-1]["event_zh"] == "办结"
    )


def test_refusals_and_bad_input_over_http(tasks_api: tuple[Api, Tasks, str]) -> None:
    api, t, task_id = tasks_api
    first, _ = t.tasks.row(t.ref)["inspectors"]
    outsider = next(c for c in t.users if c not in t.tasks.row(t.ref)["inspectors"])
    url = f"/tasks/{task_id}"
    size = api.size()
    assert_bilingual(api.post(f"{url}/results", result(), who=first), 409, "conflict")  # drawn
    assert_bilingual(
        api.post(f"{url}/notify", {"on": "2026-03-01", "how": "电话通知"}, who="operator"), 422
    )
    assert api.size() == size
    api.post(f"{url}/notify", {"on": "2026-03-03", "how": "电话通知"}, who="operator")

    size = api.size()
    body = assert_bilingual(api.post(f"{url}/results", result(), who=outsider), 403, "forbidden")
    assert "检查组" in body["message_zh"]
    assert api.size() == size + 1
    refusal = api.j.services.ledger.read(size, 1)[0].event
    assert isinstance(refusal, Refusal.Recorded)  # type: ignore[attr-defined]

    size = api.size()
    bad = assert_bilingual(
        api.post(f"{url}/results", result(item="CZ-SJJ-TZ/TZ-999"), who=first), 422
    )
    assert bad["field"] == "item"
    bad = assert_bilingual(
        api.post(f"{url}/results", result(inspected_on="2099-01-01"), who=first), 422
    )
    assert bad["field"] == "inspected_on" and "future" in bad["message_en"]
    assert_bilingual(api.post(f"{url}/publish", {"public_summary": "x"}, who="operator"), 409)
    assert_bilingual(api.get("/tasks", who="operator", params={"status": "done"}), 422)
    assert api.size() == size
