"""`ssj audit export` and `ssj audit verify` as auditors run them: real subprocesses. Verify runs
with the database unreachable (and the SQLite file removed): it needs none."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ssj.config import Settings
from tests.cli.inprocess import run_ssj
from tests.conftest import base_settings, settings_env
from tests.ledger.test_tamper import SIZE, Published, build_ledger, published, suite

__all__ = ["published", "suite"]

NOWHERE = "postgresql://nobody@127.0.0.1:9/no_database"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_ssj(args, env)


def offline_env(tmp_path: Path) -> dict[str, str]:
    """No database anywhere: an unreachable URL and an empty data directory."""
    env = dict(os.environ)
    empty = tmp_path / "empty"
    empty.mkdir(exist_ok=True)
    env.update(SSJ_DATABASE_URL=NOWHERE, SSJ_DATA_DIR=str(empty), SSJ_KEYS_DIR=str(empty))
    return env


@pytest.fixture
def bundles(settings: Settings, published: Published, tmp_path: Path) -> dict[str, Path]:
    env = settings_env(settings)
    full = tmp_path / "all.ssjbundle"
    part = tmp_path / "part.ssjbundle"
    done = run(env, "audit", "export", "--output", str(full))
    assert done.returncode == 0, done.stderr
    assert f"{SIZE} events" in done.stdout
    done = run(env, "audit", "export", "--from-seq", "15", "--to-seq", "20", "-o", str(part))
    assert done.returncode == 0, done.stderr
    assert "seq 15–20" in done.stdout
    old = tmp_path / "v1.ssjbundle"
    done = run(env, "audit", "export", "--format", "ssj-audit-bundle/1", "-o", str(old))
    assert done.returncode == 0, done.stderr
    assert old.read_bytes().startswith(b'{"kind":"header","format":"ssj-audit-bundle/1"')
    if not settings.database.is_postgres:
        shutil.rmtree(settings.data_dir)  # the database file is gone
    return {"full": full, "part": part, "v1": old}


def test_the_offline_environment_has_no_database(tmp_path: Path) -> None:
    """What the verify tests below run in, whatever the ledger's backend: the database really is
    unreachable (checked once here: a refused connection is retried for 5 s before it fails)."""
    done = run(offline_env(tmp_path), "verify")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "cannot open database postgresql://nobody@127.0.0.1:9/no_database" in done.stderr


def test_verify_needs_no_database(
    settings: Settings, published: Published, bundles: dict[str, Path], tmp_path: Path
) -> None:
    env = offline_env(tmp_path)  # no database (test_the_offline_environment_has_no_database)
    held = tmp_path / "final.checkpoint"
    held.write_text(published.final_note, encoding="utf-8")
    for name in ("full", "part", "v1"):
        done = run(env, "audit", "verify", str(bundles[name]), "--checkpoint", str(held))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "✓ 签名与密钥环 / signatures and key ring" in done.stdout
        assert "✓ 默克尔根与检查点 / Merkle roots against checkpoints" in done.stdout
        assert "bundle intact" in done.stdout
    report = run(
        env, "audit", "verify", str(bundles["full"]), "--json", "--key", published.verifier_key
    )
    assert report.returncode == 0, report.stderr
    body = json.loads(report.stdout)
    assert body["ok"] and body["events"] == SIZE and body["format"] == "ssj-audit-bundle/2"
    assert body["damage"] == [] and body["draws"] == []


def test_damaged_bundles_exit_1_with_the_problem_named(
    settings: Settings, published: Published, bundles: dict[str, Path], tmp_path: Path
) -> None:
    env = offline_env(tmp_path)
    data = bundles["full"].read_bytes()
    altered = tmp_path / "altered.ssjbundle"
    at = len(data) // 2  # inside the event frames
    altered.write_bytes(data[:at] + (b"A" if data[at : at + 1] != b"A" else b"B") + data[at + 1 :])
    done = run(env, "audit", "verify", str(altered))
    assert done.returncode == 1, done.stdout
    assert "损坏 / DAMAGE" in done.stderr and "✗" in done.stdout
    assert "(the file was altered)" in done.stdout or "invalid signature" in done.stderr

    cut = tmp_path / "cut.ssjbundle"
    cut.write_bytes(data[: len(data) // 2])
    done = run(env, "audit", "verify", str(cut), "--json")
    assert done.returncode == 1
    assert "bundle_truncated" in {d["kind"] for d in json.loads(done.stdout)["damage"]}
    assert "file truncated" in done.stderr

    other = base_settings(tmp_path / "other", f"sqlite:///{tmp_path / 'other' / 'o.sqlite'}")
    foreign = build_ledger(other)
    held = tmp_path / "foreign.checkpoint"
    held.write_text(foreign.final_note, encoding="utf-8")
    done = run(env, "audit", "verify", str(bundles["full"]), "-c", str(held))
    assert done.returncode == 1 and "checkpoint does not match the ledger" in done.stderr
    done = run(env, "audit", "verify", str(bundles["part"]), "--key", foreign.verifier_key)
    assert done.returncode == 1 and "not signed by any trusted key" in done.stdout


def test_bad_input_exits_2_and_writes_nothing(
    settings: Settings, published: Published, tmp_path: Path
) -> None:
    env = settings_env(settings)
    target = tmp_path / "x.ssjbundle"
    done = run(env, "audit", "export", "--from-seq", "9", "--to-seq", "3", "-o", str(target))
    assert done.returncode == 2 and "无效" in done.stderr and "invalid seq range" in done.stderr
    assert not target.exists() and not list(tmp_path.glob("*.part"))
    done = run(env, "audit", "export", "--to-seq", str(SIZE), "-o", str(target))
    assert done.returncode == 2 and not target.exists()
    done = run(env, "audit", "export", "--format", "ssj-audit-bundle/3", "-o", str(target))
    assert done.returncode == 2 and "未知的审计包格式" in done.stderr and not target.exists()
    done = run(offline_env(tmp_path), "audit", "verify", str(tmp_path / "missing.ssjbundle"))
    assert (
        done.returncode == 2 and "审计包不存在" in done.stderr and "no such bundle" in done.stderr
    )
