"""`GET /trail/{kind}/{id}` on both backends: who may read, filters and pages, CSV and XLSX
downloads parsed back, bilingual errors for bad kinds, dates, ranges and unknown subjects."""

from __future__ import annotations

import csv
import io

import openpyxl

from ssj.ledger.envelope import SYSTEM
from ssj.services.trail import EXPORT_LABELS
from tests.api.test_registry_api import Api, api, assert_bilingual
from tests.services.conftest import OTHER, jurisdiction
from tests.services.test_draws import World

__all__ = ["api", "jurisdiction"]  # the registry API tests' fixtures, shared here

PLAN = "CZ-SJJ-TZ/2026-01"


def drawn(api: Api) -> tuple[World, str]:
    world = World(api.j, targets=20, inspectors=4)
    world.publish()
    return world, world.run()


def test_trail_over_http(api: Api) -> None:
    world, draw_id = drawn(api)
    found = api.get(f"/trail/plan/{PLAN}", who="supervisor")
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["subject"] == {
        "kind": "plan",
        "kind_zh": "抽查计划",
        "id": PLAN,
        "departments": ["CZ-SJJ-TZ"],
    }
    kinds = [r["kind"] for r in body["items"]]
    assert kinds[0] == "Plan.Drafted" and kinds[-1] == "Draw.Revealed"
    assert body["total"] == len(kinds) == 8
    first = body["items"][0]
    assert first["actor"] == "operator-own" and first["role"] == "operator"
    assert first["department"] == "CZ-SJJ-TZ" and first["signature"] == "valid"
    assert "起草" in first["summary"] and first["kind_zh"] == "起草抽查计划"
    # Filters and pages.
    approved = api.get(f"/trail/plan/{PLAN}", who="supervisor", params={"actor": "leader-own"})
    assert [r["kind"] for r in approved.json()["items"]] == ["Plan.Approved"]
    seqs = [r["seq"] for r in body["items"]]
    ranged = api.get(
        f"/trail/plan/{PLAN}",
        who="supervisor",
        params={"from_seq": seqs[2], "to_seq": seqs[4], "limit": 2, "offset": 1},
    ).json()
    assert ranged["total"] == 3 and [r["seq"] for r in ranged["items"]] == seqs[3:5]
    day = first["time_beijing"][:10]
    dated = api.get(f"/trail/plan/{PLAN}", who="supervisor", params={"since": day, "until": day})
    assert dated.json()["total"] == 8
    # Every kind of subject is reachable by the id officials use.
    task = world.s.draw_queries.list("tasks", {"draw_id": draw_id}, limit=1).rows[0]
    for url in (
        f"/trail/draw/{draw_id}",
        "/trail/draw/CZ-SJJ-TZ/2026-01/第1轮",
        f"/trail/task/{task['task_id']}",
        f"/trail/task/CZ-SJJ-TZ/2026-01/第1轮/{task['identifier']}",
        f"/trail/target/{task['identifier']}",
        f"/trail/inspector/{task['inspectors'][0]}",
        "/trail/item/CZ-SJJ-TZ/TZ-001",
        "/trail/user/operator-own",
    ):
        response = api.get(url, who="operator")
        assert response.status_code == 200, (url, response.text)
        assert response.json()["total"] >= 1, url


def test_a_key_revoked_after_a_read_shows_in_the_next(api: Api) -> None:
    """The process keeps the key ring it read until the key ring's events change."""
    drawn(api)
    url = f"/trail/plan/{PLAN}"
    before = api.get(url, who="supervisor").json()["items"]
    assert {r["signature"] for r in before} == {"valid"}
    ledger = api.j.services.ledger
    [old] = [k["key_id"] for k in ledger.key_listing() if k["status"] == "active"]
    ledger.rotate_key(SYSTEM)
    ledger.revoke_key(SYSTEM, old, before[3]["seq"], "测试吊销 / revoked in a test")
    after = api.get(url, who="supervisor").json()["items"]
    assert [r["signature"] for r in after] == ["valid"] * 3 + ["revoked-key"] * 5


def test_trail_exports(api: Api) -> None:
    drawn(api)
    page = api.get(f"/trail/plan/{PLAN}", who="reviewer").json()["items"]
    as_csv = api.get(f"/trail/plan/{PLAN}", who="reviewer", params={"format": "csv"})
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    text = as_csv.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == list(EXPORT_LABELS.values()) and rows[0][0] == "账本序号"
    assert [int(r[0]) for r in rows[1:]] == [r["seq"] for r in page]
    assert [r[7] for r in rows[1:]] == [r["summary"] for r in page]
    assert all(r[8] == "有效 valid" for r in rows[1:])
    as_xlsx = api.get(
        f"/trail/plan/{PLAN}", who="reviewer", params={"format": "xlsx", "actor": "leader-own"}
    )
    assert as_xlsx.status_code == 200, as_xlsx.text
    assert "attachment" in as_xlsx.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(as_xlsx.content), read_only=True)
    sheet = list(book.worksheets[0].iter_rows(values_only=True))
    assert list(sheet[0]) == list(EXPORT_LABELS.values())
    assert len(sheet) == 2 and sheet[1][2] == "leader-own" and sheet[1][6] == "Plan.Approved"


def test_trail_bad_input_and_access(api: Api) -> None:
    drawn(api)
    size = api.size()
    for params in (
        {"since": "2026-02-30"},
        {"until": "yesterday"},
        {"since": "2026-03-02", "until": "2026-03-01"},
        {"from_seq": 9, "to_seq": 3},
        {"from_seq": -1},
        {"limit": -5},
        {"limit": 0},
        {"offset": -1},
        {"format": "pdf"},
        {"limit": "many"},
    ):
        assert_bilingual(api.get(f"/trail/plan/{PLAN}", who="supervisor", params=params), 422)
    body = assert_bilingual(api.get("/trail/firm/91320402MA00000155", who="supervisor"), 422)
    assert "target" in body["message_en"] and "检查对象" in body["message_zh"]
    assert_bilingual(api.get("/trail/target/no-such-firm", who="supervisor"), 404, "not_found")
    assert_bilingual(api.get("/trail/plan/no-slash", who="supervisor"), 422)
    assert api.size() == size  # bad input writes nothing
    assert_bilingual(api.get(f"/trail/plan/{PLAN}", who=None), 401, "unauthenticated")
    # Another department's operator may not read this department's trail; the refusal is kept.
    api.j.registry.add_user(api.j.root, "operator-other", "他科操作员", OTHER, ["operator"])
    api.tokens["other"] = api.j.registry.issue_token(api.j.root, "operator-other", "api tests")
    size = api.size()
    assert_bilingual(api.get(f"/trail/plan/{PLAN}", who="other"), 403, "forbidden")
    assert api.size() == size + 1
    refused = api.get("/trail/user/operator-other", who="supervisor").json()["items"][-1]
    assert refused["kind"] == "Refusal.Recorded"
