"""Follow-up (后续处置) of an inspected task: rectification orders and their re-checks,
reminders, penalty cases and referrals; and what a result does to the target registry.

One `FollowUp` aggregate per task (its id follows from the task's), opened by the first action
on a task whose inspection is complete:

- A rectification order (责令整改) has the date ordered, a deadline and what must be done. A
  team member re-checks it (复查): passed, or failed (then re-checked again, or another step
  taken). A rectification is overdue once its deadline passes without a passed re-check.
- A reminder (催告) has a date and its text.
- A penalty case (立案处罚) records its decision in the fields of the national 双公示
  administrative-penalty data standard (`CASE_FIELD_LABELS`: 行政处罚决定书文号, 违法行为类型,
  违法事实, 处罚依据, 处罚类别 from the code list of 《行政处罚法》 art. 9, 处罚内容, 罚款金额
  and 没收金额 in 万元, 暂扣或吊销证照, 处罚有效期, 公示截止期, 处罚机关 and its credit code,
  数据来源单位 and its credit code, 法定代表人, 备注); its information must be published within 7
  working days of the decision (`publish_case`). Filing may lower the target's credit-risk class
  (A low … D high): only to a riskier class. A filed case is corrected (更正) or revoked (撤销,
  e.g. after administrative reconsideration) by events of their own, never edited: once
  published, each becomes a record of its own for the credit platforms.
- A referral (移送) goes to another department or to public security (公安机关), with a reason.

Consequences for the registry (`registry_changes`) are applied by the service as a
`Target.update` in the same save as the command that causes them: a result "通过登记的住所
（经营场所）无法联系" puts the target on the abnormal-operations list, "已注销或已迁出" marks it
deregistered, a penalty case's lowered class changes its credit class. Dates are ISO dates, never
after `today` (the service passes it in) nor before the step they follow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ssj.domain import fields, trail
from ssj.domain.identifiers import validate_uscc
from ssj.domain.targets import (
    CREDIT_CLASS_LABELS,
    CreditClass,
    TargetRecord,
    TargetStatus,
    TargetType,
)
from ssj.domain.tasks import ResultCategory, parse_day
from ssj.errors import ConflictError, ValidationError

FOLLOW_UP_NAMESPACE = uuid5(NAMESPACE_URL, "urn:ssj:follow-up")
PENALTY_PUBLISH_WITHIN_DAYS = 7  # penalty information: within 7 working days of the decision


def followup_id(task_id: UUID | str) -> UUID:
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
    "CaseCorrected": "更正处罚信息",
    "CaseRevoked": "撤销处罚决定",
    "Referred": "移送",
}


class PenaltyType(StrEnum):
    """处罚类别: the kinds of administrative penalty of 《行政处罚法》 (2021) art. 9, the code
    list of the 双公示 standard's 处罚类别."""

    WARNING = "warning"
    CRITICISM = "criticism"
    FINE = "fine"
    CONFISCATE_INCOME = "confiscate_income"
    CONFISCATE_PROPERTY = "confiscate_property"
    SUSPEND_LICENCE = "suspend_licence"
    LOWER_QUALIFICATION = "lower_qualification"
    REVOKE_LICENCE = "revoke_licence"
    RESTRICT_BUSINESS = "restrict_business"
    SUSPEND_BUSINESS = "suspend_business"
    CLOSE = "close"
    RESTRICT_PRACTICE = "restrict_practice"
    DETENTION = "detention"
    OTHER = "other"


PENALTY_TYPE_LABELS_ZH = {
    PenaltyType.WARNING: "警告",
    PenaltyType.CRITICISM: "通报批评",
    PenaltyType.FINE: "罚款",
    PenaltyType.CONFISCATE_INCOME: "没收违法所得",
    PenaltyType.CONFISCATE_PROPERTY: "没收非法财物",
    PenaltyType.SUSPEND_LICENCE: "暂扣许可证件",
    PenaltyType.LOWER_QUALIFICATION: "降低资质等级",
    PenaltyType.REVOKE_LICENCE: "吊销许可证件",
    PenaltyType.RESTRICT_BUSINESS: "限制开展生产经营活动",
    PenaltyType.SUSPEND_BUSINESS: "责令停产停业",
    PenaltyType.CLOSE: "责令关闭",
    PenaltyType.RESTRICT_PRACTICE: "限制从业",
    PenaltyType.DETENTION: "行政拘留",
    PenaltyType.OTHER: "其他",
}
PENALTY_TYPE_LABELS = {zh: t for t, zh in PENALTY_TYPE_LABELS_ZH.items()}
CONFISCATIONS = frozenset({PenaltyType.CONFISCATE_INCOME, PenaltyType.CONFISCATE_PROPERTY})
LICENCE_PENALTIES = frozenset({PenaltyType.SUSPEND_LICENCE, PenaltyType.REVOKE_LICENCE})

# A penalty case's fields, in the order of the 双公示 standard, with its Chinese names.
CASE_FIELD_LABELS = {
    "case_no": "行政处罚决定书文号",
    "violation_type": "违法行为类型",
    "facts": "违法事实",
    "basis": "处罚依据",
    "penalty_types": "处罚类别",
    "decision": "处罚内容",
    "fine": "罚款金额（万元）",
    "confiscated": "没收违法所得、没收非法财物的金额（万元）",
    "licence": "暂扣或吊销证照名称及编号",
    "decided_on": "处罚决定日期",
    "valid_until": "处罚有效期",
    "publicity_until": "公示截止期",
    "authority": "处罚机关",
    "authority_code": "处罚机关统一社会信用代码",
    "source": "数据来源单位",
    "source_code": "数据来源单位统一社会信用代码",
    "legal_representative": "法定代表人",
    "notes": "备注",
}
# Fields a correction may change (the decision date moves the publication deadline: it stays).
CORRECTABLE = tuple(f for f in CASE_FIELD_LABELS if f != "decided_on")
CASE_FIELDS_BY_LABEL = {zh: name for name, zh in CASE_FIELD_LABELS.items()}
# Publicity periods (《失信行为纠正后的信用信息修复管理办法（试行）》): one year unless set;
# never more than three.
DEFAULT_PUBLICITY_DAYS = 365
MAX_PUBLICITY_DAYS = 3 * 365 + 1
AMOUNT_PLACES = 6  # the standard's amounts: decimal(18, 6) in 万元
# What the standard requires before a case's information is published (and delivered).
REQUIRED_FOR_PUBLICATION = (
    "case_no",
    "violation_type",
    "facts",
    "basis",
    "penalty_types",
    "decision",
    "decided_on",
    "authority",
    "authority_code",
    "source",
    "source_code",
)


def parse_amount(field: str, value: object) -> str:
    """An amount in 万元 (ten thousand yuan): at most 6 decimal places, not negative; "" if
    empty. Kept as text, so no float ever rounds it."""
    raw = fields.text(field, value, required=False, max_length=32).replace(",", "")
    if not raw:
        return ""
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0 or amount >= Decimal(10) ** 12:
        raise fields.FieldError(
            field,
            f"应为不小于 0 的金额（万元），实际为“{raw}”",
            f"must be an amount in 10,000 yuan, at least 0, got {raw!r}",
        )
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -AMOUNT_PLACES:
        raise fields.FieldError(
            field,
            f"金额（万元）最多保留 {AMOUNT_PLACES} 位小数（即精确到分），实际为“{raw}”",
            f"at most {AMOUNT_PLACES} decimal places (to the fen), got {raw!r}",
        )
    text = format(amount.normalize(), "f")
    return "0" if text in ("-0", "0E-6") else text


def parse_credit_code(field: str, value: object, *, required: bool = True) -> str:
    """An authority's 统一社会信用代码 (GB 32100-2015, check character included)."""
    raw = fields.text(field, value, required=required, max_length=32)
    if not raw:
        return ""
    try:
        return validate_uscc(raw)
    except ValidationError as e:
        raise fields.FieldError(field, e.zh, e.en) from None


def parse_penalty_types(values: object) -> list[str]:
    """处罚类别: one or more of the code list, by code or Chinese name."""
    raw = fields.text_list("penalty_types", values if values is not None else [])  # type: ignore[arg-type]
    if not raw:
        raise fields.FieldError(
            "penalty_types",
            "处罚类别不能为空（可多选：" + "、".join(PENALTY_TYPE_LABELS) + "）",
            "at least one penalty type is required",
        )
    chosen = [
        fields.choice("penalty_types", v, PenaltyType, PENALTY_TYPE_LABELS).value for v in raw
    ]
    return list(dict.fromkeys(chosen))


def check_case(case: Mapping[str, Any], *, needs_representative: bool) -> None:
    """The rules between a case's fields (the standard's conditional requirements)."""
    types = {PenaltyType(t) for t in case["penalty_types"]}
    amounts = (
        ("fine", {PenaltyType.FINE}, "罚款"),
        ("confiscated", CONFISCATIONS, "没收违法所得或没收非法财物"),
    )
    for name, needs, zh in amounts:
        given = case[name] not in ("", "0")
        if types & needs and not given:
            raise fields.FieldError(
                name,
                f"处罚类别含{zh}，必须填写{CASE_FIELD_LABELS[name]}",
                f"required when the penalty types include {zh}",
            )
        if given and not types & needs:
            raise fields.FieldError(
                name,
                f"处罚类别不含{zh}，不应填写{CASE_FIELD_LABELS[name]}",
                f"only with a penalty type of {zh}",
            )
    if types & LICENCE_PENALTIES and not case["licence"]:
        raise fields.FieldError(
            "licence",
            "处罚类别含暂扣或吊销许可证件，必须填写证照名称及编号",
            "required when a licence is suspended or revoked",
        )
    if needs_representative and not case["legal_representative"]:
        raise fields.FieldError(
            "legal_representative",
            "行政相对人为法人及非法人组织或个体工商户，必须填写法定代表人（负责人、经营者）",
            "the legal representative (or operator) is required for an organisation or an "
            "individual business",
        )
    decided = date.fromisoformat(case["decided_on"])
    until = case["publicity_until"]
    if until and not decided < date.fromisoformat(until) <= decided + timedelta(
        days=MAX_PUBLICITY_DAYS
    ):
        raise fields.FieldError(
            "publicity_until",
            f"公示截止期应晚于处罚决定日期（{decided}），且不超过三年",
            f"must be after the decision ({decided}) and at most three years later",
        )
    valid = case["valid_until"]
    if valid and date.fromisoformat(valid) < decided:
        raise fields.FieldError(
            "valid_until",
            f"处罚有效期早于处罚决定日期（{decided}）",
            f"before the decision ({decided})",
        )


def needs_representative(target_type: str | None) -> bool:
    """An organisation or an individual business names its legal representative (operator)."""
    return target_type in (TargetType.ENTERPRISE.value, TargetType.INDIVIDUAL.value)


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
        return followup_id(task_id)

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

    class Opened(Aggregate.Created):
        task_id: str
        identifier: str
        departments: list[str]
        completed_on: str
        team: list[str]

    @event(Opened)
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
    ) -> tuple[int, bool]:
        """The order's number, and False if it repeats the open order before it exactly (a
        retried command: nothing recorded)."""
        on = parse_day("ordered_on", ordered_on, today, self._after_completion())
        due = fields.iso_date("deadline", deadline)
        assert due is not None
        if due < on:
            raise fields.FieldError(
                "deadline",
                f"整改期限 {due} 早于责令整改日期（{on}）",
                f"the deadline {due} is before the order ({on})",
            )
        text = fields.prose("requirement", requirement, max_length=2000)
        last = self.rectifications[-1] if self.rectifications else {}
        if not last.get("rechecks") and (
            last.get("ordered_on"),
            last.get("deadline"),
            last.get("requirement"),
        ) == (on, due, text):
            return len(self.rectifications), False
        self._rectification_ordered(ordered_on=on, deadline=due, requirement=text)
        return len(self.rectifications), True

    class RectificationOrdered(Aggregate.Event):
        ordered_on: str
        deadline: str
        requirement: str

    @event(RectificationOrdered)
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

    class Rechecked(Aggregate.Event):
        rectification: int
        on: str
        passed: bool
        by: str
        notes: str

    @event(Rechecked)
    def _rechecked(self, rectification: int, on: str, passed: bool, by: str, notes: str) -> None:
        order = self.rectifications[rectification - 1]
        order["rechecks"].append({"on": on, "passed": passed, "by": by, "notes": notes})
        if passed:
            order["passed_on"] = on

    # Reminders (催告) ---------------------------------------------------------------------------

    def remind(self, *, on: object, text: object, today: date) -> tuple[int, bool]:
        """The reminder's number, and False if the same reminder (day and text) is on record."""
        reminder = {
            "on": parse_day("on", on, today, self._after_completion()),
            "text": fields.prose("text", text, max_length=2000),
        }
        if reminder in self.reminders:
            return self.reminders.index(reminder) + 1, False
        self._reminded(**reminder)
        return len(self.reminders), True

    class Reminded(Aggregate.Event):
        on: str
        text: str

    @event(Reminded)
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
        target_type: str | None = None,
        **details: object,
    ) -> tuple[int, bool]:
        """File a penalty case with its decision in the fields of the 双公示 standard
        (`details`: the other fields of `CASE_FIELD_LABELS`): its number, and False if this very
        case (every field and the credit class) is filed already; the same case number filed
        otherwise is a conflict."""
        unknown = sorted(set(details) - set(CASE_FIELD_LABELS))
        if unknown:
            raise fields.FieldError(
                unknown[0], "不是处罚案件的字段", f"not a field of a penalty case: {unknown}"
            )
        number = fields.text("case_no", case_no, max_length=64)
        chosen = (
            fields.choice("credit_class", credit_class, CreditClass, CREDIT_CLASS_LABELS).value
            if credit_class is not None and str(credit_class).strip()
            else None
        )
        decided = parse_day("decided_on", decided_on, today, self._after_completion())
        raw = {**dict.fromkeys(CASE_FIELD_LABELS), **details}
        raw.update(case_no=number, decided_on=decided, decision=decision)
        for n, filed in enumerate(self.cases, start=1):
            if filed["case_no"] == number:
                recorded = self._details(raw, target_type)
                if filed["credit_class"] == chosen and all(
                    filed.get(k) == v for k, v in recorded.items()
                ):
                    return n, False
                raise ConflictError(f"案件 {number} 已立案", f"case {number} is already filed")
        if chosen is not None and chosen <= current_class:
            raise fields.FieldError(
                "credit_class",
                f"信用风险分类只能调低为风险更高的类别（当前为 {current_class} 类），"
                f"实际为 {chosen} 类",
                f"the credit class may only be lowered to a riskier class (now "
                f"{current_class}), got {chosen}",
            )
        self._case_filed(
            credit_class=chosen,
            previous_class=current_class if chosen else None,
            target_type=target_type,
            **self._details(raw, target_type),
        )
        return len(self.cases), True

    def _details(self, raw: Mapping[str, Any], target_type: str | None) -> dict[str, Any]:
        """A case's 双公示 fields, validated alone and together."""
        decided = str(raw["decided_on"])
        authority = fields.text("authority", raw["authority"], max_length=64)
        if authority not in self.departments:
            raise fields.FieldError(
                "authority",
                f"处罚机关 {authority} 不是本任务的检查部门（{'、'.join(self.departments)}）",
                f"the authority {authority} is not one of the task's departments "
                f"({', '.join(self.departments)})",
            )
        authority_code = parse_credit_code("authority_code", raw["authority_code"])
        source = fields.text("source", raw["source"], required=False, max_length=64) or authority
        source_code = (
            parse_credit_code("source_code", raw["source_code"], required=False) or authority_code
        )
        publicity = fields.iso_date("publicity_until", raw["publicity_until"], required=False)
        if publicity is None:
            publicity = (
                date.fromisoformat(decided) + timedelta(days=DEFAULT_PUBLICITY_DAYS)
            ).isoformat()
        details = {
            "case_no": fields.text("case_no", raw["case_no"], max_length=64),
            "decided_on": decided,
            "decision": fields.prose("decision", raw["decision"], max_length=5000),
            "violation_type": fields.prose(
                "violation_type", raw["violation_type"], max_length=2000
            ),
            "facts": fields.prose("facts", raw["facts"], max_length=5000),
            "basis": fields.prose("basis", raw["basis"], max_length=2000),
            "penalty_types": parse_penalty_types(raw["penalty_types"]),
            "fine": parse_amount("fine", raw["fine"]),
            "confiscated": parse_amount("confiscated", raw["confiscated"]),
            "licence": fields.text("licence", raw["licence"], required=False, max_length=200),
            "valid_until": fields.iso_date("valid_until", raw["valid_until"], required=False),
            "publicity_until": publicity,
            "authority": authority,
            "authority_code": authority_code,
            "source": source,
            "source_code": source_code,
            "legal_representative": fields.text(
                "legal_representative", raw["legal_representative"], required=False, max_length=64
            ),
            "notes": fields.prose("notes", raw["notes"], required=False, max_length=2000),
        }
        check_case(details, needs_representative=needs_representative(target_type))
        return details

    class CaseFiled(Aggregate.Event):
        case_no: str
        decided_on: str
        decision: str
        credit_class: str | None
        previous_class: str | None
        violation_type: str
        facts: str
        basis: str
        penalty_types: list[str] | None
        fine: str
        confiscated: str
        licence: str
        valid_until: str | None
        publicity_until: str | None
        authority: str
        authority_code: str
        source: str
        source_code: str
        legal_representative: str
        notes: str
        target_type: str | None

    @event(CaseFiled)
    def _case_filed(
        self,
        case_no: str,
        decided_on: str,
        decision: str,
        credit_class: str | None,
        previous_class: str | None,
        # The 双公示 fields (cases filed before they were recorded replay with these defaults).
        violation_type: str = "",
        facts: str = "",
        basis: str = "",
        penalty_types: list[str] | None = None,
        fine: str = "",
        confiscated: str = "",
        licence: str = "",
        valid_until: str | None = None,
        publicity_until: str | None = None,
        authority: str = "",
        authority_code: str = "",
        source: str = "",
        source_code: str = "",
        legal_representative: str = "",
        notes: str = "",
        target_type: str | None = None,
    ) -> None:
        self.cases.append(
            {
                "case_no": case_no,
                "decided_on": decided_on,
                "decision": decision,
                "credit_class": credit_class,
                "previous_class": previous_class,
                "published_on": None,
                "violation_type": violation_type,
                "facts": facts,
                "basis": basis,
                "penalty_types": list(penalty_types or []),
                "fine": fine,
                "confiscated": confiscated,
                "licence": licence,
                "valid_until": valid_until,
                "publicity_until": publicity_until,
                "authority": authority,
                "authority_code": authority_code,
                "source": source or authority,
                "source_code": source_code or authority_code,
                "legal_representative": legal_representative,
                "notes": notes,
                "target_type": target_type,
                "corrections": [],
                "revoked_on": None,
                "revocation": None,
            }
        )

    def case_number(self, case: object) -> int:
        """A case by its case number or its 1-based position."""
        raw = fields.text("case", case, max_length=64)
        for n, found in enumerate(self.cases, start=1):
            if found["case_no"] == raw:
                return n
        return self._number("case", raw, self.cases, "案件")

    def _open_case(self, case: object, doing_zh: str, doing_en: str) -> int:
        n = self.case_number(case)
        found = self.cases[n - 1]
        if found.get("revoked_on"):
            raise ConflictError(
                f"案件 {found['case_no']} 的处罚决定已于 {found['revoked_on']} 撤销，不能{doing_zh}",
                f"case {found['case_no']} was revoked on {found['revoked_on']}: cannot {doing_en}",
            )
        return n

    def publish_case(self, *, case: object, on: object, today: date) -> None:
        n = self._open_case(case, "公示", "publish it")
        found = self.cases[n - 1]
        if found["published_on"]:
            raise ConflictError(
                f"案件 {found['case_no']} 的处罚信息已于 {found['published_on']} 公示",
                f"case {found['case_no']} was published on {found['published_on']}",
            )
        missing = [f for f in REQUIRED_FOR_PUBLICATION if not found.get(f)]
        if missing:
            names = "、".join(CASE_FIELD_LABELS[f] for f in missing)
            raise ConflictError(
                f"案件 {found['case_no']} 缺少双公示必填信息（{names}）：请先更正后再公示",
                f"case {found['case_no']} lacks fields the 双公示 standard requires "
                f"({', '.join(missing)}): correct it before publishing",
            )
        self._case_published(
            case=n,
            on=parse_day("on", on, today, (found["decided_on"], "处罚决定日期", "the decision")),
        )

    class CasePublished(Aggregate.Event):
        case: int
        on: str

    @event(CasePublished)
    def _case_published(self, case: int, on: str) -> None:
        self.cases[case - 1]["published_on"] = on

    def correct_case(
        self,
        *,
        case: object,
        changes: Mapping[str, object],
        reason: object,
        on: object,
        today: date,
        target_type: str | None = None,
    ) -> None:
        """Correct a case's 双公示 fields (更正): an event of its own; once published, a
        correction record goes to the credit platforms."""
        n = self._open_case(case, "更正", "correct it")
        found = self.cases[n - 1]
        unknown = [k for k in changes if k not in CORRECTABLE]
        if unknown or not changes:
            raise fields.FieldError(
                "changes",
                f"可更正的字段为：{'、'.join(CASE_FIELD_LABELS[f] for f in CORRECTABLE)}"
                + (f"（无法更正：{'、'.join(unknown)}）" if unknown else "（未指明更正内容）"),
                f"correctable fields: {', '.join(CORRECTABLE)}"
                + (f" (not correctable: {', '.join(unknown)})" if unknown else " (none given)"),
            )
        merged = {name: found.get(name) for name in CASE_FIELD_LABELS}
        merged.update(changes)
        details = self._details(merged, target_type or found.get("target_type"))
        new_no = details["case_no"]
        if new_no != found["case_no"] and any(c["case_no"] == new_no for c in self.cases):
            raise ConflictError(f"案件 {new_no} 已立案", f"case {new_no} is already filed")
        changed = {k: v for k, v in details.items() if found.get(k) != v}
        if not changed:
            raise fields.FieldError(
                "changes", "更正内容与现有信息相同", "the correction changes nothing"
            )
        last = found["corrections"][-1]["on"] if found["corrections"] else found["decided_on"]
        self._case_corrected(
            case=n,
            changes=changed,
            reason=fields.prose("reason", reason, max_length=2000),
            on=parse_day("on", on, today, (last, "此前一步的日期", "the previous step")),
        )

    class CaseCorrected(Aggregate.Event):
        case: int
        changes: dict[str, Any]
        reason: str
        on: str

    @event(CaseCorrected)
    def _case_corrected(self, case: int, changes: dict[str, Any], reason: str, on: str) -> None:
        found = self.cases[case - 1]
        found.update(changes)
        found["corrections"] = [
            *found.get("corrections", []),
            {"on": on, "reason": reason, "fields": sorted(changes)},
        ]

    def revoke_case(self, *, case: object, on: object, reason: object, today: date) -> None:
        """The decision is revoked (撤销, e.g. by administrative reconsideration or a court):
        once published, a withdrawal record goes to the credit platforms."""
        n = self._open_case(case, "撤销", "revoke it")
        found = self.cases[n - 1]
        self._case_revoked(
            case=n,
            on=parse_day("on", on, today, (found["decided_on"], "处罚决定日期", "the decision")),
            reason=fields.prose("reason", reason, max_length=2000),
        )

    class CaseRevoked(Aggregate.Event):
        case: int
        on: str
        reason: str

    @event(CaseRevoked)
    def _case_revoked(self, case: int, on: str, reason: str) -> None:
        self.cases[case - 1]["revoked_on"] = on
        self.cases[case - 1]["revocation"] = reason

    # Referrals (移送) ---------------------------------------------------------------------------

    def refer(
        self, *, on: object, to_kind: object, to: object, reason: object, today: date
    ) -> tuple[int, bool]:
        """The referral's number, and False if the same referral is on record."""
        kind = fields.choice("to_kind", to_kind, ReferralTo, REFERRAL_LABELS)
        receiver = fields.text("to", to, required=kind is ReferralTo.DEPARTMENT, max_length=200)
        referral = {
            "on": parse_day("on", on, today, self._after_completion()),
            "to_kind": kind.value,
            "to": receiver or REFERRAL_LABELS_ZH[kind],
            "reason": fields.prose("reason", reason, max_length=2000),
        }
        if referral in self.referrals:
            return self.referrals.index(referral) + 1, False
        self._referred(**referral)
        return len(self.referrals), True

    class Referred(Aggregate.Event):
        on: str
        to_kind: str
        to: str
        reason: str

    @event(Referred)
    def _referred(self, on: str, to_kind: str, to: str, reason: str) -> None:
        self.referrals.append({"on": on, "to_kind": to_kind, "to": to, "reason": reason})


# The audit trail (全程留痕): what a follow-up's events say ------------------------------------


@trail.describes(FollowUp.Opened)
def _trail_opened(event: Any, recall: trail.Recall) -> trail.Described:
    e = event
    task = (trail.TASK, str(trail.attr(e, "task_id", "")))
    target = (trail.TARGET, str(trail.attr(e, "identifier", "")))
    team = [(trail.INSPECTOR, str(m)) for m in trail.attr(e, "team") or []]
    opened = trail.unique([task, target, *team])
    return trail.Described(
        "FollowUp.Opened",
        EVENT_LABELS_ZH.get("Opened", "Opened"),
        f"开始后续处置（检查完成于 {trail.attr(e, 'completed_on', '')}）",
        opened,
        remember={trail.originator(e): {"subjects": [list(s) for s in opened]}},
    )


def _referred(e: Any) -> str:
    to = trail.attr(e, "to", "") or REFERRAL_LABELS_ZH.get(trail.attr(e, "to_kind"), "")
    return f"移送{to}（{trail.attr(e, 'on', '')}），理由：{trail.attr(e, 'reason', '')}"


_FOLLOWUP_DETAILS: dict[type[Any], Callable[[Any], str]] = {
    FollowUp.RectificationOrdered: lambda e: (
        f"责令整改（{trail.attr(e, 'ordered_on', '')}，期限 {trail.attr(e, 'deadline', '')}）："
        f"{trail.attr(e, 'requirement', '')}"
    ),
    FollowUp.Rechecked: lambda e: (
        f"整改 {trail.attr(e, 'rectification', '')} 复查"
        f"{'通过' if trail.attr(e, 'passed') else '未通过'}（{trail.attr(e, 'on', '')}，"
        f"{trail.attr(e, 'by', '')}）"
    ),
    FollowUp.Reminded: lambda e: f"催告（{trail.attr(e, 'on', '')}）：{trail.attr(e, 'text', '')}",
    FollowUp.CaseFiled: lambda e: (
        f"立案处罚 {trail.attr(e, 'case_no', '')}（决定 {trail.attr(e, 'decided_on', '')}）"
        + (
            f"，信用风险分类由 {trail.attr(e, 'previous_class')} 类调为 "
            f"{trail.attr(e, 'credit_class')} 类"
            if trail.attr(e, "credit_class")
            else ""
        )
    ),
    FollowUp.CasePublished: lambda e: (
        f"公示第 {trail.attr(e, 'case', '')} 件处罚信息（{trail.attr(e, 'on', '')}）"
    ),
    FollowUp.CaseCorrected: lambda e: (
        f"更正第 {trail.attr(e, 'case', '')} 件处罚信息（{trail.attr(e, 'on', '')}）："
        f"{trail.shown(sorted(trail.attr(e, 'changes') or {}))}，理由："
        f"{trail.attr(e, 'reason', '')}"
    ),
    FollowUp.CaseRevoked: lambda e: (
        f"撤销第 {trail.attr(e, 'case', '')} 件处罚决定（{trail.attr(e, 'on', '')}），理由："
        f"{trail.attr(e, 'reason', '')}"
    ),
    FollowUp.Referred: _referred,
}


@trail.describes(*_FOLLOWUP_DETAILS)
def _trail_followup(event: Any, recall: trail.Recall) -> trail.Described:
    subjects = trail.memo_subjects(recall(trail.originator(event)))
    return trail.detailed(event, subjects, EVENT_LABELS_ZH, _FOLLOWUP_DETAILS)
