"""Safe retries through real HTTP, on both backends: `Idempotency-Key` on every write."""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from projections.store import open_view_store
from ssj.api import create_app
from ssj.api.idempotency import HEADER, WRITES, IdempotencyStore, Running
from ssj.services.context import Services
from tests.api.test_registry_api import TARGET_HEADER, Api, api, assert_bilingual
from tests.services.conftest import Jurisdiction, inspector_row, jurisdiction, target_row, uscc

DECLARATION = {
    "certificate_no": inspector_row(1)["certificate_no"],
    "target_identifier": uscc(1),
    "relation": "近亲属",
    "valid_from": "2025-01-01",
    "reason": "配偶任该企业法定代表人",
}

__all__ = ["api", "jurisdiction"]  # the registry API tests' fixtures, shared here


@pytest.fixture
def ready(api: Api) -> Api:
    assert api.put("/targets", target_row(1)).status_code == 201
    assert api.put("/inspectors", inspector_row(1)).status_code == 201
    return api


def keyed(key: str) -> dict[str, str]:
    return {HEADER: key}


def test_same_key_and_body_replays_the_answer_and_writes_nothing(ready: Api) -> None:
    api = ready
    size = api.size()
    first = api.post("/conflicts/declarations", DECLARATION, headers=keyed("k-1"))
    assert first.status_code == 201, first.text
    assert api.size() == size + 1
    again = api.post("/conflicts/declarations", DECLARATION, headers=keyed("k-1"))
    assert again.status_code == 201
    assert again.content == first.content  # the original answer, seq and id included
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert api.size() == size + 1
    # Without a key, a retry is a new request (the identical declaration is recognised, though).
    plain = api.post("/conflicts/declarations", DECLARATION)
    assert plain.status_code == 200 and plain.json()["outcome"] == "unchanged"
    assert api.size() == size + 1


def test_same_key_with_another_body_or_endpoint_is_409(ready: Api) -> None:
    api = ready
    assert api.post("/conflicts/declarations", DECLARATION, headers=keyed("k-2")).status_code == 201
    size = api.size()
    other = {**DECLARATION, "reason": "曾在该企业任职"}
    body = assert_bilingual(
        api.post("/conflicts/declarations", other, headers=keyed("k-2")),
        409,
        "idempotency_key_reused",
    )
    assert HEADER in body["message_zh"] and HEADER in body["message_en"]
    response = api.call("PUT", "/targets", json=target_row(2), headers=keyed("k-2"))
    assert_bilingual(response, 409, "idempotency_key_reused")
    assert api.size() == size


def test_keys_are_scoped_to_the_principal(ready: Api) -> None:
    api = ready
    size = api.size()
    mine = api.call("PUT", "/targets", "root", json=target_row(2), headers=keyed("shared"))
    assert mine.status_code == 201
    theirs = api.call("PUT", "/targets", "operator", json=target_row(3), headers=keyed("shared"))
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["item"]["identifier"] == uscc(3)
    assert api.size() == size + 2


def test_errors_are_answers_too(ready: Api) -> None:
    """A refused or invalid write is kept like any answer: the retry gets the same 4xx and
    records no second refusal."""
    api = ready
    body = {**DECLARATION, "valid_from": "2025-02-30"}
    first = api.post("/conflicts/declarations", body, headers=keyed("bad"))
    assert first.status_code == 422
    size = api.size()
    again = api.post("/conflicts/declarations", body, headers=keyed("bad"))
    assert (again.status_code, again.content) == (422, first.content)
    refused = api.call(
        "PUT", "/users/root/roles", "operator", json={"roles": ["admin"]}, headers=keyed("r")
    )
    assert refused.status_code == 403
    size = api.size()
    again = api.call(
        "PUT", "/users/root/roles", "operator", json={"roles": ["admin"]}, headers=keyed("r")
    )
    assert (again.status_code, again.content) == (403, refused.content)
    assert api.size() == size


def test_a_duplicate_while_the_first_runs_is_409_in_progress(ready: Api) -> None:
    """Another process holds the claim (its request still running): no second write."""
    api = ready
    settings = api.j.services.settings
    other_process = open_view_store(settings)
    try:
        claimed = IdempotencyStore(settings, other_process).claim("root", "busy")
        assert not isinstance(claimed, Running)
        size = api.size()
        response = api.post("/conflicts/declarations", DECLARATION, headers=keyed("busy"))
        assert_bilingual(response, 409, "idempotency_in_progress")
        assert response.headers["Retry-After"] == "1"
        assert api.size() == size
    finally:
        other_process.close()


def test_concurrent_duplicates_write_once(ready: Api) -> None:
    api = ready
    size = api.size()

    def send(_: int) -> Any:
        return api.post("/conflicts/declarations", DECLARATION, headers=keyed("race"))

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(send, range(6)))
    assert api.size() == size + 1
    created = [a for a in answers if a.status_code == 201]
    assert created and all(a.content == created[0].content for a in created)
    for answer in answers:
        assert answer.status_code in (201, 409), answer.text
        if answer.status_code == 409:
            assert answer.json()["code"] == "idempotency_in_progress"


def test_a_key_expires_after_the_retention_window(ready: Api) -> None:
    api = ready
    store: IdempotencyStore = api.client.app.state.idempotency  # type: ignore[attr-defined]
    now = [1_000_000.0]
    store.clock = lambda: now[0]
    body = {"username": "root", "label": "脚本"}
    first = api.post("/tokens", body, headers=keyed("token"))
    assert first.status_code == 201, first.text
    size = api.size()
    now[0] += store.settings.idempotency_retention_seconds - 1
    assert api.post("/tokens", body, headers=keyed("token")).content == first.content
    assert api.size() == size
    now[0] += 2  # past the window: the key is free again, and the request runs
    later = api.post("/tokens", body, headers=keyed("token"))
    assert later.status_code == 201 and later.json()["token"] != first.json()["token"]
    assert api.size() == size + 1


def test_a_claim_left_by_a_dead_process_is_taken_over_after_the_lease(ready: Api) -> None:
    api = ready
    settings = api.j.services.settings
    dead = open_view_store(settings)
    try:  # a claim made long ago by a process that never finished it
        IdempotencyStore(settings, dead, clock=lambda: 1_000.0).claim("root", "orphan")
    finally:
        dead.close()
    response = api.post("/conflicts/declarations", DECLARATION, headers=keyed("orphan"))
    assert response.status_code == 201


def test_uploads_hash_the_body_as_received(ready: Api) -> None:
    api = ready

    def csv_file(rows: list[dict[str, object]]) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(TARGET_HEADER)
        for r in rows:
            writer.writerow(
                [
                    r["identifier"],
                    r["name"],
                    r["region_code"],
                    r["target_type"],
                    r["department"],
                    r["credit_class"],
                ]
            )
        return buffer.getvalue().encode("utf-8")

    content = csv_file([target_row(n) for n in range(10, 13)])
    # Fixed boundary: a retry must resend the same bytes.
    boundary = "ssj-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="t.csv"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {
        HEADER: "upload-1",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    first = api.call("POST", "/imports/targets?wait=120", content=body, headers=headers)
    assert first.status_code in (200, 201, 202), first.text
    size = api.size()
    again = api.call("POST", "/imports/targets?wait=120", content=body, headers=headers)
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["Idempotent-Replayed"] == "true"
    other = body.replace(content, csv_file([target_row(n) for n in range(20, 22)]))
    assert_bilingual(
        api.call("POST", "/imports/targets?wait=120", content=other, headers=headers),
        409,
        "idempotency_key_reused",
    )
    assert api.size() == size


def test_another_api_process_shares_the_answers(
    ready: Api, jurisdiction: Jurisdiction, settings: Any
) -> None:
    api = ready
    first = api.post("/conflicts/declarations", DECLARATION, headers=keyed("shared-k"))
    size = api.size()
    services = Services(settings)
    try:
        with TestClient(create_app(services)) as client:
            again = client.post(
                "/conflicts/declarations",
                json=DECLARATION,
                headers={**keyed("shared-k"), "Authorization": f"Bearer {api.tokens['root']}"},
            )
        assert (again.status_code, again.content) == (201, first.content)
        assert services.ledger.size() == size
    finally:
        services.close()


def test_bad_keys_are_422_and_reads_ignore_keys(ready: Api) -> None:
    api = ready
    size = api.size()
    for bad in ("", "x" * 256, "键"):
        response = api.call("PUT", "/targets", json=target_row(2), headers={HEADER: bad.encode()})
        assert_bilingual(response, 422, "idempotency_key_invalid")
    assert api.size() == size
    assert (
        api.call("PUT", "/targets", json=target_row(2), headers=keyed('"quoted"')).status_code
        == 201
    )
    read = api.call("GET", "/targets", headers=keyed("read"))
    assert read.status_code == 200 and "Idempotent-Replayed" not in read.headers


def test_every_write_operation_documents_the_header(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    writes = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            names = [p["name"] for p in operation.get("parameters", [])]
            if method.upper() in WRITES:
                writes += 1
                assert HEADER in names, f"{method} {path}"
                assert "409" in operation["responses"], f"{method} {path}"
            else:
                assert HEADER not in names, f"{method} {path}"
            assert "429" in operation["responses"], f"{method} {path}"
    assert writes >= 40
