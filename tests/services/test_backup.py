"""The backup and restore drill, end to end on PostgreSQL through the real command line:
pg_dump, pg_restore into a scratch database, full verification against a checkpoint kept
outside, read models rebuilt; a backup that lost the newest events is caught and the count of
missing events named; a damaged backup file is refused."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ssj.config import DatabaseURL, Settings
from ssj.services.context import Services
from ssj.services.registry import RegistryService
from tests.cli.inprocess import run_ssj
from tests.conftest import PG_ADMIN_URL, settings_env
from tests.services.conftest import OWN, target_row


def ssj(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return run_ssj(args, settings_env(settings))


def add_targets(services: Services, first: int, count: int) -> None:
    registry = RegistryService(services)
    root = services.principal("root")
    for n in range(first, first + count):
        registry.save_target(root, target_row(n))


def scratch_databases() -> set[str]:
    with psycopg.connect(PG_ADMIN_URL) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'ssj_restore_%'")
        return {r[0] for r in rows}


@pytest.mark.postgres
def test_backup_restores_verified_and_truncation_is_named(
    postgres_settings: Settings, postgres_database: DatabaseURL, tmp_path: Path
) -> None:
    services = Services(postgres_settings)
    try:
        services.ledger.initialise()
        registry = RegistryService(services)
        registry.bootstrap("root", "管理员", "CZ-SJJ", "常州市市场监督管理局", "320400")
        registry.add_department(
            services.principal("root"),
            OWN,
            "特种设备安全监察科",
            "city",
            "section",
            "CZ-SJJ",
            "320400",
        )
        add_targets(services, 1, 5)
        first = services.ledger.issue_checkpoint()
        size_at_backup = services.ledger.size()
    finally:
        services.close()
    # The administrator runs the drill (it creates a scratch database).
    admin = replace(postgres_settings, database=postgres_database)
    backup_dir = tmp_path / "backup"
    done = ssj(admin, "ops", "backup", str(backup_dir), "--json")
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout)
    assert set(manifest["files"]) == {"ledger.dump", "keyring.json", "checkpoint.txt"}
    assert manifest["checkpoint_size"] == size_at_backup - 1  # its own event follows it
    assert (backup_dir / "checkpoint.txt").read_text() == first
    keyring: list[dict[str, Any]] = json.loads((backup_dir / "keyring.json").read_text())
    assert keyring and all("verifier_key" in k for k in keyring)
    assert not any(p.name.endswith(".key") for p in backup_dir.iterdir())
    assert "PRIVATE" not in (backup_dir / "keyring.json").read_text()

    outside = tmp_path / "outside-1.txt"
    outside.write_text(first)
    before = scratch_databases()
    drill = ssj(admin, "ops", "restore-check", str(backup_dir), "-c", str(outside), "--json")
    assert drill.returncode == 0, drill.stdout + drill.stderr
    report = json.loads(drill.stdout)
    assert report["ok"] and report["verified"] and report["missing_events"] == 0
    assert report["restored_size"] == size_at_backup
    assert set(report["read_models"].values()) == {size_at_backup - 1}
    assert scratch_databases() == before  # dropped afterwards

    # Later events, and a newer checkpoint kept outside: the old backup lacks them.
    services = Services(postgres_settings)
    try:
        add_targets(services, 6, 3)
        newer = services.ledger.issue_checkpoint()
        size_now = services.ledger.size()
    finally:
        services.close()
    outside_newer = tmp_path / "outside-2.txt"
    outside_newer.write_text(newer)
    late = ssj(admin, "ops", "restore-check", str(backup_dir), "-c", str(outside_newer))
    assert late.returncode == 1, late.stdout + late.stderr
    missing = size_now - 1 - size_at_backup  # the checkpoint covers all but its own event
    assert f"lacks {missing} event(s)" in late.stdout and "FAILED" in late.stdout
    assert "truncated" in late.stdout or "DAMAGE" in late.stdout

    # A damaged dump is refused before anything is restored.
    dump = backup_dir / "ledger.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    damaged = ssj(admin, "ops", "restore-check", str(backup_dir), "-c", str(outside), "--json")
    assert damaged.returncode == 1
    assert any("ledger.dump" in p for p in json.loads(damaged.stdout)["problems"])


def test_backup_needs_postgresql(sqlite_settings: Settings, tmp_path: Path) -> None:
    Services(sqlite_settings).close()
    done = ssj(sqlite_settings, "ops", "backup", str(tmp_path / "b"))
    assert done.returncode == 2 and "PostgreSQL" in done.stderr
