"""The audit trail (全程留痕) as a read model: one row per (subject, seq).

Fed from the ledger through the pure mapping `ssj.domain.trail.describe`; what that mapping must
remember between events (which target an aggregate id is, a task's team) is kept in
`trail_memos`, and each subject's departments (for deciding who may read its trail) in
`trail_subjects`. Nothing here is trusted: a page's signature status is checked against the
ledger when it is served (`ssj.services.trail`), and a rebuild from seq 0 gives the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from projections.store import Cursor, ViewStore
from ssj.domain.trail import Memo, Subject, describe, merge_memo
from ssj.ledger.application import LoggedEvent

COLUMNS = ("seq", "recorded_at", "actor", "role", "department", "kind", "kind_zh", "summary")


class TrailProjection:
    name = "trail"
    version = 1

    def create(self, c: Cursor) -> None:
        c.execute(
            "CREATE TABLE IF NOT EXISTS trail (subject_kind TEXT NOT NULL, subject_id TEXT NOT "
            "NULL, seq BIGINT NOT NULL, recorded_at TEXT NOT NULL, actor TEXT NOT NULL, role "
            "TEXT NOT NULL, department TEXT NOT NULL, kind TEXT NOT NULL, kind_zh TEXT NOT NULL, "
            "summary TEXT NOT NULL, PRIMARY KEY (subject_kind, subject_id, seq))"
        )
        c.execute(
            "CREATE INDEX IF NOT EXISTS trail_recorded ON trail "
            "(subject_kind, subject_id, recorded_at)"
        )
        c.execute("CREATE INDEX IF NOT EXISTS trail_actor ON trail (actor, seq)")
        c.execute(
            "CREATE TABLE IF NOT EXISTS trail_memos (originator_id TEXT PRIMARY KEY, "
            "memo TEXT NOT NULL)"
        )
        c.execute(
            "CREATE TABLE IF NOT EXISTS trail_subjects (subject_kind TEXT NOT NULL, subject_id "
            "TEXT NOT NULL, departments TEXT NOT NULL, PRIMARY KEY (subject_kind, subject_id))"
        )

    def drop(self, c: Cursor) -> None:
        for table in ("trail", "trail_memos", "trail_subjects"):
            c.execute(f"DROP TABLE IF EXISTS {table}")

    def apply(self, c: Cursor, logged: LoggedEvent) -> None:
        def recall(originator_id: str) -> Memo | None:
            c.execute("SELECT memo FROM trail_memos WHERE originator_id = ?", (originator_id,))
            row = c.fetchone()
            return None if row is None else orjson.loads(row[0])

        described = describe(logged.event, recall)
        for originator_id, memo in described.remember.items():
            kept = merge_memo(recall(originator_id) if "replace" in memo else None, memo)
            c.execute(
                "INSERT INTO trail_memos (originator_id, memo) VALUES (?, ?) "
                "ON CONFLICT (originator_id) DO UPDATE SET memo = excluded.memo",
                (originator_id, orjson.dumps(kept).decode()),
            )
        for (kind, ref), departments in described.departments.items():
            c.execute(
                "INSERT INTO trail_subjects (subject_kind, subject_id, departments) "
                "VALUES (?, ?, ?) ON CONFLICT (subject_kind, subject_id) "
                "DO UPDATE SET departments = excluded.departments",
                (kind, ref, orjson.dumps(list(departments)).decode()),
            )
        actor = logged.actor
        rows = [
            (
                kind,
                ref,
                logged.seq,
                logged.recorded_at,
                str(actor.user),
                str(actor.role),
                str(actor.department),
                described.kind,
                described.kind_zh,
                described.summary_for((kind, ref)),
            )
            for kind, ref in described.subjects
        ]
        if rows:
            c.executemany(
                "INSERT INTO trail (subject_kind, subject_id, seq, recorded_at, actor, role, "
                "department, kind, kind_zh, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )


# Reading -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrailFilters:
    """What a trail is narrowed to; every bound is inclusive. Times are the envelope's UTC
    `recorded_at` text (`2026-03-02T01:00:00.000000Z`), which sorts as it reads."""

    actor: str | None = None
    department: str | None = None
    since: str | None = None
    until: str | None = None
    from_seq: int | None = None
    to_seq: int | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value, op in (
            ("actor", self.actor, "="),
            ("department", self.department, "="),
            ("recorded_at", self.since, ">="),
            ("recorded_at", self.until, "<="),
            ("seq", self.from_seq, ">="),
            ("seq", self.to_seq, "<="),
        ):
            if value is not None:
                clauses.append(f"{column} {op} ?")
                params.append(value)
        return "".join(f" AND {c}" for c in clauses), params


def subject_departments(store: ViewStore, subject: Subject) -> tuple[str, ...] | None:
    """The subject's departments as the read model knows them (None: no such subject)."""
    rows = store.query(
        "SELECT departments FROM trail_subjects WHERE subject_kind = ? AND subject_id = ?",
        subject,
    )
    if rows:
        return tuple(orjson.loads(rows[0][0]))
    seen = store.query(
        "SELECT 1 FROM trail WHERE subject_kind = ? AND subject_id = ? LIMIT 1", subject
    )
    return () if seen else None


def trail_page(
    store: ViewStore,
    subject: Subject,
    filters: TrailFilters,
    *,
    offset: int = 0,
    limit: int | None = 100,
) -> tuple[int, list[dict[str, Any]]]:
    """(total matching, one page of rows in seq order) of a subject's trail."""
    extra, params = filters.where()
    where = f"subject_kind = ? AND subject_id = ?{extra}"
    args: list[Any] = [*subject, *params]
    with store.transaction() as c:  # one snapshot: the count and the page agree
        c.execute(f"SELECT count(*) FROM trail WHERE {where}", args)
        total = int(c.fetchone()[0])
        sql = f"SELECT {', '.join(COLUMNS)} FROM trail WHERE {where} ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args = [*args, limit, offset]
        elif offset:
            sql += " LIMIT -1 OFFSET ?" if not store.is_postgres else " OFFSET ?"
            args = [*args, offset]
        c.execute(sql, args)
        rows = [dict(zip(COLUMNS, r, strict=True)) for r in c.fetchall()]
    return total, rows
