"""A read replica, for real: the test creates a primary cluster (initdb on a free port) and a
streaming replica of it (`pg_basebackup -R`, another port), serves the API with
SSJ_READ_DATABASE_URL, and pauses the replica's replay to see reads wait for it (min_seq),
readiness and metrics report its lag, and `ssj verify --read-only` run on it."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from ssj.api import create_app
from ssj.config import DatabaseURL, Settings
from ssj.ledger.migrate import migrate
from ssj.services.context import Services
from tests.api.test_registry_api import Api
from tests.cli.inprocess import run_ssj
from tests.conftest import IN_CI, OWNER_ROLE, RUNTIME_ROLE, base_settings, settings_env
from tests.services.conftest import Jurisdiction, target_row

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def pg_bin(name: str) -> str | None:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(found[-1]) if found else shutil.which(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A PostgreSQL cluster of the test's own, run as the postgres user when we are root."""

    def __init__(self, root: Path, name: str) -> None:
        self.dir = root / name
        self.port = free_port()
        self.log = root / f"{name}.log"

    def run(self, *args: str) -> None:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, f"{args[0]}: {done.stdout}{done.stderr}"

    def start(self) -> None:
        # fsync off: a throwaway cluster, whose writes need not reach the disk (the test waits
        # on replay, not on the disk of a machine shared with other work).
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir.parent} -c fsync=off"
        self.run(
            pg_bin("pg_ctl") or "",
            "-D",
            str(self.dir),
            "-o",
            options,
            "-l",
            str(self.log),
            "-w",
            "-t",
            "120",
            "start",
        )

    def stop(self) -> None:
        if (self.dir / "postmaster.pid").exists():
            self.run(pg_bin("pg_ctl") or "", "-D", str(self.dir), "-m", "immediate", "stop")

    def url(self, dbname: str = "postgres", user: str = "postgres") -> DatabaseURL:
        return DatabaseURL.parse(f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}")

    def sql(self, statement: str, dbname: str = "postgres") -> list[tuple[object, ...]]:
        db = self.url(dbname)
        with psycopg.connect(
            host=db.host, port=db.port, user=db.user, dbname=db.dbname, autocommit=True
        ) as conn:
            cur = conn.execute(statement)
            return cur.fetchall() if cur.description else []


@pytest.fixture
def clusters() -> Iterator[tuple[Cluster, Cluster]]:
    missing = [n for n in ("initdb", "pg_ctl", "pg_basebackup") if pg_bin(n) is None]
    if missing or (os.geteuid() == 0 and shutil.which("runuser") is None):
        if IN_CI:
            pytest.fail(f"PostgreSQL server tools missing: {missing or 'runuser'}")
        pytest.skip(f"PostgreSQL server tools missing: {missing or 'runuser'}")
    root = Path(tempfile.mkdtemp(prefix="ssj-replica-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    primary, standby = Cluster(root, "primary"), Cluster(root, "replica")
    try:
        primary.run(
            pg_bin("initdb") or "",
            "-D",
            str(primary.dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
        )
        primary.start()
        primary.run(
            pg_bin("pg_basebackup") or "",
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(standby.dir),
            "-R",
            "-X",
            "stream",
            "--no-sync",
            "--checkpoint=fast",  # the primary's checkpoint at once, not spread out
        )
        standby.start()
        yield primary, standby
    finally:
        for cluster in (standby, primary):
            with contextlib.suppress(AssertionError):
                cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_reads_from_a_streaming_replica(
    clusters: tuple[Cluster, Cluster], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    primary, standby = clusters
    primary.sql("CREATE DATABASE ssj")
    admin = base_settings(tmp_path, primary.url("ssj").redacted())
    migrate(admin, owner=OWNER_ROLE, runtime=RUNTIME_ROLE)
    runtime = replace(primary.url("ssj"), user=RUNTIME_ROLE)
    settings: Settings = replace(
        admin,
        database=runtime,
        create_tables=False,
        read_database=replace(standby.url("ssj"), user=RUNTIME_ROLE),
    )
    services = Services(settings)
    services.ledger.initialise()
    jurisdiction = Jurisdiction(services)
    services.ledger.issue_checkpoint()
    monkeypatch.setenv("SSJ_PROJECTION_WAIT", "3")
    try:
        with TestClient(create_app(services)) as client:
            api = Api(jurisdiction, client)
            assert client.app.state.reader is not services  # type: ignore[attr-defined]
            created = api.put("/targets", target_row(1))
            assert created.status_code == 201, created.text
            seq = created.json()["seq"]
            # Answered once the replica's read models hold it: the next read (on the replica)
            # shows the write.
            listed = api.get("/targets")
            assert listed.json()["total"] == 1 and int(listed.headers["X-SSJ-Seq"]) >= seq
            ready = api.get("/readyz", who=None).json()
            assert ready["checks"]["replica"]["ok"] is True
            assert ready["checks"]["replica"]["in_recovery"] is True

            # Replay paused on the replica: it falls behind.
            standby.sql("SELECT pg_wal_replay_pause()")
            late = api.put("/targets", target_row(2))
            assert late.status_code == 503  # written on the primary, not yet on the replica
            head = api.head_seq()
            assert api.get("/targets", params={"min_seq": head}).status_code == 503
            body = api.get("/readyz", who=None).json()["checks"]["replica"]
            assert body["ledger_lag"] >= 1 and body["projection_lag"] >= 1
            metrics = api.get("/metrics", who=None).text
            assert "ssj_replica_ledger_lag" in metrics
            lag_line = next(
                line
                for line in metrics.splitlines()
                if line.startswith("ssj_replica_projection_lag ")
            )
            assert float(lag_line.split()[1]) >= 1

            standby.sql("SELECT pg_wal_replay_resume()")
            caught_up = api.get("/targets", params={"min_seq": head})
            assert caught_up.status_code == 200, caught_up.text
            assert caught_up.json()["total"] == 2
            assert int(caught_up.headers["X-SSJ-Seq"]) >= head
    finally:
        services.close()

    env = {**settings_env(settings), "SSJ_READ_DATABASE_URL": settings.read_database.url()}
    verified = run_ssj(["verify", "--read-only", "--json"], env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
