"""The audit trail (全程留痕) as a read model: one row per (subject, seq).

Fed from the ledger through the pure mapping `ssj.domain.trail.describe`; what that mapping must
remember between events (which target an aggregate id is, a task's team) is kept in
`trail_memos`, one row per aggregate, read once per batch for the aggregates the batch touches
and written once per batch for those it changed (never a memo query per event); each subject's
departments (for deciding who may read its trail) in `trail_subjects`. Nothing here is trusted: a page's signature status is checked against the
ledger when it is served (`ssj.services.trail`), and a rebuild from seq 0 gives the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from projections.store import Cursor, ViewStore, insert_rows, select_in, upsert_rows
from ssj.domain.trail import Memo, Subject, describe, merge_memo
from ssj.ledger.application import LoggedEvent

COLUMNS = ("seq", "recorded_at", "actor", "role", "department", "kind", "kind_zh", "summary")
TRAIL_COLUMNS = ("subject_kind", "subject_id", *COLUMNS)


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
        for _, create in self.read_indexes():
            c.execute(create)
        c.execute(
            "CREATE TABLE IF NOT EXISTS trail_memos (originator_id TEXT PRIMARY KEY, "
            "memo TEXT NOT NULL)"
        )
        c.execute(
            "CREATE TABLE IF NOT EXISTS trail_subjects (subject_kind TEXT NOT NULL, subject_id "
            "TEXT NOT NULL, departments TEXT NOT NULL, PRIMARY KEY (subject_kind, subject_id))"
        )

    def read_indexes(self) -> list[tuple[str, str]]:
        """Pages by time and by actor (`projections.runner.ReadIndexed`): no batch reads
        the trail back."""
        return [
            (
                "trail_recorded",
                "CREATE INDEX IF NOT EXISTS trail_recorded ON trail "
                "(subject_kind, subject_id, recorded_at)",
            ),
            ("trail_actor", "CREATE INDEX IF NOT EXISTS trail_actor ON trail (actor, seq)"),
        ]

    def drop(self, c: Cursor) -> None:
        for table in ("trail", "trail_memos", "trail_subjects"):
            c.execute(f"DROP TABLE IF EXISTS {table}")

    def apply_batch(self, c: Cursor, events: Sequence[LoggedEvent]) -> None:
        """Describe each event with the memos in memory (prefetched for the batch in one query,
        carried from event to event), then write the batch's trail rows, its memos and its
        subjects' departments once each."""
        memos = _Memos(c)
        memos.prefetch(
            e.aggregate_id
            for e in events
            if getattr(e.event, "originator_version", 0) != 1 or _recalls_first(e.event)
        )
        departments: dict[tuple[str, str], str] = {}
        rows: list[tuple[Any, ...]] = []
        whos: dict[int, tuple[str, str, str]] = {}  # the log's reader shares one Actor per actor
        recall, append = memos.get, rows.append
        for logged in events:
            described = describe(logged.event, recall)
            for originator_id, memo in described.remember.items():
                old = memos.get(originator_id) if "replace" in memo else None
                memos.put(originator_id, merge_memo(old, memo))
            for subject, found in described.departments.items():
                departments[subject] = orjson.dumps(list(found)).decode()
            actor = logged.actor
            who = whos.get(id(actor))
            if who is None:
                who = whos[id(actor)] = (str(actor.user), str(actor.role), str(actor.department))
            user, role, department = who
            seq, recorded_at = logged.seq, logged.recorded_at
            kind_en, kind_zh, summary = described.kind, described.kind_zh, described.summary
            notes = described.notes
            for kind, ref in described.subjects:
                text = notes.get((kind, ref), summary) if notes else summary
                append(
                    (kind, ref, seq, recorded_at, user, role, department, kind_en, kind_zh, text)
                )
        memos.flush()
        upsert_rows(
            c,
            "trail_subjects",
            ("subject_kind", "subject_id"),
            ("departments",),
            [(*subject, d) for subject, d in departments.items()],
        )
        insert_rows(c, "trail", TRAIL_COLUMNS, rows)

    def apply(self, c: Cursor, logged: LoggedEvent) -> None:
        self.apply_batch(c, [logged])


def _recalls_first(event: Any) -> bool:
    """A task's first event reads the memo its draw's reveal left."""
    return type(event).__qualname__.startswith("Task.")


class _Memos:
    """What `describe` remembers per aggregate, for one batch: read once, written once."""

    def __init__(self, c: Cursor) -> None:
        self.c = c
        self.known: dict[str, Memo | None] = {}
        self.changed: dict[str, Memo] = {}

    def prefetch(self, ids: Iterable[str]) -> None:
        wanted = [i for i in dict.fromkeys(ids) if i not in self.known]
        sql = "SELECT originator_id, memo FROM trail_memos WHERE originator_id IN ({})"
        found = dict(select_in(self.c, sql, wanted))
        for i in wanted:
            raw = found.get(i)
            self.known[i] = None if raw is None else orjson.loads(raw)

    def get(self, originator_id: str) -> Memo | None:
        if originator_id not in self.known:
            self.prefetch([originator_id])
        return self.known[originator_id]

    def put(self, originator_id: str, memo: Memo) -> None:
        self.known[originator_id] = self.changed[originator_id] = memo

    def flush(self) -> None:
        upsert_rows(
            self.c,
            "trail_memos",
            ("originator_id",),
            ("memo",),
            [(i, orjson.dumps(m).decode()) for i, m in self.changed.items()],
        )
        self.changed = {}


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
