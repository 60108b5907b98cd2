"""The authorisation matrix: every role x every command x own/other department."""

from __future__ import annotations

import itertools

import pytest

from ssj.domain.access import ALLOWED, Command, Forbidden, Principal, authorise
from ssj.domain.organisation import Role
from ssj.ledger.envelope import ROLES

OWN, OTHER = "CZ-SJJ-TZ", "CZ-SJJ-SP"

# The expected outcome written out by hand, independent of the policy tables.
EXPECTED: dict[Role, dict[Command, tuple[bool, bool]]] = {
    # role: command: (own department allowed, other department allowed)
    Role.ADMIN: {c: (True, True) for c in Command},
    Role.OPERATOR: {
        Command.MANAGE_ORGANISATION: (False, False),
        Command.MANAGE_CALENDAR: (False, False),
        Command.EDIT_ITEMS: (True, False),
        Command.EDIT_TARGETS: (True, False),
        Command.EDIT_INSPECTORS: (True, False),
        Command.DECLARE_CONFLICT: (True, False),
        Command.SET_CONFLICT_RULES: (False, False),
        Command.EDIT_PLANS: (True, False),
        Command.APPROVE_PLANS: (False, False),
        Command.RUN_DRAWS: (True, False),
        Command.ABANDON_DRAWS: (False, False),
        Command.RECUSE: (False, False),
        Command.REQUEST_RECUSAL: (True, False),
        Command.DECIDE_RECUSAL: (False, False),
        Command.RECORD_RESULTS: (False, False),
        Command.MANAGE_TASKS: (True, False),
        Command.DECIDE_OBJECTIONS: (False, False),
        Command.FOLLOW_UP: (True, False),
        Command.RECHECK: (False, False),
        Command.READ_REGISTRY: (True, False),
        Command.READ_ALL: (False, False),
        Command.READ_ASSESSMENT: (False, False),
        Command.MANAGE_SUBSCRIBERS: (False, False),
    },
    Role.LEADER: {
        Command.MANAGE_ORGANISATION: (False, False),
        Command.MANAGE_CALENDAR: (False, False),
        Command.EDIT_ITEMS: (True, False),
        Command.EDIT_TARGETS: (True, False),
        Command.EDIT_INSPECTORS: (True, False),
        Command.DECLARE_CONFLICT: (True, False),
        Command.SET_CONFLICT_RULES: (True, False),
        Command.EDIT_PLANS: (True, False),
        Command.APPROVE_PLANS: (True, False),
        Command.RUN_DRAWS: (True, False),
        Command.ABANDON_DRAWS: (True, False),
        Command.RECUSE: (True, False),
        Command.REQUEST_RECUSAL: (True, False),
        Command.DECIDE_RECUSAL: (True, False),
        Command.RECORD_RESULTS: (True, False),
        Command.MANAGE_TASKS: (True, False),
        Command.DECIDE_OBJECTIONS: (True, False),
        Command.FOLLOW_UP: (True, False),
        Command.RECHECK: (True, False),
        Command.READ_REGISTRY: (True, False),
        Command.READ_ALL: (False, False),
        Command.READ_ASSESSMENT: (True, False),
        Command.MANAGE_SUBSCRIBERS: (False, False),
    },
    Role.INSPECTOR: {
        **{c: (False, False) for c in Command},
        Command.DECLARE_CONFLICT: (True, False),
        Command.RECUSE: (True, False),
        Command.RECORD_RESULTS: (True, False),
        Command.RECHECK: (True, False),
        Command.READ_REGISTRY: (True, False),
    },
    Role.SUPERVISOR: {
        **{c: (False, False) for c in Command},
        Command.READ_REGISTRY: (True, True),
        Command.READ_ALL: (True, True),
        Command.READ_ASSESSMENT: (True, True),
    },
    Role.REVIEWER: {
        **{c: (False, False) for c in Command},
        Command.READ_REGISTRY: (True, True),
        Command.READ_ALL: (True, True),
        Command.READ_ASSESSMENT: (True, True),
    },
    Role.PUBLIC: {c: (False, False) for c in Command},
}


@pytest.mark.parametrize(("role", "command"), list(itertools.product(Role, Command)))
def test_matrix(role: Role, command: Command) -> None:
    principal = Principal("u", OWN, frozenset({role}))
    for departments, allowed in zip(([OWN], [OTHER]), EXPECTED[role][command], strict=True):
        if allowed:
            authorise(principal, command, departments)
        else:
            with pytest.raises(Forbidden) as info:
                authorise(principal, command, departments)
            assert info.value.zh and info.value.en


def test_joint_items_admit_lead_and_cooperating_departments() -> None:
    joint = [OTHER, OWN]  # lead, cooperating
    authorise(Principal("u", OWN, frozenset({Role.OPERATOR})), Command.EDIT_ITEMS, joint)
    with pytest.raises(Forbidden):
        authorise(Principal("u", "CZ-ZJJ", frozenset({Role.OPERATOR})), Command.EDIT_ITEMS, joint)


def test_every_command_has_a_policy_and_roles_match_the_ledger() -> None:
    assert set(ALLOWED) == set(Command)
    assert {r.value for r in Role} == set(ROLES) - {"system"}
