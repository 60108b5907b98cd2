"""An inspection task (抽查任务): one drawn target, from notification to closure.

A task exists in the read models from its draw's reveal (status `drawn`, 待检查); the aggregate is
created when the target is notified, with what the draw fixed (plan, departments, items per
department, draw date). Its lifecycle:

    notified → inspecting (results drafted and signed) → inspected (`complete`) → informed
    → confirmed | objected → (objection decided) → published | withheld → closed

- A result is recorded per item ("DEPT/CODE") of the task. It needs two sign-offs: drafting is the
  first, `sign` by a *different* team member the second. Redrafting an item before the second
  signature replaces the draft (both drafts stay in the ledger); after it, redrafting is refused.
- `complete` records the date the inspection was completed (统一离场), from which the publication
  deadline will be counted. It is an explicit command, not a side effect of the last signature:
  that date is when the team left the site, which need not be the day the last result was
  countersigned. It is refused until every item has a result signed by two.
- The target is informed of the result, then confirms it or objects with a reason. A leader
  decides an objection: rejected (异议不成立), the result stands and may be published; upheld
  (异议成立), the results are reopened, to be drafted, signed, completed and informed again (the
  earlier ones stay in the ledger).
- Publication (一公开) records the date, the fields redacted (commercial secrets, personal
  information) and the public summary. Withholding records a reason and whether the result is
  withheld only until it is final (`until_final`, e.g. awaiting laboratory tests: 暂缓公示, may be
  published later) or withheld for good (不予公示: never published, only closed).
- A task is closed once published, or withheld for good. A closed task no longer counts as open
  for later draws (their "open task" exclusion stops; the recent-inspection window applies).

Dates are ISO dates, never before the draw date nor after `today` (Asia/Shanghai; the service
passes it in, the domain has no clock), and never before the step they follow.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ssj.domain import fields, trail
from ssj.domain.items import METHOD_LABELS, Method
from ssj.errors import ConflictError

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
MAX_EVIDENCE = 200


def task_id(draw_id: UUID | str, identifier: str) -> UUID:
    """One task per drawn target of a draw: known from the reveal, before the task exists."""
    return uuid5(UUID(str(draw_id)), identifier)


class ResultCategory(StrEnum):
    """The standard result categories of the national credit-publicity system."""

    NO_PROBLEM = "no_problem"
    NOT_PUBLICISED = "not_publicised"
    FALSE_PUBLICITY = "false_publicity"
    UNREACHABLE = "unreachable"
    OBSTRUCTED = "obstructed"
    RECTIFIED = "rectified"
    FOLLOW_UP = "follow_up"
    NO_ACTIVITY = "no_activity"
    CASE_FILED = "case_filed"
    DEREGISTERED = "deregistered"


CATEGORY_LABELS_ZH = {
    ResultCategory.NO_PROBLEM: "未发现问题",
    ResultCategory.NOT_PUBLICISED: "未按规定公示应当公示的信息",
    ResultCategory.FALSE_PUBLICITY: "公示信息隐瞒真实情况、弄虚作假",
    ResultCategory.UNREACHABLE: "通过登记的住所（经营场所）无法联系",
    ResultCategory.OBSTRUCTED: "不配合检查情节严重",
    ResultCategory.RECTIFIED: "发现问题已责令改正",
    ResultCategory.FOLLOW_UP: "发现问题待后续处理",
    ResultCategory.NO_ACTIVITY: "未发现开展本次抽查涉及的经营活动",
    ResultCategory.CASE_FILED: "违法违规 (立案)",
    ResultCategory.DEREGISTERED: "已注销或已迁出",
}
CATEGORY_LABELS = {
    **{zh: category for category, zh in CATEGORY_LABELS_ZH.items()},
    "通过登记的住所(经营场所)无法联系": ResultCategory.UNREACHABLE,
    "违法违规（立案）": ResultCategory.CASE_FILED,
    "违法违规(立案)": ResultCategory.CASE_FILED,
}

# A task with several items is summarised by its most serious category, in this order.
SEVERITY = (
    ResultCategory.CASE_FILED,
    ResultCategory.OBSTRUCTED,
    ResultCategory.FALSE_PUBLICITY,
    ResultCategory.NOT_PUBLICISED,
    ResultCategory.UNREACHABLE,
    ResultCategory.FOLLOW_UP,
    ResultCategory.RECTIFIED,
    ResultCategory.DEREGISTERED,
    ResultCategory.NO_ACTIVITY,
    ResultCategory.NO_PROBLEM,
)


def parse_category(value: object) -> ResultCategory:
    """A category by its code or its Chinese label."""
    return fields.choice("category", value, ResultCategory, CATEGORY_LABELS)


def summary_category(categories: Iterable[str]) -> str | None:
    """The most serious of a task's result categories (None while it has no result)."""
    found = set(categories)
    return next((c.value for c in SEVERITY if c.value in found), None)


class PublicField(StrEnum):
    """What a published result shows the public; a publication may redact any of them
    (commercial secrets, personal information). Findings and evidence are never public."""

    CATEGORY = "category"
    PUBLIC_SUMMARY = "public_summary"
    COMPLETED_ON = "completed_on"
    DEPARTMENTS = "departments"


PUBLIC_FIELD_LABELS = {
    "检查结果": PublicField.CATEGORY,
    "结果类别": PublicField.CATEGORY,
    "公示摘要": PublicField.PUBLIC_SUMMARY,
    "完成日期": PublicField.COMPLETED_ON,
    "检查完成日期": PublicField.COMPLETED_ON,
    "检查部门": PublicField.DEPARTMENTS,
}


class TaskStatus(StrEnum):
    DRAWN = "drawn"  # in the read models only: drawn, not yet notified (no aggregate yet)
    NOTIFIED = "notified"
    INSPECTING = "inspecting"  # a result drafted
    INSPECTED = "inspected"  # completed: every item's result signed by two
    INFORMED = "informed"
    CONFIRMED = "confirmed"
    OBJECTED = "objected"
    OBJECTION_REJECTED = "objection_rejected"
    PUBLISHED = "published"
    WITHHELD = "withheld"
    CLOSED = "closed"


STATUS_LABELS_ZH = {
    TaskStatus.DRAWN: "待检查",
    TaskStatus.NOTIFIED: "已通知",
    TaskStatus.INSPECTING: "检查中",
    TaskStatus.INSPECTED: "已检查",
    TaskStatus.INFORMED: "已告知检查对象",
    TaskStatus.CONFIRMED: "检查对象无异议",
    TaskStatus.OBJECTED: "检查对象有异议",
    TaskStatus.OBJECTION_REJECTED: "异议不成立",
    TaskStatus.PUBLISHED: "已公示",
    TaskStatus.WITHHELD: "暂不公示",
    TaskStatus.CLOSED: "已办结",
}
STATUS_LABELS = {zh: status for status, zh in STATUS_LABELS_ZH.items()}

# A later draw counts a task as open unless it is in one of these.
CLOSED_STATUSES = frozenset({TaskStatus.CLOSED})


EVENT_LABELS_ZH = {
    "Notified": "通知检查对象",
    "ResultDrafted": "起草检查结果",
    "ResultSigned": "签署检查结果",
    "Inspected": "检查完成",
    "TargetInformed": "告知检查结果",
    "Confirmed": "检查对象无异议",
    "Objected": "检查对象提出异议",
    "ObjectionDecided": "异议决定",
    "Published": "公示",
    "Withheld": "暂不公示",
    "Closed": "办结",
}
METHOD_NAMES_ZH = {
    Method.ON_SITE: "现场检查",
    Method.DOCUMENTS: "书面检查",
    Method.ONLINE: "网络检查",
    Method.AGENCY: "专业机构核查",
}


def parse_status(value: object) -> TaskStatus:
    return fields.choice("status", value, TaskStatus, STATUS_LABELS)


def item_keys(items: Mapping[str, Iterable[str]]) -> list[str]:
    """`DEPT/CODE` for every item of every department, in the plan's order."""
    return [f"{department}/{code}" for department, codes in items.items() for code in codes]


def parse_evidence(values: Iterable[object] | str | None) -> list[str]:
    """SHA-256 digests (hex) of evidence files kept outside the ledger; order kept, no repeats."""
    digests = [d.lower() for d in fields.text_list("evidence", values)]
    for digest in digests:
        if not SHA256_HEX.fullmatch(digest):
            raise fields.FieldError(
                "evidence",
                f"证据应为文件的 SHA-256 摘要（64 位十六进制），实际为“{digest}”",
                f"evidence must be a file's SHA-256 digest (64 hex digits), got {digest!r}",
            )
    if len(digests) > MAX_EVIDENCE:
        raise fields.FieldError(
            "evidence",
            f"证据最多 {MAX_EVIDENCE} 份",
            f"at most {MAX_EVIDENCE} evidence files",
        )
    return digests


def parse_day(field: str, value: object, today: date, *after: tuple[str | None, str, str]) -> str:
    """An ISO date not after `today` and not before any of `after` (earliest, zh, en)."""
    raw = fields.iso_date(field, value)
    assert raw is not None
    day = date.fromisoformat(raw)
    if day > today:
        raise fields.FieldError(
            field,
            f"日期 {day} 晚于今天（{today}）",
            f"{day} is in the future (today is {today})",
        )
    for earliest, zh, en in after:
        if earliest is not None and day < date.fromisoformat(earliest):
            raise fields.FieldError(
                field, f"日期 {day} 早于{zh}（{earliest}）", f"{day} is before {en} ({earliest})"
            )
    return raw


class Task(Aggregate):
    """One drawn target's inspection; its id follows from the draw and the target."""

    @staticmethod
    def create_id(draw_id: str, identifier: str, **_: Any) -> UUID:
        return task_id(draw_id, identifier)

    @classmethod
    def notify(
        cls,
        *,
        draw_id: str,
        plan_id: str,
        identifier: str,
        departments: list[str],
        items: dict[str, list[str]],
        drawn_on: str,
        on: object,
        how: object,
        today: date,
    ) -> Task:
        """The target is notified of the inspection: the task begins."""
        return cls(
            draw_id=str(draw_id),
            plan_id=str(plan_id),
            identifier=identifier,
            departments=list(departments),
            items={d: list(codes) for d, codes in items.items()},
            drawn_on=drawn_on,
            on=parse_day("on", on, today, (drawn_on, "抽取日期", "the draw date")),
            how=fields.text("how", how, max_length=200),
        )

    class Notified(Aggregate.Created):
        draw_id: str
        plan_id: str
        identifier: str
        departments: list[str]
        items: dict[str, list[str]]
        drawn_on: str
        on: str
        how: str

    @event(Notified)
    def __init__(
        self,
        draw_id: str,
        plan_id: str,
        identifier: str,
        departments: list[str],
        items: dict[str, list[str]],
        drawn_on: str,
        on: str,
        how: str,
    ) -> None:
        self.draw_id = draw_id
        self.plan_id = plan_id
        self.identifier = identifier
        self.departments = departments
        self.items = items
        self.drawn_on = drawn_on
        self.notified_on = on
        self.notified_how = how
        self.status = TaskStatus.NOTIFIED
        self.results: dict[str, dict[str, Any]] = {}
        self.reopened: list[dict[str, dict[str, Any]]] = []  # results an upheld objection set aside
        self.completed_on: str | None = None
        self.informed_on: str | None = None
        self.objection: dict[str, Any] | None = None
        self.objections: list[dict[str, Any]] = []
        self.publication: dict[str, Any] | None = None
        self.withholding: dict[str, Any] | None = None
        self.closed_on: str | None = None

    # Reading -----------------------------------------------------------------------------------

    @property
    def item_keys(self) -> list[str]:
        return item_keys(self.items)

    @property
    def category(self) -> str | None:
        return summary_category(r["category"] for r in self.results.values())

    def unsigned(self) -> list[str]:
        """Items without a result signed by two."""
        return [k for k in self.item_keys if not (self.results.get(k) or {}).get("signed_by")]

    def item_key(self, item: object) -> str:
        """`DEPT/CODE` of one of this task's items, or a ValidationError naming them."""
        key = fields.text("item", item, max_length=200).replace(" ", "")
        if key not in self.item_keys:
            raise fields.FieldError(
                "item",
                f"事项 {key} 不在本任务的抽查事项中（{'、'.join(self.item_keys)}）",
                f"item {key} is not one of this task's items ({', '.join(self.item_keys)})",
            )
        return key

    def _require(self, allowed: Iterable[TaskStatus], doing_zh: str, doing_en: str) -> None:
        if self.status not in tuple(allowed):
            raise ConflictError(
                f"抽查任务状态为“{STATUS_LABELS_ZH[self.status]}”，不能{doing_zh}",
                f"the task is {self.status.value}: cannot {doing_en}",
            )

    # Results -----------------------------------------------------------------------------------

    def check_draftable(self, item: object) -> str:
        """Before any other check: the item's key, if a result may be drafted for it now."""
        self._require(
            (TaskStatus.NOTIFIED, TaskStatus.INSPECTING), "录入检查结果", "draft a result"
        )
        key = self.item_key(item)
        if (self.results.get(key) or {}).get("signed_by"):
            raise ConflictError(
                f"事项 {key} 的检查结果已由两人签署，不能重新起草",
                f"the result for {key} is signed by two: it cannot be redrafted",
            )
        return key

    def draft_result(
        self,
        *,
        item: object,
        method: object,
        inspected_on: object,
        findings: object,
        evidence: Iterable[object] | str | None,
        category: object,
        drafted_by: str,
        today: date,
    ) -> bool:
        """The drafter's result for one item: its first sign-off. A draft not yet
        countersigned may be replaced; the same draft by the same member again records
        nothing (False)."""
        key = self.check_draftable(item)
        draft: dict[str, Any] = dict(
            method=fields.choice("method", method, Method, METHOD_LABELS).value,
            inspected_on=parse_day(
                "inspected_on",
                inspected_on,
                today,
                (self.drawn_on, "抽取日期", "the draw date"),
                (self.notified_on, "通知日期", "the notification date"),
            ),
            findings=fields.prose("findings", findings, max_length=5000),
            evidence=parse_evidence(evidence),
            category=parse_category(category).value,
            drafted_by=fields.text("drafted_by", drafted_by, max_length=64),
        )
        if self.results.get(key) == {**draft, "signed_by": None}:
            return False
        self._result_drafted(item=key, **draft)
        return True

    class ResultDrafted(Aggregate.Event):
        item: str
        method: str
        inspected_on: str
        findings: str
        evidence: list[str]
        category: str
        drafted_by: str

    @event(ResultDrafted)
    def _result_drafted(
        self,
        item: str,
        method: str,
        inspected_on: str,
        findings: str,
        evidence: list[str],
        category: str,
        drafted_by: str,
    ) -> None:
        self.results[item] = {
            "method": method,
            "inspected_on": inspected_on,
            "findings": findings,
            "evidence": evidence,
            "category": category,
            "drafted_by": drafted_by,
            "signed_by": None,
        }
        self.status = TaskStatus.INSPECTING

    def draft_of(self, item: object) -> tuple[str, dict[str, Any]]:
        """The item's key and its draft awaiting a second signature."""
        self._require((TaskStatus.INSPECTING,), "签署检查结果", "sign a result")
        key = self.item_key(item)
        result = self.results.get(key)
        if result is None:
            raise ConflictError(
                f"事项 {key} 尚无检查结果草稿", f"no result has been drafted for {key}"
            )
        if result["signed_by"]:
            raise ConflictError(
                f"事项 {key} 的检查结果已由 {result['drafted_by']}、{result['signed_by']} 签署",
                f"the result for {key} is already signed by {result['drafted_by']} and "
                f"{result['signed_by']}",
            )
        return key, result

    def sign_result(self, item: object, signed_by: str) -> None:
        """The second sign-off, by a team member other than the drafter."""
        key, result = self.draft_of(item)
        signed_by = fields.text("signed_by", signed_by, max_length=64)
        if signed_by == result["drafted_by"]:
            raise ConflictError(
                f"起草人 {signed_by} 不能作为第二签署人：须由检查组另一名成员签署",
                f"the drafter {signed_by} cannot be the second signer: another team member "
                "must sign",
            )
        self._result_signed(item=key, signed_by=signed_by)

    class ResultSigned(Aggregate.Event):
        item: str
        signed_by: str

    @event(ResultSigned)
    def _result_signed(self, item: str, signed_by: str) -> None:
        self.results[item]["signed_by"] = signed_by

    def complete(self, completed_on: object, today: date) -> None:
        """The inspection is complete: every item's result is signed by two."""
        self._require((TaskStatus.INSPECTING,), "办结检查", "complete the inspection")
        missing = self.unsigned()
        if missing:
            raise ConflictError(
                f"以下事项尚无两人签署的检查结果：{'、'.join(missing)}",
                f"no result signed by two yet for: {', '.join(missing)}",
            )
        last = max(r["inspected_on"] for r in self.results.values())
        self._inspected(
            completed_on=parse_day(
                "completed_on",
                completed_on,
                today,
                (self.drawn_on, "抽取日期", "the draw date"),
                (last, "最后一项检查日期", "the last inspection date"),
            )
        )

    class Inspected(Aggregate.Event):
        completed_on: str

    @event(Inspected)
    def _inspected(self, completed_on: str) -> None:
        self.completed_on = completed_on
        self.status = TaskStatus.INSPECTED

    # The target's say --------------------------------------------------------------------------

    def inform(self, on: object, today: date) -> None:
        """The target is informed of the result (检查结果告知)."""
        self._require((TaskStatus.INSPECTED,), "告知检查对象", "inform the target")
        self._target_informed(
            on=parse_day(
                "on", on, today, (self.completed_on, "检查完成日期", "the completion date")
            )
        )

    class TargetInformed(Aggregate.Event):
        on: str

    @event(TargetInformed)
    def _target_informed(self, on: str) -> None:
        self.informed_on = on
        self.status = TaskStatus.INFORMED

    def confirm(self) -> None:
        """The target accepts the result (无异议)."""
        self._require((TaskStatus.INFORMED,), "登记无异议", "record a confirmation")
        self._confirmed()

    class Confirmed(Aggregate.Event):
        pass

    @event(Confirmed)
    def _confirmed(self) -> None:
        self.status = TaskStatus.CONFIRMED

    def object_to(self, reason: object) -> None:
        """The target objects to the result, with its reason; a leader decides."""
        self._require((TaskStatus.INFORMED,), "登记异议", "record an objection")
        self._objected(reason=fields.prose("reason", reason, max_length=2000))

    class Objected(Aggregate.Event):
        reason: str

    @event(Objected)
    def _objected(self, reason: str) -> None:
        self.objection = {"reason": reason, "upheld": None, "decision": None}
        self.status = TaskStatus.OBJECTED

    def decide_objection(self, upheld: bool, reason: object) -> None:
        """Upheld: the results are reopened; rejected: the result stands."""
        self._require((TaskStatus.OBJECTED,), "决定异议", "decide an objection")
        self._objection_decided(upheld=bool(upheld), reason=fields.prose("reason", reason))

    class ObjectionDecided(Aggregate.Event):
        upheld: bool
        reason: str

    @event(ObjectionDecided)
    def _objection_decided(self, upheld: bool, reason: str) -> None:
        assert self.objection is not None
        decided = {**self.objection, "upheld": upheld, "decision": reason}
        self.objections.append(decided)
        self.objection = decided
        if upheld:
            self.reopened.append(self.results)
            self.results = {}
            self.completed_on = None
            self.informed_on = None
            self.status = TaskStatus.INSPECTING
        else:
            self.status = TaskStatus.OBJECTION_REJECTED

    # Publication (一公开) and closure ------------------------------------------------------------

    @property
    def withheld_for_good(self) -> bool:
        return (
            self.status is TaskStatus.WITHHELD
            and self.withholding is not None
            and not self.withholding["until_final"]
        )

    def publish(
        self,
        on: object,
        redacted_fields: Iterable[object] | str | None,
        public_summary: object,
        today: date,
    ) -> None:
        """Publish the result: after the target's say, or once a result withheld until final is
        final. A result withheld for good is never published."""
        if self.withheld_for_good:
            assert self.withholding is not None
            raise ConflictError(
                f"本任务结果已决定不予公示（{self.withholding['reason']}），不能公示",
                f"the result is withheld for good ({self.withholding['reason']}): it cannot be "
                "published",
            )
        self._require(
            (TaskStatus.CONFIRMED, TaskStatus.OBJECTION_REJECTED, TaskStatus.WITHHELD),
            "公示",
            "publish",
        )
        self._published(
            on=parse_day("on", on, today, (self.informed_on, "告知日期", "the date informed")),
            redacted_fields=[
                fields.choice("redacted_fields", f, PublicField, PUBLIC_FIELD_LABELS).value
                for f in fields.text_list("redacted_fields", redacted_fields)
            ],
            public_summary=fields.prose("public_summary", public_summary, max_length=2000),
        )

    class Published(Aggregate.Event):
        on: str
        redacted_fields: list[str]
        public_summary: str

    @event(Published)
    def _published(self, on: str, redacted_fields: list[str], public_summary: str) -> None:
        self.publication = {
            "on": on,
            "redacted_fields": redacted_fields,
            "public_summary": public_summary,
        }
        self.status = TaskStatus.PUBLISHED

    def withhold(self, reason: object, until_final: bool) -> None:
        """Not published now: until the result is final (may be published later), or for good."""
        self._require(
            (TaskStatus.CONFIRMED, TaskStatus.OBJECTION_REJECTED), "决定暂不公示", "withhold"
        )
        self._withheld(reason=fields.prose("reason", reason), until_final=bool(until_final))

    class Withheld(Aggregate.Event):
        reason: str
        until_final: bool

    @event(Withheld)
    def _withheld(self, reason: str, until_final: bool) -> None:
        self.withholding = {"reason": reason, "until_final": until_final}
        self.status = TaskStatus.WITHHELD

    def close(self, on: object, today: date) -> None:
        """Closed once published, or withheld for good (a result withheld until final is still
        to be published: the task stays open)."""
        if self.status is TaskStatus.WITHHELD and not self.withheld_for_good:
            raise ConflictError(
                "本任务结果暂缓公示，待结果最终确定并公示后才能办结",
                "the result is withheld until final: publish it before closing the task",
            )
        self._require((TaskStatus.PUBLISHED, TaskStatus.WITHHELD), "办结", "close")
        last = self.publication["on"] if self.publication else self.informed_on
        self._closed(on=parse_day("on", on, today, (last, "此前一步的日期", "the previous step")))

    class Closed(Aggregate.Event):
        on: str

    @event(Closed)
    def _closed(self, on: str) -> None:
        self.closed_on = on
        self.status = TaskStatus.CLOSED


# The audit trail (全程留痕): what a task's events say -----------------------------------------


def _category(value: Any) -> str:
    try:
        return CATEGORY_LABELS_ZH[ResultCategory(value)]
    except ValueError:
        return str(value)


def _method(value: Any) -> str:
    try:
        return METHOD_NAMES_ZH[Method(value)]
    except ValueError:
        return str(value)


_TASK_DETAILS: dict[type[Any], Callable[[Any], str]] = {
    Task.Notified: lambda e: (
        f"通知检查对象（{trail.attr(e, 'on', '')}，{trail.attr(e, 'how', '')}）"
    ),
    Task.ResultDrafted: lambda e: (
        f"起草事项 {trail.attr(e, 'item', '')} 的检查结果："
        f"{_category(trail.attr(e, 'category'))}（{_method(trail.attr(e, 'method'))}，"
        f"{trail.attr(e, 'inspected_on', '')}），起草人 {trail.attr(e, 'drafted_by', '')}"
    ),
    Task.ResultSigned: lambda e: (
        f"第二人签署事项 {trail.attr(e, 'item', '')} 的检查结果：{trail.attr(e, 'signed_by', '')}"
    ),
    Task.Inspected: lambda e: f"检查完成（{trail.attr(e, 'completed_on', '')}）",
    Task.TargetInformed: lambda e: f"告知检查对象检查结果（{trail.attr(e, 'on', '')}）",
    Task.Confirmed: lambda e: "检查对象对结果无异议",
    Task.Objected: lambda e: f"检查对象提出异议：{trail.attr(e, 'reason', '')}",
    Task.ObjectionDecided: lambda e: (
        f"异议{'成立，检查结果重新办理' if trail.attr(e, 'upheld') else '不成立，结果维持'}，"
        f"理由：{trail.attr(e, 'reason', '')}"
    ),
    Task.Published: lambda e: (
        f"公示检查结果（{trail.attr(e, 'on', '')}）"
        + (
            f"，隐去 {trail.shown(trail.attr(e, 'redacted_fields'))}"
            if trail.attr(e, "redacted_fields")
            else ""
        )
    ),
    Task.Withheld: lambda e: (
        f"{'暂缓公示（待结果最终确定）' if trail.attr(e, 'until_final') else '不予公示'}，理由："
        f"{trail.attr(e, 'reason', '')}"
    ),
    Task.Closed: lambda e: f"办结（{trail.attr(e, 'on', '')}）",
}


@trail.describes(*_TASK_DETAILS)
def _trail_task(event: Any, recall: trail.Recall) -> trail.Described:
    """Every task event concerns the task, its target and its team as the trail remembers
    them (from the draw's reveal, with recusals' replacements)."""
    oid = trail.originator(event)
    memo = recall(oid)
    if isinstance(event, Task.Notified) and memo is None:  # a reveal not seen (never expected)
        identifier = str(trail.attr(event, "identifier", ""))
        memo = {"subjects": [(trail.TASK, oid), (trail.TARGET, identifier)], "team": []}
    team = [(trail.INSPECTOR, m) for m in (memo or {}).get("team") or []]
    return trail.detailed(
        event, [*trail.memo_subjects(memo), *team], EVENT_LABELS_ZH, _TASK_DETAILS
    )
