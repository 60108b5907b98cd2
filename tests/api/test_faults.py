"""Faults on PostgreSQL, with real processes: kill -9 of the projection daemon mid-replay, of an
import mid-way and of a serving API (workers and all) under writes, then restart. Nothing is
lost or doubled, `ssj verify` passes, the read models equal a rebuild. A database backend
terminated mid-request (`pg_terminate_backend`) is a clean 503, and the next request works
without a restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from ssj.api import create_app
from ssj.config import DatabaseURL, Settings
from ssj.services.context import Services
from tests.api.test_production import (
    assert_read_models_equal_a_rebuild,
    start_daemon,
    stop,
)
from tests.api.test_registry_api import Api
from tests.cli.inprocess import run_ssj
from tests.cli.test_registry_cli import target_csv, target_rows
from tests.conftest import PG_ADMIN_URL, settings_env
from tests.services.conftest import Jurisdiction, jurisdiction, target_row

__all__ = ["jurisdiction"]
pytestmark = [pytest.mark.postgres, pytest.mark.slow]
SSJ = str(Path(sys.executable).parent / "ssj")
TABLES = ["targets", "users", "trail", "departments"]


def admin_sql(db: DatabaseURL, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    admin = DatabaseURL.parse(PG_ADMIN_URL)
    with psycopg.connect(
        host=admin.host, port=admin.port, user=admin.user, dbname=db.dbname, autocommit=True
    ) as conn:
        conn.execute(f'SET search_path TO "{db.schema}"')
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


def wait_until(condition: Any, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def verify(settings: Settings) -> None:
    done = run_ssj(["verify"], settings_env(settings))
    assert done.returncode == 0, done.stdout + done.stderr


def import_targets(settings: Settings, path: Path) -> subprocess.Popen[bytes]:
    env = {**settings_env(settings), "SSJ_USER": "root"}
    return subprocess.Popen(
        [SSJ, "targets", "import", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
def test_kill_9_of_an_import_and_of_the_daemon(
    jurisdiction: Jurisdiction, settings: Settings, tmp_path: Path
) -> None:
    services = jurisdiction.services
    count = 4000
    csv_file = target_csv(tmp_path / "targets.csv", target_rows(count), encoding="utf-8")
    start = services.ledger.size()
    # An import killed once some batches are in the ledger, then run again: it completes.
    first = import_targets(settings, csv_file)
    wait_until(lambda: services.ledger.size() > start or first.poll() is not None, "no batch")
    first.send_signal(signal.SIGKILL)
    first.wait()
    partly = services.ledger.size() - start
    again = import_targets(settings, csv_file)
    assert again.wait(timeout=600) == 0
    assert services.ledger.size() - start == count  # each target registered once
    services.refresh()
    assert services.queries.list("targets", {}, at_seq=services.read_seq(), limit=1).total == count

    # The daemon killed while it replays the ledger into fresh read models, then restarted.
    # Forget every read model: the daemon drops and replays them all from seq 0, in batches.
    views = f'"{settings.database.schema}_views"'
    admin_sql(settings.database, f"DELETE FROM {views}.projection_versions")
    admin_sql(settings.database, f"DELETE FROM {views}.projection_positions")
    log = tmp_path / "daemon.log"

    def position() -> int:
        try:
            rows = admin_sql(
                settings.database, f"SELECT min(seq) FROM {views}.projection_positions"
            )
        except psycopg.Error:
            return -1
        return -1 if not rows or rows[0][0] is None else int(rows[0][0])

    head = services.ledger.head_seq()
    daemon = subprocess.Popen(
        [SSJ, "projections", "run"],
        env=settings_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    wait_until(lambda: position() >= 0 or daemon.poll() is not None, "no batch projected")
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()
    killed_at = position()
    assert killed_at >= 0  # at least one batch committed (perhaps all, on a fast machine)
    daemon = start_daemon(settings, log)
    try:
        wait_until(lambda: position() >= head, "the daemon did not catch up")
    finally:
        stop(daemon)
    fresh = Services(settings)
    try:
        assert_read_models_equal_a_rebuild(fresh, TABLES)
        assert fresh.queries.list("targets", {}, at_seq=head, limit=1).total == count
    finally:
        fresh.close()
    verify(settings)
    print(f"import killed after {partly} events; daemon killed at seq {killed_at} of {head}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(settings: Settings, port: int, log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [SSJ, "serve", "--port", str(port), "--workers", "2", "--projections", "daemon"],
        env={**settings_env(settings), "SSJ_PROJECTION_WAIT": "5"},
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
        start_new_session=True,  # its own process group: kill -9 takes the workers too
    )
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)


@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
def test_kill_9_of_the_api_under_writes(
    jurisdiction: Jurisdiction, settings: Settings, tmp_path: Path
) -> None:
    token = jurisdiction.registry.issue_token(jurisdiction.root, "root", "faults")
    headers = {"Authorization": f"Bearer {token}"}
    log = tmp_path / "api.log"
    daemon = start_daemon(settings, tmp_path / "daemon.log")
    try:
        port = free_port()
        api = serve(settings, port, log)
    except BaseException:
        stop(daemon)  # a server that does not start must not leave the daemon running
        raise
    answered: list[int] = []
    stop_writing = threading.Event()

    def writer(first: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            for n in range(first, first + 200):
                if stop_writing.is_set():
                    return
                try:
                    r = client.put("/targets", json=target_row(n), timeout=10)
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code in (200, 201):
                    answered.append(n)

    try:
        with ThreadPoolExecutor(4) as pool:
            for k in range(4):
                pool.submit(writer, 1000 * (k + 1))
            wait_until(lambda: len(answered) >= 20, "no write answered")
            os.killpg(api.pid, signal.SIGKILL)
            api.wait()
            stop_writing.set()
        api = serve(settings, port, log)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            # Every answered write is there once; writes cut off may be retried safely.
            for n in answered:
                got = client.get(f"/targets/{target_row(n)['identifier']}", timeout=10)
                assert got.status_code == 200, got.text
            again = client.put("/targets", json=target_row(answered[0]), timeout=10)
            assert again.status_code == 200 and again.json()["outcome"] == "unchanged"
            listed = client.get("/targets", params={"limit": 1}, timeout=10).json()
        ledger = Services(settings)
        try:
            events = ledger.ledger.ledger_recorder.events_table_name
        finally:
            ledger.close()
        registered = admin_sql(
            settings.database,
            f"SELECT count(*) FROM {events} WHERE topic LIKE %s",
            ("%Target.Registered%",),
        )[0][0]
        assert listed["total"] == registered  # none doubled: one Registered per target
    finally:
        try:
            if api.poll() is None:
                os.killpg(api.pid, signal.SIGTERM)
                api.wait(timeout=30)
        finally:
            stop(daemon)  # even when the API does not stop: no daemon outlives the test
    fresh = Services(settings)
    try:
        fresh.refresh()
        assert_read_models_equal_a_rebuild(fresh, TABLES)
    finally:
        fresh.close()
    verify(settings)


@pytest.mark.parametrize("settings", ["postgres"], indirect=True)
def test_backend_terminated_mid_request_is_a_clean_503(jurisdiction: Jurisdiction) -> None:
    services = jurisdiction.services
    db = services.settings.database
    with TestClient(create_app(services)) as client:
        api = Api(jurisdiction, client)
        assert api.put("/targets", target_row(1)).status_code == 201
        result: dict[str, Any] = {}
        with psycopg.connect(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{db.dbname}") as locker:
            # Hold the read model's table so the next read waits inside the database...
            locker.execute(f'LOCK TABLE "{db.schema}_views".targets IN ACCESS EXCLUSIVE MODE')
            reader = threading.Thread(
                target=lambda: result.update(response=api.get("/targets")), daemon=True
            )
            reader.start()

            def waiting() -> list[Any]:
                return admin_sql(
                    db,
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s "
                    "AND wait_event_type = 'Lock' AND usename = %s",
                    (db.dbname, db.user),
                )

            wait_until(lambda: bool(waiting()), "the read did not reach the database")
            # ...and terminate its backend there.
            for (pid,) in waiting():
                admin_sql(db, "SELECT pg_terminate_backend(%s)", (pid,))
            reader.join(timeout=60)
        response = result["response"]
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["code"] == "database_unavailable" and body["message_zh"]
        assert response.headers["Retry-After"]
        # The same process answers the next requests: the broken connection was replaced.
        assert api.get("/targets").json()["total"] == 1
        assert api.put("/targets", target_row(2)).status_code == 201
        assert api.get("/targets").json()["total"] == 2
