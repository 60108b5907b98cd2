"""The audit trail (全程留痕) as a read model: one row per (subject, seq).

Fed from the ledger through the pure mapping `ssj.domain.trail.describe`; what that mapping must
remember between events (which target an aggregate id is, a task's team) is read once per batch
for the aggregates the batch touches and written once per batch for those it changed (never a
memo query per event). Each subject's departments (for deciding who may read its trail) are in
`trail_subjects`. Most memos say only which one subject an aggregate is (a registration's
`{"subjects": [subject]}`, the subject whose row the same event writes): such a memo is that
row's `originator_id`, its owner, and has no row of its own; every other memo is a row of
`trail_memos`. An aggregate whose memo becomes anything else gives its ownership up, and one that
becomes an owner its memo row; of two aggregates claiming one subject the later owns it and the
earlier's memo gets a row: the same tables whatever the batches (issue #13 item 4: most memo
rows were one per registration, about 15 % of the rows a rebuild wrote). Nothing here is
trusted: a page's signature status is checked against the ledger when it is served
(`ssj.services.trail`), and a rebuild from seq 0 gives the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from projections.store import (
    Cursor,
    PgCursor,
    ViewStore,
    execute_in,
    insert_rows,
    select_in,
    select_in_pairs,
    upsert_rows,
)
from ssj.domain.trail import Memo, Subject, describe, merge_memo
from ssj.ledger.application import LoggedEvent

COLUMNS = ("seq", "recorded_at", "actor", "role", "department", "kind", "kind_zh", "summary")
TRAIL_COLUMNS = ("subject_kind", "subject_id", *COLUMNS)
SUBJECT_COLUMNS = ("subject_kind", "subject_id", "departments", "originator_id")


class TrailProjection:
    name = "trail"
    # 2: a one-subject memo is its subject row's owner, not a trail_memos row; 3: the trail's
    # key is a unique index that a rebuild makes at the end, not a primary key; 4: the keys
    # start with the subject's id, not its kind; 5: one index, the key (`read_indexes`)
    version = 5
    # Every table: the trail reads no other read model, and none reads it while being fed, so a
    # rebuild may replay it in a second process (`projections.runner.RebuiltApart`).
    own_tables = ("trail", "trail_memos", "trail_subjects")

    def create(self, c: Cursor) -> None:
        c.execute(
            "CREATE TABLE IF NOT EXISTS trail (subject_kind TEXT NOT NULL, subject_id TEXT NOT "
            "NULL, seq BIGINT NOT NULL, recorded_at TEXT NOT NULL, actor TEXT NOT NULL, role "
            "TEXT NOT NULL, department TEXT NOT NULL, kind TEXT NOT NULL, kind_zh TEXT NOT NULL, "
            "summary TEXT NOT NULL)"
        )
        for _, create in self.read_indexes(c):
            c.execute(create)
        c.execute(
            "CREATE TABLE IF NOT EXISTS trail_memos (originator_id TEXT PRIMARY KEY, "
            "memo TEXT NOT NULL)"
        )
        c.execute(
            "CREATE TABLE IF NOT EXISTS trail_subjects (subject_kind TEXT NOT NULL, subject_id "
            "TEXT NOT NULL, departments TEXT NOT NULL, originator_id TEXT, "
            "PRIMARY KEY (subject_id, subject_kind))"
        )
        # Batches recall memos by owner: kept up to date during a rebuild too.
        c.execute(
            "CREATE INDEX IF NOT EXISTS trail_subjects_owner ON trail_subjects (originator_id) "
            "WHERE originator_id IS NOT NULL"
        )

    def read_indexes(self, c: Cursor) -> list[tuple[str, str]]:
        """The trail's key, by which every page is read (`projections.runner.ReadIndexed`): no
        batch reads the trail back, and none upserts into it, so a rebuild makes it once at
        the end (as a primary key it was kept up to date row by row, a third to a half of the
        COPY into the trail), and its uniqueness is checked then. Every read names a subject
        and pages it in seq order; its filters by time and actor are answered within that
        subject's range of the key, which on PostgreSQL carries both columns (`INCLUDE`), so
        they are read from the index alone. It starts with the subject's id: with its kind
        first (a handful of values) nearly every comparison of a sort went on to the id."""
        covered = " INCLUDE (recorded_at, actor)" if isinstance(c, PgCursor) else ""
        return [
            (
                "trail_key",
                "CREATE UNIQUE INDEX IF NOT EXISTS trail_key ON trail "
                f"(subject_id, subject_kind, seq){covered}",
            )
        ]

    def drop(self, c: Cursor) -> None:
        for table in self.own_tables:
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
            if described.remember:
                memos.remember(logged, described.remember)
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
        owners, new = memos.flush(departments)
        subjects = [(*subject, d, owners.get(subject)) for subject, d in departments.items()]
        # Rows known to be new are appended (COPY on PostgreSQL: about half an upsert's cost a
        # row; nearly all of a rebuild's are new registrations), in the order of the subjects'
        # key, which their primary key then takes leaf by leaf (`Writes.flush`).
        fresh = sorted((r for r in subjects if r[:2] in new), key=_by_key)
        insert_rows(c, "trail_subjects", SUBJECT_COLUMNS, fresh)
        upsert_rows(
            c,
            "trail_subjects",
            SUBJECT_COLUMNS[:2],
            SUBJECT_COLUMNS[2:],
            [r for r in subjects if r[:2] not in new],
            kept=("originator_id",),
        )
        insert_rows(c, "trail", TRAIL_COLUMNS, rows)

    def apply(self, c: Cursor, logged: LoggedEvent) -> None:
        self.apply_batch(c, [logged])


def _by_key(row: tuple[Any, ...]) -> tuple[str, str]:
    """A `trail_subjects` row's primary key: (subject id, subject kind)."""
    return row[1], row[0]


def _recalls_first(event: Any) -> bool:
    """A task's first event reads the memo its draw's reveal left."""
    return type(event).__qualname__.startswith("Task.")


def _one_subject(memo: Memo) -> tuple[str, str] | None:
    """The subject of a memo that says only which one subject its aggregate is, else None."""
    if len(memo) != 1:
        return None
    subjects = memo.get("subjects")
    if type(subjects) is not list or len(subjects) != 1:
        return None
    first = subjects[0]
    if type(first) not in (list, tuple) or len(first) != 2:
        return None
    kind, ref = first
    return (kind, ref) if type(kind) is str and type(ref) is str else None


class _Memos:
    """What `describe` remembers per aggregate, for one batch: read once, written once (see the
    module's note on owners)."""

    def __init__(self, c: Cursor) -> None:
        self.c = c
        self.known: dict[str, Memo | None] = {}
        self.changed: dict[str, Memo] = {}
        self.when: dict[str, int] = {}  # seq of each changed memo's last change
        self.absent: set[str] = set()  # aggregates known to have no trail_memos row
        self.own: set[str] = set()  # last changed by their own aggregate's event
        self.fresh: set[str] = set()  # first event in this batch: owned no row before it

    def prefetch(self, ids: Iterable[str]) -> None:
        wanted = [i for i in dict.fromkeys(ids) if i not in self.known]
        if not wanted:
            return
        sql = "SELECT originator_id, memo FROM trail_memos WHERE originator_id {}"
        found: dict[str, Memo] = {}
        for oid, raw in select_in(self.c, sql, wanted):
            found[oid] = orjson.loads(raw)
        self.absent.update(i for i in wanted if i not in found)
        sql = (
            "SELECT originator_id, subject_kind, subject_id FROM trail_subjects "
            "WHERE originator_id {}"
        )
        for oid, kind, ref in select_in(self.c, sql, wanted):
            found[oid] = {"subjects": [[kind, ref]]}  # (never both: see flush)
        for i in wanted:
            self.known[i] = found.get(i)

    def get(self, originator_id: str) -> Memo | None:
        if originator_id not in self.known:
            self.prefetch([originator_id])
        return self.known[originator_id]

    def remember(self, logged: LoggedEvent, remembered: Mapping[str, Memo]) -> None:
        own = logged.aggregate_id
        for originator_id, memo in remembered.items():
            old = self.get(originator_id) if "replace" in memo else None
            self.known[originator_id] = self.changed[originator_id] = merge_memo(old, memo)
            self.when[originator_id] = logged.seq
            if originator_id == own:  # only an aggregate's own events make it an owner
                self.own.add(originator_id)
                if getattr(logged.event, "originator_version", 0) == 1:
                    self.fresh.add(originator_id)
            else:
                self.own.discard(originator_id)

    def flush(
        self, departments: Mapping[tuple[str, str], str]
    ) -> tuple[dict[tuple[str, str], str], set[tuple[str, str]]]:
        """Write the batch's memos; returns the owners of subject rows the batch writes
        (`departments`: those rows), and which of those owned subjects have no row yet."""
        owners: dict[tuple[str, str], str] = {}
        new: set[tuple[str, str]] = set()
        rows: dict[str, Memo] = {}
        # In the order of their last changes: of two claims on one subject the later wins, as
        # it would if each event were a batch of its own.
        for oid in sorted(self.changed, key=self.when.__getitem__):
            memo = self.changed[oid]
            subject = _one_subject(memo) if oid in self.own else None
            if subject is not None and subject in departments:
                before = owners.get(subject)
                if before is not None:
                    rows[before] = self.changed[before]
                owners[subject] = oid
            else:
                rows[oid] = memo
        c = self.c
        # Aggregates that may own a row from before and whose memo changed give it up.
        stale = [oid for oid in self.changed if oid not in self.fresh]
        execute_in(
            c, "UPDATE trail_subjects SET originator_id = NULL WHERE originator_id {}", stale
        )
        if owners:
            # A subject owned by another aggregate before: that one's memo gets a row.
            sql = (
                "SELECT t.subject_kind, t.subject_id, t.originator_id FROM {} AS v JOIN "
                "trail_subjects AS t ON t.subject_kind = v.column1 AND t.subject_id = v.column2"
            )
            found = select_in_pairs(c, sql, list(owners))
            new = set(owners).difference((kind, ref) for kind, ref, _ in found)
            for kind, ref, oid in found:
                if oid is not None and oid != owners[(kind, ref)]:
                    rows[oid] = {"subjects": [[kind, ref]]}
            # A memo row left from before an aggregate became an owner goes.
            dropped = [oid for oid in owners.values() if oid not in self.absent]
            execute_in(c, "DELETE FROM trail_memos WHERE originator_id {}", dropped)
        upsert_rows(
            c,
            "trail_memos",
            ("originator_id",),
            ("memo",),
            [(i, orjson.dumps(m).decode()) for i, m in rows.items()],
        )
        self.changed, self.when = {}, {}
        return owners, new


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
