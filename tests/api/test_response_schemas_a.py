"""Typed answers (issue 15, item 2), for the routers of tasks, draws, plans, follow-up,
conflicts, departments, working days, tokens and health: every operation documents its 2xx
body as a schema with fields, and real answers over a demo ledger are exactly what their models
say: validated with unnamed keys forbidden (tests/api/conftest.py), and unchanged by a round
trip through the model (no key dropped or added, no 3 turned into 3.0).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel

from ssj.api import create_app
from ssj.config import Settings
from ssj.demo import draws, followups, inspections
from ssj.demo.jurisdiction import build
from ssj.ledger.envelope import SYSTEM
from ssj.services.context import Services
from ssj.services.registry import RegistryService
from tests.api.conftest import STRICT_ROUTERS

# Not JSON: the Prometheus text format.
NOT_JSON = {("get", "/metrics")}


# Not typed yet (this change lands router by router).
PENDING: set[str] = set()


def _routes() -> Iterator[APIRoute]:
    """The routes of these routers (the app's own list nests included routers)."""
    for module in STRICT_ROUTERS:
        if module.__name__ in PENDING:
            continue
        for route in module.router.routes:
            if isinstance(route, APIRoute):
                yield route


def _operations() -> Iterator[tuple[str, str, APIRoute]]:
    for route in _routes():
        for method in sorted(route.methods):
            yield method.lower(), route.path, route


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


# Real answers over a demo ledger ---------------------------------------------------------------


class Demo:
    def __init__(self, settings: Settings) -> None:
        self.services = Services(settings)
        self.services.ledger.initialise(SYSTEM)
        build(self.services, settings.data_dir / "demo", targets=100, seed=7)
        draws.run(self.services, seed=7)
        inspections.run(self.services, seed=7)
        followups.run(self.services, seed=7)
        self.services.ledger.issue_checkpoint()
        self.services.refresh()
        admins = sorted(
            u["username"]
            for u in self.services.queries.states("users")
            if "admin" in u["roles"] and u["active"]
        )
        self.admin = admins[0]
        self.root = self.services.principal(admins[0])
        self.token = RegistryService(self.services).issue_token(self.root, admins[0], "schemas")
        self.app = create_app(self.services)


@pytest.fixture(scope="module")
def demo(module_settings: Settings) -> Iterator[Demo]:
    found = Demo(module_settings)
    yield found
    found.services.close()


def _route_for(method: str, url: str) -> APIRoute:
    path = url.split("?")[0]
    for route in _routes():
        if method.upper() in route.methods and route.path_regex.match(path):
            return route
    raise AssertionError(f"no route for {method} {url}")


class Client:
    """Every answer checked against its model as it arrives."""

    def __init__(self, demo: Demo, client: TestClient) -> None:
        self.demo = demo
        self.client = client
        self.headers = {"Authorization": f"Bearer {demo.token}"}
        self.checked: set[tuple[str, str]] = set()

    def call(self, method: str, url: str, body: Any = None, status: int = 200) -> Any:
        response = self.client.request(method, url, headers=self.headers, json=body)
        assert response.status_code == status, (method, url, response.text)
        found = response.json()
        route = _route_for(method, url)
        model = route.response_model
        assert isinstance(model, type) and issubclass(model, BaseModel), url
        again = model.model_validate(found).model_dump(mode="json", exclude_unset=True)
        # Byte for byte (json.dumps tells 3 from 3.0 where == does not), key order aside.
        assert json.dumps(again, sort_keys=True) == json.dumps(found, sort_keys=True), url
        self.checked.add((method.lower(), route.path))
        return found

    def get(self, url: str) -> Any:
        return self.call("GET", url)


@pytest.fixture(scope="module")
def client(demo: Demo) -> Iterator[Client]:
    with TestClient(demo.app) as found:
        yield Client(demo, found)


def test_registry_reads_and_writes_match_their_models(client: Client) -> None:
    departments = client.get("/departments?limit=1000")["items"]
    client.get(f"/departments/{departments[0]['code']}")
    new = {
        "code": "SCHEMA-TEST",
        "name": "模型测试科",
        "level": "city",
        "kind": "section",
        "parent": departments[0]["code"],
        "region_code": departments[0]["region_code"],
    }
    client.call("POST", "/departments", new, status=201)
    client.call("POST", "/departments", new, status=200)  # identical: unchanged
    added = client.call("POST", "/departments/SCHEMA-TEST/aliases", {"alias": "模型测试"})
    assert added["item"]["aliases"] == ["模型测试"]
    assert "aliases" not in client.get(f"/departments/{departments[0]['code']}")["item"]

    declarations = client.get("/conflicts/declarations")["items"]
    client.get(f"/conflicts/declarations/{declarations[0]['id']}")
    rules = client.get("/conflicts/rules")["items"]
    client.get(f"/conflicts/rules/{rules[0]['department']}")
    client.call("PUT", "/conflicts/rules/SCHEMA-TEST", {"not_own_district": True}, status=201)
    client.call("PUT", "/conflicts/rules/SCHEMA-TEST", {"employment_within_years": 2})
    inspector = client.demo.services.queries.states("inspectors")[0]
    target = client.demo.services.queries.states("targets")[0]
    declared = client.call(
        "POST",
        "/conflicts/declarations",
        {
            "certificate_no": inspector["certificate_no"],
            "target_identifier": target["identifier"],
            "relation": "其他",
            "valid_from": "2025-01-01",
            "reason": "模型测试",
        },
        status=201,
    )
    client.call(
        "POST",
        f"/conflicts/declarations/{declared['item']['id']}/withdraw",
        {"reason": "模型测试"},
    )

    issued = client.call(
        "POST", "/tokens", {"username": client.demo.admin, "label": "x"}, status=201
    )
    client.call("DELETE", f"/tokens/{issued['token_sha256']}", {"reason": "模型测试"})


def test_calendar_and_health_match_their_models(client: Client) -> None:
    client.get("/calendar/deadline?start=2026-03-02&n=5")
    client.get("/calendar/2026")
    client.get("/calendar/2025")
    arrangement = {
        "document": "模型测试通知",
        "holidays": ["2041-01-01"],
        "workdays": [],
    }
    client.call("POST", "/calendar/2041", arrangement, status=201)
    client.call("POST", "/calendar/2041", arrangement)  # the same again: unchanged
    client.get("/calendar/2041")
    client.get("/healthz")
    client.get("/readyz")


def test_plans_draws_tasks_and_followups_match_their_models(client: Client) -> None:
    plans = client.get("/plans?limit=1000")["items"]
    for plan in plans:
        client.get(f"/plans/{plan['department']}/{plan['code']}")
    if PENDING:
        return
    found = client.get("/draws?limit=1000")["items"]
    assert {d["status"] for d in found} >= {"revealed", "abandoned"}
    for draw in found:
        client.get(f"/draws/{draw['draw_id']}")
        client.get(f"/draws/{draw['draw_id']}/tasks?limit=3")
    revealed = next(d for d in found if d["status"] == "revealed")
    client.get(f"/draws/{revealed['draw_id']}/verify")
    client.get(f"/draws/{revealed['draw_id']}/export")
    tasks = client.get("/tasks?limit=1000")["items"]
    followed = 0
    for task in tasks:
        client.get(f"/tasks/{task['task_id']}")
        response = client.client.get(f"/followups/{task['task_id']}", headers=client.headers)
        if response.status_code == 200:
            client.get(f"/followups/{task['task_id']}")
            followed += 1
    assert followed


def test_every_read_was_checked(client: Client) -> None:
    """The tests above reached every GET operation of these routers (writes of plans, draws,
    tasks and follow-ups are checked by their own API tests, under the same strict models)."""
    reads = {(m, p) for m, p, _ in _operations() if m == "get" and (m, p) not in NOT_JSON}
    assert not reads - client.checked, sorted(reads - client.checked)


def test_every_operation_documents_a_typed_answer(client: Client) -> None:
    app = client.demo.app
    spec = app.openapi()
    untyped: list[str] = []
    seen = 0
    for method, path, route in _operations():
        seen += 1
        if (method, path) in NOT_JSON:
            continue
        answers = spec["paths"][path][method]["responses"]
        good = False
        for status, answer in answers.items():
            if not status.startswith("2"):
                continue
            schema = answer.get("content", {}).get("application/json", {}).get("schema")
            if schema is None:
                continue
            shown = _resolve(spec, schema)
            if shown.get("properties") or shown.get("type") == "array":
                good = True
        if not good or route.response_model is None:
            untyped.append(f"{method.upper()} {path}")
    assert seen >= (20 if PENDING else 60)
    assert not untyped, "operations without a typed 2xx answer:\n" + "\n".join(untyped)
