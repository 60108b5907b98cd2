"""Commands on inspection plans (抽查计划): draft, amend, submit, approve or return, publish,
cancel.

Each: validate the input (domain), authorise for the lead department, load the plan, decide,
save with the actor. A plan may only list items on the item list (一单) of the department it
lists them under, none retired, and only target types its items inspect: nothing outside the
list may be inspected. Bad input and refusals write nothing (a refusal records itself).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ssj.domain import fields
from ssj.domain.access import Command, Principal
from ssj.domain.plans import Plan, PlanRecord, patched, plan_id
from ssj.domain.targets import TARGET_TYPE_LABELS, TargetType
from ssj.errors import ConflictError
from ssj.services.base import Service

TYPE_NAMES = {value: label for label, value in reversed(TARGET_TYPE_LABELS.items())}


def summary(plan: Plan) -> dict[str, Any]:
    """A plan as commands return it: its state, status, version and ids."""
    return {
        **plan.state,
        "plan_id": str(plan.id),
        "label": plan.label,
        "status": plan.status.value,
        "version": plan.version,
    }


class PlanService(Service):
    def _plan(self, department: str, code: str) -> Plan:
        return self._get(
            Plan,
            plan_id(department, code),
            f"抽查计划 {department}/{code} / plan {department}/{code}",
        )

    def _checked(self, record: PlanRecord) -> PlanRecord:
        """The record with its items checked against the item list, as the read model stands
        now, and its target types filled from the items when none were given."""
        self.s.refresh()
        for department in record.departments:
            self.s.require_department(department)
        lists = {record.department: record.items, **record.cooperating}
        types: dict[TargetType, None] = {}
        untyped = False
        for department, codes in lists.items():
            for code in codes:
                item = self.s.queries.get("items", [department, code])
                field = "items" if department == record.department else "cooperating"
                if item is None:
                    raise fields.FieldError(
                        field,
                        f"部门 {department} 的抽查事项清单中没有事项 {code}",
                        f"item {code} is not on the item list of {department}",
                    )
                if item.get("retired_reason") is not None:
                    raise fields.FieldError(
                        field,
                        f"事项 {department}/{code} 已废止，不能列入计划",
                        f"item {department}/{code} is retired and cannot be planned",
                    )
                if item.get("target_type"):
                    types.setdefault(TargetType(item["target_type"]), None)
                else:  # its published list names no type without doubt (issue #11)
                    untyped = True
        if not record.target_types:
            if not types:
                raise fields.FieldError(
                    "target_types",
                    "计划所列事项的清单未写明检查对象类型，请在计划中列明对象类型",
                    "the plan's items name no target type: name the plan's target types",
                )
            return dataclasses.replace(record, target_types=tuple(types))
        for target_type in record.target_types:
            if target_type not in types and not untyped:
                raise fields.FieldError(
                    "target_types",
                    f"计划所列事项都不检查“{TYPE_NAMES[target_type]}”类对象",
                    f"none of the plan's items inspects targets of type {target_type.value}",
                )
        return record

    # Commands ----------------------------------------------------------------------------------

    def draft(self, principal: Principal, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The new plan's summary with `outcome` "created"; the same draft of an existing plan
        is that plan, "unchanged" (nothing written); a different one is a conflict."""
        record = PlanRecord.parse(raw)
        actor = self.s.authorise(principal, Command.EDIT_PLANS, [record.department])
        existing = self._find(Plan, plan_id(record.department, record.code))
        if existing is not None:
            if existing.same_as(record):
                return {**summary(existing), "outcome": "unchanged"}
            raise ConflictError(
                f"抽查计划 {record.department}/{record.code} 已存在且内容不同（修改请用 amend）",
                f"plan {record.department}/{record.code} exists already, drafted otherwise "
                "(use amend)",
            )
        record = self._checked(record)
        plan = Plan.draft(record)
        self._save(actor, plan)
        return {**summary(plan), "outcome": "created"}

    def amend(
        self,
        principal: Principal,
        department: str,
        code: str,
        raw: Mapping[str, Any],
        reason: str = "",
    ) -> dict[str, Any]:
        """Change some fields (`raw` holds only those; the rest stay). An approved or published
        plan needs a reason and goes back to draft. Nothing changed: nothing written."""
        actor = self.s.authorise(principal, Command.EDIT_PLANS, [department])
        plan = self._plan(department, code)
        record = self._checked(PlanRecord.parse(patched(plan.state, raw)))
        if plan.amend(record, reason):
            self._save(actor, plan)
        return summary(plan)

    def submit(self, principal: Principal, department: str, code: str) -> dict[str, Any]:
        actor = self.s.authorise(principal, Command.EDIT_PLANS, [department])
        plan = self._plan(department, code)
        plan.submit()
        self._save(actor, plan)
        return summary(plan)

    def approve(
        self, principal: Principal, department: str, code: str, comment: str = ""
    ) -> dict[str, Any]:
        actor = self.s.authorise(principal, Command.APPROVE_PLANS, [department])
        plan = self._plan(department, code)
        plan.approve(comment)
        self._save(actor, plan)
        return summary(plan)

    def return_plan(
        self, principal: Principal, department: str, code: str, reason: str
    ) -> dict[str, Any]:
        actor = self.s.authorise(principal, Command.APPROVE_PLANS, [department])
        plan = self._plan(department, code)
        plan.return_(reason)
        self._save(actor, plan)
        return summary(plan)

    def publish(self, principal: Principal, department: str, code: str) -> dict[str, Any]:
        actor = self.s.authorise(principal, Command.EDIT_PLANS, [department])
        plan = self._plan(department, code)
        plan.publish()
        self._save(actor, plan)
        return summary(plan)

    def cancel(
        self, principal: Principal, department: str, code: str, reason: str
    ) -> dict[str, Any]:
        actor = self.s.authorise(principal, Command.APPROVE_PLANS, [department])
        plan = self._plan(department, code)
        plan.cancel(reason)
        self._save(actor, plan)
        return summary(plan)

    def load(self, department: str, code: str) -> Plan:
        """The plan aggregate (its state, status and version) for a service that has authorised
        its own command already, such as a draw; NotFoundError if there is none."""
        return self._plan(department, code)
