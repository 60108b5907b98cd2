"""A runner thread in the API's own process is asked to catch up by a request waiting for it
(`ProjectionWatch.nudge`): on SQLite, which has no notifications, a command's own write is read
back without waiting for the runner's next poll."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from projections.feed import ProjectionThread
from ssj.api import feed
from ssj.config import Settings
from ssj.services.context import Services
from ssj.services.registry import RegistryService
from tests.services.conftest import OWN, target_row, uscc

HOUR = 3600.0  # a poll that never comes within the test


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    found = Services(settings)
    found.ledger.initialise()
    try:
        yield found
    finally:
        found.close()


def test_a_waiting_request_wakes_the_runner_thread(services: Services) -> None:
    watch = feed.watch(services)
    runner = ProjectionThread(services.runner, watch, poll_seconds=HOUR).start()
    try:
        registry = RegistryService(services)
        registry.bootstrap("admin", "管理员", "BUR", "测试局", "320400")
        assert watch.wait_for(services.ledger.head_seq(), timeout=60) >= 0
        admin = services.principal("admin")
        registry.add_department(admin, OWN, "本科", "city", "section", "BUR", "320400")
        for n in range(3):  # each write after the runner has gone back to sleep
            registry.save_target(admin, target_row(n))
            head = services.ledger.head_seq()
            # Without the nudge this waits for the hour's poll and fails after the timeout.
            assert watch.wait_for(head, timeout=60) >= head
            assert services.queries.get("targets", [uscc(n)]) is not None
    finally:
        runner.stop()
        watch.close()
    assert not runner._thread.is_alive()  # stopped at once, not after the hour's poll
