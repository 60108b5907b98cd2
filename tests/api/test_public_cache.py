"""A worker's cache of public answers (`ssj.api.cache`): a hit is the very answer the ordinary
path gives at the same seq, never one older than the seq asked for (`min_seq`), and a write is
in the next read of the route. On both backends: on SQLite (no LISTEN, so no seq known without
a query) the cache stays off and the same requests answer the same."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from starlette.types import Receive, Scope, Send

from ssj.api import create_app
from ssj.api.cache import Answer, PublicCache, request_key
from ssj.services.context import Services
from ssj.services.registry import RegistryService
from tests.api.test_registry_api import Api
from tests.services.conftest import Jurisdiction, jurisdiction, target_row

__all__ = ["jurisdiction"]


def hits() -> float:
    return REGISTRY.get_sample_value("ssj_http_cache_total", {"outcome": "hit"}) or 0.0


@pytest.fixture
def api(jurisdiction: Jurisdiction) -> Iterator[Api]:
    with TestClient(create_app(jurisdiction.services)) as client:
        yield Api(jurisdiction, client)


def names(answer: Any) -> list[str]:
    return [row["name"] for row in answer.json()["items"]]


def test_a_write_is_in_the_next_read_and_hits_are_the_ordinary_answer(api: Api) -> None:
    postgres = api.j.services.settings.database.is_postgres
    assert api.put("/targets", target_row(1)).status_code == 201
    first = api.get("/public/results", who=None, params={"q": "机械"})
    assert first.status_code == 200 and names(first) == [target_row(1)["name"]]
    before = hits()
    again = api.get("/public/results", who=None, params={"q": "机械", "min_seq": 0})
    assert again.content == first.content
    assert again.headers["X-SSJ-Seq"] == first.headers["X-SSJ-Seq"]
    assert again.headers["content-type"] == first.headers["content-type"]
    assert hits() == before + (1 if postgres else 0)  # min_seq below the seq: the same answer

    # A token takes the ordinary path (the public answer is the same).
    with_token = api.get("/public/results", params={"q": "机械"})
    assert with_token.content == first.content and hits() == before + (1 if postgres else 0)

    # A write through the API: the next read of the route shows it.
    assert api.put("/targets", target_row(2)).status_code == 201
    after = api.get("/public/results", who=None, params={"q": "机械"})
    assert int(after.headers["X-SSJ-Seq"]) > int(first.headers["X-SSJ-Seq"])
    assert sorted(names(after)) == sorted([target_row(1)["name"], target_row(2)["name"]])
    page = api.get("/gongshi/search", who=None, params={"q": "机械"})
    assert str(target_row(2)["name"]) in page.text


def test_min_seq_never_gets_an_older_body(api: Api) -> None:
    """A write by another process (here the services directly, not this app): a read with
    `min_seq` at its seq waits for it, though the answer of the older seq is kept."""
    assert api.put("/targets", target_row(1)).status_code == 201
    old = api.get("/public/results", who=None, params={"q": "机械"})
    assert api.get("/public/results", who=None, params={"q": "机械"}).content == old.content
    elsewhere = target_row(3)
    other = Services(api.j.services.settings)  # another process's services, as a CLI's
    try:
        RegistryService(other).save_target(other.principal("root"), elsewhere)
        head = other.ledger.head_seq()
    finally:
        other.close()
    assert head > int(old.headers["X-SSJ-Seq"])
    for _ in range(3):  # and again, from the cache where there is one
        fresh = api.get("/public/results", who=None, params={"q": "机械", "min_seq": head})
        assert fresh.status_code == 200, fresh.text
        assert int(fresh.headers["X-SSJ-Seq"]) >= head
        assert str(elsewhere["name"]) in names(fresh)
    home = api.get("/gongshi", who=None, params={"min_seq": head})
    assert int(home.headers["X-SSJ-Seq"]) >= head


def test_bounded_and_dropped_when_the_seq_moves() -> None:
    """Least recently used out past `max_bytes`; an answer of an older seq is never kept."""

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("not called")

    cache = PublicCache(endpoint, max_bytes=250)
    cache._drop(5)
    for n in range(3):
        cache._keep(
            ("/public/results", (("q", str(n)),), "", "http", ""), 5, Answer("/r", [], b"x" * 100)
        )
    assert cache.size == 200 and len(cache.answers) == 2
    assert (
        "/public/results",
        (("q", "0"),),
        "",
        "http",
        "",
    ) not in cache.answers  # the oldest went
    cache._keep(("/gongshi", (), "", "http", ""), 4, Answer("/gongshi", [], b"y"))
    assert len(cache.answers) == 2  # seq 4 is older than what is kept
    cache._drop(6)  # the read models moved on: all of seq 5 goes
    assert cache.size == 0 and not cache.answers


def test_the_key_names_what_a_page_shows() -> None:
    """Pages link with absolute URLs: Host, scheme and root path are part of the key; a token
    or a `min_seq` beyond the seq seen takes the ordinary path; `min_seq` is not in the key."""

    def scope(query: bytes, scheme: str = "http", host: bytes = b"a", token: bool = False) -> Scope:
        headers = [(b"host", host)] + ([(b"authorization", b"Bearer t")] if token else [])
        return {"path": "/gongshi/search", "query_string": query, "headers": headers,
                "scheme": scheme, "root_path": ""}  # fmt: skip

    plain = request_key(scope(b"q=x&page=2"), 7)
    assert plain == request_key(scope(b"page=2&q=x&min_seq=7"), 7)
    assert plain != request_key(scope(b"q=x&page=2", scheme="https"), 7)
    assert plain != request_key(scope(b"q=x&page=2", host=b"b"), 7)
    assert request_key(scope(b"q=x&min_seq=8"), 7) is None
    assert request_key(scope(b"q=x&min_seq=-1"), 7) is None
    assert request_key(scope(b"q=x", token=True), 7) is None
