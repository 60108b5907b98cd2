"""The response contracts of the routers of issue #15 item 2, second half: every operation has a
documented 2xx answer with a real schema (JSON) or its real media type (pages, downloads, text),
and real answers, on both backends, validate against the OpenAPI document with extra keys
forbidden and required keys required. Response models keep extra keys (`schemas.Schema`), so
a key a model does not name reaches this test instead of being dropped silently."""

from __future__ import annotations

import copy
import importlib
import time
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from ssj.api import create_app
from ssj.domain.assessment import FIGURES
from ssj.domain.organisation import Role
from ssj.ledger.envelope import SYSTEM
from ssj.services.context import Services
from tests.api.test_pages import Published
from tests.conftest import base_settings
from tests.services.conftest import (
    OWN,
    Jurisdiction,
    inspector_row,
    item_row,
    jurisdiction,
    target_row,
    uscc,
)

__all__ = ["jurisdiction"]  # the services tests' fixture, shared here

# The routers of this half (ssj/api/routers/<name>.py).
MINE = (
    "pages",
    "log",
    "subscribers",
    "items",
    "users",
    "targets",
    "inspectors",
    "assessment",
    "public_draws",
    "public",
    "public_results",
    "imports",
    "feeds",
    "trail",
    "overdue",
)
JSON = "application/json"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """An app over an empty SQLite ledger, for its OpenAPI document and routes."""
    tmp_path = tmp_path_factory.mktemp("spec")
    services = Services(base_settings(tmp_path, f"sqlite:///{tmp_path / 'ssj.sqlite'}"))
    try:
        services.ledger.initialise(SYSTEM)
        yield create_app(services)
    finally:
        services.close()


def my_operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) of every documented route declared in one of MINE."""
    spec = app.openapi()
    found = []
    for name in MINE:
        module = importlib.import_module(f"ssj.api.routers.{name}")
        for route in module.router.routes:
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            for method in route.methods:
                path = route.path_format
                found.append((method, path, spec["paths"][path][method.lower()]))
    return sorted(found, key=lambda f: (f[1], f[0]))


def test_every_operation_of_these_routers_documents_its_success(app: FastAPI) -> None:
    operations = my_operations(app)
    assert len(operations) > 50, len(operations)  # the routers were found
    missing = []
    for method, path, operation in operations:
        answers = {s: a for s, a in operation["responses"].items() if s.startswith("2")}
        described = False
        for answer in answers.values():
            content = answer.get("content", {})
            if JSON in content:
                schema = content[JSON].get("schema", {})
                described = described or _is_real(schema)
            elif content:
                described = True  # a page, a download or text, with its media type
        if not described:
            missing.append(f"{method} {path}")
    assert not missing, "no documented 2xx schema:\n" + "\n".join(missing)


def _is_real(schema: dict[str, Any]) -> bool:
    """A named model or a typed structure; not `{}` nor a bare object of anything."""
    if "$ref" in schema:
        return True
    if schema.get("type") == "array":
        return _is_real(schema.get("items", {}))
    return bool(schema.get("properties"))


# Real answers against the document ----------------------------------------------------------


def closed(schema: Any) -> Any:
    """The schema with every object that names its properties closed to any other key."""
    if isinstance(schema, dict):
        out = {k: closed(v) for k, v in schema.items()}
        if "properties" in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [closed(v) for v in schema]
    return schema


class Contract:
    """Validates answers against the app's OpenAPI document, made strict."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.components = closed(copy.deepcopy(spec.get("components", {})))
        self.checked: set[tuple[str, str]] = set()

    def check(self, method: str, path: str, response: Any) -> Any:
        assert 200 <= response.status_code < 300, (method, path, response.text)
        operation = self.spec["paths"][path][method.lower()]
        answer = operation["responses"].get(str(response.status_code))
        assert answer is not None, (method, path, response.status_code, "undocumented status")
        media = response.headers["content-type"].split(";")[0]
        content = answer.get("content", {})
        if media != JSON:
            assert any(m.split(";")[0] == media for m in content), (method, path, media, content)
            self.checked.add((method, path))
            return response
        schema = content.get(JSON, {}).get("schema")
        assert schema, (method, path, "no schema")
        root = {**closed(schema), "components": self.components}
        validator = jsonschema_rs.Draft202012Validator(root)
        body = response.json()
        problems = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(body)]
        assert not problems, f"{method} {path}:\n" + "\n".join(problems[:20])
        self.checked.add((method, path))
        return body


class World:
    """Published's world (revealed draws, tasks in every public state) and a client."""

    def __init__(self, j: Jurisdiction, client: TestClient) -> None:
        self.j = j
        self.published = Published(j)
        self.client = client
        self.contract = Contract(client.app.openapi())  # type: ignore[attr-defined]
        self.tokens = {"root": j.registry.issue_token(j.root, "root", "schema tests")}
        for role in (Role.OPERATOR, Role.SUPERVISOR):
            username = f"{role.value}-own"
            self.tokens[role.value] = j.registry.issue_token(j.root, username, "schema tests")

    def call(
        self, method: str, path: str, url: str | None = None, who: str | None = "root", **kw: Any
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        response = self.client.request(method, url or path, headers=headers, **kw)
        return self.contract.check(method, path, response)


@pytest.fixture
def world(jurisdiction: Jurisdiction) -> Iterator[World]:
    with TestClient(create_app(jurisdiction.services)) as client:
        yield World(jurisdiction, client)


def test_registry_answers_match_their_schemas(world: World) -> None:
    w = world
    page = w.call("GET", "/targets", "/targets?limit=500")
    assert page["items"], page
    identifier = page["items"][0]["identifier"]
    w.call("GET", "/targets/{identifier}", f"/targets/{identifier}")
    w.call("PUT", "/targets", json=target_row(777))
    w.call("PUT", "/targets", json=target_row(777))  # unchanged
    w.call("GET", "/targets/export.csv")
    w.call("GET", "/targets/export.xlsx")

    items = w.call("GET", "/items", "/items?limit=500")
    item = items["items"][0]
    w.call("GET", "/items/{department}/{code}", f"/items/{item['department']}/{item['code']}")
    w.call("PUT", "/items", json=item_row("TZ-777"))
    w.call(
        "POST",
        "/items/{department}/{code}/retire",
        f"/items/{OWN}/TZ-777/retire",
        json={"reason": "合并"},
    )
    w.call("GET", "/items/export.csv")
    w.call("GET", "/items/export.xlsx")

    inspectors = w.call("GET", "/inspectors", "/inspectors?limit=500")
    certificate = inspectors["items"][0]["certificate_no"]
    w.call("GET", "/inspectors/{certificate_no}", f"/inspectors/{certificate}")
    w.call("PUT", "/inspectors", json=inspector_row(777))
    w.call("GET", "/inspectors/export.csv")
    w.call("GET", "/inspectors/export.xlsx")

    w.call("GET", "/users", "/users?limit=500")
    w.call("GET", "/users/{username}", "/users/root")
    new = {"username": "schema-1", "name": "甲", "department": OWN, "roles": ["operator"]}
    w.call("POST", "/users", json=new)
    w.call("POST", "/users", json=new)  # identical: 200
    w.call("PUT", "/users/{username}/roles", "/users/schema-1/roles", json={"roles": ["leader"]})
    w.call(
        "POST",
        "/users/{username}/deactivate",
        "/users/schema-1/deactivate",
        json={"reason": "调离"},
    )


def test_public_and_log_answers_match_their_schemas(world: World) -> None:
    w = world
    p = w.published
    w.j.services.ledger.issue_checkpoint()
    w.call("GET", "/public/items", who=None)
    plans = w.call("GET", "/public/plans", who=None)
    plan = plans["items"][0]
    w.call(
        "GET",
        "/public/plans/{department}/{code}",
        f"/public/plans/{plan['department']}/{plan['code']}",
        who=None,
    )
    draws = w.call("GET", "/public/draws", who=None)
    assert {d["status"] for d in draws["items"]} == {"revealed"}, draws
    shown = w.call("GET", "/public/draws/{draw_id}", f"/public/draws/{p.draw_id}", who=None)
    assert shown["drawn"], shown
    w.call("GET", "/public/draws/{draw_id}/export", f"/public/draws/{p.draw_id}/export", who=None)
    found = w.call("GET", "/public/results", "/public/results?q=常州", who=None)
    for row in found["items"][:5]:
        url = f"/public/targets/{row['public_id']}/results"
        w.call("GET", "/public/targets/{public_id}/results", url, who=None)

    for page in ("/", "/gongshi", "/gongshi/plans", "/gongshi/draws"):
        w.call("GET", page, who=None)
    w.call("GET", "/gongshi/search", "/gongshi/search?q=常州", who=None)
    pages = {
        "/gongshi/targets/{public_id}": f"/gongshi/targets/{p.targets['published']}",
        "/gongshi/plans/{department}/{code}": f"/gongshi/plans/{plan['department']}/{plan['code']}",
        "/gongshi/draws/{draw_id}": f"/gongshi/draws/{p.draw_id}",
    }
    for path, url in pages.items():
        w.call("GET", path, url, who=None)

    w.call("GET", "/log/checkpoint", who=None)
    w.call("GET", "/log/witnesses", who=None)
    w.call("GET", "/log/checkpoints", who=None)
    w.call("GET", "/log/keys", who=None)
    w.call("GET", "/log/entries/{seq}", "/log/entries/3", who=None)
    w.call("GET", "/log/entries/{seq}/event", "/log/entries/3/event")
    w.call("GET", "/log/proof/inclusion", "/log/proof/inclusion?seq=3", who=None)
    w.call("GET", "/log/proof/consistency", "/log/proof/consistency?old=3", who=None)


def test_delivery_answers_match_their_schemas(world: World) -> None:
    w = world
    for kind in ("results", "penalties"):
        feed = w.call("GET", "/feeds/{kind}", f"/feeds/{kind}")
    assert feed is not None
    results = w.call("GET", "/feeds/{kind}", "/feeds/results")
    assert results["items"], results
    w.call("GET", "/feeds/{kind}/export", "/feeds/results/export?from=2026-01-01&to=2030-12-31")
    body = {
        "name": "信用常州",
        "endpoint": "https://credit.changzhou.example/ssj/events",
        "kinds": ["results"],
        "auth": {"method": "hmac"},
    }
    added = w.call("POST", "/subscribers", json=body)
    assert added["secret"], added
    w.call("GET", "/subscribers")
    w.call("GET", "/subscribers/{name}", "/subscribers/信用常州")
    w.call("GET", "/deliveries", "/deliveries?limit=5")
    reason = {"reason": "测试"}
    update = {"reason": "更换地址", "endpoint": "https://credit.changzhou.example/v2"}
    w.call("POST", "/subscribers/{name}/update", "/subscribers/信用常州/update", json=update)
    for verb in ("pause", "resume"):
        w.call(
            "POST", f"/subscribers/{{name}}/{verb}", f"/subscribers/信用常州/{verb}", json=reason
        )
    w.call("POST", "/subscribers/{name}/remove", "/subscribers/信用常州/remove", json=reason)


def files_of(row: list[str]) -> dict[str, Any]:
    header = ["统一社会信用代码", "名称", "行政区划代码", "对象类型", "责任部门", "信用风险分类"]
    text = "\n".join(",".join(r) for r in (header, row)) + "\n"
    return {"file": ("名录.csv", text.encode("utf-8"), "text/csv")}


def test_assessment_overdue_trail_and_import_answers_match_their_schemas(world: World) -> None:
    w = world
    p = w.published
    w.call("GET", "/assessment/{year}", "/assessment/2026")
    w.call("GET", "/assessment/{year}/{department}", f"/assessment/2026/{OWN}")
    for figure in FIGURES:
        url = f"/assessment/2026/{OWN}/{figure}"
        w.call("GET", "/assessment/{year}/{department}/{figure}", url)
    w.call("GET", "/assessment/{year}/export.xlsx", "/assessment/2026/export.xlsx")
    report = w.call("GET", "/overdue", "/overdue?on=2027-06-30")
    assert report["publication"], report
    for kind, ref in (("target", p.targets["published"]), ("draw", p.draw_id)):
        page = w.call("GET", "/trail/{kind}/{ref}", f"/trail/{kind}/{ref}")
        assert page["items"], page
    w.call("GET", "/trail/{kind}/{ref}", f"/trail/draw/{p.draw_id}?format=csv")

    header = ["统一社会信用代码", "名称", "行政区划代码", "对象类型", "责任部门", "信用风险分类"]
    good = [uscc(880), "常州导入有限公司", "320402", "企业", OWN, "B"]
    bad = ["", "", "", "", OWN, "B"]
    for rows in ([good], [bad]):
        text = "\n".join(",".join(r) for r in (header, *rows)) + "\n"
        files = {"file": ("名录.csv", text.encode("utf-8"), "text/csv")}
        queued = w.call("POST", "/imports/{kind}", "/imports/targets", files=files)
        job = queued["id"]
        deadline = time.monotonic() + 120
        while queued["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.2)
            queued = w.call("GET", "/imports/jobs/{job_id}", f"/imports/jobs/{job}")
        assert queued["status"] == "done", queued
    waited = w.call("POST", "/imports/{kind}", "/imports/targets?wait=120", files=files_of(good))
    assert waited["job"], waited
    w.call("GET", "/imports/jobs")
