"""Exact paths go straight to their router (ssj/api/dispatch.py) and are answered exactly as the
router's walk answers them: status, headers and body, and the route template that logs and
metrics name. Each request is sent once through the table and once through the walk alone. On
both backends."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY

from ssj.api.dispatch import ExactPaths
from tests.api.test_registry_api import Api, api
from tests.services.conftest import jurisdiction, target_row

__all__ = ["api", "jurisdiction"]

# (method, url, who, JSON body): reads, refusals, bad input, unknown and wrong methods.
REQUESTS: list[tuple[str, str, str | None, Any]] = [
    ("GET", "/targets", "root", None),
    ("GET", "/targets", None, None),
    ("GET", "/targets?limit=0", "root", None),
    ("GET", "/targets/", "root", None),
    ("PUT", "/targets", None, target_row(7)),
    ("PUT", "/targets", "root", {"identifier": "x"}),
    ("PUT", "/targets", "reviewer", target_row(7)),
    ("POST", "/conflicts/declarations", "root", {"relation": "kinship"}),
    ("POST", "/conflicts/declarations", None, None),
    ("DELETE", "/targets", "root", None),
    ("PATCH", "/conflicts/declarations", "root", None),
    ("GET", "/healthz", None, None),
    ("GET", "/gongshi", None, None),
    ("HEAD", "/gongshi", None, None),
    ("GET", "/public/results?q=x", None, None),
    ("GET", "/departments", "root", None),
    ("GET", "/openapi.json", None, None),
    ("GET", "/no/such/path", None, None),
    ("GET", "/targets%00", None, None),
]

VARYING = {"x-request-id", "date", "content-length"}  # content-length: checked via the body
# A refusal is recorded in the ledger: the answer to the second is a seq later.


def answer(api: Api, method: str, url: str, who: str | None, body: Any) -> tuple[object, ...]:
    kw: dict[str, Any] = {} if body is None else {"json": body}
    found = api.call(method, url, who, follow_redirects=False, **kw)
    varying = VARYING | ({"x-ssj-seq"} if found.status_code == 403 else set())
    headers = sorted((k, v) for k, v in found.headers.items() if k not in varying)
    return found.status_code, headers, found.content


def counted(route: str, method: str, status: int) -> float:
    labels = {"route": route, "method": method, "status": str(status)}
    return REGISTRY.get_sample_value("ssj_http_request_duration_seconds_count", labels) or 0.0


def test_exact_paths_are_answered_as_the_walk_answers_them(api: Api) -> None:
    router = api.client.app.router  # type: ignore[attr-defined]
    exact = router.middleware_stack
    assert isinstance(exact, ExactPaths)
    for key in (("PUT", "/targets"), ("POST", "/conflicts/declarations"), ("GET", "/gongshi")):
        assert key in exact.table
    for method, url, who, body in REQUESTS:
        through_table = answer(api, method, url, who, body)
        router.middleware_stack = exact.walk
        try:
            walked = answer(api, method, url, who, body)
        finally:
            router.middleware_stack = exact
        assert through_table == walked, (method, url)


def test_a_write_through_the_table_is_logged_under_its_route(api: Api) -> None:
    router = api.client.app.router  # type: ignore[attr-defined]
    exact = router.middleware_stack
    before = counted("/targets", "PUT", 201), counted("/targets", "PUT", 200)
    created = api.put("/targets", target_row(11))
    assert created.status_code == 201, created.text
    router.middleware_stack = exact.walk
    try:
        walked = api.put("/targets", target_row(12))
    finally:
        router.middleware_stack = exact
    assert walked.status_code == 201, walked.text
    assert created.json()["outcome"] == walked.json()["outcome"] == "created"
    assert counted("/targets", "PUT", 201) == before[0] + 2
    unchanged = api.put("/targets", target_row(11))
    assert unchanged.status_code == 200 and unchanged.json()["outcome"] == "unchanged"
    assert counted("/targets", "PUT", 200) == before[1] + 1
