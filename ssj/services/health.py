"""How the service is doing, read from the database: for `/readyz`, `/metrics` and operators.

Each check answers quickly and never writes. Readiness fails when the database cannot be
reached, the signing key cannot be read, the read models lag the ledger by more than
`SSJ_READY_MAX_LAG` events (default 1000), a replica lags by more than that, or events have
waited for a checkpoint longer than twice `SSJ_CHECKPOINT_EVERY_SECONDS` (the interval, plus
one interval's grace for the timer that issues them).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from projections.feed import read_seq
from ssj.errors import SsjError
from ssj.ledger.keyring import TLOG_ID
from ssj.services.context import Services

DEFAULT_MAX_LAG = 1000


def max_lag() -> int:
    raw = os.environ.get("SSJ_READY_MAX_LAG", "").strip()
    return int(raw) if raw.isdigit() else DEFAULT_MAX_LAG


@dataclass
class Check:
    name: str
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Health:
    checks: list[Check]
    head_seq: int | None = None
    seqs: dict[str, int] = field(default_factory=dict)  # each read model's seq
    checkpoint_size: int | None = None
    checkpoint_age_seconds: float | None = None
    replica: dict[str, Any] | None = None

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "checks": {
                c.name: {"ok": c.ok, **c.detail, **({"error": c.error} if c.error else {})}
                for c in self.checks
            },
        }


def _error(e: Exception) -> str:
    if isinstance(e, SsjError):
        return e.en
    return f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"


def last_checkpoint(services: Services) -> tuple[int, float] | None:
    """(tree size, seconds since it was issued) of the newest checkpoint, or None."""
    ledger = services.ledger
    stored = ledger.recorder.select_events(TLOG_ID, desc=True, limit=1)
    if not stored:
        return None
    event: Any = ledger.mapper.to_domain_event(stored[0])
    size = getattr(event, "size", None)
    if size is None:  # only the log's creation so far
        return None
    age = (datetime.now(UTC) - event.timestamp).total_seconds()
    return int(size), max(age, 0.0)


def replica_status(reader: Services, primary_head: int) -> dict[str, Any]:
    """How far a read replica is behind: ledger seqs not yet replayed there, the seq its read
    models have reached, and the age of the last transaction it replayed."""
    replica_head = reader.ledger.head_seq()
    names = [p.name for p in reader.runner.projections]
    seq = read_seq(reader.store, names)
    rows = reader.store.query(
        "SELECT EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp())), pg_is_in_recovery()"
    )
    delay, in_recovery = rows[0] if rows else (None, None)
    return {
        "ledger_lag": max(primary_head - replica_head, 0),
        "projection_lag": max(primary_head - seq, 0),
        "replay_delay_seconds": None if delay is None else float(delay),
        "in_recovery": bool(in_recovery),
        "head_seq": replica_head,
        "position": seq,  # the key predates the naming rule: kept for clients
    }


def check(services: Services, reader: Services | None = None) -> Health:
    """Every readiness check, each failing on its own."""
    checks: list[Check] = []
    health = Health(checks)
    started = time.perf_counter()
    try:
        health.head_seq = services.ledger.head_seq()
        checks.append(
            Check(
                "database",
                True,
                {
                    "head_seq": health.head_seq,
                    "ms": round((time.perf_counter() - started) * 1e3, 2),
                },
            )
        )
    except Exception as e:
        checks.append(Check("database", False, error=_error(e)))
        return health
    try:
        key_id = services.ledger.keyring().active_key_id
        services.ledger.keystore.load(key_id)  # exists, is ours alone (0600) and parses
        checks.append(Check("signing_key", True, {"key_id": key_id}))
    except Exception as e:
        checks.append(Check("signing_key", False, error=_error(e)))
    limit = max_lag()
    try:
        health.seqs = services.runner.seqs()
        lag = health.head_seq - min(health.seqs.values(), default=-1)
        checks.append(Check("projections", lag <= limit, {"lag": lag, "max_lag": limit}))
    except Exception as e:
        checks.append(Check("projections", False, error=_error(e)))
    try:
        found = last_checkpoint(services)
        interval = services.settings.checkpoint_every_seconds
        pending = health.head_seq + 1 - (found[0] if found else 0)
        age = found[1] if found else None
        health.checkpoint_size = found[0] if found else None
        health.checkpoint_age_seconds = age
        stale = pending > 0 and (age is None or age > 2 * interval)
        checks.append(
            Check(
                "checkpoint",
                not stale,
                {
                    "size": health.checkpoint_size,
                    "age_seconds": None if age is None else round(age, 1),
                    "pending_events": pending,
                    "interval_seconds": interval,
                },
            )
        )
    except Exception as e:
        checks.append(Check("checkpoint", False, error=_error(e)))
    if reader is not None and reader is not services:
        try:
            health.replica = replica_status(reader, health.head_seq)
            ok = health.replica["projection_lag"] <= limit
            checks.append(Check("replica", ok, {**health.replica, "max_lag": limit}))
        except Exception as e:
            checks.append(Check("replica", False, error=_error(e)))
    return health
