"""How an API process knows where the read models are: on PostgreSQL a watch hears the runner's
notification after each batch, so waits end and reads are pinned without asking the database,
and it says so only while its LISTEN connection answers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import psycopg
import pytest

from projections.feed import ProjectionThread, read_seq
from projections.runner import projected_channel, projected_payload
from ssj.api import feed
from ssj.config import Settings
from ssj.services.context import Services
from ssj.services.registry import RegistryService
from tests.services.conftest import target_row

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


def test_the_organisation_generation_changes_with_users_tokens_and_departments_only(
    services: Services,
) -> None:
    watch = feed.watch(services)
    runner = ProjectionThread(services.runner).start()  # not wired to the watch: only NOTIFY
    registry = RegistryService(services)

    def settled() -> int | None:
        watch.wait_for(services.ledger.head_seq())
        return watch.organisation_generation()

    try:
        assert watch.organisation_generation() is None  # not listening yet: nothing is kept
        eventually(watch.listening, "the watch's LISTEN connection never answered")
        registry.bootstrap("admin", "管理员", "BUR", "测试局", "320400")
        watch.wait_for(services.ledger.head_seq())
        eventually(lambda: watch.organisation_generation() is not None, "nothing trusted")
        admin = services.principal("admin")
        seen = [watch.organisation_generation()]
        registry.add_department(admin, "OWN", "本科", "city", "section", "BUR", "320400")
        seen.append(settled())
        token = registry.issue_token(admin, "admin", "watch")
        seen.append(settled())
        registry.revoke_token(admin, token, "test")
        seen.append(settled())
        registry.add_user(admin, "op", "操作员", "OWN", ["operator"])
        seen.append(settled())
        assert None not in seen and len(set(seen)) == len(seen), seen  # each one changed it
        registry.save_target(admin, target_row(1, department="OWN"))
        assert settled() == seen[-1]  # a target: no user, token or department changed
        # A seq read by query ahead of the notifications: the generation cannot be trusted.
        watch.advance(watch.seen_seq + 1)
        assert watch.organisation_generation() is None
    finally:
        runner.stop()
        watch.close()


def test_a_notification_without_a_mark_vouches_for_nothing(services: Services) -> None:
    """An older runner sends the seq alone and never says `organisation`: an API process that
    hears one keeps no principals (whichever was restarted first in an upgrade)."""
    watch = feed.watch(services)
    runner = ProjectionThread(services.runner).start()
    try:
        eventually(watch.listening, "the watch's LISTEN connection never answered")
        RegistryService(services).bootstrap("admin", "管理员", "BUR", "测试局", "320400")
        watch.wait_for(services.ledger.head_seq())
        eventually(lambda: watch.organisation_generation() is not None, "nothing trusted")
        runner.stop()
        seq, channel = watch.seen_seq + 1, projected_channel(services.store)
        with psycopg.connect(services.settings.database.url(), autocommit=True) as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (channel, str(seq)))  # an older runner's
            eventually(lambda: watch.seen_seq == seq, "the bare seq was not heard")
            assert watch.organisation_generation() is None
            conn.execute("SELECT pg_notify(%s, %s)", (channel, projected_payload(seq, False)))
            eventually(lambda: watch.organisation_generation() is not None, "never trusted again")
    finally:
        runner.stop()
        watch.close()
