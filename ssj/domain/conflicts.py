"""Conflicts of interest (利害关系) between inspectors and targets, and recusal's first line.

Two sources: relations an inspector (or anyone on their behalf) declares, each with a validity
window and a reason; and structural rules a department sets, such as "never in the inspector's own
district" or "not where they were employed within N years". `conflicts_on` is the pure question a
draw asks for every inspector-target pair, as of the ledger seq of its commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from ssj.domain import fields, trail
from ssj.errors import ConflictError

RULES_NAMESPACE = uuid5(NAMESPACE_URL, "urn:ssj:conflict-rules")


class Relation(StrEnum):
    KINSHIP = "kinship"  # 近亲属
    EMPLOYMENT = "employment"  # 曾任职
    SHAREHOLDING = "shareholding"  # 持股
    DISPUTE = "dispute"  # 纠纷
    OTHER = "other"


RELATION_LABELS = {
    "近亲属": Relation.KINSHIP,
    "亲属": Relation.KINSHIP,
    "任职": Relation.EMPLOYMENT,
    "曾任职": Relation.EMPLOYMENT,
    "持股": Relation.SHAREHOLDING,
    "纠纷": Relation.DISPUTE,
    "其他": Relation.OTHER,
}


# What a declaration records; the same values again are the same declaration.
DECLARED = ("certificate_no", "target_identifier", "relation", "valid_from", "valid_to", "reason")


class Declaration(Aggregate):
    """One declared inspector-target relation; withdrawn, never deleted."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return uuid4()

    class Declared(Aggregate.Created):
        certificate_no: str
        target_identifier: str
        relation: str
        valid_from: str
        valid_to: str | None
        reason: str

    @event(Declared)
    def __init__(
        self,
        certificate_no: str,
        target_identifier: str,
        relation: str,
        valid_from: str,
        valid_to: str | None,
        reason: str,
    ) -> None:
        self.certificate_no = certificate_no
        self.target_identifier = target_identifier
        self.relation = relation
        self.valid_from = valid_from
        self.valid_to = valid_to
        self.reason = reason
        self.withdrawn = False

    @classmethod
    def declare(
        cls,
        certificate_no: str,
        target_identifier: str,
        relation: str,
        valid_from: str,
        valid_to: str | None,
        reason: str,
    ) -> Declaration:
        """Validate first, so the event records canonical values."""
        start = fields.iso_date("valid_from", valid_from)
        end = fields.iso_date("valid_to", valid_to, required=False)
        if start is not None and end is not None and end < start:
            raise fields.FieldError("valid_to", "结束日期早于开始日期", "ends before it starts")
        assert start is not None
        return cls(
            certificate_no=fields.text("certificate_no", certificate_no, max_length=64),
            target_identifier=fields.text("target_identifier", target_identifier, max_length=64),
            relation=fields.choice("relation", relation, Relation, RELATION_LABELS).value,
            valid_from=start,
            valid_to=end,
            reason=fields.prose("reason", reason),
        )

    def same_as(self, state: Mapping[str, Any]) -> bool:
        """`state` (a declaration as the read model holds it) declares exactly this and is not
        withdrawn: declaring it again would record nothing new."""
        return not state.get("withdrawn") and all(
            state.get(name) == getattr(self, name) for name in DECLARED
        )

    def withdraw(self, reason: str) -> None:
        if self.withdrawn:
            raise ConflictError("该利害关系声明已撤回", "this declaration is already withdrawn")
        self._withdrawn(reason=fields.prose("reason", reason))

    class Withdrawn(Aggregate.Event):
        reason: str

    @event(Withdrawn)
    def _withdrawn(self, reason: str) -> None:
        self.withdrawn = True


class RuleKind(StrEnum):
    NOT_OWN_DISTRICT = "not_own_district"
    EMPLOYMENT_WITHIN_YEARS = "employment_within_years"


class ConflictRules(Aggregate):
    """A department's structural rules; each change replaces the whole set (one event)."""

    @staticmethod
    def create_id(department: str, **_: Any) -> UUID:
        return uuid5(RULES_NAMESPACE, department)

    class Created(Aggregate.Created):
        department: str

    @event(Created)
    def __init__(self, department: str) -> None:
        self.department = department
        self.rules: dict[str, int | bool] = {}

    def set_rules(self, rules: Mapping[str, Any]) -> None:
        parsed: dict[str, int | bool] = {}
        for key, value in rules.items():
            kind = fields.choice("rule", key, RuleKind)
            if kind is RuleKind.NOT_OWN_DISTRICT:
                parsed[kind.value] = bool(value)
            else:
                years = int(value)
                if not 0 <= years <= 50:
                    raise fields.FieldError("rule", "年限应在 0–50 之间", "years must be 0-50")
                parsed[kind.value] = years
        if parsed != self.rules:
            self._set(rules=parsed)

    class Set(Aggregate.Event):
        rules: dict[str, int | bool]

    @event(Set)
    def _set(self, rules: dict[str, int | bool]) -> None:
        self.rules = rules


def conflicts_on(
    day: date,
    inspector: Mapping[str, Any],
    target: Mapping[str, Any],
    declarations: Iterable[Mapping[str, Any]],
    rules: Mapping[str, int | bool],
) -> list[str]:
    """Reasons (stable codes) why `inspector` may not inspect `target` on `day`; empty if none.

    `declarations` are the active (not withdrawn) declarations between the two, as plain dicts
    with `relation`, `valid_from`, `valid_to`.
    """
    iso = day.isoformat()
    reasons: list[str] = []
    employment_years = int(rules.get(RuleKind.EMPLOYMENT_WITHIN_YEARS, 0) or 0)
    for d in declarations:
        starts_ok = d["valid_from"] <= iso
        valid_to = d.get("valid_to")
        if d["relation"] == Relation.EMPLOYMENT and valid_to and employment_years:
            # Employment ended: still a conflict for N years after it ended.
            ended = date.fromisoformat(valid_to)
            try:
                until = ended.replace(year=ended.year + employment_years)
            except ValueError:  # 29 February
                until = ended.replace(year=ended.year + employment_years, day=28)
            if starts_ok and iso <= until.isoformat():
                reasons.append(f"declared:{d['relation']}")
            continue
        if starts_ok and (not valid_to or iso <= valid_to):
            reasons.append(f"declared:{d['relation']}")
    if rules.get(RuleKind.NOT_OWN_DISTRICT):
        home = inspector.get("home_region_code")
        if home and home == target.get("region_code"):
            reasons.append(f"rule:{RuleKind.NOT_OWN_DISTRICT.value}")
    return sorted(set(reasons))


# The audit trail (全程留痕): what declarations and recusal rules say --------------------------


@trail.describes(Declaration.Declared)
def _trail_declared(event: Any, recall: trail.Recall) -> trail.Described:
    inspector = (trail.INSPECTOR, str(trail.attr(event, "certificate_no", "")))
    target = (trail.TARGET, str(trail.attr(event, "target_identifier", "")))
    until = trail.attr(event, "valid_to") or "长期"
    return trail.Described(
        "Declaration.Declared",
        "声明利害关系",
        f"声明利害关系：执法证号 {inspector[1]} 与检查对象 {target[1]}（"
        f"{trail.attr(event, 'relation', '')}），{trail.attr(event, 'valid_from', '')} 至 "
        f"{until}，理由：{trail.attr(event, 'reason', '')}",
        (inspector, target),
        remember={trail.originator(event): {"subjects": [inspector, target]}},
    )


@trail.describes(Declaration.Withdrawn)
def _trail_withdrawn(event: Any, recall: trail.Recall) -> trail.Described:
    return trail.Described(
        "Declaration.Withdrawn",
        "撤回利害关系声明",
        f"撤回利害关系声明，理由：{trail.attr(event, 'reason', '')}",
        tuple(trail.memo_subjects(recall(trail.originator(event)))),
    )


@trail.describes(ConflictRules.Created, ConflictRules.Set)
def _trail_rules(event: Any, recall: trail.Recall) -> trail.Described:
    rules = trail.attr(event, "rules") or {}
    return trail.Described(
        trail.kind_of(event),
        "设置回避规则",
        f"部门 {trail.attr(event, 'department', '')} 设置回避规则：{trail.shown(rules)}",
    )
