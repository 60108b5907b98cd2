"""Backing up the ledger, and the drill that proves a backup restores with nothing lost.

`backup(settings, DIR)` writes, on PostgreSQL:
- `ledger.dump`: `pg_dump --format=custom` of the ledger's schema (events, envelopes, Merkle
  nodes, meta; the read models are not needed: they are rebuilt);
- `keyring.json`: the public key ring (verifier keys and their validity) — never a private key;
- `checkpoint.txt`: the newest signed checkpoint, as printed by `ssj checkpoint`;
- `manifest.json`: what was backed up, when, and the SHA-256 of each file.

`restore_check(settings, DIR, outside)` restores the dump into a scratch database on the same
server, runs the full verification (`ssj verify`) against checkpoints kept *outside* (the newest
one an operator or a witness holds, not the copy in the backup), rebuilds every read model from
the restored ledger and reports; a backup that lost the newest events is caught and the report
says how many are missing. The scratch database is dropped afterwards unless kept.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ssj.config import DatabaseURL, Settings
from ssj.errors import ConfigurationError, ValidationError
from ssj.ledger.audit import verify_ledger
from ssj.ledger.verify import unverified_checkpoint

FORMAT = "ssj-backup/1"
DUMP, KEYRING, CHECKPOINT, MANIFEST = (
    "ledger.dump",
    "keyring.json",
    "checkpoint.txt",
    "manifest.json",
)


def _tool(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))[-1:]), None
    )
    if found is None:
        raise ConfigurationError(
            f"找不到 {name}：请安装 PostgreSQL 客户端工具",
            f"{name} not found: install the PostgreSQL client tools",
        )
    return found


def _pg_env(db: DatabaseURL) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PGHOST=db.host, PGPORT=str(db.port), PGUSER=db.user, PGDATABASE=db.dbname)
    if db.password:
        env["PGPASSWORD"] = db.password
    return env


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ConfigurationError(
            f"{Path(args[0]).name} 失败：{done.stderr.strip()}",
            f"{Path(args[0]).name} failed: {done.stderr.strip()}",
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _require_postgres(settings: Settings) -> None:
    if not settings.database.is_postgres:
        raise ConfigurationError(
            "备份与恢复演练需要 PostgreSQL（SQLite 账本请在停机时复制文件）",
            "backup and the restore drill need PostgreSQL (copy an SQLite ledger's file while "
            "nothing writes)",
        )


def backup(settings: Settings, directory: Path) -> dict[str, Any]:
    """Write a backup into `directory` (created; refused if it holds files); its manifest."""
    from ssj.ledger.application import Ledger

    _require_postgres(settings)
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise ValidationError(
            f"备份目录 {directory} 不为空", f"backup directory {directory} is not empty"
        )
    db = settings.database
    ledger = Ledger(settings)
    try:
        keyring = ledger.key_listing()
        checkpoint = ledger.latest_checkpoint()
        size_before = ledger.size()
        _run(
            [
                _tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--schema={db.schema}",
                f"--file={directory / DUMP}",
            ],
            _pg_env(db),
        )
        suite = ledger.suite.name
    finally:
        ledger.close()
    for entry in keyring:
        entry.pop("private_key_here", None)  # a fact of this machine, not of the ledger
    (directory / KEYRING).write_bytes(orjson.dumps(keyring, option=orjson.OPT_INDENT_2))
    if checkpoint is not None:
        (directory / CHECKPOINT).write_text(checkpoint, encoding="utf-8")
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": db.redacted(),
        "schema": db.schema,
        "suite": suite,
        "ledger_size_at_start": size_before,
        "checkpoint_size": _size(checkpoint) if checkpoint else None,
        "files": {
            name: {"sha256": _sha256(directory / name), "bytes": (directory / name).stat().st_size}
            for name in (DUMP, KEYRING, CHECKPOINT)
            if (directory / name).exists()
        },
    }
    (directory / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return manifest


@dataclass
class RestoreReport:
    directory: str
    scratch_database: str
    restored_size: int = 0
    outside_checkpoint_sizes: list[int] = field(default_factory=list)
    missing_events: int = 0
    verified: bool = False
    damage: list[dict[str, Any]] = field(default_factory=list)
    read_models: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.verified and not self.problems and not self.missing_events

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    try:
        manifest: dict[str, Any] = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as e:
        raise ValidationError(f"无法读取备份清单 {path}：{e}", f"cannot read {path}: {e}") from None
    if manifest.get("format") != FORMAT:
        raise ValidationError(f"不是 ssj 备份：{path}", f"not an ssj backup: {path}")
    return manifest


def restore_check(
    settings: Settings, directory: Path, outside: list[str], *, keep: bool = False
) -> RestoreReport:
    """Restore into a scratch database, verify against `outside` checkpoints, rebuild."""
    from ssj.ledger.migrate import connect
    from ssj.services.context import Services

    _require_postgres(settings)
    manifest = read_manifest(directory)
    db = settings.database
    scratch = replace(db, dbname=f"ssj_restore_{uuid.uuid4().hex[:10]}")
    report = RestoreReport(str(directory), scratch.dbname)
    for name, meta in manifest["files"].items():
        if not (directory / name).exists():
            report.problems.append(f"{name}: missing from the backup")
        elif _sha256(directory / name) != meta["sha256"]:
            report.problems.append(f"{name}: SHA-256 differs from the manifest")
    if report.problems:
        return report
    if not outside:
        report.problems.append(
            "no checkpoint kept outside the database was given: truncation cannot be ruled out"
        )
    with connect(db) as admin:
        admin.execute(f'CREATE DATABASE "{scratch.dbname}"')
    try:
        with connect(scratch) as conn:  # the dump creates the schema itself (public too)
            conn.execute(f'DROP SCHEMA IF EXISTS "{db.schema}" CASCADE')
        _run(
            [
                _tool("pg_restore"),
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                f"--dbname={scratch.dbname}",
                str(directory / DUMP),
            ],
            _pg_env(scratch),
        )
        restored = replace(settings, database=scratch, create_tables=False)
        services = Services(restored)
        try:
            report.restored_size = services.ledger.size()
            result = verify_ledger(services.ledger, outside)
            report.verified = result.ok
            report.outside_checkpoint_sizes = [_size(text) for text in outside]
            newest = max(report.outside_checkpoint_sizes, default=0)
            report.missing_events = max(newest - report.restored_size, 0)
            report.damage = [
                {"seq": d.seq, "kind": d.kind, "zh": d.zh, "en": d.en, "detail": d.detail}
                for d in sorted(result.damage, key=lambda d: d.seq)[:20]
            ]
            services.runner.rebuild()
            report.read_models = services.runner.seqs()
        finally:
            services.close()
    finally:
        if not keep:
            with connect(db) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{scratch.dbname}" WITH (FORCE)')
    return report


def _size(signed: str) -> int:
    """A signed checkpoint's tree size (its signatures are checked by the verification)."""
    checkpoint = unverified_checkpoint(signed)
    if checkpoint is None:
        raise ValidationError("检查点格式无效", "not a signed checkpoint")
    return checkpoint.size
