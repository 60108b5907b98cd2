"""Honest contracts: bounded inputs answer 4xx, never 500; over-long request heads get 414/431
from the real server; 405 names every method a path takes; every operation documents its error
answers with the one bilingual schema; documented examples pass their own validation."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from ssj.api import create_app
from ssj.api.serving import MAX_HEAD, MAX_REQUEST_LINE, uvicorn_options
from ssj.domain.targets import TargetRecord
from tests.api.test_registry_api import Api, api, assert_bilingual, jurisdiction
from tests.services.conftest import OTHER, OWN, Jurisdiction, inspector_row

__all__ = ["api", "jurisdiction"]

BIG = 2**63


@pytest.mark.parametrize(
    "url",
    [
        f"/targets?offset={BIG}",
        f"/items?offset={BIG}",
        f"/inspectors?offset={BIG}",
        f"/users?offset={BIG}",
        f"/departments?offset={BIG}",
        f"/conflicts/declarations?offset={BIG}",
        f"/public/results?q=公司&offset={BIG}",
        f"/public/plans?offset={BIG}",
        f"/public/items?offset={BIG}",
        f"/targets?at_seq={BIG}",
        f"/log/entries/{BIG - 1}",
        f"/log/checkpoints?offset={BIG}",
        f"/log/proof/inclusion?seq={BIG}",
        f"/plans?year={BIG}",
        "/public/plans?year=99999",
    ],
)
def test_out_of_range_numbers_are_4xx(api: Api, url: str) -> None:
    response = api.get(url)
    assert 400 <= response.status_code < 500, (url, response.status_code, response.text)
    assert_bilingual(response, response.status_code)


def test_method_not_allowed_names_every_method(api: Api) -> None:
    response = api.call("DELETE", "/targets")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "PUT"}
    assert_bilingual(response, 405, "http_405")


def test_every_operation_documents_its_errors(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "message_zh", "message_en"]
    missing = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            expected = {"400", "404", "409", "422", "429"}
            if operation.get("security"):
                expected |= {"401", "403"}
            if method in ("post", "put", "patch", "delete"):
                expected |= {"413"}
            if not expected <= statuses:
                missing.append(f"{method.upper()} {path}: {sorted(expected - statuses)}")
            page = "text/html" in operation["responses"].get("200", {}).get("content", {})
            for status in expected:
                answers = operation["responses"][status]["content"]
                if page and status == "404" and set(answers) == {"text/html"}:
                    continue  # a page (routers/pages.py) answers its own not-found page
                content = answers["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}
    assert not missing, "\n".join(missing)


def test_documented_target_example_is_valid(api: Api) -> None:
    """The example of `PUT /targets` (its identifier failed its own check character)."""
    schema = api.client.get("/openapi.json").json()["components"]["schemas"]["TargetIn"]
    (example,) = schema["examples"]
    TargetRecord.parse(example)


# The real server: over-long request heads -------------------------------------------------------


@pytest.fixture
def server(jurisdiction: Jurisdiction) -> Iterator[int]:
    config = uvicorn.Config(
        create_app(jurisdiction.services),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        **uvicorn_options(),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # The server may answer before the client has sent everything.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def test_long_request_line_is_414_and_big_head_is_431(server: int) -> None:
    line = b"GET /public/items?q=" + b"a" * (210 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    answer = _raw(server, line)
    assert answer.startswith(b"HTTP/1.1 414 "), answer[:200]
    assert b'"message_zh"' in answer and b'"message_en"' in answer

    head = b"GET /public/items HTTP/1.1\r\nHost: x\r\n"
    head += b"".join(b"X-Filler-%d: %s\r\n" % (i, b"b" * 1000) for i in range(MAX_HEAD // 1000 + 2))
    answer = _raw(server, head + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]

    # Within the limits, the same server answers as usual, on the same kind of raw request.
    fine = b"GET /public/items?q=" + b"a" * (MAX_REQUEST_LINE - 100) + b" HTTP/1.1\r\n"
    answer = _raw(server, fine + b"Host: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


def test_a_header_still_arriving_past_the_limit_is_431(server: int) -> None:
    """One header sent in pieces, never ending: refused once the head passes MAX_HEAD."""
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        sock.sendall(b"GET /public/items HTTP/1.1\r\nHost: x\r\nX-Filler: ")
        answer = b""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(MAX_HEAD // 4096 + 4):
                sock.sendall(b"b" * 4096)
                time.sleep(0.01)
            while chunk := sock.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


def test_requests_on_one_connection_are_each_answered(server: int) -> None:
    """Keep-alive: a second request on the connection is measured afresh, and answered."""
    one = (
        b"GET /public/items?q=" + b"a" * (MAX_REQUEST_LINE - 100) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    two = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer = _raw(server, one + two)
    assert answer.count(b"HTTP/1.1 200 ") == 2, answer[:200]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/targets?search=%00", "search"),
        ("/users?search=a%00b", "search"),
        ("/public/results?q=%ED%A0%80", "q"),
        ("/targets/9132%00", "path"),
        ("/inspectors?department=%1b", "department"),
    ],
)
def test_control_characters_in_urls_are_422(api: Api, url: str, field: str) -> None:
    body = assert_bilingual(api.get(url), 422, "field")
    assert body["field"] == field


def test_another_departments_resources_are_403_not_404(api: Api) -> None:
    """Existence is checked after authorisation: an operator of another department gets 403 for
    every resource of this one, whether or not it has (say) a follow-up yet."""
    from tests.services.test_draws import World
    from tests.services.test_tasks import Tasks

    j = api.j
    world = World(j)
    world.publish()
    t = Tasks(world)
    j.registry.save_inspector(j.root, inspector_row(900))
    j.registry.add_user(j.root, "operator-other", "他科操作员", OTHER, ["operator"])
    token = j.registry.issue_token(j.root, "operator-other", "contracts")
    api.tokens["other"] = token
    declared, _ = j.registry.declare_conflict(
        j.root,
        {
            "certificate_no": inspector_row(900)["certificate_no"],
            "target_identifier": t.target,
            "relation": "近亲属",
            "valid_from": "2025-01-01",
            "reason": "配偶",
        },
    )
    task_id = t.tasks.row(t.ref)["task_id"]
    for url in [
        f"/targets/{t.target}",
        f"/inspectors/{inspector_row(900)['certificate_no']}",
        f"/items/{OWN}/TZ-001",
        f"/plans/{OWN}/2026-01",
        f"/draws/{t.draw_id}",
        f"/draws/{t.draw_id}/tasks",
        f"/tasks/{task_id}",
        f"/followups/{task_id}",
        f"/conflicts/declarations/{declared}",
        f"/trail/target/{t.target}",
    ]:
        response = api.get(url, who="other")
        assert response.status_code == 403, (url, response.status_code, response.text)
