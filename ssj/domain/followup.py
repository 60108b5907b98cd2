"""Follow-up (后续处置) of an inspected task: rectification orders and their re-checks,
reminders, penalty cases and referrals; and what a result does to the target registry.

One `FollowUp` aggregate per task (its id follows from the task's), opened by the first action
on a task whose inspection is complete:

- A rectification order (责令整改) has the date ordered, a deadline and what must be done. A
  team member re-checks it (复查): passed, or failed (then re-checked again, or another step
  taken). A rectification is overdue once its deadline passes without a passed re-check.
- A reminder (催告) has a date and its text.
- A penalty case (立案处罚) has its case number, the decision date and the decision; its
  information must be published within 7 working days of the decision (`publish_case`). Filing
  may lower the target's credit-risk class (A low … D high): only to a riskier class.
- A referral (移送) goes to another department or to public security (公安机关), with a reason.

Consequences for the registry (`registry_changes`) are applied by the service as a
`Target.update` in the same save as the command that causes them: a result "通过登记的住所
（经营场所）无法联系" puts the target on the abnormal-operations list, "已注销或已迁出" marks it
deregistered, a penalty case's lowered class changes its credit class. Dates are ISO dates, never
after `today` (the service passes it in) nor before the step they follow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ssj.domain import fields
from ssj.domain.targets import (
    CREDIT_CLASS_LABELS,
    CreditClass,
    TargetRecord,
    TargetStatus,
)
from ssj.domain.tasks import ResultCategory, parse_day
from ssj.errors import ConflictError

FOLLOW_UP_NAMESPACE = uuid5(NAMESPACE_URL, "urn:ssj:follow-up")
PENALTY_PUBLISH_WITHIN_DAYS = 7  # penalty information: within 7 working days of the decision


def follow_up_id(task_id: UUID | str) -> UUID:
    return uuid5(FOLLOW_UP_NAMESPACE, str(task_id))


class ReferralTo(StrEnum):
    DEPARTMENT = "department"
    PUBLIC_SECURITY = "public_security"


REFERRAL_LABELS_ZH = {ReferralTo.DEPARTMENT: "其他部门", ReferralTo.PUBLIC_SECURITY: "公安机关"}
REFERRAL_LABELS = {
    "其他部门": ReferralTo.DEPARTMENT,
    "部门": ReferralTo.DEPARTMENT,
    "公安机关": ReferralTo.PUBLIC_SECURITY,
    "公安": ReferralTo.PUBLIC_SECURITY,
}

EVENT_LABELS_ZH = {
    "Opened": "开始后续处置",
    "RectificationOrdered": "责令整改",
    "Rechecked": "整改复查",
    "Reminded": "催告",
    "CaseFiled": "立案处罚",
    "CasePublished": "公示处罚信息",
    "Referred": "移送",
}

# What a result category does to the target registry: its new status.
CATEGORY_STATUS = {
    ResultCategory.UNREACHABLE.value: TargetStatus.ABNORMAL,
    ResultCategory.DEREGISTERED.value: TargetStatus.DEREGISTERED,
}
# A status a result never replaces (a consequence only moves a target towards these).
STATUS_RANK = {
    TargetStatus.ACTIVE.value: 0,
    TargetStatus.ABNORMAL.value: 1,
    TargetStatus.SERIOUS_VIOLATION.value: 2,
    TargetStatus.DEREGISTERED.value: 3,
}


def parse_passed(value: object) -> bool:
    """Passed (通过) or failed (未通过)."""
    if isinstance(value, bool):
        return value
    raw = fields.text("passed", value).lower()
    if raw in {"true", "1", "yes", "passed", "pass", "通过", "是"}:
        return True
    if raw in {"false", "0", "no", "failed", "fail", "未通过", "不通过", "否"}:
        return False
    raise fields.FieldError(
        "passed",
        f"复查结论应为“通过”或“未通过”，实际为“{value}”",
        f"a re-check is passed or failed, got {value!r}",
    )


def registry_changes(
    state: Mapping[str, Any],
    categories: Iterable[str] = (),
    credit_class: CreditClass | None = None,
) -> TargetRecord | None:
    """The target's record after the consequences (None: nothing changes). A status only moves
    towards a graver one; a credit class only to a riskier one."""
    raw = dict(state)
    for category in categories:
        status = CATEGORY_STATUS.get(category)
        if status is not None and STATUS_RANK[status.value] > STATUS_RANK[str(raw["status"])]:
            raw["status"] = status.value
    if credit_class is not None and credit_class.value > str(raw["credit_class"]):
        raw["credit_class"] = credit_class.value
    if raw == dict(state):
        return None
    return TargetRecord.parse(raw)


class FollowUp(Aggregate):
    """What followed one task's inspection."""

    @staticmethod
    def create_id(task_id: str, **_: Any) -> UUID:
        return follow_up_id(task_id)

    @classmethod
    def open(
        cls,
        *,
        task_id: str,
        identifier: str,
        departments: list[str],
        completed_on: str | None,
        team: list[str],
    ) -> FollowUp:
        """Opened by the first action on a task whose inspection is complete."""
        if not completed_on:
            raise ConflictError(
                "检查尚未完成（须先办结检查），不能进行后续处置",
                "the inspection is not complete yet: no follow-up before it",
            )
        return cls(
            task_id=str(task_id),
            identifier=identifier,
            departments=list(departments),
            completed_on=completed_on,
            team=list(team),
        )

    @event("Opened")
    def __init__(
        self,
        task_id: str,
        identifier: str,
        departments: list[str],
        completed_on: str,
        team: list[str],
    ) -> None:
        self.task_id = task_id
        self.identifier = identifier
        self.departments = departments
        self.completed_on = completed_on
        self.team = team
        self.rectifications: list[dict[str, Any]] = []
        self.reminders: list[dict[str, Any]] = []
        self.cases: list[dict[str, Any]] = []
        self.referrals: list[dict[str, Any]] = []

    def _after_completion(self) -> tuple[str, str, str]:
        return (self.completed_on, "检查完成日期", "the completion date")

    @staticmethod
    def _number(field: str, value: object, found: list[dict[str, Any]], what: str) -> int:
        """A 1-based number of one of `found`."""
        try:
            if isinstance(value, bool):
                raise ValueError
            number = int(str(value).strip())
        except ValueError:
            raise fields.FieldError(
                field, f"应为{what}序号，实际为“{value}”", f"must be a number, got {value!r}"
            ) from None
        if not 1 <= number <= len(found):
            raise fields.FieldError(
                field,
                f"{what} {number} 不存在（共 {len(found)} 项）",
                f"there is no {field} {number} ({len(found)} recorded)",
            )
        return number

    # Rectification (整改) and re-checks ---------------------------------------------------------

    def order_rectification(
        self, *, ordered_on: object, deadline: object, requirement: object, today: date
    ) -> int:
        on = parse_day("ordered_on", ordered_on, today, self._after_completion())
        due = fields.iso_date("deadline", deadline)
        assert due is not None
        if due < on:
            raise fields.FieldError(
                "deadline",
                f"整改期限 {due} 早于责令整改日期（{on}）",
                f"the deadline {due} is before the order ({on})",
            )
        self._rectification_ordered(
            ordered_on=on,
            deadline=due,
            requirement=fields.prose("requirement", requirement, max_length=2000),
        )
        return len(self.rectifications)

    @event("RectificationOrdered")
    def _rectification_ordered(self, ordered_on: str, deadline: str, requirement: str) -> None:
        self.rectifications.append(
            {
                "ordered_on": ordered_on,
                "deadline": deadline,
                "requirement": requirement,
                "rechecks": [],
                "passed_on": None,
            }
        )

    def recheck(
        self, *, number: object, on: object, passed: object, by: str, notes: object, today: date
    ) -> None:
        n = self._number("rectification", number, self.rectifications, "整改")
        order = self.rectifications[n - 1]
        if order["passed_on"]:
            raise ConflictError(
                f"整改 {n} 已于 {order['passed_on']} 复查通过",
                f"rectification {n} already passed its re-check on {order['passed_on']}",
            )
        last = order["rechecks"][-1]["on"] if order["rechecks"] else order["ordered_on"]
        self._rechecked(
            rectification=n,
            on=parse_day("on", on, today, (last, "此前一步的日期", "the previous step")),
            passed=parse_passed(passed),
            by=fields.text("by", by, max_length=64),
            notes=fields.prose("notes", notes, required=False, max_length=2000),
        )

    @event("Rechecked")
    def _rechecked(self, rectification: int, on: str, passed: bool, by: str, notes: str) -> None:
        order = self.rectifications[rectification - 1]
        order["rechecks"].append({"on": on, "passed": passed, "by": by, "notes": notes})
        if passed:
            order["passed_on"] = on

    # Reminders (催告) ---------------------------------------------------------------------------

    def remind(self, *, on: object, text: object, today: date) -> None:
        self._reminded(
            on=parse_day("on", on, today, self._after_completion()),
            text=fields.prose("text", text, max_length=2000),
        )

    @event("Reminded")
    def _reminded(self, on: str, text: str) -> None:
        self.reminders.append({"on": on, "text": text})

    # Penalty cases (立案处罚) -------------------------------------------------------------------

    def file_case(
        self,
        *,
        case_no: object,
        decided_on: object,
        decision: object,
        credit_class: object,
        current_class: str,
        today: date,
    ) -> int:
        number = fields.text("case_no", case_no, max_length=64)
        if any(c["case_no"] == number for c in self.cases):
            raise ConflictError(f"案件 {number} 已立案", f"case {number} is already filed")
        lowered: str | None = None
        if credit_class is not None and str(credit_class).strip():
            chosen = fields.choice("credit_class", credit_class, CreditClass, CREDIT_CLASS_LABELS)
            if chosen.value <= current_class:
                raise fields.FieldError(
                    "credit_class",
                    f"信用风险分类只能调低为风险更高的类别（当前为 {current_class} 类），"
                    f"实际为 {chosen.value} 类",
                    f"the credit class may only be lowered to a riskier class (now "
                    f"{current_class}), got {chosen.value}",
                )
            lowered = chosen.value
        self._case_filed(
            case_no=number,
            decided_on=parse_day("decided_on", decided_on, today, self._after_completion()),
            decision=fields.prose("decision", decision, max_length=5000),
            credit_class=lowered,
            previous_class=current_class if lowered else None,
        )
        return len(self.cases)

    @event("CaseFiled")
    def _case_filed(
        self,
        case_no: str,
        decided_on: str,
        decision: str,
        credit_class: str | None,
        previous_class: str | None,
    ) -> None:
        self.cases.append(
            {
                "case_no": case_no,
                "decided_on": decided_on,
                "decision": decision,
                "credit_class": credit_class,
                "previous_class": previous_class,
                "published_on": None,
            }
        )

    def case_number(self, case: object) -> int:
        """A case by its case number or its 1-based position."""
        raw = fields.text("case", case, max_length=64)
        for n, found in enumerate(self.cases, start=1):
            if found["case_no"] == raw:
                return n
        return self._number("case", raw, self.cases, "案件")

    def publish_case(self, *, case: object, on: object, today: date) -> None:
        n = self.case_number(case)
        found = self.cases[n - 1]
        if found["published_on"]:
            raise ConflictError(
                f"案件 {found['case_no']} 的处罚信息已于 {found['published_on']} 公示",
                f"case {found['case_no']} was published on {found['published_on']}",
            )
        self._case_published(
            case=n,
            on=parse_day("on", on, today, (found["decided_on"], "处罚决定日期", "the decision")),
        )

    @event("CasePublished")
    def _case_published(self, case: int, on: str) -> None:
        self.cases[case - 1]["published_on"] = on

    # Referrals (移送) ---------------------------------------------------------------------------

    def refer(
        self, *, on: object, to_kind: object, to: object, reason: object, today: date
    ) -> None:
        kind = fields.choice("to_kind", to_kind, ReferralTo, REFERRAL_LABELS)
        receiver = fields.text("to", to, required=kind is ReferralTo.DEPARTMENT, max_length=200)
        self._referred(
            on=parse_day("on", on, today, self._after_completion()),
            to_kind=kind.value,
            to=receiver or REFERRAL_LABELS_ZH[kind],
            reason=fields.prose("reason", reason, max_length=2000),
        )

    @event("Referred")
    def _referred(self, on: str, to_kind: str, to: str, reason: str) -> None:
        self.referrals.append({"on": on, "to_kind": to_kind, "to": to, "reason": reason})
