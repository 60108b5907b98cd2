"""The ledger commands as users run them: real subprocesses, real databases."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import psycopg

from ssj.config import Settings
from ssj.ledger.application import Ledger
from ssj.ledger.envelope import SYSTEM
from tests.cli.inprocess import run_ssj
from tests.conftest import settings_env


def run(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = settings_env(settings)
    full_env.update(env)
    return run_ssj(args, full_env)


def set_schema_version(settings: Settings, version: int) -> None:
    if settings.database.is_postgres:
        from dataclasses import replace

        admin = replace(settings.database, user="postgres")
        with psycopg.connect(admin.url(), autocommit=True) as conn:
            conn.execute(
                "UPDATE ssj_meta SET value = %s WHERE key = 'schema_version'", (str(version),)
            )
    else:
        with sqlite3.connect(settings.database.path) as conn:
            conn.execute(
                "UPDATE ssj_meta SET value = ? WHERE key = 'schema_version'", (str(version),)
            )


def test_init_keys_checkpoint_verify_round_trip(settings: Settings, tmp_path: Path) -> None:
    assert run(settings, "init").returncode == 0
    rotated = run(settings, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    listing = run(settings, "keys", "list", "--json")
    assert '"status": "retired"' in listing.stdout and '"status": "active"' in listing.stdout
    outside = tmp_path / "checkpoint.txt"
    issued = run(settings, "checkpoint", "--out", str(outside))
    assert issued.returncode == 0 and outside.read_text().startswith(settings.log_origin + "\n")
    verified = run(settings, "verify", "--checkpoint", str(outside))
    assert verified.returncode == 0, verified.stderr
    assert "ledger intact" in verified.stdout
    proof = run(settings, "proof", "inclusion", "1")
    assert proof.returncode == 0 and '"proof"' in proof.stdout


def test_newer_schema_is_refused_with_one_line(settings: Settings) -> None:
    Ledger(settings).initialise()
    set_schema_version(settings, 99)
    result = run(settings, "verify")
    assert result.returncode == 2
    assert "newer than this ssj supports" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_private_key_is_one_clear_line_and_writes_nothing(settings: Settings) -> None:
    ledger = Ledger(settings)
    ledger.initialise()
    size = ledger.size()
    ledger.keystore.path_for(ledger.keyring().active_key_id).unlink()
    result = run(settings, "keys", "rotate", "--to", "nobody+00000000")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    result = run(settings, "checkpoint")
    assert result.returncode == 2 and "not found" in result.stderr
    assert Ledger(settings).size() == size


def test_bad_database_url_is_one_clear_line(settings: Settings) -> None:
    result = run(settings, "verify", SSJ_DATABASE_URL="mysql://nowhere/db")
    assert result.returncode == 2
    assert "invalid database URL" in result.stderr and "数据库地址无效" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_revoking_without_reason_or_beyond_the_ledger_writes_nothing(settings: Settings) -> None:
    ledger = Ledger(settings)
    ledger.initialise()
    old = ledger.keyring().active_key_id
    ledger.rotate_key(SYSTEM)
    size = ledger.size()
    beyond = run(settings, "keys", "revoke", old, "--as-of", str(size + 5), "--reason", "lost")
    assert beyond.returncode == 2 and "beyond the ledger size" in beyond.stderr
    empty = run(settings, "keys", "revoke", old, "--as-of", "0", "--reason", " ")
    assert empty.returncode == 2 and "needs a reason" in empty.stderr
    assert Ledger(settings).size() == size
