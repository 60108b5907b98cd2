"""Running as a service: the projection daemon feeds the API's read models, requests wait for
them (never apply events), X-SSJ-Seq and min_seq, health, readiness, metrics and request logs.
On both backends, with the daemon as a real `ssj projections run` subprocess."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ssj.api import create_app
from ssj.config import Settings
from ssj.errors import ConfigurationError
from ssj.services.context import Services
from tests.api.test_registry_api import Api
from tests.conftest import settings_env
from tests.services.conftest import OWN, Jurisdiction, jurisdiction, target_row

pytestmark = pytest.mark.slow  # real servers and daemons

__all__ = ["jurisdiction"]

SSJ = str(Path(sys.executable).parent / "ssj")


def start_daemon(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    """`ssj projections run`, returned once it has caught up (its log says it started)."""
    env = {**settings_env(settings), "SSJ_LOG_FORMAT": "json"}
    before = log.read_text().count("daemon started") if log.exists() else 0
    process = subprocess.Popen(
        [SSJ, "projections", "run", "--poll", "0.2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    deadline = time.monotonic() + 120
    while log.read_text().count("daemon started") == before:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the daemon did not start"
        time.sleep(0.1)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def table_rows(services: Services, table: str) -> list[tuple[Any, ...]]:
    return sorted(services.store.query(f"SELECT * FROM {table}"), key=repr)


def assert_read_models_equal_a_rebuild(services: Services, tables: list[str]) -> None:
    before = {t: table_rows(services, t) for t in tables}
    services.runner.rebuild()
    assert {t: table_rows(services, t) for t in tables} == before


@pytest.fixture
def daemon_api(
    jurisdiction: Jurisdiction, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[Api, Path]]:
    monkeypatch.setenv("SSJ_PROJECTIONS", "daemon")
    monkeypatch.setenv("SSJ_PROJECTION_WAIT", "2")
    with TestClient(create_app(jurisdiction.services)) as client:
        yield Api(jurisdiction, client), tmp_path / "daemon.log"


def test_the_daemon_feeds_the_api_and_requests_only_wait(daemon_api: tuple[Api, Path]) -> None:
    api, log = daemon_api
    settings = api.j.services.settings
    daemon = start_daemon(settings, log)
    try:
        created = api.put("/targets", target_row(1))
        assert created.status_code == 201, created.text
        seq = int(created.headers["X-SSJ-Seq"])
        assert seq >= created.json()["seq"] == api.head_seq()
        # The next read sees the write without asking.
        listed = api.get("/targets")
        assert listed.json()["total"] == 1
        assert int(listed.headers["X-SSJ-Seq"]) >= seq
    finally:
        stop(daemon)
    assert daemon.returncode == 0
    assert '"message":"projected"' in log.read_text()

    # Without a daemon nothing feeds the read models: a command's answer times out with 503,
    # though the command itself is in the ledger; min_seq waits likewise.
    late = api.put("/targets", target_row(2))
    assert late.status_code == 503, late.text
    assert late.json()["code"] == "unavailable" and late.json()["message_zh"]
    head = api.head_seq()
    assert api.get("/targets", params={"min_seq": head}).status_code == 503
    # A process never answers from read models older than its own writes.
    assert api.get("/targets").status_code == 503
    beyond = api.get("/targets", params={"min_seq": head + 10})
    assert beyond.status_code == 422 and "min_seq" in beyond.json()["message_en"]

    daemon = start_daemon(settings, log)
    try:
        caught_up = api.get("/targets", params={"min_seq": head})
        assert caught_up.status_code == 200, caught_up.text
        assert int(caught_up.headers["X-SSJ-Seq"]) >= head
        assert caught_up.json()["total"] == 2
    finally:
        stop(daemon)
    assert_read_models_equal_a_rebuild(api.j.services, ["targets", "users", "trail"])


def test_a_request_past_its_deadline_is_a_504_and_its_command_still_lands(
    jurisdiction: Jurisdiction, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A command that has written but then waits (up to 60 s) for read models that nothing
    # feeds: the deadline (SSJ_REQUEST_TIMEOUT) answers first, and the command stays written.
    monkeypatch.setenv("SSJ_PROJECTIONS", "daemon")
    monkeypatch.setenv("SSJ_PROJECTION_WAIT", "60")
    monkeypatch.setenv("SSJ_REQUEST_TIMEOUT", "1")
    settings = jurisdiction.services.settings
    log = tmp_path / "daemon.log"
    with TestClient(create_app(jurisdiction.services)) as client:
        api = Api(jurisdiction, client)
        size = api.size()
        daemon = start_daemon(settings, log)
        try:
            deadline = time.monotonic() + 120
            while api.get("/targets", params={"min_seq": size - 1}).status_code != 200:
                assert time.monotonic() < deadline, "the daemon did not feed the read models"
        finally:
            stop(daemon)
        late = api.put("/targets", target_row(3))
        assert late.status_code == 504, late.text
        body = late.json()
        assert body["code"] == "timeout" and "Idempotency-Key" in body["message_en"]
        assert body["message_zh"] and late.headers["X-Request-ID"]
        deadline = time.monotonic() + 120
        while api.size() == size:
            assert time.monotonic() < deadline, "the late command never landed"
            time.sleep(0.05)
        assert api.size() == size + 1  # written once
        daemon = start_daemon(settings, log)
        try:
            # (On SQLite the late command holds the one-request gate until it ends: a read
            # right after may meet the deadline too.)
            path, seen = f"/targets/{target_row(3)['identifier']}", 0
            while (seen := api.get(path, params={"min_seq": size}).status_code) == 504:
                assert time.monotonic() < deadline + 60, "reads stay late"
            assert seen == 200
            metrics = api.get("/metrics", who=None).text
            assert 'ssj_errors_total{code="timeout"}' in metrics
        finally:
            stop(daemon)
    monkeypatch.setenv("SSJ_REQUEST_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError, match="SSJ_REQUEST_TIMEOUT"):
        create_app(jurisdiction.services)


@pytest.fixture
def api(jurisdiction: Jurisdiction) -> Iterator[Api]:
    with TestClient(create_app(jurisdiction.services)) as client:
        yield Api(jurisdiction, client)


def test_health_readiness_and_metrics(api: Api) -> None:
    assert api.get("/healthz", who=None).json() == {"status": "ok"}
    api.put("/targets", target_row(1))
    # No checkpoint yet covers the events: not ready, and the check says why.
    not_ready = api.get("/readyz", who=None)
    assert not_ready.status_code == 503
    checks = not_ready.json()["checks"]
    assert checks["checkpoint"]["ok"] is False and checks["database"]["ok"] is True
    assert checks["signing_key"]["ok"] is True and checks["projections"]["ok"] is True
    api.j.services.ledger.issue_checkpoint()
    ready = api.get("/readyz", who=None)
    assert ready.status_code == 200, ready.text
    assert ready.json()["ready"] is True

    # The signing key unreadable: not ready, naming the key check.
    keys = api.j.services.settings.keys_dir
    hidden = keys.with_name("keys-away")
    keys.rename(hidden)
    try:
        body = api.get("/readyz", who=None).json()
        assert body["ready"] is False and body["checks"]["signing_key"]["ok"] is False
    finally:
        hidden.rename(keys)

    api.get("/targets")
    text = api.get("/metrics", who=None).text
    head = api.head_seq()
    assert f"ssj_ledger_head_seq {float(head)}" in text
    assert f"ssj_ledger_events_total {float(head + 1)}" in text
    assert 'ssj_projection_lag_events{projection="registry"}' in text
    assert "ssj_checkpoint_age_seconds" in text
    assert (
        'ssj_http_request_duration_seconds_count{method="GET",route="/targets",status="200"}'
        in text
    )


def test_one_log_line_per_request(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ssj.api.requests"):
        response = api.put("/targets", target_row(1), who="operator")
        traced = api.client.get(
            f"/targets/{target_row(1)['identifier']}",
            headers={
                "Authorization": f"Bearer {api.tokens['operator']}",
                "X-Request-ID": "trace-42",
            },
        )
    assert response.status_code == 201 and traced.status_code == 200
    assert traced.headers["X-Request-ID"] == "trace-42"
    lines = [r.fields for r in caplog.records if r.getMessage() == "request"]  # type: ignore[attr-defined]
    put, get = lines[-2], lines[-1]
    assert put["method"] == "PUT" and put["route"] == "/targets" and put["status"] == 201
    assert put["actor"] == f"operator-own@{OWN}" and put["seq"] == api.head_seq()
    assert get["request_id"] == "trace-42" and get["route"] == "/targets/{identifier}"
    assert get["duration_ms"] >= 0 and get["seq"] == int(traced.headers["X-SSJ-Seq"])


def test_serve_refuses_several_workers_on_sqlite(sqlite_settings: Settings) -> None:
    env = settings_env(sqlite_settings)
    Services(sqlite_settings).close()
    done = subprocess.run(
        [SSJ, "serve", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "SQLite" in done.stderr and "PostgreSQL" in done.stderr
