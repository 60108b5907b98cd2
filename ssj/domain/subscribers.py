"""Delivery (归集) to the credit platforms: who receives which records, and what became of each
delivery. No I/O.

- A `Subscriber` is a receiving platform an administrator registers (信用网, 公示系统,
  互联网+监管, a 前置机): its name, its endpoint (http or https only), the record kinds it takes
  (`RecordKind`), the departments whose records it gets (none named: every department), how ssj
  authenticates to it (an HMAC shared secret, kept in a file outside the ledger: the ledger holds
  only its SHA-256; or mutual TLS with certificate paths; or nothing beyond the records' own
  signatures), after how many failed tries a record is dead-lettered, how many records one
  request carries (1: structured mode; more: the HTTP binding's batched mode), and from which
  ledger seq its records start. Pausing keeps its records pending; removing cancels what is still
  pending for it. A manual retry puts dead-lettered records back in its queue. Every change is an
  event.
- A `DeliveryReport` is what the delivery worker saw, saved in the ledger in batches: for each
  attempt, the record's seq, the try number, and the outcome — delivered (HTTP 2xx, with the
  receiver's reference), failed (with the status or error and when the next try is due), or
  dead-lettered. Acknowledgements are therefore ledger events: the 20- and 7-working-day
  deadlines are measured to delivery, and a platform's silence is on the record too.
- `backoff`: exponential, capped, with jitter (the random draw is an input).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from ssj.domain import fields, trail
from ssj.errors import ConflictError

SUBSCRIBER_NAMESPACE = uuid5(NAMESPACE_URL, "urn:ssj:subscriber")
DEFAULT_MAX_TRIES = 10
MAX_TRIES_LIMIT = 100
MAX_BATCH = 1000
_NAME_FORBIDDEN = re.compile(r"[\s/\\?#%]")


class RecordKind(StrEnum):
    """What goes out: inspection results (检查结果) and penalty decisions (行政处罚)."""

    RESULTS = "results"
    PENALTIES = "penalties"


RECORD_KIND_LABELS_ZH = {RecordKind.RESULTS: "检查结果", RecordKind.PENALTIES: "行政处罚"}
RECORD_KIND_LABELS = {zh: kind for kind, zh in RECORD_KIND_LABELS_ZH.items()}


class AuthMethod(StrEnum):
    HMAC = "hmac"
    MTLS = "mtls"
    NONE = "none"


AUTH_LABELS_ZH = {
    AuthMethod.HMAC: "HMAC 共享密钥",
    AuthMethod.MTLS: "双向 TLS",
    AuthMethod.NONE: "无",
}


class SubscriberStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    REMOVED = "removed"


SUBSCRIBER_STATUS_LABELS_ZH = {
    SubscriberStatus.ACTIVE: "接收中",
    SubscriberStatus.PAUSED: "已暂停",
    SubscriberStatus.REMOVED: "已移除",
}


class Outcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD_LETTER = "dead_letter"


OUTCOME_LABELS_ZH = {
    Outcome.DELIVERED: "已送达",
    Outcome.FAILED: "发送失败（待重试）",
    Outcome.DEAD_LETTER: "多次失败，转入死信",
}

EVENT_LABELS_ZH = {
    "Registered": "登记接收平台",
    "Updated": "修改接收平台",
    "Paused": "暂停推送",
    "Resumed": "恢复推送",
    "Removed": "移除接收平台",
    "Retried": "死信重新推送",
}
FIELD_LABELS = {
    "name": "平台名称",
    "endpoint": "接收地址",
    "kinds": "记录种类",
    "departments": "部门",
    "auth": "认证方式",
    "max_tries": "最多尝试次数",
    "batch": "每次请求条数",
    "from_seq": "起始账本序号",
    "full_ids": "报送完整身份证号码",
    "legal_basis": "报送完整身份证号码的法律依据",
    "status": "状态",
}


def subscriber_id(name: str) -> UUID:
    return uuid5(SUBSCRIBER_NAMESPACE, name)


def parse_name(value: object) -> str:
    """A platform's name, as officials call it (信用常州): no spaces or URL separators."""
    name = fields.text("name", value, max_length=64)
    if _NAME_FORBIDDEN.search(name):
        raise fields.FieldError(
            "name",
            f"平台名称不能含空白或 / \\ ? # %，实际为“{name}”",
            f"a name must not contain whitespace or / \\ ? # %, got {name!r}",
        )
    return name


def parse_endpoint(value: object) -> str:
    """An absolute http or https URL, without credentials (they would land in the ledger)."""
    raw = unicodedata.normalize("NFC", fields.text("endpoint", value, max_length=2000))
    try:
        parts = urlsplit(raw)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        host, parts = None, None
    if parts is None or parts.scheme not in ("http", "https"):
        raise fields.FieldError(
            "endpoint",
            f"接收地址必须是 http:// 或 https:// 开头的网址，实际为“{raw}”",
            f"the endpoint must be an http:// or https:// URL, got {raw!r}",
        )
    if not host:
        raise fields.FieldError(
            "endpoint", f"接收地址缺少主机名：“{raw}”", f"the endpoint has no host: {raw!r}"
        )
    if parts.username or parts.password:
        raise fields.FieldError(
            "endpoint",
            "接收地址不能含用户名或密码（会写入账本）：请改用 HMAC 密钥或双向 TLS",
            "the endpoint must not carry credentials (they would be written to the ledger): "
            "use an HMAC secret or mutual TLS",
        )
    if parts.fragment:
        raise fields.FieldError("endpoint", "接收地址不能含 # 片段", "no #fragment in an endpoint")
    return raw


def parse_kinds(values: Iterable[object] | str | None) -> list[str]:
    """Record kinds by code or Chinese name; at least one; order of the enum."""
    raw = fields.text_list("kinds", values)
    if not raw:
        raise fields.FieldError(
            "kinds",
            "至少指定一种记录（results 检查结果、penalties 行政处罚）",
            "name at least one record kind (results, penalties)",
        )
    chosen = {fields.choice("kinds", v, RecordKind, RECORD_KIND_LABELS) for v in raw}
    return [k.value for k in RecordKind if k in chosen]


def parse_auth(method: object, settings: Mapping[str, object]) -> dict[str, str]:
    """How ssj authenticates to the platform, as the ledger records it (never a secret)."""
    chosen = fields.choice("auth", method or "none", AuthMethod)
    if chosen is AuthMethod.HMAC:
        digest = fields.text("secret_sha256", settings.get("secret_sha256"), max_length=64)
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise fields.FieldError("secret_sha256", "应为 64 位十六进制", "must be 64 hex digits")
        return {"method": chosen.value, "secret_sha256": digest}
    if chosen is AuthMethod.MTLS:
        return {
            "method": chosen.value,
            "cert": fields.text("cert", settings.get("cert"), max_length=1000),
            "key": fields.text("key", settings.get("key"), max_length=1000),
            "ca": fields.text("ca", settings.get("ca"), required=False, max_length=1000),
        }
    return {"method": chosen.value}


def parse_settings(values: Mapping[str, object]) -> dict[str, Any]:
    """Delivery settings: tries before dead-lettering, records per request, full identity
    numbers (only with a legal basis)."""
    found: dict[str, Any] = {}
    if "max_tries" in values:
        found["max_tries"] = fields.whole(
            "max_tries", values["max_tries"], 1, MAX_TRIES_LIMIT, DEFAULT_MAX_TRIES
        )
    if "batch" in values:
        found["batch"] = fields.whole("batch", values["batch"], 1, MAX_BATCH, 1)
    if "full_ids" in values:
        full = bool(values["full_ids"])
        basis = fields.text("legal_basis", values.get("legal_basis"), required=full, max_length=500)
        found["full_ids"] = full
        found["legal_basis"] = basis if full else ""
    return found


def backoff(tries: int, base: float, cap: float, draw: float) -> float:
    """Seconds to wait after the `tries`-th failure: base·2^(tries−1), at most `cap`, half of it
    fixed and half drawn (`draw` in [0, 1)), so retries spread out but still grow."""
    if base <= 0:
        return 0.0
    delay = min(cap, base * 2.0 ** max(0, tries - 1))
    return delay / 2 + draw * delay / 2


class Subscriber(Aggregate):
    """A receiving platform."""

    @staticmethod
    def create_id(name: str, **_: Any) -> UUID:
        return subscriber_id(name)

    @classmethod
    def register(
        cls,
        *,
        name: object,
        endpoint: object,
        kinds: Iterable[object] | str | None,
        departments: list[str],
        auth: dict[str, str],
        from_seq: int,
        settings: Mapping[str, object],
    ) -> Subscriber:
        chosen = parse_settings(
            {"max_tries": None, "batch": None, "full_ids": False, **dict(settings)}
        )
        endpoint_url = parse_endpoint(endpoint)
        if chosen["full_ids"] and not endpoint_url.startswith("https://"):
            raise fields.FieldError(
                "full_ids",
                "完整身份证号码只能通过 https 报送",
                "full identity numbers are sent over https only",
            )
        return cls(
            name=parse_name(name),
            endpoint=endpoint_url,
            kinds=parse_kinds(kinds),
            departments=sorted(set(departments)),
            auth=auth,
            from_seq=from_seq,
            **chosen,
        )

    class Registered(Aggregate.Created):
        name: str
        endpoint: str
        kinds: list[str]
        departments: list[str]
        auth: dict[str, str]
        from_seq: int
        max_tries: int
        batch: int
        full_ids: bool
        legal_basis: str

    @event(Registered)
    def __init__(
        self,
        name: str,
        endpoint: str,
        kinds: list[str],
        departments: list[str],
        auth: dict[str, str],
        from_seq: int,
        max_tries: int,
        batch: int,
        full_ids: bool,
        legal_basis: str,
    ) -> None:
        self.name = name
        self.endpoint = endpoint
        self.kinds = kinds
        self.departments = departments
        self.auth = auth
        self.from_seq = from_seq
        self.max_tries = max_tries
        self.batch = batch
        self.full_ids = full_ids
        self.legal_basis = legal_basis
        self.status = SubscriberStatus.ACTIVE

    def _require_present(self, doing_zh: str, doing_en: str) -> None:
        if self.status is SubscriberStatus.REMOVED:
            raise ConflictError(
                f"接收平台 {self.name} 已移除，不能{doing_zh}",
                f"subscriber {self.name} was removed: cannot {doing_en}",
            )

    def update(
        self,
        *,
        endpoint: object = None,
        auth: dict[str, str] | None = None,
        settings: Mapping[str, object] | None = None,
        reason: object,
    ) -> bool:
        """Change the endpoint, the authentication or the delivery settings; False (nothing
        recorded) when nothing changes. Kinds and departments stay: register anew for others."""
        self._require_present("修改", "update it")
        changes: dict[str, Any] = {}
        if endpoint is not None and str(endpoint).strip():
            url = parse_endpoint(endpoint)
            if url != self.endpoint:
                changes["endpoint"] = url
        if auth is not None and auth != self.auth:
            changes["auth"] = auth
        for name, value in parse_settings(settings or {}).items():
            if getattr(self, name) != value:
                changes[name] = value
        full = changes.get("full_ids", self.full_ids)
        if full and not str(changes.get("endpoint", self.endpoint)).startswith("https://"):
            raise fields.FieldError(
                "full_ids",
                "完整身份证号码只能通过 https 报送",
                "full identity numbers are sent over https only",
            )
        if not changes:
            return False
        self._updated(changes=changes, reason=fields.text("reason", reason, max_length=500))
        return True

    class Updated(Aggregate.Event):
        changes: dict[str, Any]
        reason: str

    @event(Updated)
    def _updated(self, changes: dict[str, Any], reason: str) -> None:
        for name, value in changes.items():
            setattr(self, name, value)

    def pause(self, reason: object) -> None:
        self._require_present("暂停", "pause it")
        if self.status is SubscriberStatus.PAUSED:
            raise ConflictError(f"接收平台 {self.name} 已暂停", f"{self.name} is already paused")
        self._paused(reason=fields.text("reason", reason, max_length=500))

    class Paused(Aggregate.Event):
        reason: str

    @event(Paused)
    def _paused(self, reason: str) -> None:
        self.status = SubscriberStatus.PAUSED

    def resume(self, reason: object) -> None:
        self._require_present("恢复", "resume it")
        if self.status is not SubscriberStatus.PAUSED:
            raise ConflictError(
                f"接收平台 {self.name} 未暂停", f"{self.name} is not paused: nothing to resume"
            )
        self._resumed(reason=fields.text("reason", reason, required=False, max_length=500))

    class Resumed(Aggregate.Event):
        reason: str

    @event(Resumed)
    def _resumed(self, reason: str) -> None:
        self.status = SubscriberStatus.ACTIVE

    def remove(self, reason: object) -> None:
        """No more records go to it; what is still pending for it is cancelled (on the
        record: the outbox keeps the rows, marked cancelled)."""
        self._require_present("移除", "remove it")
        self._removed(reason=fields.text("reason", reason, max_length=500))

    class Removed(Aggregate.Event):
        reason: str

    @event(Removed)
    def _removed(self, reason: str) -> None:
        self.status = SubscriberStatus.REMOVED

    def retry(self, seqs: Iterable[int], dead: Iterable[int], reason: object) -> list[int]:
        """Put dead-lettered records back in the queue: the given seqs (each must be dead), or
        every dead one. Returns the seqs retried."""
        self._require_present("重新推送", "retry")
        dead_now = sorted(set(dead))
        wanted = sorted(set(seqs)) or dead_now
        if not wanted:
            raise ConflictError(
                f"接收平台 {self.name} 没有死信记录", f"{self.name} has no dead-lettered records"
            )
        stray = [s for s in wanted if s not in dead_now]
        if stray:
            raise fields.FieldError(
                "seq",
                f"以下账本序号的记录不是死信：{'、'.join(map(str, stray))}",
                f"not dead-lettered for {self.name}: {', '.join(map(str, stray))}",
            )
        self._retried(seqs=wanted, reason=fields.text("reason", reason, max_length=500))
        return wanted

    class Retried(Aggregate.Event):
        seqs: list[int]
        reason: str

    @event(Retried)
    def _retried(self, seqs: list[int], reason: str) -> None:
        pass


class DeliveryReport(Aggregate):
    """What the delivery worker saw for one subscriber, in the order it saw it."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return uuid4()

    class Recorded(Aggregate.Created):
        subscriber: str
        outcomes: list[dict[str, Any]]

    @event(Recorded)
    def __init__(self, subscriber: str, outcomes: list[dict[str, Any]]) -> None:
        self.subscriber = subscriber
        self.outcomes = outcomes


# The audit trail (全程留痕): what platforms and deliveries say --------------------------------


@trail.describes(Subscriber.Registered)
def _trail_registered(event: Any, recall: trail.Recall) -> trail.Described:
    e = event
    subject = (trail.SUBSCRIBER, str(trail.attr(e, "name", "")))
    kinds = "、".join(RECORD_KIND_LABELS_ZH.get(k, k) for k in trail.attr(e, "kinds") or [])
    auth = (trail.attr(e, "auth") or {}).get("method", "")
    departments = trail.attr(e, "departments")
    summary = (
        f"登记接收平台 {subject[1]}：{trail.attr(e, 'endpoint', '')}，记录 {kinds}，部门 "
        f"{trail.shown(departments) if departments else '全部'}，认证 "
        f"{AUTH_LABELS_ZH.get(auth, auth)}，最多尝试 "
        f"{trail.attr(e, 'max_tries', '')} 次，自账本序号 {trail.attr(e, 'from_seq', '')} 起"
        + (
            "，报送完整身份证号码（依据：" + str(trail.attr(e, "legal_basis", "")) + "）"
            if trail.attr(e, "full_ids")
            else ""
        )
    )
    return trail.Described(
        "Subscriber.Registered",
        EVENT_LABELS_ZH["Registered"],
        summary,
        (subject,),
        remember={trail.originator(e): {"subjects": [list(subject)]}},
    )


_SUBSCRIBER_DETAILS: dict[type[Any], Callable[[Any], str]] = {
    Subscriber.Updated: lambda e: (
        f"修改接收平台：{trail.changes_text(trail.attr(e, 'changes') or {}, FIELD_LABELS)}，"
        f"理由：{trail.attr(e, 'reason', '')}"
    ),
    Subscriber.Paused: lambda e: f"暂停推送，理由：{trail.attr(e, 'reason', '')}",
    Subscriber.Resumed: lambda e: (
        "恢复推送" + (f"：{trail.attr(e, 'reason')}" if trail.attr(e, "reason") else "")
    ),
    Subscriber.Removed: lambda e: (
        f"移除接收平台（待推送记录取消），理由：{trail.attr(e, 'reason', '')}"
    ),
    Subscriber.Retried: lambda e: (
        f"死信重新推送（账本序号 {trail.shown(trail.attr(e, 'seqs'))}），理由："
        f"{trail.attr(e, 'reason', '')}"
    ),
}


@trail.describes(*_SUBSCRIBER_DETAILS)
def _trail_changed(event: Any, recall: trail.Recall) -> trail.Described:
    subjects = trail.memo_subjects(recall(trail.originator(event)))
    return trail.detailed(event, subjects, EVENT_LABELS_ZH, _SUBSCRIBER_DETAILS)


@trail.describes(DeliveryReport.Recorded)
def _trail_delivered(event: Any, recall: trail.Recall) -> trail.Described:
    platform = str(trail.attr(event, "subscriber", ""))
    outcomes = list(trail.attr(event, "outcomes") or [])
    counted = {o: sum(1 for x in outcomes if x.get("outcome") == o) for o in Outcome}
    summary = f"推送至 {platform}：" + "，".join(
        f"{OUTCOME_LABELS_ZH[o]} {n} 条" for o, n in counted.items() if n
    )
    notes: dict[trail.Subject, list[str]] = {}
    for o in outcomes:
        if o.get("outcome") == Outcome.FAILED:
            continue  # retries stay on the platform's trail; the task's shows the result
        kind = RECORD_KIND_LABELS_ZH.get(o.get("kind"), o.get("kind"))
        text = (
            f"{kind}记录（账本序号 {o.get('seq')}）归集至 {platform}："
            f"{OUTCOME_LABELS_ZH.get(o.get('outcome'), o.get('outcome'))}"
            f"（第 {o.get('try')} 次"
            + (f"，回执 {o['reference']}" if o.get("reference") else "")
            + (f"，{o['error']}" if o.get("error") else "")
            + "）"
        )
        for subject in (
            (trail.TASK, str(o.get("task_id", ""))),
            (trail.TARGET, str(o.get("identifier", ""))),
        ):
            notes.setdefault(subject, []).append(text)
    subjects = trail.unique([(trail.SUBSCRIBER, platform), *notes])
    return trail.Described(
        "DeliveryReport.Recorded",
        "归集推送",
        summary,
        subjects,
        notes={s: "；".join(texts) for s, texts in notes.items()},
    )
