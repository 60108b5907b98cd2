"""A token issued by another process a moment ago is accepted: a read waits only for the read
models to hold this process's own writes, so an unknown token is looked up once more after they
reach the ledger's head (ssj/services/context.py, `principal_for_token`). Deterministic: the
API's read models are fed only by a `ssj projections run` daemon that is started when wanted.
On both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ssj.api import create_app
from ssj.services.context import Services
from ssj.services.registry import RegistryService
from tests.api.test_production import start_daemon, stop
from tests.services.conftest import Jurisdiction, jurisdiction

pytestmark = pytest.mark.slow  # a real daemon

__all__ = ["jurisdiction"]


@pytest.fixture
def client(jurisdiction: Jurisdiction, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("SSJ_PROJECTIONS", "daemon")
    monkeypatch.setenv("SSJ_PROJECTION_WAIT", "2")
    jurisdiction.services.refresh()  # the read models hold the organisation
    with TestClient(create_app(jurisdiction.services)) as served:
        yield served


def test_a_token_issued_elsewhere_is_accepted_once_the_read_models_hold_it(
    jurisdiction: Jurisdiction, client: TestClient, tmp_path: Path
) -> None:
    other = Services(jurisdiction.services.settings)  # another process, as `ssj tokens issue`
    try:
        token = RegistryService(other).issue_token(
            other.principal("root"), "operator-own", "issued elsewhere"
        )
    finally:
        other.close()
    headers = {"Authorization": f"Bearer {token}"}
    # No daemon: the read models cannot reach the token's seq, so the read waits and answers
    # 503 (try again) — never 401 for a token that exists.
    waiting = client.get("/targets", headers=headers)
    assert waiting.status_code == 503, waiting.text
    assert waiting.json()["code"] == "unavailable"
    daemon = start_daemon(jurisdiction.services.settings, tmp_path / "daemon.log")
    try:
        accepted = client.get("/targets", headers=headers)
        assert accepted.status_code == 200, accepted.text
        # A token nobody issued is still refused, once the read models are at the head.
        unknown = client.get("/targets", headers={"Authorization": "Bearer ssj_unknown"})
        assert unknown.status_code == 401, unknown.text
        assert unknown.json()["code"] == "unauthenticated"
    finally:
        stop(daemon)
