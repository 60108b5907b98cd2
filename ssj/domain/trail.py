"""The audit trail (全程留痕): which business subjects a domain event concerns, in officials' words.

A pure mapping, no I/O. `describe(event, recall)` says, for one domain event, the subjects it
concerns — `(kind, id)` with the business id officials use (a target's USCC or other identifier,
an inspector's certificate number, an item or plan as `DEPT/CODE`, a draw's or task's id, a
username) — and a short Chinese summary. Most events after an aggregate's first carry no business
id, only the aggregate's UUID, so the mapping remembers per aggregate what it learnt (`memos`,
returned in `Described.remember`) and is given them back through `recall`: the read model keeps
them in a table, a replay in a dict (`Replay`). Folding the ledger from seq 0 through
`describe` is therefore the definition of the trail; the projection is a cache of it.

This module is the generic part. What each event says is written beside its aggregate, in the
aggregate's own module, and registered for its event class with `@describes(Target.Registered)`:
an event's class cannot exist without its module, so an event handed to `describe` always finds
its description registered. A new event adds its description there, not here.

An event of an unknown class maps to no subject and does not fail: the ledger outlives code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

TARGET, INSPECTOR, ITEM, PLAN, DRAW, TASK, USER, SUBSCRIBER = (
    "target",
    "inspector",
    "item",
    "plan",
    "draw",
    "task",
    "user",
    "subscriber",
)
KINDS = (TARGET, INSPECTOR, ITEM, PLAN, DRAW, TASK, USER, SUBSCRIBER)
KIND_LABELS_ZH = {
    TARGET: "检查对象",
    INSPECTOR: "执法检查人员",
    ITEM: "抽查事项",
    PLAN: "抽查计划",
    DRAW: "抽取",
    TASK: "抽查任务",
    USER: "用户",
    SUBSCRIBER: "接收平台",
}

Subject = tuple[str, str]  # (kind, business id)
Memo = dict[str, Any]  # what is remembered of one aggregate (JSON-ready)
Recall = Callable[[str], Memo | None]

MAX_VALUE = 60  # characters of a changed value shown in a summary
BEIJING = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Described:
    """One event as the trail shows it."""

    kind: str  # the event class, `Aggregate.Event` (English)
    kind_zh: str  # its short Chinese name
    summary: str  # the Chinese summary shown for every subject without its own note
    subjects: tuple[Subject, ...] = ()
    notes: Mapping[Subject, str] = field(default_factory=dict)  # per-subject summaries
    remember: Mapping[str, Memo] = field(default_factory=dict)  # originator id -> new memo
    departments: Mapping[Subject, tuple[str, ...]] = field(default_factory=dict)

    def summary_for(self, subject: Subject) -> str:
        return self.notes.get(subject, self.summary)


Describer = Callable[[Any, Recall], Described]

# Event class -> its description; filled by `describes` in each aggregate's module.
DESCRIBERS: dict[type[Any], Describer] = {}


def describes(*classes: type[Any]) -> Callable[[Describer], Describer]:
    """Register the decorated function as the description of events of `classes`."""

    def register(describer: Describer) -> Describer:
        for cls in classes:
            if DESCRIBERS.setdefault(cls, describer) is not describer:
                raise ValueError(f"{cls.__qualname__} is described twice")
        return describer

    return register


def kind_of(event: Any) -> str:
    """`Target.Registered`: the event's class as the aggregate names it."""
    return type(event).__qualname__


def unique(subjects: Iterable[Subject]) -> tuple[Subject, ...]:
    return tuple(dict.fromkeys(s for s in subjects if s[1]))


def shown(value: Any) -> str:
    """A value as a summary shows it: lists and mappings joined, long text cut."""
    if value is None or value == "" or value == [] or value == {}:
        return "（空）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (list, tuple)):
        text = "、".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = "；".join(f"{k}: {shown(v)}" for k, v in value.items())
    else:
        text = str(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


# Chinese names of coded values that summaries show (the code follows in brackets); a module
# whose codes appear in several aggregates' changes adds its own (`label_values`).
VALUE_LABELS_ZH: dict[str, dict[str, str]] = {
    "status": {
        "active": "存续/在岗",
        "deregistered": "注销",
        "abnormal": "经营异常名录",
        "serious_violation": "严重违法失信名单",
        "suspended": "暂停执法",
        "on_leave": "休假",
        "transferred": "调离",
        "retired": "退休",
    },
    "credit_class": {c: f"{c} 类" for c in "ABCD"},
    "pool": {"inspector": "执法检查人员", "expert": "专家"},
    "kind": {"annual": "年度", "monthly": "月度"},
}


def label_values(name: str, labels: Mapping[str, str]) -> None:
    """Name the coded values of the field `name` wherever a change shows them."""
    VALUE_LABELS_ZH[name] = dict(labels)


def value_text(name: str, value: Any) -> str:
    label = VALUE_LABELS_ZH.get(name, {}).get(str(value)) if isinstance(value, str) else None
    return f"{label}（{value}）" if label else shown(value)


def changes_text(changes: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    found = (f"{labels.get(k, k)}改为“{value_text(k, v)}”" for k, v in changes.items())
    return "；".join(found) or "无"


def attr(event: Any, name: str, default: Any = None) -> Any:
    """An event's field, leniently: an old event may lack it."""
    return getattr(event, name, default)


def originator(event: Any) -> str:
    return str(attr(event, "originator_id", ""))


def memo_subjects(memo: Memo | None) -> list[Subject]:
    return [(str(k), str(i)) for k, i in (memo or {}).get("subjects", [])]


def departments_of(*values: Any) -> tuple[str, ...]:
    if len(values) == 1 and type(values[0]) is str:  # one department: most events
        return (values[0],) if values[0] else ()
    found: list[str] = []
    for value in values:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, Iterable):
            found.extend(str(v) for v in value)
    return tuple(dict.fromkeys(d for d in found if d))


def extra_columns(state: Mapping[str, Any]) -> str:
    """Columns of the imported file that no field holds, kept with the record (issue #11)."""
    extra = state.get("extra") or {}
    if not extra:
        return ""
    return "；原文件其他列：" + "；".join(f"{k}：{v}" for k, v in extra.items())


def record_changed(
    event: Any, recall: Recall, kind_zh: str, labels: Mapping[str, str]
) -> Described:
    """A registry record's changed fields (targets and inspectors record them alike); a new
    department changes who may read the subject's trail."""
    subjects = memo_subjects(recall(originator(event)))
    changes = attr(event, "changes") or {}
    departments = {}
    if "department" in changes:
        departments = {s: departments_of(changes["department"]) for s in subjects}
    return Described(
        kind_of(event),
        kind_zh,
        f"{kind_zh}：{changes_text(changes, labels)}",
        tuple(subjects),
        departments=departments,
    )


def detailed(
    event: Any,
    subjects: Iterable[Subject],
    labels_zh: Mapping[str, str],
    details: Mapping[type[Any], Callable[[Any], str]],
) -> Described:
    """An event of an aggregate whose events differ only in their summary: its Chinese name by
    class name from `labels_zh`, its summary from `details` by class."""
    name = type(event).__name__
    return Described(
        kind_of(event), labels_zh.get(name, name), details[type(event)](event), unique(subjects)
    )


def beijing_time(utc_text: str) -> str:
    """`2026-03-02T01:00:00.000000Z` as officials read it: `2026-03-02 09:00:00` (Beijing)."""
    moment = datetime.fromisoformat(utc_text.replace("Z", "+00:00"))
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def unknown(event: Any) -> Described:
    """An event of a class no aggregate describes (any more): shown, naming no subject."""
    return Described(kind_of(event), "", "")


def describe(event: Any, recall: Recall) -> Described:
    """What the trail shows of `event`; `recall` gives the memo of an aggregate by id."""
    describer = DESCRIBERS.get(type(event))
    if describer is None:
        return unknown(event)
    try:
        return describer(event, recall)
    except (AttributeError, KeyError, TypeError, ValueError):
        # A malformed old event is still part of the history: shown, with no subject it names.
        return unknown(event)


def merge_memo(old: Memo | None, new: Memo) -> Memo:
    """The memo to keep: `new`, except that a recusal's `replace` swaps one team member."""
    if "replace" not in new:
        return new
    left, joined = new["replace"]
    team = [joined if m == left else m for m in (old or {}).get("team") or []]
    return {**(old or {}), **{k: v for k, v in new.items() if k != "replace"}, "team": team}


# The fold, in memory: what a replay of the ledger from seq 0 gives ----------------------------


@dataclass
class Row:
    """One line of a subject's trail."""

    seq: int
    recorded_at: str
    actor: str
    role: str
    department: str
    kind: str
    kind_zh: str
    summary: str


@dataclass
class Replay:
    """The trail computed by folding events through `describe`, kept in memory."""

    memos: dict[str, Memo] = field(default_factory=dict)
    rows: dict[Subject, list[Row]] = field(default_factory=dict)
    departments: dict[Subject, tuple[str, ...]] = field(default_factory=dict)

    def feed(self, seq: int, recorded_at: str, actor: Any, event: Any) -> Described:
        described = describe(event, self.memos.get)
        for oid, memo in described.remember.items():
            self.memos[oid] = merge_memo(self.memos.get(oid), memo)
        for subject, departments in described.departments.items():
            self.departments[subject] = departments
        for subject in described.subjects:
            self.rows.setdefault(subject, []).append(
                Row(
                    seq,
                    recorded_at,
                    str(actor.user),
                    str(actor.role),
                    str(actor.department),
                    described.kind,
                    described.kind_zh,
                    described.summary_for(subject),
                )
            )
        return described
