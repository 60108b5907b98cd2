"""The delivery outbox (归集) as a read model: which records exist, which platform is to get
each, and what became of every delivery — all derived from the ledger in seq order.

- `delivery_records`: one row per record, at the seq of the event it comes from (a result
  published or withheld; a penalty case published, corrected after publication, or revoked after
  publication), with the departments that decide who gets it (a result: the task's
  departments; a penalty: its 处罚机关). What a record says is built from the read models as of
  that seq when it is sent (`ssj.services.delivery`), so it is the same every time.
- `delivery_subscribers`: the receiving platforms as registered, paused, resumed, removed.
- `delivery_outbox`: one row per (platform, record): pending (with its tries and when the next
  is due), delivered (when, the receiver's reference, the report's seq), dead (dead-lettered
  after the platform's number of tries), or cancelled (the platform was removed).

A crash cannot lose or double a record: the outbox is rebuilt from the ledger like every read
model, and a delivery counts once its acknowledgement is in the ledger (a record sent but not yet
acknowledged there is sent again, with the same idempotency key).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from projections.store import Cursor, ViewStore, insert_rows, select_in
from projections.versioned import at_seq_clause
from ssj.domain.followup import FollowUp
from ssj.domain.records import Action
from ssj.domain.subscribers import DeliveryReport, Outcome, RecordKind, Subscriber, SubscriberStatus
from ssj.domain.tasks import Task
from ssj.ledger.application import LoggedEvent

PENDING, DELIVERED, DEAD, CANCELLED = "pending", "delivered", "dead", "cancelled"
STATUS_LABELS_ZH = {
    PENDING: "待推送",
    DELIVERED: "已送达",
    DEAD: "死信（多次失败）",
    CANCELLED: "已取消（平台已移除）",
}
RECORD_COLUMNS = (
    "seq",
    "kind",
    "action",
    "task_id",
    "identifier",
    "case_index",
    "corrects",
    "departments",
    "recorded_at",
    "detail",
)
OUTBOX_COLUMNS = (
    "subscriber",
    "seq",
    "kind",
    "status",
    "tries",
    "next_at",
    "last_error",
    "last_status",
    "delivered_at",
    "reference",
    "report_seq",
)


def _as_of(c: Cursor, table: str, key: str, value: str, seq: int) -> dict[str, Any] | None:
    where, params = at_seq_clause(seq)
    c.execute(f"SELECT state FROM {table} WHERE {key} = ? AND {where}", [value, *params])
    row = c.fetchone()
    return None if row is None else orjson.loads(row[0])


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class DeliveryProjection:
    name = "delivery"
    version = 1

    def create(self, c: Cursor) -> None:
        c.execute(
            "CREATE TABLE IF NOT EXISTS delivery_records (seq BIGINT PRIMARY KEY, kind TEXT NOT "
            "NULL, action TEXT NOT NULL, task_id TEXT NOT NULL, identifier TEXT NOT NULL, "
            "case_index BIGINT, corrects BIGINT, departments TEXT NOT NULL, recorded_at TEXT NOT "
            "NULL, detail TEXT NOT NULL)"
        )
        c.execute(
            "CREATE INDEX IF NOT EXISTS delivery_records_kind ON delivery_records (kind, seq)"
        )
        c.execute(
            "CREATE TABLE IF NOT EXISTS delivery_subscribers (name TEXT PRIMARY KEY, "
            "subscriber_id TEXT NOT NULL UNIQUE, registered_seq BIGINT NOT NULL, state TEXT NOT "
            "NULL)"
        )
        c.execute(
            "CREATE TABLE IF NOT EXISTS delivery_outbox (subscriber TEXT NOT NULL, seq BIGINT NOT "
            "NULL, kind TEXT NOT NULL, status TEXT NOT NULL, tries BIGINT NOT NULL, next_at TEXT, "
            "last_error TEXT, last_status BIGINT, delivered_at TEXT, reference TEXT, report_seq "
            "BIGINT, PRIMARY KEY (subscriber, seq))"
        )
        c.execute(
            "CREATE INDEX IF NOT EXISTS delivery_outbox_status ON delivery_outbox "
            "(subscriber, status, seq)"
        )
        c.execute("CREATE INDEX IF NOT EXISTS delivery_outbox_seq ON delivery_outbox (seq)")

    def drop(self, c: Cursor) -> None:
        for table in ("delivery_records", "delivery_subscribers", "delivery_outbox"):
            c.execute(f"DROP TABLE IF EXISTS {table}")

    def apply_batch(self, c: Cursor, events: Sequence[LoggedEvent]) -> None:
        """Records and their outbox rows are held and written together; a platform or a
        delivery report (rare) first writes what is held, since it reads or updates it."""
        b = _Batch(c)
        mine = [e for e in events if _handles(type(e.event))]  # most events are none of these
        b.prefetch_tasks(
            str(e.event.originator_id)
            for e in mine
            if isinstance(e.event, Task.Published | Task.Withheld)
        )
        for logged in mine:
            e = logged.event
            if isinstance(e, Task.Published):
                self._task_record(b, logged, Action.PUBLISH, {})
            elif isinstance(e, Task.Withheld):
                detail = {"until_final": bool(e.until_final)}
                self._task_record(b, logged, Action.WITHDRAW, detail)
            elif isinstance(
                e,
                FollowUp.CasePublished | FollowUp.CaseCorrected | FollowUp.CaseRevoked,
            ):
                self._case_record(b, logged)
            elif isinstance(e, Subscriber.Event):
                b.flush()
                self._subscriber(c, logged)
                b.subscribers = None
            elif isinstance(e, DeliveryReport.Recorded):
                b.flush()
                self._report(c, logged)
        b.flush()

    def apply(self, c: Cursor, logged: LoggedEvent) -> None:
        self.apply_batch(c, [logged])

    # Records -----------------------------------------------------------------------------------

    def _task_record(
        self, b: _Batch, logged: LoggedEvent, action: Action, detail: dict[str, Any]
    ) -> None:
        task_id = str(logged.event.originator_id)
        task = b.task_as_of(task_id, logged.seq)
        if task is None:  # never expected: a task's row exists from its draw's reveal
            return
        identifier, departments = task
        self._record(
            b,
            logged,
            kind=RecordKind.RESULTS,
            action=action,
            task_id=task_id,
            identifier=identifier,
            case_index=None,
            corrects=None,
            departments=departments,
            detail=detail,
        )

    def _case_record(self, b: _Batch, logged: LoggedEvent) -> None:
        e = logged.event
        row = _as_of(b.c, "followups", "aggregate_id", str(e.originator_id), logged.seq)
        if row is None:
            return
        case = row["cases"][e.case - 1]
        if isinstance(e, FollowUp.CasePublished):
            action, corrects, detail = Action.PUBLISH, None, {}
        elif not case.get("published_seq"):
            return  # corrected or revoked before publication: nothing went out to correct
        elif isinstance(e, FollowUp.CaseCorrected):
            action, corrects = Action.CORRECT, case["published_seq"]
            detail = {"reason": e.reason, "on": e.on}
        else:
            action, corrects = Action.WITHDRAW, case["published_seq"]
            detail = {"reason": e.reason, "on": e.on}
        self._record(
            b,
            logged,
            kind=RecordKind.PENALTIES,
            action=action,
            task_id=row["task_id"],
            identifier=row["identifier"],
            case_index=e.case,
            corrects=corrects,
            departments=[case.get("authority") or row["departments"][0]],
            detail=detail,
        )

    def _record(
        self,
        b: _Batch,
        logged: LoggedEvent,
        *,
        kind: RecordKind,
        action: Action,
        task_id: str,
        identifier: str,
        case_index: int | None,
        corrects: int | None,
        departments: list[str],
        detail: dict[str, Any],
    ) -> None:
        b.records.append(
            (
                logged.seq,
                kind.value,
                action.value,
                task_id,
                identifier,
                case_index,
                corrects,
                _dumps(departments),
                logged.recorded_at,
                _dumps(detail),
            )
        )
        for state in b.subscriber_states():
            if _takes(state, kind.value, departments, logged.seq):
                b.outbox.append((state["name"], logged.seq, kind.value, PENDING, 0))

    # Subscribers -------------------------------------------------------------------------------

    def _subscriber(self, c: Cursor, logged: LoggedEvent) -> None:
        e = logged.event
        oid = str(e.originator_id)
        if isinstance(e, Subscriber.Registered):
            state = {
                "name": e.name,
                "endpoint": e.endpoint,
                "kinds": e.kinds,
                "departments": e.departments,
                "auth": e.auth,
                "from_seq": e.from_seq,
                "max_tries": e.max_tries,
                "batch": e.batch,
                "full_ids": e.full_ids,
                "legal_basis": e.legal_basis,
                "status": SubscriberStatus.ACTIVE.value,
                "registered_seq": logged.seq,
                "registered_at": logged.recorded_at,
                "changed_seq": logged.seq,
            }
            c.execute(
                "INSERT INTO delivery_subscribers (name, subscriber_id, registered_seq, state) "
                "VALUES (?, ?, ?, ?)",
                (e.name, oid, logged.seq, _dumps(state)),
            )
            c.execute(
                f"SELECT {', '.join(RECORD_COLUMNS)} FROM delivery_records WHERE seq >= ?",
                (e.from_seq,),
            )
            backlog = [dict(zip(RECORD_COLUMNS, r, strict=True)) for r in c.fetchall()]
            _enqueue(
                c,
                e.name,
                [
                    (r["seq"], r["kind"])
                    for r in backlog
                    if _takes(state, r["kind"], orjson.loads(r["departments"]), int(r["seq"]))
                ],
            )
            return
        c.execute("SELECT name, state FROM delivery_subscribers WHERE subscriber_id = ?", (oid,))
        found = c.fetchone()
        if found is None:
            return
        name, state = found[0], orjson.loads(found[1])
        match e:
            case Subscriber.Updated():
                state.update(e.changes)
            case Subscriber.Paused():
                state["status"] = SubscriberStatus.PAUSED.value
            case Subscriber.Resumed():
                state["status"] = SubscriberStatus.ACTIVE.value
            case Subscriber.Removed():
                state["status"] = SubscriberStatus.REMOVED.value
                c.execute(
                    "UPDATE delivery_outbox SET status = ? WHERE subscriber = ? AND status IN "
                    "(?, ?)",
                    (CANCELLED, name, PENDING, DEAD),
                )
            case Subscriber.Retried():
                seqs = [int(s) for s in e.seqs]
                sql = (
                    "UPDATE delivery_outbox SET status = ?, tries = 0, next_at = NULL WHERE "
                    "subscriber = ? AND status = ?"
                )
                params: list[Any] = [PENDING, name, DEAD]
                if seqs:
                    sql += f" AND seq IN ({', '.join('?' * len(seqs))})"
                    params += seqs
                c.execute(sql, params)
            case _:
                return
        state["changed_seq"] = logged.seq
        c.execute("UPDATE delivery_subscribers SET state = ? WHERE name = ?", (_dumps(state), name))

    # Acknowledgements and failures -------------------------------------------------------------

    def _report(self, c: Cursor, logged: LoggedEvent) -> None:
        """Each outcome updates its outbox row as if applied in the report's order (a record
        may fail and then be delivered in one turn): a record's last delivery wins over any
        failure, and a record never delivered takes its last failure, dead if one of them
        dead-lettered it. So a report is two executemany runs (one pipelined round trip each
        on PostgreSQL) however its outcomes alternate, not one per change of outcome."""
        e = logged.event
        delivered: dict[int, tuple[Any, ...]] = {}
        failed: dict[int, tuple[Any, ...]] = {}
        dead: set[int] = set()  # records a failure of this report dead-lettered
        for outcome in e.outcomes:
            seq = int(outcome["seq"])
            common = (outcome.get("status"), seq, e.subscriber)
            kind = outcome["outcome"]
            if kind == Outcome.DELIVERED:
                delivered[seq] = (
                    DELIVERED,
                    outcome["try"],
                    outcome["at"],
                    outcome.get("reference") or "",
                    logged.seq,
                    *common,
                )
                continue
            if kind == Outcome.DEAD_LETTER:
                dead.add(seq)
            failed[seq] = (
                PENDING,
                DEAD if seq in dead else PENDING,
                outcome["try"],
                outcome.get("next_at"),
                outcome.get("error") or "",
                logged.seq,
                *common,
                DELIVERED,
            )
        _flush(c, SET_DELIVERED, list(delivered.values()))
        _flush(c, SET_FAILED, [row for seq, row in failed.items() if seq not in delivered])


SET_DELIVERED = (
    "UPDATE delivery_outbox SET status = ?, tries = ?, delivered_at = ?, reference = ?, "
    "report_seq = ?, next_at = NULL, last_error = NULL, last_status = ? WHERE seq = ? AND "
    "subscriber = ?"
)
SET_FAILED = (
    "UPDATE delivery_outbox SET status = CASE WHEN status = ? THEN ? ELSE status END, tries = ?, "
    "next_at = ?, last_error = ?, report_seq = ?, last_status = ? WHERE seq = ? AND subscriber = ? "
    "AND status <> ?"
)


def _flush(c: Cursor, sql: str, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        c.executemany(sql, rows)


class _Batch:
    """One batch's delivery records and outbox rows, held until written; the platforms as
    registered (read once); the published tasks' identifiers and departments, by version."""

    def __init__(self, c: Cursor) -> None:
        self.c = c
        self.records: list[tuple[Any, ...]] = []
        self.outbox: list[tuple[Any, ...]] = []
        self.subscribers: list[dict[str, Any]] | None = None
        self.tasks: dict[str, list[tuple[int, int | None, str, list[str]]]] = {}

    def subscriber_states(self) -> list[dict[str, Any]]:
        if self.subscribers is None:
            self.c.execute("SELECT state FROM delivery_subscribers")
            self.subscribers = [orjson.loads(raw) for (raw,) in self.c.fetchall()]
        return self.subscribers

    def prefetch_tasks(self, ids: Iterable[str]) -> None:
        wanted = [i for i in dict.fromkeys(ids) if i not in self.tasks]
        sql = (
            "SELECT task_id, from_seq, to_seq, identifier, departments FROM tasks WHERE task_id {}"
        )
        rows = select_in(self.c, sql, wanted)
        for i in wanted:
            self.tasks[i] = []
        for task_id, from_seq, to_seq, identifier, departments in rows:
            found = (int(from_seq), to_seq, identifier, list(orjson.loads(departments)))
            self.tasks[task_id].append(found)

    def task_as_of(self, task_id: str, seq: int) -> tuple[str, list[str]] | None:
        """(identifier, departments) of the task's version valid at `seq`."""
        self.prefetch_tasks([task_id])
        for from_seq, to_seq, identifier, departments in self.tasks[task_id]:
            if from_seq <= seq and (to_seq is None or int(to_seq) > seq):
                return identifier, departments
        return None

    def flush(self) -> None:
        insert_rows(self.c, "delivery_records", RECORD_COLUMNS, self.records)
        columns = ("subscriber", "seq", "kind", "status", "tries")
        insert_rows(self.c, "delivery_outbox", columns, self.outbox)
        self.records, self.outbox = [], []


_HANDLED = (
    Task.Published,
    Task.Withheld,
    FollowUp.CasePublished,
    FollowUp.CaseCorrected,
    FollowUp.CaseRevoked,
    Subscriber.Event,
    DeliveryReport.Recorded,
)
_HANDLES: dict[type, bool] = {}


def _handles(cls: type) -> bool:
    """Whether the outbox looks at events of `cls`, worked out once per class."""
    found = _HANDLES.get(cls)
    if found is None:
        found = _HANDLES[cls] = issubclass(cls, _HANDLED)
    return found


def _takes(state: dict[str, Any], kind: str, departments: Sequence[str], seq: int) -> bool:
    """Whether a platform gets a record: its kind, one of its departments (or all), from its
    starting seq, and not removed."""
    return (
        state["status"] != SubscriberStatus.REMOVED.value
        and kind in state["kinds"]
        and seq >= int(state["from_seq"])
        and (not state["departments"] or bool(set(state["departments"]) & set(departments)))
    )


def _enqueue(c: Cursor, subscriber: str, records: Iterable[tuple[int, str]]) -> None:
    rows = [(subscriber, seq, kind, PENDING, 0) for seq, kind in records]
    insert_rows(c, "delivery_outbox", ("subscriber", "seq", "kind", "status", "tries"), rows)


# Reading ---------------------------------------------------------------------------------------


def subscriber_rows(store: ViewStore) -> list[dict[str, Any]]:
    rows = store.query("SELECT state FROM delivery_subscribers ORDER BY registered_seq")
    return [orjson.loads(r[0]) for r in rows]


def subscriber_row(store: ViewStore, name: str) -> dict[str, Any] | None:
    rows = store.query("SELECT state FROM delivery_subscribers WHERE name = ?", (name,))
    return orjson.loads(rows[0][0]) if rows else None


def queue_head(
    store: ViewStore, subscriber: str, limit: int, *, after: int = -1
) -> list[dict[str, Any]]:
    """A platform's undelivered records in seq order (pending, and dead ones that block),
    after seq `after`."""
    rows = store.query(
        f"SELECT {', '.join(OUTBOX_COLUMNS)} FROM delivery_outbox WHERE subscriber = ? AND "
        "status IN (?, ?) AND seq > ? ORDER BY seq LIMIT ?",
        (subscriber, PENDING, DEAD, after, limit),
    )
    return [dict(zip(OUTBOX_COLUMNS, r, strict=True)) for r in rows]


def outbox_rows(
    store: ViewStore,
    *,
    subscriber: str | None = None,
    statuses: Sequence[str] = (),
    kind: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """(total, page) of outbox rows, in (platform, seq) order."""
    clauses: list[str] = ["1 = 1"]
    params: list[object] = []
    if subscriber is not None:
        clauses.append("subscriber = ?")
        params.append(subscriber)
    if statuses:
        clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
        params.extend(statuses)
    if kind is not None:
        clauses.append("kind = ?")
        params.append(kind)
    where = " AND ".join(clauses)
    with store.transaction() as c:
        c.execute(f"SELECT count(*) FROM delivery_outbox WHERE {where}", params)
        total = int(c.fetchone()[0])
        sql = f"SELECT {', '.join(OUTBOX_COLUMNS)} FROM delivery_outbox WHERE {where} ORDER BY "
        sql += "subscriber, seq"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params = [*params, limit, offset]
        c.execute(sql, params)
        rows = [dict(zip(OUTBOX_COLUMNS, r, strict=True)) for r in c.fetchall()]
    return total, rows


def counts(store: ViewStore) -> dict[str, dict[str, int]]:
    """Outbox rows per platform and status."""
    found: dict[str, dict[str, int]] = {}
    for name, status, n in store.query(
        "SELECT subscriber, status, count(*) FROM delivery_outbox GROUP BY subscriber, status"
    ):
        found.setdefault(name, {})[status] = int(n)
    return found


def record_rows(
    store: ViewStore,
    *,
    seqs: Iterable[int] | None = None,
    kind: str | None = None,
    after_seq: int = -1,
    until_seq: int | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Records by seq, or of a kind after a seq (in seq order)."""
    clauses: list[str] = ["seq > ?"]
    params: list[object] = [after_seq]
    if seqs is not None:
        wanted = sorted(set(seqs))
        if not wanted:
            return []
        clauses.append(f"seq IN ({', '.join('?' * len(wanted))})")
        params.extend(wanted)
    if kind is not None:
        clauses.append("kind = ?")
        params.append(kind)
    if until_seq is not None:
        clauses.append("seq <= ?")
        params.append(until_seq)
    sql = f"SELECT {', '.join(RECORD_COLUMNS)} FROM delivery_records WHERE "
    sql += " AND ".join(clauses) + " ORDER BY seq"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    rows = []
    for r in store.query(sql, params):
        row = dict(zip(RECORD_COLUMNS, r, strict=True))
        row["departments"] = orjson.loads(row["departments"])
        row["detail"] = orjson.loads(row["detail"])
        rows.append(row)
    return rows
