"""Follow-up of inspected tasks (后续处置): rectification orders and re-checks, reminders,
penalty cases and their publication, referrals; and reading them.

Each command: authorise for the task's departments (FOLLOW_UP; a re-check RECHECK, by an
inspector of the task's current team, as the certificate their user is linked to), load the
task's follow-up (opened by its first action, once the inspection is complete), decide
(ssj.domain.followup), save with the actor; an entry identical to one on record (a retried
command) writes nothing and comes back "unchanged". A penalty case that lowers the credit class
changes the target in the same save (`Target.update`), so the registry changes through its own
events and the next draw sees it. Bad input writes nothing; a refusal records itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from projections.followups import TABLES
from projections.registry import RegistryQueries
from ssj.domain import fields
from ssj.domain.access import Command, Principal
from ssj.domain.followup import FollowUp, followup_id, registry_changes
from ssj.domain.targets import CreditClass, Target, target_id
from ssj.domain.tasks import Task
from ssj.errors import NotFoundError
from ssj.ledger.envelope import Actor
from ssj.services.base import Outcome, Service
from ssj.services.context import Services
from ssj.services.draws import today
from ssj.services.tasks import TaskService

# The 双公示 fields a case is filed with, besides its number, decision, date and credit class.
CASE_DETAILS = (
    "violation_type",
    "facts",
    "basis",
    "penalty_types",
    "fine",
    "confiscated",
    "licence",
    "valid_until",
    "publicity_until",
    "authority_code",
    "source",
    "source_code",
    "legal_representative",
    "notes",
)

# What a command that records an entry returns: the follow-up, the entry's 1-based number, and
# "created", or "unchanged" when the identical entry was on record already (nothing written).
Made = tuple[FollowUp, int, Outcome]


class FollowUpService(Service):
    def __init__(self, services: Services, clock: Callable[[], date] = today) -> None:
        super().__init__(services)
        self.today = clock  # today in Asia/Shanghai (tests may fix it)
        self.tasks = TaskService(services, clock)
        self.queries = RegistryQueries(services.store, TABLES)

    # Loading -----------------------------------------------------------------------------------

    def _load(
        self, principal: Principal, ref: str, command: Command, doing_zh: str, doing_en: str
    ) -> tuple[FollowUp, Task, Actor]:
        """The task's follow-up (opened now if it has none), the task and the actor."""
        task, actor = self.tasks._load(principal, ref, command, doing_zh, doing_en)
        try:
            found: object = self.s.ledger.repository.get(followup_id(task.id))
        except AggregateNotFoundError:
            opened = FollowUp.open(
                task_id=str(task.id),
                identifier=task.identifier,
                departments=list(task.departments),
                completed_on=task.completed_on,
                team=self.tasks.team(task),
            )
            return opened, task, actor
        assert isinstance(found, FollowUp)
        return found, task, actor

    def _target(self, identifier: str) -> Target:
        return self._get(Target, target_id(identifier), f"检查对象 {identifier}")

    # Rectification (整改) -----------------------------------------------------------------------

    def order_rectification(
        self,
        principal: Principal,
        ref: str,
        *,
        deadline: str,
        requirement: str,
        on: str | None = None,
    ) -> Made:
        follow, _, actor = self._load(
            principal, ref, Command.FOLLOW_UP, "责令整改", "order a rectification"
        )
        number, new = follow.order_rectification(
            ordered_on=on or self.today().isoformat(),
            deadline=deadline,
            requirement=requirement,
            today=self.today(),
        )
        return self._saved(actor, follow, number, new)

    def recheck(
        self,
        principal: Principal,
        ref: str,
        rectification: int | str,
        passed: bool | str,
        *,
        notes: str = "",
        on: str | None = None,
    ) -> FollowUp:
        """A team member's re-check of a rectification: passed or failed."""
        follow, task, actor = self._load(
            principal, ref, Command.RECHECK, "复查整改", "re-check a rectification"
        )
        certificate_no, _ = self.tasks.require_member(
            principal, task, Command.RECHECK, "复查整改", "re-check a rectification"
        )
        follow.recheck(
            number=rectification,
            on=on or self.today().isoformat(),
            passed=passed,
            by=certificate_no,
            notes=notes,
            today=self.today(),
        )
        self._save(actor, follow)
        return follow

    # Reminders (催告) ---------------------------------------------------------------------------

    def remind(self, principal: Principal, ref: str, text: str, on: str | None = None) -> Made:
        follow, _, actor = self._load(principal, ref, Command.FOLLOW_UP, "催告", "remind")
        number, new = follow.remind(
            on=on or self.today().isoformat(), text=text, today=self.today()
        )
        return self._saved(actor, follow, number, new)

    # Penalty cases (立案处罚) -------------------------------------------------------------------

    def file_case(
        self,
        principal: Principal,
        ref: str,
        *,
        case_no: str,
        decision: str,
        decided_on: str | None = None,
        credit_class: str | None = None,
        **details: Any,
    ) -> Made:
        """File a penalty case with its 双公示 fields (`details`: violation_type, facts, basis,
        penalty_types, fine, confiscated, licence, valid_until, publicity_until, authority,
        authority_code, source, source_code, legal_representative, notes); a lowered credit
        class changes the target in the same save. The authority defaults to the user's
        department when it is one of the task's, else the task's lead department. The very same
        case again is "unchanged" (nothing written)."""
        follow, task, actor = self._load(
            principal, ref, Command.FOLLOW_UP, "立案处罚", "file a penalty case"
        )
        target = self._target(task.identifier)
        authority = details.pop("authority", None) or (
            principal.department
            if principal.department in task.departments
            else task.departments[0]
        )
        self._known_department("source", details.get("source"))
        number, new = follow.file_case(
            case_no=case_no,
            decided_on=decided_on or self.today().isoformat(),
            decision=decision,
            credit_class=credit_class,
            current_class=str(target.state["credit_class"]),
            today=self.today(),
            authority=authority,
            target_type=str(target.state.get("target_type") or ""),
            **{k: details.get(k) for k in CASE_DETAILS},
        )
        if not new:
            return follow, number, "unchanged"
        lowered = follow.cases[-1]["credit_class"]
        changed: list[Target] = []
        if lowered:
            record = registry_changes(target.state, credit_class=CreditClass(lowered))
            if record is not None and target.update(record):
                changed.append(target)
        self._save(actor, follow, *changed)
        return follow, number, "created"

    def _known_department(self, field: str, code: object) -> None:
        if code and not self.s.department_exists(str(code).strip()):
            raise fields.FieldError(field, f"部门 {code} 不存在", f"unknown department {code}")

    def publish_case(
        self, principal: Principal, ref: str, case: str, on: str | None = None
    ) -> FollowUp:
        follow, _, actor = self._load(
            principal, ref, Command.FOLLOW_UP, "公示处罚信息", "publish a penalty case"
        )
        follow.publish_case(case=case, on=on or self.today().isoformat(), today=self.today())
        self._save(actor, follow)
        return follow

    def correct_case(
        self,
        principal: Principal,
        ref: str,
        case: str,
        changes: Mapping[str, Any],
        reason: str,
        on: str | None = None,
    ) -> FollowUp:
        """Correct a case's 双公示 fields (更正), by an event of its own."""
        follow, task, actor = self._load(
            principal, ref, Command.FOLLOW_UP, "更正处罚信息", "correct a penalty case"
        )
        self._known_department("source", changes.get("source"))
        target = self._target(task.identifier)
        follow.correct_case(
            case=case,
            changes=dict(changes),
            reason=reason,
            on=on or self.today().isoformat(),
            today=self.today(),
            target_type=str(target.state.get("target_type") or ""),
        )
        self._save(actor, follow)
        return follow

    def revoke_case(
        self, principal: Principal, ref: str, case: str, reason: str, on: str | None = None
    ) -> FollowUp:
        """The decision is revoked (撤销): recorded, never erased."""
        follow, _, actor = self._load(
            principal, ref, Command.FOLLOW_UP, "撤销处罚决定", "revoke a penalty decision"
        )
        follow.revoke_case(
            case=case, on=on or self.today().isoformat(), reason=reason, today=self.today()
        )
        self._save(actor, follow)
        return follow

    # Referrals (移送) ---------------------------------------------------------------------------

    def refer(
        self,
        principal: Principal,
        ref: str,
        *,
        to_kind: str,
        reason: str,
        to: str = "",
        on: str | None = None,
    ) -> Made:
        follow, _, actor = self._load(principal, ref, Command.FOLLOW_UP, "移送", "refer")
        number, new = follow.refer(
            on=on or self.today().isoformat(),
            to_kind=to_kind,
            to=to,
            reason=reason,
            today=self.today(),
        )
        return self._saved(actor, follow, number, new)

    def _saved(self, actor: Actor, follow: FollowUp, number: int, new: bool) -> Made:
        if not new:
            return follow, number, "unchanged"
        self._save(actor, follow)
        return follow, number, "created"

    # Reading -----------------------------------------------------------------------------------

    def row(self, ref: str, at_seq: int | None = None) -> dict[str, Any]:
        """The task's follow-up as the read model holds it, or NotFoundError."""
        key = self.tasks.resolve(ref)
        if at_seq is None:
            self.s.refresh()
        found = self.queries.get("followups", [key], at_seq=at_seq)
        if found is None:
            raise NotFoundError(f"抽查任务 {ref} 尚无后续处置", f"task {ref} has no follow-up")
        return found
