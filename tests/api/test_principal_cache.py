"""An API process keeps the principals its tokens stand for while its watch hears no batch that
changed users or tokens (ssj/services/context.py, `principal_for_token`): a token revoked, or a
user deactivated, by another process is refused by a worker that had it cached, by the first
command after, and by a read that asks for the revoke's seq. On both backends (SQLite keeps
nothing: it has no notifications). The API's read models are fed by a `ssj projections run`
daemon, as in production."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ssj.api import create_app
from ssj.domain.organisation import token_hash
from ssj.services.context import Services
from ssj.services.registry import RegistryService
from tests.api.test_production import start_daemon, stop
from tests.services.conftest import Jurisdiction, jurisdiction, target_row

pytestmark = pytest.mark.slow  # a real daemon

__all__ = ["jurisdiction"]


@pytest.fixture
def client(
    jurisdiction: Jurisdiction, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[TestClient]:
    monkeypatch.setenv("SSJ_PROJECTIONS", "daemon")
    monkeypatch.setenv("SSJ_PROJECTION_WAIT", "10")
    daemon = start_daemon(jurisdiction.services.settings, tmp_path / "daemon.log")
    try:
        with TestClient(create_app(jurisdiction.services)) as served:
            yield served
    finally:
        stop(daemon)


def elsewhere(jurisdiction: Jurisdiction, act: str, *args: str) -> int:
    """Run a registry command as root in another process's services; the ledger's head after."""
    other = Services(jurisdiction.services.settings)
    try:
        getattr(RegistryService(other), act)(other.principal("root"), *args)
        return other.ledger.head_seq()
    finally:
        other.close()


def issued(jurisdiction: Jurisdiction, username: str) -> str:
    other = Services(jurisdiction.services.settings)
    try:
        return RegistryService(other).issue_token(other.principal("root"), username, "cache")
    finally:
        other.close()


def save(client: TestClient, token: str, n: int) -> int:
    answer = client.put(
        "/targets", json=target_row(n), headers={"Authorization": f"Bearer {token}"}
    )
    return answer.status_code


def seen_by_the_cache(jurisdiction: Jurisdiction, token: str) -> bool:
    return token_hash(token) in jurisdiction.services._principals


@pytest.mark.parametrize("change", ["revoke_token", "deactivate_user"])
def test_a_cached_principal_is_refused_after_another_process_changes_it(
    jurisdiction: Jurisdiction, client: TestClient, change: str
) -> None:
    token = issued(jurisdiction, "operator-own")
    # Accepted, and again (on PostgreSQL the second time from the process's cache).
    assert [save(client, token, 1), save(client, token, 2)] == [201, 201]
    postgres = jurisdiction.services.settings.database.is_postgres
    assert seen_by_the_cache(jurisdiction, token) == postgres
    # Another token of another user stays cached through an unrelated write.
    bystander = issued(jurisdiction, "leader-own")
    assert save(client, bystander, 3) == 201
    if change == "revoke_token":
        head = elsewhere(jurisdiction, "revoke_token", token, "离职 / left")
    else:
        head = elsewhere(jurisdiction, "deactivate_user", "operator-own", "离职 / left")
    # A command waits for the read models to reach the ledger's head, which holds the change.
    assert save(client, token, 4) == 401
    headers = {"Authorization": f"Bearer {token}"}
    read = client.get("/targets", params={"min_seq": head}, headers=headers)
    assert read.status_code == 401, read.text
    assert read.json()["code"] == "unauthenticated"
    assert save(client, bystander, 5) == 201  # looked up again, still valid
