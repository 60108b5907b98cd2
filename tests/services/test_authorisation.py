"""The authorisation matrix through the services, on both backends: every role x every command
x own/other department. A refusal writes nothing but its own record in the ledger."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ssj.domain.access import Command, Forbidden, Principal, Refusal
from ssj.domain.organisation import Role
from ssj.services.plans import PlanService
from tests.domain.test_access import EXPECTED
from tests.services.conftest import OTHER, OWN, Jurisdiction, inspector_row, item_row, target_row

Call = Callable[[Principal, str], object]


def calls(j: Jurisdiction) -> dict[Command, Call]:
    counter = iter(range(1000, 100000))
    r = j.registry
    plans = PlanService(j.services)

    def plan(department: str) -> dict[str, object]:
        return {
            "code": f"P{next(counter)}",
            "department": department,
            "title": "年度抽查计划",
            "year": 2026,
            "kind": "annual",
            "items": ["AUTH-1"],
        }

    def cancel(p: Principal, d: str) -> object:
        drafted = plans.draft(j.root, plan(d))
        return plans.cancel(p, d, drafted["code"], "计划调整")

    return {
        Command.EDIT_PLANS: lambda p, d: plans.draft(p, plan(d)),
        Command.APPROVE_PLANS: cancel,
        Command.MANAGE_ORGANISATION: lambda p, d: r.add_department(
            p, f"D{next(counter)}", "新科室", "city", "section", "CZ-SJJ", "320400"
        ),
        Command.EDIT_ITEMS: lambda p, d: r.save_item(p, item_row(f"I{next(counter)}", d)),
        Command.EDIT_TARGETS: lambda p, d: r.save_target(p, target_row(next(counter), d)),
        Command.EDIT_INSPECTORS: lambda p, d: r.save_inspector(p, inspector_row(next(counter), d)),
        Command.DECLARE_CONFLICT: lambda p, d: r.declare_conflict(
            p,
            {
                "certificate_no": inspector_row(1 if d == OWN else 2)["certificate_no"],
                "target_identifier": target_row(1)["identifier"],
                "relation": "近亲属",
                "valid_from": "2025-01-01",
                "reason": "配偶任该企业法定代表人",
            },
        ),
        Command.SET_CONFLICT_RULES: lambda p, d: r.set_conflict_rules(
            p, d, {"not_own_district": next(counter) % 2 == 0}
        ),
    }


def test_matrix_through_the_services(jurisdiction: Jurisdiction) -> None:
    j = jurisdiction
    j.registry.save_target(j.root, target_row(1))
    j.registry.save_inspector(j.root, inspector_row(1, OWN))
    j.registry.save_inspector(j.root, inspector_row(2, OTHER))
    # An inspector declares conflicts only for the certificate linked to them.
    j.registry.link_certificate(j.root, "inspector-own", inspector_row(1)["certificate_no"])
    for department in (OWN, OTHER):
        j.registry.save_item(j.root, item_row("AUTH-1", department))
    ledger = j.services.ledger
    wrong: list[str] = []
    table = calls(j)  # one counter for the whole matrix: codes and numbers never repeat
    for role in Role:
        principal = j.as_role(role)
        for command, call in table.items():
            for department, allowed in zip((OWN, OTHER), EXPECTED[role][command], strict=True):
                size = ledger.size()
                counted = j.services.refusals.pending()
                if command is Command.APPROVE_PLANS:
                    size += 1  # the call first drafts its plan as root
                try:
                    call(principal, department)
                    outcome = True
                except Forbidden:
                    outcome = False
                    # Exactly one new event: the refusal record, naming who and what; or, the
                    # same refusal as the one before (no department to tell them apart),
                    # counted with it.
                    logged = ledger.read(size, 10)
                    if not logged and j.services.refusals.pending() == counted + 1:
                        pass
                    elif len(logged) != 1 or not isinstance(logged[0].event, Refusal.Recorded):  # type: ignore[attr-defined]
                        wrong.append(f"{role}/{command}/{department}: refusal wrote {logged}")
                    elif logged[0].event.command != command.value:
                        wrong.append(
                            f"{role}/{command}/{department}: refusal names the wrong command"
                        )
                if outcome != allowed:
                    wrong.append(
                        f"{role}/{command}/{department}: allowed={outcome}, expected {allowed}"
                    )
    assert not wrong, "\n".join(wrong)


def test_refusal_changes_no_registry_state(jurisdiction: Jurisdiction) -> None:
    j = jurisdiction
    operator = j.as_role(Role.OPERATOR)
    j.services.refresh()
    before = j.services.queries.list("targets").total
    with pytest.raises(Forbidden):
        j.registry.save_target(operator, target_row(77, OTHER))
    j.services.refresh()
    assert j.services.queries.list("targets").total == before
