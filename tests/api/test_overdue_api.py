"""`GET /overdue` and `/followups` on both backends: a late publication with its working-day
lateness, scoped by role, bad dates refused with a bilingual error; the follow-up paths over HTTP,
re-checks by team members only, bad input that writes nothing."""

from __future__ import annotations

from datetime import date

from tests.api.test_registry_api import Api, api, assert_bilingual
from tests.services.conftest import OTHER, OWN, jurisdiction
from tests.services.test_draws import World
from tests.services.test_followups import CASE_FIELDS
from tests.services.test_overdue import completed, published, tasks_in
from tests.services.test_tasks import Tasks

__all__ = ["api", "jurisdiction"]  # the registry API tests' fixtures, shared here


def test_overdue_over_http(api: Api) -> None:
    t = tasks_in(World(api.j), 2025, date(2025, 12, 31), window_end="2025-10-31")
    published(t, t.ref_of(0), "2025-09-26", "2025-11-04")
    completed(t, t.ref_of(1), "2025-09-26")
    found = api.get("/overdue", who="operator", params={"on": "2025-11-07"})
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["on"] == "2025-11-07" and body["department"] == OWN
    states = {
        r["identifier"]: (r["due_on"], r["state"], r["working_days_late"])
        for r in body["publication"]
    }
    assert states == {
        t.targets[0]: ("2025-10-30", "late", 3),
        t.targets[1]: ("2025-10-30", "overdue", 6),
    }
    (summary,) = body["summary"]
    assert summary["uninspected"] == len(t.targets) - 2
    every = api.get("/overdue", who="supervisor", params={"on": "2025-11-07"}).json()
    assert every["department"] is None and every["summary"] == body["summary"]
    assert_bilingual(
        api.get("/overdue", who="operator", params={"department": OTHER}), 403, "forbidden"
    )
    assert_bilingual(api.get("/overdue", who="operator", params={"on": "2025-02-30"}), 422)


def test_follow_up_over_http(api: Api) -> None:
    world = World(api.j)
    world.publish()
    t = Tasks(world)
    for certificate_no, username in t.users.items():
        api.tokens[certificate_no] = api.j.registry.issue_token(api.j.root, username, "api tests")
    t.inspected(t.ref, "rectified")
    task_id = t.tasks.resolve(t.ref)
    url = f"/followups/{task_id}"
    assert_bilingual(api.get(url, who="operator"), 404, "not_found")
    ordered = api.post(
        f"{url}/rectifications",
        {"deadline": "2026-03-20", "requirement": "限期校验", "on": "2026-03-06"},
        who="operator",
    )
    assert ordered.status_code == 200, ordered.text
    assert ordered.json()["followup"]["rectifications"][0]["deadline"] == "2026-03-20"
    first, _ = t.tasks.row(t.ref)["inspectors"]
    size = t.s.ledger.size()
    assert_bilingual(
        api.post(f"{url}/rectifications/1/rechecks", {"passed": True}, who="operator"), 403
    )
    assert t.s.ledger.size() == size + 1  # the refusal, recorded
    checked = api.post(
        f"{url}/rectifications/1/rechecks", {"passed": True, "on": "2026-03-19"}, who=first
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["followup"]["rectifications"][0]["passed_on"] == "2026-03-19"
    size = t.s.ledger.size()
    bad = {
        "case_no": "常市监罚〔2026〕1号",
        "decision": "罚款",
        "credit_class": "Z",
        **CASE_FIELDS,
    }
    assert_bilingual(api.post(f"{url}/cases", bad, who="operator"), 422)
    assert_bilingual(api.post(f"{url}/referrals", {"to_kind": "x"}, who="operator"), 422)
    assert t.s.ledger.size() == size
    filed = api.post(
        f"{url}/cases", {**bad, "credit_class": "D", "decided_on": "2026-03-09"}, who="operator"
    )
    assert filed.status_code == 200, filed.text
    published = api.post(f"{url}/cases/1/publication", {"on": "2026-03-18"}, who="operator")
    assert published.json()["followup"]["cases"][0]["published_on"] == "2026-03-18"
    for path, body in (
        ("reminders", {"text": "请提交报告", "on": "2026-03-10"}),
        ("referrals", {"to_kind": "公安机关", "reason": "涉嫌伪造"}),
    ):
        done = api.post(f"{url}/{path}", body, who="operator")
        assert done.status_code == 200, done.text
    shown = api.get(url, who="supervisor").json()["followup"]
    assert len(shown["reminders"]) == len(shown["referrals"]) == 1
    target = api.get(f"/targets/{t.target}", who="operator").json()["item"]
    assert target["credit_class"] == "D"
    report = api.get("/overdue", who="operator", params={"on": "2026-03-31"}).json()
    assert report["rectifications"] == [] and report["penalties"] == []
