"""The HTTP API over the registry services, on both backends, through FastAPI's TestClient."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from ssj.api import create_app
from ssj.domain.access import Refusal
from ssj.domain.organisation import Role, token_hash
from tests.api.jobs import in_process_jobs
from tests.services.conftest import (
    OTHER,
    OWN,
    Jurisdiction,
    inspector_row,
    item_row,
    jurisdiction,
    target_row,
    uscc,
)

__all__ = ["jurisdiction"]  # the services tests' fixture, shared here

TARGET_HEADER = ["统一社会信用代码", "名称", "行政区划代码", "对象类型", "责任部门", "信用风险分类"]


class Api:
    """A client and one token per role (`root` for the administrator)."""

    def __init__(self, j: Jurisdiction, client: TestClient) -> None:
        self.j = j
        self.client = client
        self.tokens = {"root": j.registry.issue_token(j.root, "root", "api tests")}
        for role in Role:
            if role is not Role.PUBLIC:
                username = f"{role.value}-own"
                self.tokens[role.value] = j.registry.issue_token(j.root, username, "api tests")

    def call(self, method: str, url: str, who: str | None = "root", **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        headers.update(kw.pop("headers", None) or {})
        return self.client.request(method, url, headers=headers, **kw)

    def get(self, url: str, who: str | None = "root", **kw: Any) -> Any:
        return self.call("GET", url, who, **kw)

    def put(self, url: str, body: Any, who: str | None = "root") -> Any:
        return self.call("PUT", url, who, json=body)

    def post(self, url: str, body: Any = None, who: str | None = "root", **kw: Any) -> Any:
        return (
            self.call("POST", url, who, json=body, **kw)
            if body is not None
            else self.call("POST", url, who, **kw)
        )

    def size(self) -> int:
        return self.j.services.ledger.size()

    def head_seq(self) -> int:
        return self.j.services.ledger.head_seq()

    def upload(self, kind: str, name: str, content: bytes, who: str = "root", **form: str) -> Any:
        """An upload that waits for its import job: the answer is the job's outcome."""
        return self.submit(kind, name, content, who, wait=120, **form)

    def submit(
        self, kind: str, name: str, content: bytes, who: str = "root", wait: int = 0, **form: str
    ) -> Any:
        files = {"file": (name, content, "application/octet-stream")}
        url = f"/imports/{kind}?wait={wait}"
        return self.call("POST", url, who, files=files, data=form)


@pytest.fixture
def api(jurisdiction: Jurisdiction) -> Iterator[Api]:
    """Uploads' import jobs run in this process (tests/api/jobs.py); tests/api/test_import_jobs.py
    runs them as processes."""
    with TestClient(create_app(jurisdiction.services)) as client:
        in_process_jobs(client, jurisdiction.services.settings)
        yield Api(jurisdiction, client)


def assert_bilingual(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["message_zh"] and body["message_en"], body
    if code is not None:
        assert body["code"] == code, body
    return body


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def target_csv_row(n: int, department: str = OWN) -> list[str]:
    return [uscc(n), f"常州第{n}机械有限公司", "320402", "企业", department, "B"]


# Authentication ---------------------------------------------------------------------------------


def test_reads_need_a_valid_token(api: Api) -> None:
    body = assert_bilingual(api.get("/targets", who=None), 401, "unauthenticated")
    assert "Bearer" in body["message_en"]
    bad = api.client.get("/targets", headers={"Authorization": "Bearer ssj_nope"})
    assert_bilingual(bad, 401, "unauthenticated")
    assert bad.headers["WWW-Authenticate"] == "Bearer"
    assert_bilingual(api.client.put("/targets", json=target_row(1)), 401)
    # A revoked token stops working at once.
    digest = token_hash(api.tokens["operator"])
    revoked = api.call("DELETE", f"/tokens/{digest}", json={"reason": "离职"})
    assert revoked.status_code == 200, revoked.text
    assert_bilingual(api.get("/targets", who="operator"), 401, "unauthenticated")


def test_public_item_list_needs_no_token(api: Api) -> None:
    for code in ("TZ-001", "TZ-002"):
        api.put("/items", item_row(code, required_specialties=["压力容器"]))
    retired = api.post("/items/CZ-SJJ-TZ/TZ-002/retire", {"reason": "并入 TZ-001"})
    assert retired.status_code == 200, retired.text
    listed = api.get("/public/items", who=None)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["total"] == 1 and [i["code"] for i in body["items"]] == ["TZ-001"]
    item = body["items"][0]
    assert item["department_name"] == "特种设备安全监察科"
    assert "retired_reason" not in item and "required_specialties" not in item
    assert item["legal_bases"] == ["《中华人民共和国特种设备安全法》第五十七条"]
    # Everything else stays behind the token.
    assert api.get("/items", who=None).status_code == 401


# Authorisation ----------------------------------------------------------------------------------


def test_operator_writing_another_departments_target_is_refused_and_recorded(api: Api) -> None:
    size = api.size()
    response = api.put("/targets", target_row(1, OTHER), who="operator")
    assert_bilingual(response, 403, "forbidden")
    # Nothing was written but the refusal itself.
    assert api.size() == size + 1
    logged = api.j.services.ledger.read(size, 10)
    assert len(logged) == 1 and isinstance(logged[0].event, Refusal.Recorded)  # type: ignore[attr-defined]
    assert logged[0].event.command == "edit_targets"
    assert logged[0].event.username == "operator-own"
    assert api.get(f"/targets/{uscc(1)}").status_code == 404


def test_supervisors_read_every_department_operators_only_their_own(api: Api) -> None:
    for n in range(3):
        assert api.put("/targets", target_row(n, OWN)).status_code == 201
    for n in range(3, 5):
        assert api.put("/targets", target_row(n, OTHER)).status_code == 201
    for who in ("supervisor", "reviewer", "root"):
        assert api.get("/targets", who=who).json()["total"] == 5, who
    assert api.get(f"/targets?department={OTHER}", who="supervisor").json()["total"] == 2
    assert api.get(f"/targets/{uscc(4)}", who="supervisor").status_code == 200
    for who in ("operator", "inspector", "leader"):
        body = api.get("/targets", who=who).json()
        assert body["total"] == 3, who
        assert {t["department"] for t in body["items"]} == {OWN}
    size = api.size()
    assert_bilingual(api.get(f"/targets?department={OTHER}", who="operator"), 403, "forbidden")
    assert_bilingual(api.get(f"/targets/{uscc(4)}", who="operator"), 403, "forbidden")
    logged = api.j.services.ledger.read(size, 10)
    # Identical refusals within the window: the first is recorded, the second counted.
    assert [e.event.command for e in logged] == ["read_registry"]
    assert api.j.services.refusals.pending() == 1
    # The same rule for every list.
    assert api.get("/users", who="operator").json()["total"] == 6
    assert api.get("/users", who="supervisor").json()["total"] == 7  # and root, in CZ-SJJ


def test_pagination_totals(api: Api) -> None:
    for n in range(7):
        api.put("/targets", target_row(n))
    pages = [api.get(f"/targets?limit=3&offset={o}", who="supervisor").json() for o in (0, 3, 6)]
    assert [p["total"] for p in pages] == [7, 7, 7]
    assert [len(p["items"]) for p in pages] == [3, 3, 1]
    seen = [t["identifier"] for p in pages for t in p["items"]]
    assert seen == sorted(seen) and len(set(seen)) == 7
    assert pages[0]["as_of"] == api.head_seq()
    searched = api.get("/targets?search=第3机械", who="supervisor").json()
    assert [t["identifier"] for t in searched["items"]] == [uscc(3)]
    body = assert_bilingual(api.get("/targets?limit=1001"), 422, "request_validation")
    assert body["field"] == "limit" and "1000" in body["message_zh"]


def test_at_seq_shows_the_registry_as_it_stood(api: Api) -> None:
    created = api.put("/targets", target_row(1, name="常州旧名有限公司"))
    assert created.status_code == 201 and created.json()["outcome"] == "created"
    old_seq = created.json()["seq"]
    updated = api.put("/targets", target_row(1, name="常州新名有限公司"))
    assert updated.status_code == 200 and updated.json()["outcome"] == "updated"
    unchanged = api.put("/targets", target_row(1, name="常州新名有限公司"))
    assert unchanged.json()["outcome"] == "unchanged"
    assert api.get(f"/targets/{uscc(1)}").json()["item"]["name"] == "常州新名有限公司"
    then = api.get(f"/targets/{uscc(1)}?at_seq={old_seq}").json()
    assert then == {"as_of": old_seq, "item": {**then["item"], "name": "常州旧名有限公司"}}
    listed = api.get(f"/targets?at_seq={old_seq}").json()
    assert [t["name"] for t in listed["items"]] == ["常州旧名有限公司"]
    assert api.get(f"/targets/{uscc(1)}?at_seq={old_seq - 1}").status_code == 404
    assert_bilingual(api.get(f"/targets?at_seq={api.size() + 5}"), 422, "validation")
    # `as_of`, at_seq's deprecated first name, still reads the same for one release.
    assert api.get(f"/targets/{uscc(1)}?as_of={old_seq}").json() == then
    assert api.get(f"/targets?as_of={old_seq}").json() == listed
    assert api.get(f"/targets?as_of={old_seq}&at_seq={old_seq}").json() == listed
    body = assert_bilingual(
        api.get(f"/targets?as_of={old_seq}&at_seq={old_seq + 1}"), 422, "validation"
    )
    assert "at_seq" in body["message_en"] and "as_of" in body["message_zh"]


def test_openapi_names_at_seq_and_marks_as_of_deprecated(api: Api) -> None:
    """Every read that takes a seq to read at calls it `at_seq`; `as_of` is listed beside it,
    deprecated, and nowhere alone."""
    with_seq = 0
    for path, operations in api.client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        for method, operation in operations.items():
            params = {p["name"]: p for p in operation.get("parameters", [])}
            if "as_of" in params or "at_seq" in params:
                with_seq += 1
                assert params["as_of"].get("deprecated") is True, (method, path)
                assert not params["at_seq"].get("deprecated"), (method, path)
                assert "at_seq" in params["as_of"]["description"], (method, path)
    assert with_seq >= 30


# Imports and exports ----------------------------------------------------------------------------


def test_upload_with_a_bad_row_is_refused_whole(api: Api) -> None:
    rows = [target_csv_row(n) for n in range(3)]
    rows[1][0] = rows[1][0][:-1] + ("0" if rows[1][0][-1] != "0" else "1")  # bad check char
    size = api.size()
    response = api.upload("targets", "targets.csv", csv_bytes(TARGET_HEADER, rows), "operator")
    body = assert_bilingual(response, 422, "import_problems")
    assert body["written"] is False and body["rows"] == 3
    assert [(p["row"], p["column"]) for p in body["problems"]] == [(3, "A")]
    assert "check character" in body["problems"][0]["en"]
    assert api.size() == size
    assert api.get("/targets").json()["total"] == 0


def test_good_upload_reports_counts(api: Api) -> None:
    content = csv_bytes(
        [*TARGET_HEADER[:4], "信用风险分类"], [[*target_csv_row(n)[:4], "C"] for n in range(4)]
    )
    response = api.upload("targets", "名录.csv", content, "operator", department=OWN)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"], body["written"]) == (4, 0, 0, True)
    assert body["file"] == "名录.csv" and body["seq"] == api.head_seq()
    again = api.upload("targets", "名录.csv", content, "operator", department=OWN).json()
    assert (again["created"], again["unchanged"]) == (0, 4)
    # Someone who may not import at all is refused before the file is read, and it is recorded.
    size = api.size()
    assert_bilingual(api.upload("targets", "x.csv", content, "supervisor"), 403, "forbidden")
    assert api.size() == size + 1
    # A file that is no spreadsheet is a bilingual 422 too.
    assert_bilingual(api.upload("targets", "x.xlsx", b"%PDF-1.4 not a workbook"), 422)


def test_exports_import_back_unchanged(api: Api) -> None:
    for n in range(3):
        api.put("/targets", target_row(n, tags=["投诉较多", "重点"], address=f"天宁区{n}号"))
    api.put("/targets", target_row(9, OTHER, status="注销"))
    for n in range(3):
        api.put("/inspectors", inspector_row(n, specialties=["特种设备", "压力容器"]))
    api.put(
        "/inspectors",
        inspector_row(5, status="休假", leave_from="2025-01-01", leave_to="2025-02-01"),
    )
    joint = item_row(
        "TZ-001",
        legal_bases=[
            "《特种设备安全法》第五十七条、第六十一条",
            "《特种设备安全监察条例》第五十条",
        ],
        required_specialties=["特种设备", "压力容器"],
        cooperating_departments=[OTHER],
        category="特种设备",
    )
    assert api.put("/items", joint).status_code == 201
    assert api.put("/items", item_row("TZ-002", default_ratio="12.5%")).status_code == 201
    size = api.size()
    for kind, count in (("targets", 4), ("inspectors", 4), ("items", 2)):
        exported = api.get(f"/{kind}/export.xlsx")
        assert exported.status_code == 200, exported.text
        assert exported.headers["content-type"].startswith("application/vnd.openxmlformats")
        sheet = openpyxl.load_workbook(io.BytesIO(exported.content)).active
        assert sheet is not None
        header = [c.value for c in next(sheet.iter_rows(max_row=1))]
        assert all(h and any("\u4e00" <= ch <= "\u9fff" for ch in h) for h in header), header
        report = api.upload(kind, f"{kind}.xlsx", exported.content)
        assert report.status_code == 200, report.text
        assert (report.json()["unchanged"], report.json()["rows"]) == (count, count), kind
    # The CSV export: UTF-8 with BOM, Chinese headers, and it imports back unchanged too.
    exported = api.get("/targets/export.csv")
    assert exported.content.startswith(b"\xef\xbb\xbf")
    assert exported.content.decode("utf-8-sig").splitlines()[0].startswith("统一社会信用代码/标识,")
    report = api.upload("targets", "targets.csv", exported.content).json()
    assert report["unchanged"] == 4
    assert api.size() == size  # nothing written by any re-import
    # Operators export their own department only.
    own = api.get("/targets/export.csv", who="operator").content.decode("utf-8-sig")
    assert len(own.splitlines()) == 1 + 3


# Writes, errors, documentation ------------------------------------------------------------------


def test_organisation_items_and_conflicts(api: Api) -> None:
    department = {
        "code": "CZ-SJJ-YP",
        "name": "药品监管科",
        "level": "市级",
        "kind": "科室",
        "parent": "CZ-SJJ",
        "region_code": "320400",
    }
    created = api.post("/departments", department)
    assert created.status_code == 201 and created.json()["item"]["level"] == "city"
    again = api.post("/departments", department)  # the same again: nothing written
    assert (again.status_code, again.json()["outcome"]) == (200, "unchanged")
    other = {**department, "name": "另一科室"}
    assert_bilingual(api.post("/departments", other), 409, "conflict")
    assert_bilingual(api.post("/departments", {**department, "code": "X"}, who="operator"), 403)
    user = {"username": "lisi", "name": "李四", "department": "CZ-SJJ-YP", "roles": ["操作员"]}
    assert api.post("/users", user).json()["item"]["roles"] == ["operator"]
    issued = api.post("/tokens", {"username": "lisi", "label": "测试"})
    assert issued.status_code == 201
    api.tokens["lisi"] = issued.json()["token"]
    assert issued.json()["token_sha256"] == token_hash(api.tokens["lisi"])
    assert [u["username"] for u in api.get("/users", who="lisi").json()["items"]] == ["lisi"]
    assert api.get("/departments?closed=false", who="lisi").json()["total"] == 4
    assert api.get("/departments/CZ-SJJ-YP", who="lisi").json()["item"]["name"] == "药品监管科"
    deactivated = api.post("/users/lisi/deactivate", {"reason": "调离"})
    assert deactivated.json()["item"]["active"] is False
    assert_bilingual(api.get("/users", who="lisi"), 401, "unauthenticated")

    # Items: publish, unchanged, amend, retire.
    assert api.put("/items", item_row("TZ-009"), who="operator").status_code == 201
    assert api.put("/items", item_row("TZ-009"), who="operator").json()["outcome"] == "unchanged"
    amended = api.put("/items", item_row("TZ-009", default_ratio="10"), who="operator")
    assert (
        amended.json()["outcome"] == "updated" and amended.json()["item"]["default_ratio"] == "10"
    )
    api.post("/items/CZ-SJJ-TZ/TZ-009/retire", {"reason": "法规废止"}, who="operator")
    assert api.get("/items?retired=true", who="operator").json()["total"] == 1
    assert api.get("/items?retired=false", who="operator").json()["total"] == 0
    assert_bilingual(api.put("/items", item_row("TZ-009"), who="operator"), 409, "conflict")

    # Conflicts of interest: declare, list with ids, withdraw, as of before the withdrawal.
    api.put("/targets", target_row(1))
    api.put("/inspectors", inspector_row(1))
    # An inspector declares for the certificate linked to them, and only that one.
    api.j.registry.link_certificate(api.j.root, "inspector-own", inspector_row(1)["certificate_no"])
    declared = api.post(
        "/conflicts/declarations",
        {
            "certificate_no": inspector_row(1)["certificate_no"],
            "target_identifier": uscc(1),
            "relation": "近亲属",
            "valid_from": "2025-01-01",
            "reason": "配偶任该企业法定代表人",
        },
        who="inspector",
    )
    assert declared.status_code == 201, declared.text
    declaration_id, before = declared.json()["item"]["id"], declared.json()["seq"]
    listed = api.get("/conflicts/declarations", who="operator").json()
    assert [d["id"] for d in listed["items"]] == [declaration_id]
    assert api.get("/conflicts/declarations", who="supervisor").json()["total"] == 1
    assert api.get(f"/conflicts/declarations?department={OTHER}").json()["total"] == 0
    withdrawn = api.post(
        f"/conflicts/declarations/{declaration_id}/withdraw", {"reason": "已离婚"}, who="inspector"
    )
    assert withdrawn.json()["item"]["withdrawn"] is True
    then = api.get(f"/conflicts/declarations/{declaration_id}?at_seq={before}").json()
    assert then["item"]["withdrawn"] is False
    rules = {"not_own_district": True, "employment_within_years": 3}
    assert api.put(f"/conflicts/rules/{OWN}", rules, who="leader").status_code == 201
    assert api.put(f"/conflicts/rules/{OWN}", rules, who="leader").json()["outcome"] == "unchanged"
    assert api.get(f"/conflicts/rules/{OWN}", who="operator").json()["item"]["rules"] == rules
    assert api.get("/conflicts/rules", who="operator").json()["total"] == 1
    assert_bilingual(api.put(f"/conflicts/rules/{OTHER}", rules, who="leader"), 403)


def test_errors_are_bilingual_with_the_field(api: Api) -> None:
    body = assert_bilingual(api.put("/targets", target_row(1, region_code="3204")), 422, "field")
    assert body["field"] == "region_code"
    missing = {k: v for k, v in target_row(1).items() if k != "name"}
    body = assert_bilingual(api.put("/targets", missing), 422, "request_validation")
    assert body["field"] == "name" and "缺少必填项" in body["message_zh"]
    body = assert_bilingual(api.put("/targets", {**target_row(1), "credit": "A"}), 422)
    assert body["field"] == "credit"
    assert_bilingual(api.get(f"/targets/{uscc(99)}"), 404, "not_found")
    assert_bilingual(api.get("/no/such/path"), 404, "http_404")
    assert_bilingual(api.call("DELETE", "/tokens/abc", json={"reason": "x"}), 422)


def test_openapi_schema_loads(api: Api) -> None:
    schema = api.client.get("/openapi.json")
    assert schema.status_code == 200
    spec = schema.json()
    assert {"/targets", "/targets/{identifier}", "/imports/{kind}", "/public/items"} <= set(
        spec["paths"]
    )
    assert spec["paths"]["/targets"]["get"]["summary"] == "列出检查对象 / List targets"
    assert any(t["name"] == "检查对象名录库 / Targets" for t in spec["tags"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert "security" not in spec["paths"]["/public/items"]["get"]
    assert api.client.get("/docs").status_code == 200


def test_concurrent_requests_are_served_one_at_a_time(api: Api) -> None:
    """The read models' connection is not shared between threads: requests take turns."""

    def work(n: int) -> tuple[int, int]:
        written = api.put("/targets", target_row(n)).status_code
        return written, api.get("/targets?limit=1").status_code

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(work, range(24)))
    assert outcomes == [(201, 200)] * 24
    assert api.get("/targets").json()["total"] == 24


def test_department_aliases_resolve_names_in_uploads(api: Api) -> None:
    """POST /departments/{code}/aliases: then a file naming the department by that name
    imports (issue #11 item 6); an operator may not add aliases; a second add changes nothing."""
    row = [uscc(900), "常州第900机械有限公司", "320402", "企业", "天宁市场监管分局特设科", "B"]
    content = csv_bytes(TARGET_HEADER, [row])
    refused = api.upload("targets", "名称.csv", content, who="operator")
    assert refused.status_code == 422, refused.text
    assert "天宁市场监管分局特设科" in refused.text
    assert_bilingual(
        api.post(f"/departments/{OWN}/aliases", {"alias": "天宁"}, who="operator"), 403
    )
    added = api.post(f"/departments/{OWN}/aliases", {"alias": "天宁市场监管分局特设科"})
    assert added.status_code == 200 and added.json()["outcome"] == "updated"
    assert added.json()["item"]["aliases"] == ["天宁市场监管分局特设科"]
    again = api.post(f"/departments/{OWN}/aliases", {"alias": " 天宁市场监管分局特设科 "})
    assert again.json()["outcome"] == "unchanged"
    assert_bilingual(api.post("/departments/NOWHERE/aliases", {"alias": "某"}), 404)
    done = api.upload("targets", "名称.csv", content, who="operator")
    assert done.status_code == 200, done.text
    assert api.get(f"/targets/{uscc(900)}").json()["item"]["department"] == OWN


def test_personal_data_of_registry_exports_is_never_public(api: Api) -> None:
    """A registry export's phone numbers and legal representatives (issue #11 item 3) are kept
    for officials and never served on the public endpoints."""
    header = [*TARGET_HEADER, "法定代表人", "联系电话"]
    row = [*target_csv_row(901), "王某某", "13912345678"]
    done = api.upload("targets", "导出.csv", csv_bytes(header, [row]), who="operator")
    assert done.status_code == 200, done.text
    official = api.get(f"/targets/{uscc(901)}").json()["item"]
    assert (official["legal_representative"], official["phone"]) == ("王某某", "13912345678")
    public = api.get("/public/results", who=None, params={"q": "常州第901机械有限公司"})
    assert public.status_code == 200 and public.json()["total"] == 1
    assert set(public.json()["items"][0]) == {"public_id", "name"}
    for url in (f"/public/targets/{uscc(901)}/results", "/public/results?q=" + uscc(901)):
        shown = api.get(url, who=None)
        assert shown.status_code == 200 and "13912345678" not in shown.text
        assert "王某某" not in shown.text
