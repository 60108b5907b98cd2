"""Floods through real HTTP, on both backends: identical refusals become one counted event, and a
per-token rate limit answers 429 with Retry-After."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ssj.api import create_app
from ssj.api.ratelimit import TokenBuckets
from ssj.domain.access import Refusal
from ssj.services.context import Services
from tests.api.test_registry_api import Api, api, assert_bilingual
from tests.services.conftest import OTHER, OWN, Jurisdiction, jurisdiction, target_row

T0 = datetime(2026, 3, 2, 1, 0, 0, tzinfo=UTC)  # 09:00:00 in Beijing

__all__ = ["api", "jurisdiction"]  # the registry API tests' fixtures, shared here


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clocked(api: Api) -> Iterator[tuple[Api, Clock]]:
    clock = Clock()
    api.j.services.refusals.clock = clock
    yield api, clock


def new_events(api: Api, size: int) -> list[Any]:
    return [e.event for e in api.j.services.ledger.read(size, 1000)]


def test_identical_refusals_are_one_counted_event(clocked: tuple[Api, Clock]) -> None:
    api, clock = clocked
    api.put("/targets", target_row(4, OTHER))
    size = api.size()
    for second in range(20):
        clock.now = T0 + timedelta(seconds=second)
        response = api.get(f"/targets?department={OTHER}", who="operator")
        assert_bilingual(response, 403, "forbidden")
    # A different refusal (another command) is its own event, at once.
    assert_bilingual(api.put("/targets", target_row(5, OTHER), who="operator"), 403)
    events = new_events(api, size)
    assert [type(e).__qualname__ for e in events] == ["Refusal.Recorded", "Refusal.Recorded"]
    assert [e.command for e in events] == ["read_registry", "edit_targets"]
    assert api.j.services.refusals.pending() == 19
    # Still within the window: flushing writes nothing yet.
    window = api.j.services.refusals.window
    clock.now = T0 + window - timedelta(seconds=1)
    assert api.j.services.refusals.flush() == 0 and api.size() == size + 2
    # The window has closed: the 19 repeats are one event with their time span.
    clock.now = T0 + window + timedelta(seconds=1)
    assert api.j.services.refusals.flush() == 1
    events = new_events(api, size)
    assert len(events) == 3
    repeated = events[2]
    assert isinstance(repeated, Refusal.Repeated)  # type: ignore[attr-defined]
    assert repeated.originator_id == events[0].originator_id  # the repeats of the first
    assert (repeated.count, repeated.first_at, repeated.last_at) == (
        19,
        "2026-03-02T01:00:01.000000Z",
        "2026-03-02T01:00:19.000000Z",
    )
    assert (repeated.username, repeated.command, repeated.departments) == (
        "operator-own",
        "read_registry",
        [OTHER],
    )
    # The refused user's trail shows every attempt: the first, then the count and span.
    rows = api.get("/trail/user/operator-own", who="supervisor").json()["items"]
    kinds = [r["kind"] for r in rows if r["kind"].startswith("Refusal.")]
    assert kinds == ["Refusal.Recorded", "Refusal.Recorded", "Refusal.Repeated"]
    summary = rows[-1]["summary"]
    assert "又发生 19 次" in summary
    assert "北京时间 2026-03-02 09:00:01 至 2026-03-02 09:00:19" in summary
    assert rows[-1]["kind_zh"] == "重复拒绝操作"
    # A new window: the next identical refusal is recorded at once again.
    clock.now = T0 + window + timedelta(seconds=2)
    assert_bilingual(api.get(f"/targets?department={OTHER}", who="operator"), 403)
    assert isinstance(new_events(api, size)[-1], Refusal.Recorded)  # type: ignore[attr-defined]


def test_a_closed_window_is_flushed_by_the_next_refusal_and_on_shutdown(
    jurisdiction: Jurisdiction,
) -> None:
    j = jurisdiction
    clock = Clock()
    j.services.refusals.clock = clock
    with TestClient(create_app(j.services)) as client:
        api = Api(j, client)
        size = api.size()
        for _ in range(3):
            assert_bilingual(api.get(f"/targets?department={OTHER}", who="inspector"), 403)
        clock.now = T0 + j.services.refusals.window + timedelta(minutes=5)
        # Another refusal after the window: the closed window's repeats go first.
        assert_bilingual(api.get(f"/targets?department={OTHER}", who="leader"), 403)
        kinds = [type(e).__qualname__ for e in new_events(api, size)]
        assert kinds == ["Refusal.Recorded", "Refusal.Repeated", "Refusal.Recorded"]
        assert new_events(api, size)[1].count == 2
        # An open window with a count when the app stops: flushed on shutdown.
        assert_bilingual(api.get(f"/targets?department={OTHER}", who="leader"), 403)
        assert j.services.refusals.pending() == 1
        size = api.size()
    events = new_events(api, size)
    assert len(events) == 1 and events[0].count == 1
    assert j.services.refusals.pending() == 0


def test_refusals_of_other_principals_or_departments_are_not_merged(
    clocked: tuple[Api, Clock],
) -> None:
    api, _ = clocked
    api.j.registry.add_user(api.j.root, "operator-two", "二号操作员", OWN, ["operator"])
    api.tokens["two"] = api.j.registry.issue_token(api.j.root, "operator-two", "tests")
    size = api.size()
    for who in ("operator", "two", "operator", "two"):
        api.get(f"/targets?department={OTHER}", who=who)
    api.get("/targets?department=CZ-SJJ", who="operator")
    events = new_events(api, size)
    assert [(e.username, e.departments) for e in events] == [
        ("operator-own", [OTHER]),
        ("operator-two", [OTHER]),
        ("operator-own", ["CZ-SJJ"]),
    ]
    assert api.j.services.refusals.pending() == 2


def test_window_zero_records_every_refusal(settings: Any, jurisdiction: Jurisdiction) -> None:
    services = Services(replace(settings, refusal_window_seconds=0))
    try:
        with TestClient(create_app(services)) as client:
            api = Api(jurisdiction, client)
            size = services.ledger.size()
            for _ in range(3):
                assert_bilingual(api.get(f"/targets?department={OTHER}", who="operator"), 403)
            assert services.ledger.size() == size + 3
            assert services.refusals.pending() == 0
    finally:
        services.close()


# Rate limit -------------------------------------------------------------------------------------


@pytest.fixture
def limited(settings: Any, jurisdiction: Jurisdiction) -> Iterator[Api]:
    """An API in its own process's services, allowing bursts of 3, then 1 request a minute."""
    services = Services(
        replace(
            settings,
            rate_limit_per_minute=1,
            rate_limit_anonymous_per_minute=1,
            rate_limit_burst=3,
        )
    )
    try:
        with TestClient(create_app(services)) as client:
            yield Api(jurisdiction, client)
    finally:
        services.close()


def test_rate_limit_answers_429_with_retry_after_per_token(limited: Api) -> None:
    api = limited
    for _ in range(3):
        assert api.get("/targets", who="operator").status_code == 200
    refused = api.get("/targets", who="operator")
    body = assert_bilingual(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["Retry-After"] + " 秒" in body["message_zh"]
    # Writes are limited alike, and nothing is written by a limited request.
    size = api.size()
    assert_bilingual(api.put("/targets", target_row(1, OWN), who="operator"), 429)
    assert api.size() == size
    # Another token has its own bucket.
    assert api.get("/targets", who="leader").status_code == 200


def test_rate_limit_per_address_without_a_valid_token(limited: Api) -> None:
    api = limited
    for _ in range(3):
        assert api.get("/public/plans", who=None).status_code == 200
    assert_bilingual(api.get("/public/plans", who=None), 429, "rate_limited")
    # Invented tokens are counted against the address too: no extra requests for them.
    response = api.client.get("/targets", headers={"Authorization": "Bearer ssj_invented"})
    assert_bilingual(response, 429, "rate_limited")
    # A token already accepted by this process keeps its own bucket.
    assert api.get("/targets", who="root").status_code == 429  # first use: counted by address


def test_token_buckets_refill_at_the_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(per_minute=60, burst=2, clock=lambda: now[0])
    assert buckets.take("a") == 0 and buckets.take("a") == 0
    assert buckets.take("a") == pytest.approx(1.0)
    assert buckets.take("b") == 0  # another key
    now[0] = 0.5
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] = 1.0
    assert buckets.take("a") == 0
    now[0] = 100.0  # refilled to the burst, not beyond
    assert [buckets.take("a") for _ in range(3)][:2] == [0, 0]
    assert TokenBuckets(per_minute=0, burst=1).take("x") == 0  # 0: no limit
