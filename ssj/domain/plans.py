"""Inspection plans (抽查计划): what a department will draw, from which items, by which rules.

A plan is annual or monthly and belongs to its lead department; a joint plan (联合抽查) also
names cooperating departments and their items. Its workflow is draft -> submitted -> approved
(by a leader) -> published, and any state but cancelled may be cancelled. Amending an approved
or published plan needs a reason and sends it back to draft, to be submitted and approved
again: a draw can only ever rely on rules a leader approved. Every rule a draw applies (ratios
per credit class, caps, exclusion window, team size) is recorded in the plan's state, so a
verifier reads them from the ledger, not from code defaults that may change.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from dataclasses import fields as fields_of
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ssj.domain import fields, trail
from ssj.domain.targets import CREDIT_CLASS_LABELS, TARGET_TYPE_LABELS, CreditClass, TargetType
from ssj.errors import ConflictError

PLAN_NAMESPACE = uuid5(NAMESPACE_URL, "urn:ssj:plan")


class PlanKind(StrEnum):
    ANNUAL = "annual"  # 年度计划
    MONTHLY = "monthly"  # 月度计划


KIND_LABELS = {
    "年度": PlanKind.ANNUAL,
    "年度计划": PlanKind.ANNUAL,
    "月度": PlanKind.MONTHLY,
    "月度计划": PlanKind.MONTHLY,
}


class PlanStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


# For display (a status's Chinese name) and for reading filters given in Chinese.
STATUS_LABELS_ZH = {
    PlanStatus.DRAFT: "草稿",
    PlanStatus.SUBMITTED: "已提交",
    PlanStatus.APPROVED: "已批准",
    PlanStatus.PUBLISHED: "已公布",
    PlanStatus.CANCELLED: "已撤销",
}
STATUS_LABELS = {zh: status for status, zh in STATUS_LABELS_ZH.items()}

# Percent of each credit-class stratum drawn (A low risk … D high risk; 国市监信发〔2022〕6号).
DEFAULT_RATIOS = {"A": "1", "B": "3", "C": "10", "D": "30"}

FIELD_LABELS = {
    "code": "计划编号",
    "department": "牵头部门",
    "title": "计划名称",
    "year": "年度",
    "kind": "计划类型",
    "month": "月份",
    "items": "抽查事项",
    "cooperating": "配合部门及其抽查事项",
    "target_types": "检查对象类型",
    "region_codes": "行政区划范围",
    "tags": "对象标签",
    "ratios": "按信用风险分类的抽查比例（%）",
    "fixed_count": "固定抽取数量",
    "minimum": "每层最少抽取数",
    "window_start": "实施开始日期",
    "window_end": "实施结束日期",
    "team_size": "检查组人数",
    "experts": "每组专家人数",
    "yearly_cap_department": "本部门每年对同一对象抽查上限",
    "yearly_cap_all": "各部门每年对同一对象抽查上限",
    "exclusion_days": "近期已检查对象排除天数",
    "workload_cap": "每名检查人员任务上限",
    "priority_uncovered": "优先抽取未覆盖对象",
    "coverage_years": "全覆盖周期（年）",
    "publish_within_days": "结果公示期限（检查完成后工作日数）",
}

# Results are published within this many working days of the inspection's completion.
PUBLISH_WITHIN_DAYS = 20
# Fields added after plans were first recorded: a plan recorded without one has its default.
STATE_DEFAULTS: dict[str, Any] = {"publish_within_days": PUBLISH_WITHIN_DAYS}

_SEPARATORS = re.compile(r"[、，,;；\n]+")  # as fields.text_list splits text
_REGION_PREFIX = re.compile(r"\d{2,12}")
_TRUE = {"true", "1", "yes", "y", "是"}
_FALSE = {"false", "0", "no", "n", "否", ""}


def plan_id(department: str, code: str) -> UUID:
    return uuid5(PLAN_NAMESPACE, f"{department}\x1f{code}")


# Validators for plan fields (the shared ones are in ssj.domain.fields) --------------------------


def _flag(field: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    raw = fields.text(field, value, required=False).lower()
    if raw in _TRUE or raw in _FALSE:
        return raw in _TRUE
    raise fields.FieldError(
        field, f"应为是/否（true/false），实际为“{raw}”", f"must be true or false, got {raw!r}"
    )


def _entries(field: str, values: object) -> list[str]:
    """Like fields.text_list, but keeps duplicates so that they can be refused."""
    if values is None:
        return []
    if isinstance(values, str):
        listed: Iterable[object] = _SEPARATORS.split(values)
    elif isinstance(values, (list, tuple)):
        listed = values
    else:
        raise fields.FieldError(field, "应为列表", "must be a list")
    found = (fields.text(field, v, required=False, max_length=64) for v in listed)
    return [s for s in found if s]


def _codes(field: str, values: object) -> tuple[str, ...]:
    """Item codes: at least one, none twice."""
    codes = _entries(field, values)
    if not codes:
        raise fields.FieldError(field, "至少列出一个抽查事项", "list at least one item")
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            raise fields.FieldError(
                field, f"抽查事项 {code} 重复列出", f"item {code} is listed twice"
            )
        seen.add(code)
    return tuple(codes)


def _cooperating(value: object, lead: str) -> dict[str, tuple[str, ...]]:
    if value is None or value == "":
        return {}
    if not isinstance(value, Mapping):
        raise fields.FieldError(
            "cooperating",
            "应为“部门编码: [事项编码…]”的对象",
            "must map department codes to lists of item codes",
        )
    cooperating: dict[str, tuple[str, ...]] = {}
    for key, codes in value.items():
        department = fields.text("cooperating", key, max_length=64)
        if department == lead:
            raise fields.FieldError(
                "cooperating",
                f"牵头部门 {lead} 不能同时列为配合部门",
                f"the lead department {lead} cannot also cooperate",
            )
        if department in cooperating:
            raise fields.FieldError(
                "cooperating", f"配合部门 {department} 重复", f"department {department} twice"
            )
        cooperating[department] = _codes("cooperating", codes)
    return cooperating


def _ratio(credit_class: str, value: object) -> str:
    raw = fields.text("ratios", value).rstrip("%％").strip()
    try:
        ratio = Decimal(raw)
    except InvalidOperation:
        ratio = Decimal("NaN")
    if not ratio.is_finite():
        raise fields.FieldError(
            "ratios",
            f"{credit_class} 类比例无效“{raw}”（应为百分数，如 3 或 2.5）",
            f"class {credit_class}: invalid ratio {raw!r} (a percentage such as 3 or 2.5)",
        )
    if ratio <= 0 and credit_class == CreditClass.A:
        raise fields.FieldError(
            "ratios",
            "A 类比例必须大于 0：信用风险低的对象也不免于抽查",
            "class A ratio must be above 0: low-risk targets are never exempt from sampling",
        )
    if not Decimal(0) < ratio <= Decimal(100):
        raise fields.FieldError(
            "ratios",
            f"{credit_class} 类比例应大于 0 且不超过 100，实际为 {raw}",
            f"class {credit_class}: ratio must be above 0 and at most 100, got {raw}",
        )
    return format(ratio.normalize(), "f")  # "30", not "3E+1"


def _ratios(value: object) -> dict[str, str]:
    """Per credit class; classes not given keep the defaults (every class is sampled)."""
    if not isinstance(value, Mapping):
        raise fields.FieldError(
            "ratios",
            '应为按信用风险分类的比例，如 {"A": "1", "D": "30"}',
            'must map credit classes to percentages, e.g. {"A": "1", "D": "30"}',
        )
    ratios = dict(DEFAULT_RATIOS)
    for key, ratio in value.items():
        credit_class = fields.choice("ratios", key, CreditClass, CREDIT_CLASS_LABELS)
        ratios[credit_class.value] = _ratio(credit_class.value, ratio)
    return ratios


def _given(value: object) -> bool:
    return value is not None and value != "" and value != {}


def _window(raw: Mapping[str, Any], year: int, month: int | None) -> tuple[str, str]:
    """The implementation window: inside the plan's year, or its month for a monthly plan."""
    if month is None:
        first, last, period_zh, period_en = (
            date(year, 1, 1),
            date(year, 12, 31),
            f"{year} 年",
            f"{year}",
        )
    else:
        days = calendar.monthrange(year, month)[1]
        first, last = date(year, month, 1), date(year, month, days)
        period_zh, period_en = f"{year} 年 {month} 月", f"{year}-{month:02d}"
    start = fields.iso_date("window_start", raw.get("window_start"), required=False)
    end = fields.iso_date("window_end", raw.get("window_end"), required=False)
    bounds = {"window_start": start or first.isoformat(), "window_end": end or last.isoformat()}
    for name, value in bounds.items():
        if not first <= date.fromisoformat(value) <= last:
            raise fields.FieldError(
                name,
                f"日期 {value} 不在计划期间（{period_zh}）内",
                f"{value} is outside the plan's period ({period_en})",
            )
    if bounds["window_end"] < bounds["window_start"]:
        raise fields.FieldError(
            "window_end",
            f"结束日期 {bounds['window_end']} 早于开始日期 {bounds['window_start']}",
            f"ends ({bounds['window_end']}) before it starts ({bounds['window_start']})",
        )
    return bounds["window_start"], bounds["window_end"]


def _team_size(value: object, departments: int) -> int:
    size = fields.whole("team_size", value, 0, default=2)
    if size < 2:
        raise fields.FieldError(
            "team_size", "检查组至少 2 人", "an inspection team needs at least 2 inspectors"
        )
    if size > 10:
        raise fields.FieldError(
            "team_size", f"检查组最多 10 人，实际为 {size}", f"a team has at most 10, got {size}"
        )
    if size < departments:
        raise fields.FieldError(
            "team_size",
            f"联合抽查涉及 {departments} 个部门，检查组至少 {departments} 人（每部门至少 1 人）",
            f"a joint plan of {departments} departments needs a team of at least {departments} "
            "(one per department)",
        )
    return size


@dataclass(frozen=True)
class PlanRecord:
    """A plan's fields, validated: what a leader approves and a draw applies.

    `minimum` is the least number of targets drawn from each stratum (a credit-risk class) when
    it holds that many, whatever its ratio gives; `exclusion_days` excludes targets
    inspected that recently (0: off); `yearly_cap_department` / `yearly_cap_all` cap random
    inspections of one target a year by this department / by all departments; `coverage_years`
    is the period in which the whole registry should be covered.
    """

    code: str
    department: str
    title: str
    year: int
    kind: PlanKind
    month: int | None
    items: tuple[str, ...]
    cooperating: dict[str, tuple[str, ...]]
    target_types: tuple[TargetType, ...]
    region_codes: tuple[str, ...]
    tags: tuple[str, ...]
    ratios: dict[str, str]
    fixed_count: int | None
    minimum: int
    window_start: str
    window_end: str
    team_size: int
    experts: int
    yearly_cap_department: int
    yearly_cap_all: int
    exclusion_days: int
    workload_cap: int | None
    priority_uncovered: bool
    coverage_years: int
    publish_within_days: int = PUBLISH_WITHIN_DAYS

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> PlanRecord:
        """Validate user input; raises FieldError naming the first bad (or unknown) field."""
        unknown = sorted(set(raw) - set(FIELD_LABELS))
        if unknown:
            raise fields.FieldError(unknown[0], "不是抽查计划的字段", "is not a plan field")
        department = fields.text("department", raw.get("department"), max_length=64)
        year = fields.whole("year", raw.get("year"), 2000, 2100)
        kind = fields.choice("kind", raw.get("kind") or "annual", PlanKind, KIND_LABELS)
        month: int | None = None
        if kind is PlanKind.MONTHLY:
            month = fields.whole("month", raw.get("month"), 1, 12)
        elif _given(raw.get("month")):
            raise fields.FieldError(
                "month", "年度计划不填月份", "an annual plan has no month (leave it empty)"
            )
        cooperating = _cooperating(raw.get("cooperating"), department)
        ratios: dict[str, str] = {}
        fixed_count: int | None = None
        if _given(raw.get("fixed_count")):
            if _given(raw.get("ratios")):
                raise fields.FieldError(
                    "fixed_count",
                    "抽查比例与固定抽取数量只能填一项",
                    "give either ratios or a fixed count, not both",
                )
            fixed_count = fields.whole("fixed_count", raw.get("fixed_count"), 1)
        else:
            given = raw.get("ratios")
            ratios = _ratios(given) if _given(given) else dict(DEFAULT_RATIOS)
        regions = tuple(fields.text_list("region_codes", raw.get("region_codes")))
        for region in regions:
            if not _REGION_PREFIX.fullmatch(region):
                raise fields.FieldError(
                    "region_codes",
                    f"行政区划代码前缀应为 2–12 位数字，实际为“{region}”",
                    f"a region-code prefix must be 2-12 digits, got {region!r}",
                )
        cap_department = fields.whole(
            "yearly_cap_department", raw.get("yearly_cap_department"), 1, 12, 2
        )
        cap_all = fields.whole("yearly_cap_all", raw.get("yearly_cap_all"), 1, 24, 4)
        if cap_all < cap_department:
            raise fields.FieldError(
                "yearly_cap_all",
                f"各部门合计上限（{cap_all}）不能小于本部门上限（{cap_department}）",
                f"the cap across departments ({cap_all}) cannot be below this department's "
                f"({cap_department})",
            )
        window_start, window_end = _window(raw, year, month)
        workload = raw.get("workload_cap")
        return cls(
            code=fields.text("code", raw.get("code"), max_length=64),
            department=department,
            title=fields.text("title", raw.get("title")),
            year=year,
            kind=kind,
            month=month,
            items=_codes("items", raw.get("items")),
            cooperating=cooperating,
            target_types=tuple(
                dict.fromkeys(
                    fields.choice("target_types", t, TargetType, TARGET_TYPE_LABELS)
                    for t in fields.text_list("target_types", raw.get("target_types"))
                )
            ),
            region_codes=regions,
            tags=tuple(fields.text_list("tags", raw.get("tags"))),
            ratios=ratios,
            fixed_count=fixed_count,
            minimum=fields.whole("minimum", raw.get("minimum"), 0, default=0),
            window_start=window_start,
            window_end=window_end,
            team_size=_team_size(raw.get("team_size"), 1 + len(cooperating)),
            experts=fields.whole("experts", raw.get("experts"), 0, 5, 0),
            yearly_cap_department=cap_department,
            yearly_cap_all=cap_all,
            exclusion_days=fields.whole("exclusion_days", raw.get("exclusion_days"), 0, 365, 90),
            workload_cap=fields.whole("workload_cap", workload, 1) if _given(workload) else None,
            priority_uncovered=_flag("priority_uncovered", raw.get("priority_uncovered")),
            coverage_years=fields.whole("coverage_years", raw.get("coverage_years"), 1, 3, 1),
            publish_within_days=fields.whole(
                "publish_within_days", raw.get("publish_within_days"), 1, 60, PUBLISH_WITHIN_DAYS
            ),
        )

    @property
    def departments(self) -> tuple[str, ...]:
        return (self.department, *self.cooperating)

    def as_state(self) -> dict[str, Any]:
        """JSON-ready values, as recorded in events."""
        state: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields_of(self)}
        state["kind"] = self.kind.value
        state["items"] = list(self.items)
        state["cooperating"] = {d: list(codes) for d, codes in self.cooperating.items()}
        state["target_types"] = [t.value for t in self.target_types]
        state["region_codes"] = list(self.region_codes)
        state["tags"] = list(self.tags)
        state["ratios"] = dict(self.ratios)
        return state


def patched(state: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """A plan's input after a partial amendment: `changes` over the current `state`.

    Fields derived from others follow them unless given too: a fixed count replaces the ratios
    (and the reverse), a new year, kind or month resets the window to the whole new period,
    and new items reset the target types to the items' own.
    """
    raw = {**state, **changes}
    if _given(changes.get("fixed_count")) and "ratios" not in changes:
        raw["ratios"] = None
    if "ratios" in changes and "fixed_count" not in changes:
        raw["fixed_count"] = None
    if changes.keys() & {"year", "kind", "month"} and not changes.keys() & {
        "window_start",
        "window_end",
    }:
        raw["window_start"] = raw["window_end"] = None
    kind = str(changes.get("kind") or "")
    if KIND_LABELS.get(kind, kind) == PlanKind.ANNUAL and "month" not in changes:
        raw["month"] = None
    if changes.keys() & {"items", "cooperating"} and "target_types" not in changes:
        raw["target_types"] = []
    return raw


class Plan(Aggregate):
    """One inspection plan; its version counts every event (amendments and transitions)."""

    @staticmethod
    def create_id(department: str, code: str, **_: Any) -> UUID:
        return plan_id(department, code)

    class Drafted(Aggregate.Created):
        department: str
        code: str
        state: dict[str, Any]

    @event(Drafted)
    def __init__(self, department: str, code: str, state: dict[str, Any]) -> None:
        self.department = department
        self.code = code
        self.state = dict(state)
        self.status = PlanStatus.DRAFT

    @classmethod
    def draft(cls, record: PlanRecord) -> Plan:
        return cls(department=record.department, code=record.code, state=record.as_state())

    @property
    def departments(self) -> tuple[str, ...]:
        """Departments taking part: the lead, then cooperating ones."""
        return (self.department, *self.state.get("cooperating", {}))

    @property
    def label(self) -> str:
        return f"{self.department}/{self.code}"

    def _require(self, allowed: Iterable[PlanStatus], zh: str, en: str) -> None:
        allowed = tuple(allowed)
        if self.status in allowed:
            return
        need_zh = "或".join(f"“{STATUS_LABELS_ZH[s]}”" for s in allowed)
        need_en = " or ".join(s.value for s in allowed)
        raise ConflictError(
            f"抽查计划 {self.label} 当前为“{STATUS_LABELS_ZH[self.status]}”，不能{zh}"
            f"（须为{need_zh}）",
            f"plan {self.label} is {self.status.value}: cannot {en} (it must be {need_en})",
        )

    def amend(self, record: PlanRecord, reason: str = "") -> bool:
        """Record only the changed fields; False (nothing recorded) if none changed. An approved
        or published plan needs a reason, and goes back to draft."""
        self._require(
            (PlanStatus.DRAFT, PlanStatus.APPROVED, PlanStatus.PUBLISHED), "修改", "amend"
        )
        why = fields.prose("reason", reason, required=False)
        if not why and self.status is not PlanStatus.DRAFT:
            raise fields.FieldError(
                "reason",
                f"修改“{STATUS_LABELS_ZH[self.status]}”的计划须说明理由（修改后须重新提交审批）",
                f"amending a {self.status.value} plan needs a reason (it then goes back to "
                "draft for approval again)",
            )
        if (record.department, record.code) != (self.department, self.code):
            raise fields.FieldError(
                "code",
                "计划编号与牵头部门不可修改",
                "the plan code and lead department cannot change",
            )
        changes = self._changes(record)
        if not changes:
            return False
        self._amended(changes=changes, reason=why, status=PlanStatus.DRAFT.value)
        return True

    def _changes(self, record: PlanRecord) -> dict[str, Any]:
        return {
            k: v
            for k, v in record.as_state().items()
            if self.state.get(k, STATE_DEFAULTS.get(k)) != v
        }

    def same_as(self, record: PlanRecord) -> bool:
        """`record` drafts exactly this plan again (a retried draft): nothing to record. Target
        types it leaves out are its items' (as the plan recorded them)."""
        if (record.department, record.code) != (self.department, self.code):
            return False
        changes = self._changes(record)
        if not record.target_types:
            changes.pop("target_types", None)
        return not changes

    class Amended(Aggregate.Event):
        changes: dict[str, Any]
        reason: str
        status: str

    @event(Amended)
    def _amended(self, changes: dict[str, Any], reason: str, status: str) -> None:
        self.state.update(changes)
        self.status = PlanStatus(status)

    def submit(self) -> None:
        self._require((PlanStatus.DRAFT,), "提交审批", "submit")
        self._submitted()

    class Submitted(Aggregate.Event):
        pass

    @event(Submitted)
    def _submitted(self) -> None:
        self.status = PlanStatus.SUBMITTED

    def approve(self, comment: str = "") -> None:
        self._require((PlanStatus.SUBMITTED,), "批准", "approve")
        self._approved(comment=fields.prose("comment", comment, required=False))

    class Approved(Aggregate.Event):
        comment: str

    @event(Approved)
    def _approved(self, comment: str) -> None:
        self.status = PlanStatus.APPROVED

    def return_(self, reason: str) -> None:
        self._require((PlanStatus.SUBMITTED,), "退回", "return")
        self._returned(reason=fields.prose("reason", reason))

    class Returned(Aggregate.Event):
        reason: str

    @event(Returned)
    def _returned(self, reason: str) -> None:
        self.status = PlanStatus.DRAFT

    def publish(self) -> None:
        self._require((PlanStatus.APPROVED,), "公布", "publish")
        self._published()

    class Published(Aggregate.Event):
        pass

    @event(Published)
    def _published(self) -> None:
        self.status = PlanStatus.PUBLISHED

    def cancel(self, reason: str) -> None:
        if self.status is PlanStatus.CANCELLED:
            raise ConflictError(
                f"抽查计划 {self.label} 已撤销", f"plan {self.label} is already cancelled"
            )
        self._cancelled(reason=fields.prose("reason", reason))

    class Cancelled(Aggregate.Event):
        reason: str

    @event(Cancelled)
    def _cancelled(self, reason: str) -> None:
        self.status = PlanStatus.CANCELLED


# The audit trail (全程留痕): what a plan's events say -----------------------------------------


def _plan_items(
    department: str, items: Iterable[str], cooperating: Mapping[str, Any]
) -> list[trail.Subject]:
    subjects = [(trail.ITEM, f"{department}/{code}") for code in items]
    for other, codes in cooperating.items():
        subjects += [(trail.ITEM, f"{other}/{code}") for code in codes or []]
    return subjects


@trail.describes(Plan.Drafted)
def _trail_drafted(event: Any, recall: trail.Recall) -> trail.Described:
    state = trail.attr(event, "state") or {}
    department = str(trail.attr(event, "department", ""))
    subject = (trail.PLAN, f"{department}/{trail.attr(event, 'code', '')}")
    cooperating = state.get("cooperating") or {}
    kind = "月度" if state.get("kind") == "monthly" else "年度"
    planned = _plan_items(department, state.get("items") or [], cooperating)
    return trail.Described(
        "Plan.Drafted",
        "起草抽查计划",
        f"起草{kind}抽查计划“{state.get('title', '')}”（{subject[1]}，{state.get('year', '')}"
        f" 年），抽查事项 {'、'.join(i for _, i in planned)}",
        trail.unique([subject, *planned]),
        notes={i: f"列入抽查计划 {subject[1]}“{state.get('title', '')}”" for i in planned},
        remember={trail.originator(event): {"subjects": [subject], "department": department}},
        departments={subject: trail.departments_of(department, list(cooperating))},
    )


@trail.describes(Plan.Amended)
def _trail_amended(event: Any, recall: trail.Recall) -> trail.Described:
    """An amendment returns the plan to draft; new items and departments join its trail."""
    memo = recall(trail.originator(event)) or {}
    subjects = trail.memo_subjects(memo)
    changes = trail.attr(event, "changes") or {}
    reason = trail.attr(event, "reason") or "（草稿修改）"
    department = str(memo.get("department", ""))
    items: list[trail.Subject] = []
    departments: dict[trail.Subject, tuple[str, ...]] = {}
    if "items" in changes or "cooperating" in changes:
        items = _plan_items(
            department, changes.get("items") or [], changes.get("cooperating") or {}
        )
    if "cooperating" in changes:
        every = trail.departments_of(department, list(changes["cooperating"] or {}))
        departments = {s: every for s in subjects}
    return trail.Described(
        "Plan.Amended",
        "修改抽查计划",
        f"修改抽查计划（理由：{reason}），退回草稿：{trail.changes_text(changes, FIELD_LABELS)}",
        trail.unique([*subjects, *items]),
        departments=departments,
    )


# Each step of the plan's approval: its Chinese verb and what follows it in the summary.
_PLAN_STEPS: dict[type[Any], tuple[str, Callable[[Any], str]]] = {
    Plan.Submitted: ("提交审批", lambda e: ""),
    Plan.Approved: ("批准", lambda e: f"，意见：{trail.attr(e, 'comment') or '无'}"),
    Plan.Returned: ("退回", lambda e: f"，理由：{trail.attr(e, 'reason', '')}"),
    Plan.Published: ("公布", lambda e: ""),
    Plan.Cancelled: ("撤销", lambda e: f"，理由：{trail.attr(e, 'reason', '')}"),
}


@trail.describes(*_PLAN_STEPS)
def _trail_step(event: Any, recall: trail.Recall) -> trail.Described:
    subjects = trail.memo_subjects(recall(trail.originator(event)) or {})
    zh, detail = _PLAN_STEPS[type(event)]
    return trail.Described(
        trail.kind_of(event), f"{zh}抽查计划", f"{zh}抽查计划{detail(event)}", tuple(subjects)
    )
