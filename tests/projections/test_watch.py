"""How an API process knows where the read models are: on PostgreSQL a watch hears the runner's
notification after each batch, so waits end and reads are pinned without asking the database,
and it says so only while its LISTEN connection answers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from projections.feed import ProjectionThread, read_seq
from ssj.api import feed
from ssj.config import Settings
from ssj.services.context import Services
from ssj.services.registry import RegistryService

pytestmark = pytest.mark.postgres


def eventually(check: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.05)


@pytest.fixture
def services(postgres_settings: Settings) -> Iterator[Services]:
    found = Services(postgres_settings)
    found.ledger.initialise()
    try:
        yield found
    finally:
        found.close()


def test_a_listening_watch_follows_the_runner_without_queries(services: Services) -> None:
    watch = feed.watch(services)  # LISTENs for the runner's notifications
    runner = ProjectionThread(services.runner).start()  # not wired to the watch: only NOTIFY
    try:
        eventually(watch.listening, "the watch's LISTEN connection never answered")
        RegistryService(services).bootstrap("admin", "管理员", "BUR", "测试局", "320400")
        head = services.ledger.head_seq()
        assert watch.wait_for(head) >= head
        # Heard, not read: the position it states is the one the read models committed.
        eventually(lambda: watch.seen_seq == read_seq(services.store, watch.names), "no NOTIFY")
        assert watch.seq() == watch.seen_seq >= head
    finally:
        runner.stop()
        watch.close()
