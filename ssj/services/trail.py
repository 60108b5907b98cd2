"""Reading the audit trail (全程留痕): a subject's history, filtered, paged, with each row's
signature checked against the ledger as it is served.

Who may read: administrators, supervisors (纪检监察) and reviewers read every subject's trail;
other users read the trail of subjects of their own department (a subject's departments are
kept by the read model: a target's or inspector's responsible department, an item's or plan's
lead and cooperating departments, a draw's or task's departments, a user's department). Reading
is authorised as `READ_REGISTRY` for those departments, so a refusal is recorded like any other.

The read model is not trusted: for every row served, the envelope at its seq is read from the
ledger, its Ed25519 signature checked with the ledger's own verifier function against the key
ring (and the key's validity at that seq), the stored event's state and topic compared with what
the envelope seals, and the row's actor and time compared with the signed envelope. `ssj verify`
remains the check of the whole chain, Merkle tree and checkpoints.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from weakref import WeakKeyDictionary

from eventsourcing.persistence import Notification

from projections.trail import TrailFilters, subject_departments, trail_page
from ssj.domain.access import Command, Principal
from ssj.domain.trail import (
    BEIJING,
    INSPECTOR,
    ITEM,
    KIND_LABELS_ZH,
    KINDS,
    PLAN,
    SUBSCRIBER,
    TARGET,
    USER,
    Subject,
)
from ssj.domain.trail import beijing_time as beijing
from ssj.errors import NotFoundError, ValidationError
from ssj.ledger import note
from ssj.ledger.application import Ledger
from ssj.ledger.envelope import Envelope
from ssj.ledger.keyring import KEYRING_ID
from ssj.ledger.verify import verify_signatures
from ssj.metrics import count_verification_failures
from ssj.presentation import sheets
from ssj.services import draw_records
from ssj.services.base import Service

MAX_LIMIT = 1000
FORMATS = ("json", "csv", "xlsx")

SIGNATURE_LABELS_ZH = {
    "valid": "有效",
    "invalid": "签名无效",
    "unknown-key": "签名密钥不在密钥环中",
    "retired-key": "签名密钥已停用",
    "revoked-key": "签名密钥已吊销",
    "missing": "账本中无此记录",
    "altered": "事件内容与签名不符",
    "mismatch": "读模型与签名记录不符",
}
ROLE_LABELS_ZH = {
    "admin": "管理员",
    "operator": "操作员",
    "leader": "领导",
    "inspector": "执法人员",
    "supervisor": "纪检监察",
    "reviewer": "考核",
    "system": "系统",
    "public": "公众",
}
EXPORT_LABELS = {
    "seq": "账本序号",
    "time_beijing": "记录时间（北京时间）",
    "actor": "操作人",
    "role_zh": "角色",
    "department": "部门",
    "kind_zh": "事件",
    "kind": "事件类型",
    "summary": "摘要",
    "signature_zh": "签名状态",
    "recorded_at": "记录时间（UTC）",
}


# Input ------------------------------------------------------------------------------------------


def parse_kind(kind: str) -> str:
    value = (kind or "").strip().lower()
    if value not in KINDS:
        names = "、".join(f"{k}（{KIND_LABELS_ZH[k]}）" for k in KINDS)
        raise ValidationError(
            f"未知的对象种类“{kind}”：应为 {names}",
            f"unknown subject kind {kind!r}: one of {', '.join(KINDS)}",
        )
    return value


def resolve(kind: str, ref: str) -> Subject:
    """The subject as the read model keys it, from how officials name it."""
    kind = parse_kind(kind)
    ref = (ref or "").strip()
    if not ref:
        raise ValidationError("对象标识不能为空", "the subject's id must not be empty")
    if kind in (ITEM, PLAN):
        department, _, code = ref.partition("/")
        if not department.strip() or not code.strip():
            what = "抽查事项" if kind == ITEM else "抽查计划"
            raise ValidationError(
                f"{what}应写成 部门/编号（如 CZ-SJJ-TZ/TZ-001），实际为“{ref}”",
                f"a{'n item' if kind == ITEM else ' plan'} is DEPT/CODE, got {ref!r}",
            )
        return kind, f"{department.strip()}/{code.strip()}"
    if kind in (TARGET, INSPECTOR, USER, SUBSCRIBER):
        return kind, ref
    if kind == "draw":
        found = draw_records.resolve(ref)
        try:
            return kind, str(UUID(found))
        except ValueError:
            raise ValidationError(
                f"抽取应写成编号或 部门/计划编号/第N轮，实际为“{ref}”",
                f"a draw is its id or DEPT/PLAN/第N轮, got {ref!r}",
            ) from None
    from ssj.services.tasks import TaskService  # tasks import the draw services: kept lazy

    return kind, TaskService.resolve(ref)


def parse_time(field: str, value: str | None, upper: bool) -> str | None:
    """A bound on `recorded_at` as its UTC text. A date is a whole day in Beijing time (an
    upper bound takes the day's end); a time without an offset is Beijing time."""
    if value is None or not value.strip():
        return None
    raw = value.strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime(day.year, day.month, day.day, tzinfo=BEIJING)
            if upper:
                moment += timedelta(days=1) - timedelta(microseconds=1)
        else:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=BEIJING)
    except ValueError:
        raise ValidationError(
            f"{field}：日期或时间格式无效“{raw}”（应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM[:SS][时区]）",
            f"{field}: invalid date or time {raw!r} (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][offset])",
        ) from None
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _whole(field: str, value: int | None, low: int, high: int | None = None) -> int | None:
    if value is None:
        return None
    if value < low or (high is not None and value > high):
        zh = f"应在 {low}–{high} 之间" if high is not None else f"不能小于 {low}"
        en = f"must be {low}-{high}" if high is not None else f"must be at least {low}"
        raise ValidationError(f"{field} {zh}，实际为 {value}", f"{field} {en}, got {value}")
    return value


def make_filters(
    *,
    actor: str | None = None,
    department: str | None = None,
    since: str | None = None,
    until: str | None = None,
    from_seq: int | None = None,
    to_seq: int | None = None,
) -> TrailFilters:
    """Validated filters; bad input is a bilingual ValidationError."""
    start, end = parse_time("since", since, False), parse_time("until", until, True)
    if start is not None and end is not None and start > end:
        raise ValidationError(
            f"起始时间（{since}）晚于截止时间（{until}）",
            f"since ({since}) is after until ({until})",
        )
    _whole("from_seq", from_seq, 0)
    _whole("to_seq", to_seq, 0)
    if from_seq is not None and to_seq is not None and from_seq > to_seq:
        raise ValidationError(
            f"起始序号 {from_seq} 大于截止序号 {to_seq}",
            f"from_seq {from_seq} is after to_seq {to_seq}",
        )
    return TrailFilters(
        actor=(actor or "").strip() or None,
        department=(department or "").strip() or None,
        since=start,
        until=end,
        from_seq=from_seq,
        to_seq=to_seq,
    )


# Signatures -------------------------------------------------------------------------------------


Verifiers = tuple[dict[str, dict[str, Any]], dict[str, Any]]
_verifiers: WeakKeyDictionary[Ledger, tuple[tuple[tuple[int, int], ...], Verifiers]] = (
    WeakKeyDictionary()
)


def _key_table(ledger: Ledger) -> Verifiers:
    """The key ring by key id, and each key's public key: read again only when the key ring's
    events (versions and seqs, one query) differ from those last read by this process. Stored
    events never change, so the same events give the same keys."""
    events = tuple(ledger.ledger_recorder.select_seqs(KEYRING_ID))
    known = _verifiers.get(ledger)
    if known is not None and known[0] == events:
        return known[1]
    keys = {k["key_id"]: k for k in ledger.key_listing()}
    public = {k: note.parse_verifier_key(v["verifier_key"]).public_key for k, v in keys.items()}
    _verifiers[ledger] = (events, (keys, public))
    return keys, public


def _runs(values: Iterable[int]) -> Iterator[tuple[int, int, set[int]]]:
    """(lowest, highest, the values) of each run of nearby values: one query reads a run."""
    ordered = sorted(set(values))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] - ordered[j] <= 16 and j - i < 500:
            j += 1
        yield ordered[i], ordered[j], set(ordered[i : j + 1])
        i = j + 1


def _envelopes(ledger: Ledger, seqs: Sequence[int]) -> dict[int, tuple[int, bytes, bytes]]:
    """Envelope rows by seq, read in runs of nearby seqs."""
    found: dict[int, tuple[int, bytes, bytes]] = {}
    for lo, hi, wanted in _runs(seqs):
        for seq, nid, data, signature in ledger.ledger_recorder.select_envelopes(
            lo, hi - lo + 1, stop=hi + 1
        ):
            if seq in wanted:
                found[seq] = (nid, data, signature)
    return found


def _events(ledger: Ledger, nids: Iterable[int]) -> dict[int, Notification]:
    """Stored events by notification id, read in runs of nearby ids (not one query a row)."""
    found: dict[int, Notification] = {}
    for lo, hi, wanted in _runs(nids):
        for event in ledger.recorder.select_notifications(lo, hi - lo + 1, stop=hi):
            if event.id in wanted:
                found[event.id] = event
    return found


def signature_statuses(ledger: Ledger, rows: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    """Each row's status: its envelope's signature and key, the event it seals, and whether the
    read model says what the envelope says (see SIGNATURE_LABELS_ZH)."""
    if not rows:
        return {}
    keys, public = _key_table(ledger)
    stored = _envelopes(ledger, [int(r["seq"]) for r in rows])
    status: dict[int, str] = {}
    to_verify: list[tuple[int, str, bytes, bytes]] = []
    parsed: dict[int, tuple[int, Envelope]] = {}
    for row in rows:
        seq = int(row["seq"])
        if seq not in stored:
            status[seq] = "missing"
            continue
        nid, data, signature = stored[seq]
        try:
            envelope = Envelope.from_bytes(data)
        except (ValueError, KeyError, TypeError):
            status[seq] = "invalid"
            continue
        key = keys.get(envelope.key_id)
        if envelope.seq != seq or key is None or seq < key["valid_from_seq"]:
            status[seq] = "invalid" if envelope.seq != seq else "unknown-key"
            continue
        revoked = key["revoked_as_of_seq"]
        if revoked is not None and seq >= revoked:
            status[seq] = "revoked-key"
        elif key["valid_to_seq"] is not None and seq > key["valid_to_seq"]:
            status[seq] = "retired-key"
        to_verify.append((seq, envelope.key_id, data, signature))
        parsed[seq] = (nid, envelope)
    for seq in verify_signatures(public, to_verify, ledger.suite.name):
        status[seq] = "invalid"
    by_seq = {int(r["seq"]): r for r in rows}
    events = _events(ledger, (nid for seq, (nid, _) in parsed.items() if seq not in status))
    for seq, (nid, envelope) in parsed.items():
        if seq in status:
            continue
        status[seq] = _sealed_status(ledger, events.get(nid), envelope, by_seq[seq])
    count_verification_failures(sum(1 for v in status.values() if v != "valid"))
    return status


def _sealed_status(
    ledger: Ledger, event: Notification | None, envelope: Envelope, row: Mapping[str, Any]
) -> str:
    """`altered` if the stored event (None: none at its notification id) is not what the
    envelope seals; `mismatch` if the read model's row differs from the signed envelope; else
    `valid`."""
    if event is None:
        return "missing"
    if (
        str(event.originator_id) != envelope.originator_id
        or event.originator_version != envelope.originator_version
        or event.topic != envelope.topic
        or ledger.suite.digest(event.state) != envelope.state_digest
    ):
        return "altered"
    actor = envelope.actor
    if (
        (row["actor"], row["role"], row["department"]) != (actor.user, actor.role, actor.department)
        or row["recorded_at"] != envelope.recorded_at
        or not envelope.topic.endswith(":" + row["kind"])
    ):
        return "mismatch"
    return "valid"


# The service ------------------------------------------------------------------------------------


class TrailService(Service):
    def subject(self, principal: Principal, kind: str, ref: str) -> tuple[Subject, list[str]]:
        """The subject and its departments, once the principal may read its trail."""
        subject = resolve(kind, ref)
        self.s.refresh()
        departments = subject_departments(self.s.store, subject)
        if departments is None:
            raise NotFoundError(
                f"{KIND_LABELS_ZH[subject[0]]} {ref} 在账本中没有记录",
                f"no {subject[0]} {ref} in the ledger",
            )
        if departments:
            self.s.authorise(principal, Command.READ_REGISTRY, list(departments))
        else:  # belongs to no department: only those who read everything
            self.s.authorise(principal, Command.READ_ALL)
        return subject, list(departments)

    def page(
        self,
        principal: Principal,
        kind: str,
        ref: str,
        filters: TrailFilters | None = None,
        *,
        offset: int = 0,
        limit: int | None = 100,
        check: bool = True,
    ) -> dict[str, Any]:
        """One page of the subject's trail in seq order, each row's signature checked.
        `limit=None` gives every matching row (exports)."""
        _whole("offset", offset, 0)
        _whole("limit", limit, 1, MAX_LIMIT)
        filters = filters or TrailFilters()
        subject, departments = self.subject(principal, kind, ref)
        total, rows = trail_page(self.s.store, subject, filters, offset=offset, limit=limit)
        statuses = signature_statuses(self.s.ledger, rows) if check else {}
        for row in rows:
            row["time_beijing"] = beijing(row["recorded_at"])
            row["role_zh"] = ROLE_LABELS_ZH.get(row["role"], row["role"])
            if check:
                row["signature"] = statuses[int(row["seq"])]
                row["signature_zh"] = SIGNATURE_LABELS_ZH[row["signature"]]
        return {
            "subject": {
                "kind": subject[0],
                "kind_zh": KIND_LABELS_ZH[subject[0]],
                "id": subject[1],
                "departments": departments,
            },
            "total": total,
            "offset": offset,
            "limit": limit,
            "as_of": self.s.runner.seq("trail"),
            "items": rows,
        }

    def export(
        self,
        principal: Principal,
        kind: str,
        ref: str,
        filters: TrailFilters | None = None,
        fmt: str = "csv",
    ) -> bytes:
        """Every matching row as CSV (UTF-8 with BOM) or XLSX, with Chinese headers."""
        if fmt not in ("csv", "xlsx"):
            raise ValidationError(
                f"不支持的导出格式“{fmt}”：应为 csv 或 xlsx", f"unknown format {fmt!r}: csv or xlsx"
            )
        found = self.page(principal, kind, ref, filters, limit=None)
        return render(export_rows(found["items"]), fmt)


# Exports ----------------------------------------------------------------------------------------


def export_rows(rows: Iterable[Mapping[str, Any]]) -> Iterator[list[Any]]:
    yield list(EXPORT_LABELS.values())
    for row in rows:
        values: list[Any] = []
        for name in EXPORT_LABELS:
            value = row.get(name)
            if name == "signature_zh" and value is not None:
                value = f"{value} {row['signature']}"
            values.append(value)
        yield values


def render(rows: Iterable[list[Any]], fmt: str) -> bytes:
    """The trail's sheet (全程留痕) as XLSX or CSV, by the one presentation layer."""
    return sheets.render(rows, fmt, "全程留痕")
