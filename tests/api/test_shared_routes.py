"""Every app of a process shares the included routes, which FastAPI builds once per include
(`ssj.api.app._included_routes`): each app still answers from its own services."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from ssj.api.app import ROUTERS, create_app
from ssj.services.context import Services
from tests.conftest import base_settings
from tests.services.conftest import Jurisdiction, jurisdiction

__all__ = ["jurisdiction"]


def test_two_apps_share_their_routes_and_answer_from_their_own_ledgers(
    jurisdiction: Jurisdiction, tmp_path: Path
) -> None:
    other = Services(base_settings(tmp_path / "other", f"sqlite:///{tmp_path / 'other.sqlite'}"))
    try:
        other.ledger.initialise()
        first, second = create_app(jurisdiction.services), create_app(other)
        shared = [r for r in first.router.routes if any(r is s for s in second.router.routes)]
        assert len(shared) == len(ROUTERS)  # each module's router, included once
        signed = jurisdiction.services.ledger.issue_checkpoint(witnesses=False)
        with TestClient(first) as a, TestClient(second) as b:
            checkpoint = a.get("/log/checkpoint")
            assert checkpoint.status_code == 200, checkpoint.text
            assert checkpoint.text.splitlines()[:3] == signed.splitlines()[:3]  # this ledger's
            assert b.get("/log/checkpoint").status_code == 404  # none issued on that ledger
    finally:
        other.close()
