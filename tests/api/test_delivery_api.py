"""Delivery over HTTP, on both backends: platforms registered, paused, resumed, removed and
retried by administrators (others refused, bad input a bilingual 422 that writes nothing); the
outbox and its dead letters; the pull feed's signed events and the standard's export; penalty
cases filed, corrected and revoked in the 双公示 fields."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl

from ssj.domain.cloudevents import verify_event
from ssj.services.delivery import DeliveryWorker
from tests.api.test_registry_api import Api, api, assert_bilingual
from tests.services.conftest import jurisdiction
from tests.services.test_delivery import AUTHORITY_CODE, Receiver
from tests.services.test_draws import World
from tests.services.test_followups import CASE_FIELDS
from tests.services.test_tasks import Tasks

__all__ = ["api", "jurisdiction"]


def test_platforms_feeds_and_exports_over_http(api: Api, tmp_path: Path) -> None:
    world = World(api.j)
    world.publish()
    t = Tasks(world)
    t.confirmed(t.ref)
    t.tasks.publish(t.operator, t.ref, on="2026-03-10", public_summary="未发现问题")
    keys = [k["verifier_key"] for k in api.j.services.ledger.key_listing()]
    receiver = Receiver(tmp_path / "r", keys, "--refuse")
    try:
        size = api.size()
        body = {"name": "信用常州", "endpoint": "ftp://x.cn/", "kinds": ["results"]}
        assert_bilingual(api.post("/subscribers", body), 422)
        assert_bilingual(
            api.post("/subscribers", {**body, "endpoint": "https://x.cn/", "kinds": ["licences"]}),
            422,
        )
        assert api.size() == size
        assert_bilingual(
            api.post("/subscribers", {**body, "endpoint": receiver.url}, who="operator"), 403
        )
        assert api.size() == size + 1  # the refusal, recorded
        added = api.post(
            "/subscribers",
            {
                **body,
                "endpoint": receiver.url,
                "auth": {"method": "hmac"},
                "max_tries": 2,
                "from_seq": 0,
            },
        )
        assert added.status_code == 201, added.text
        assert len(added.json()["secret"]) >= 16  # generated, shown once
        item = added.json()["item"]
        assert item["auth"]["method"] == "hmac" and "secret" not in item["auth"]
        assert item["counts"] == {"pending": 1}
        listed = api.get("/subscribers", who="supervisor").json()
        assert [r["name"] for r in listed["items"]] == ["信用常州"]
        assert_bilingual(api.get("/subscribers", who="operator"), 403)
        DeliveryWorker(api.j.services, backoff_base=0).run(once=True)
        dead = api.get("/deliveries", params={"status": "dead"}).json()
        assert dead["total"] == 1 and dead["items"][0]["status_zh"].startswith("死信")
        metrics = api.get("/metrics", who=None).text
        assert 'ssj_delivery_backlog{platform="信用常州",status="dead"} 1.0' in metrics
        assert_bilingual(api.get("/deliveries", params={"status": "lost"}), 422)
        # The dead letter and the missed deadline (measured to delivery) in /overdue.
        overdue = api.get("/overdue", params={"on": "2026-06-30"}).json()
        assert [(r["subscriber"], r["tries"]) for r in overdue["dead_letters"]] == [("信用常州", 2)]
        assert [(r["kind"], r["state"]) for r in overdue["deliveries"]] == [("results", "overdue")]
        receiver.stop()
        receiver = Receiver(tmp_path / "r2", keys)
        secret = receiver.tmp / "secret"
        secret.write_bytes(b"0123456789abcdef0123")
        updated = api.post(
            "/subscribers/信用常州/update",
            {
                "reason": "新地址",
                "endpoint": receiver.url,
                "auth": {"method": "hmac", "secret": "0123456789abcdef0123"},
            },
        )
        assert updated.status_code == 200, updated.text and "secret" not in updated.json()
        retried = api.post("/subscribers/信用常州/retry", {"reason": "平台已修复"})
        assert retried.json()["retried"] == [dead["items"][0]["seq"]]
        for verb in ("pause", "resume"):
            assert api.post(f"/subscribers/信用常州/{verb}", {"reason": "维护"}).status_code == 200
        assert_bilingual(api.post("/subscribers/信用常州/resume", {"reason": ""}), 409)
        receiver.stop()
        receiver = Receiver(tmp_path / "r3", keys, "--secret-file", str(secret))
        api.post("/subscribers/信用常州/update", {"reason": "端口", "endpoint": receiver.url})
        DeliveryWorker(api.j.services, backoff_base=0).run(once=True)
        assert len(receiver.rows()) == 1  # HMAC checked by the receiver
        shown = api.get("/subscribers/信用常州").json()["item"]
        assert shown["counts"] == {"delivered": 1}
        removed = api.post("/subscribers/信用常州/remove", {"reason": "停止"})
        assert removed.json()["item"]["status"] == "removed"
    finally:
        receiver.stop()

    # Penalty cases in the 双公示 fields over HTTP; the pull feed and the export.
    ref = t.ref_of(1)
    t.inspected(ref, "违法违规 (立案)")
    url = f"/followups/{t.tasks.resolve(ref)}"
    case = {
        "case_no": "罚〔2026〕9号",
        "decision": "罚款2万元",
        "decided_on": "2026-03-09",
        **CASE_FIELDS,
    }
    assert_bilingual(
        api.post(f"{url}/cases", {**case, "penalty_types": ["罚金"]}, who="operator"), 422
    )
    assert api.post(f"{url}/cases", case, who="operator").status_code == 200
    assert (
        api.post(f"{url}/cases/1/publication", {"on": "2026-03-12"}, who="operator").status_code
        == 200
    )
    corrected = api.post(
        f"{url}/cases/1/corrections",
        {"changes": {"fine": "1.8"}, "reason": "笔误", "on": "2026-03-13"},
        who="operator",
    )
    assert corrected.json()["followup"]["cases"][0]["fine"] == "1.8"
    assert (
        api.post(
            f"{url}/cases/1/revocation", {"reason": "复议撤销", "on": "2026-03-20"}, who="operator"
        ).status_code
        == 200
    )
    page = api.get("/feeds/penalties", params={"after_seq": -1, "limit": 2}).json()
    assert [e["data"]["action"] for e in page["items"]] == ["publish", "correct"]
    assert all(verify_event(e, keys) for e in page["items"])
    rest = api.get("/feeds/penalties", params={"after_seq": page["next_after_seq"]}).json()
    assert [e["data"]["action"] for e in rest["items"]] == ["withdraw"]
    assert rest["items"][0]["data"]["fields"]["CF_CFJGDM"] == AUTHORITY_CODE
    assert_bilingual(api.get("/feeds/licences"), 422)
    own = api.get("/feeds/penalties", who="operator").json()  # own department's records
    assert len(own["items"]) == 3
    exported = api.get(
        "/feeds/penalties/export",
        params={"from": "2026-01-01", "to": "2099-12-31", "format": "xlsx"},
    )
    assert exported.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(exported.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][3] == "行政相对人名称" and [r[1] for r in rows[1:]] == ["公示", "更正", "撤回"]
    assert_bilingual(
        api.get("/feeds/penalties/export", params={"from": "2026-02-01", "to": "2026-01-01"}),
        422,
    )
