"""Who may do what, for which department ("谁审批、谁监管"): one pure policy function.

A command names the departments its resource belongs to (for a joint item: the lead and the
cooperating departments). Administrators act anywhere; supervisors and reviewers only read;
everyone else acts only for their own department. The service layer calls `authorise` before
loading anything, so a refused command writes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from ssj.domain import trail
from ssj.domain.organisation import Role
from ssj.errors import SsjError


class Forbidden(SsjError):
    code = "forbidden"


class Command(StrEnum):
    MANAGE_ORGANISATION = "manage_organisation"  # departments, users, tokens
    MANAGE_CALENDAR = "manage_calendar"  # register a year's holiday arrangement
    EDIT_ITEMS = "edit_items"  # publish, amend, retire, import
    EDIT_TARGETS = "edit_targets"
    EDIT_INSPECTORS = "edit_inspectors"
    DECLARE_CONFLICT = "declare_conflict"
    SET_CONFLICT_RULES = "set_conflict_rules"
    EDIT_PLANS = "edit_plans"  # draft, amend, submit, publish
    APPROVE_PLANS = "approve_plans"  # approve or return (leader)
    RUN_DRAWS = "run_draws"  # commit, record entropy, reveal
    ABANDON_DRAWS = "abandon_draws"
    RECUSE = "recuse"  # an inspector's own declared conflict: recused at once
    REQUEST_RECUSAL = "request_recusal"  # a target's written request, put on file
    DECIDE_RECUSAL = "decide_recusal"  # leader decides a target's request
    RECORD_RESULTS = "record_results"  # draft, sign, complete: team members only (service)
    MANAGE_TASKS = "manage_tasks"  # notify, inform, the target's say, publish, withhold, close
    DECIDE_OBJECTIONS = "decide_objections"  # leader decides a target's objection to a result
    FOLLOW_UP = "follow_up"  # rectification orders, reminders, penalty cases, referrals
    RECHECK = "recheck"  # re-check of a rectification: team members only (service)
    READ_REGISTRY = "read_registry"
    READ_ALL = "read_all"
    READ_ASSESSMENT = "read_assessment"  # the annual assessment: reviewers, a leader its own
    MANAGE_SUBSCRIBERS = "manage_subscribers"  # credit platforms records are delivered to


# Which roles may issue each command at all.
ALLOWED: dict[Command, frozenset[Role]] = {
    Command.MANAGE_ORGANISATION: frozenset({Role.ADMIN}),
    Command.MANAGE_CALENDAR: frozenset({Role.ADMIN}),
    Command.EDIT_ITEMS: frozenset({Role.ADMIN, Role.OPERATOR, Role.LEADER}),
    Command.EDIT_TARGETS: frozenset({Role.ADMIN, Role.OPERATOR, Role.LEADER}),
    Command.EDIT_INSPECTORS: frozenset({Role.ADMIN, Role.OPERATOR, Role.LEADER}),
    Command.DECLARE_CONFLICT: frozenset({Role.ADMIN, Role.OPERATOR, Role.LEADER, Role.INSPECTOR}),
    Command.SET_CONFLICT_RULES: frozenset({Role.ADMIN, Role.LEADER}),
    Command.EDIT_PLANS: frozenset({Role.ADMIN, Role.OPERATOR, Role.LEADER}),
    Command.APPROVE_PLANS: frozenset({Role.ADMIN, Role.LEADER}),
    Command.RUN_DRAWS: frozenset({Role.ADMIN, Role.OPERATOR, Role.LEADER}),
    Command.ABANDON_DRAWS: frozenset({Role.ADMIN, Role.LEADER}),
    # Operators file requests but cannot recuse at once: else one could walk down a ranking.
    Command.RECUSE: frozenset({Role.ADMIN, Role.LEADER, Role.INSPECTOR}),
    Command.REQUEST_RECUSAL: frozenset({Role.ADMIN, Role.OPERATOR, Role.LEADER}),
    Command.DECIDE_RECUSAL: frozenset({Role.ADMIN, Role.LEADER}),
    # Results: the service also requires the user's linked certificate on the task's team.
    Command.RECORD_RESULTS: frozenset({Role.ADMIN, Role.LEADER, Role.INSPECTOR}),
    Command.MANAGE_TASKS: frozenset({Role.ADMIN, Role.OPERATOR, Role.LEADER}),
    Command.DECIDE_OBJECTIONS: frozenset({Role.ADMIN, Role.LEADER}),
    Command.FOLLOW_UP: frozenset({Role.ADMIN, Role.OPERATOR, Role.LEADER}),
    # Re-checks: the service also requires the user's linked certificate on the task's team.
    Command.RECHECK: frozenset({Role.ADMIN, Role.LEADER, Role.INSPECTOR}),
    Command.READ_REGISTRY: frozenset(set(Role) - {Role.PUBLIC}),
    Command.READ_ALL: frozenset({Role.ADMIN, Role.SUPERVISOR, Role.REVIEWER}),
    Command.READ_ASSESSMENT: frozenset({Role.ADMIN, Role.SUPERVISOR, Role.REVIEWER, Role.LEADER}),
    Command.MANAGE_SUBSCRIBERS: frozenset({Role.ADMIN}),
}

# Roles whose permission is not limited to their own department.
ANYWHERE = frozenset({Role.ADMIN})
READERS_ANYWHERE = frozenset({Role.SUPERVISOR, Role.REVIEWER})
READ_COMMANDS = frozenset({Command.READ_REGISTRY, Command.READ_ALL, Command.READ_ASSESSMENT})


@dataclass(frozen=True)
class Principal:
    username: str
    department: str
    roles: frozenset[Role]
    certificate_no: str | None = None  # the inspector this user is, if linked


def authorise(principal: Principal, command: Command, departments: Collection[str] = ()) -> Role:
    """The role under which `principal` may run `command` on a resource of `departments`
    (recorded in the envelope); raise Forbidden if none."""
    roles = principal.roles & ALLOWED[command]
    if not roles:
        have = "、".join(sorted(principal.roles)) or "无"
        raise Forbidden(
            f"角色（{have}）无权执行“{command.value}”",
            f"role(s) {', '.join(sorted(principal.roles)) or 'none'} may not {command.value}",
        )
    if roles & ANYWHERE:
        return Role.ADMIN
    if (
        command in READ_COMMANDS
        and roles & READERS_ANYWHERE
        and (principal.department not in departments)
    ):
        return min(roles & READERS_ANYWHERE)
    if departments and principal.department not in departments:
        raise Forbidden(
            f"部门 {principal.department} 不能操作属于 {'、'.join(sorted(departments))} 的数据（谁审批、谁监管）",
            f"department {principal.department} may not act on data of {', '.join(sorted(departments))}",
        )
    return min(roles)


def principal_roles(values: Sequence[str]) -> frozenset[Role]:
    return frozenset(Role(v) for v in values)


class Refusal(Aggregate):
    """A refused command: nothing it asked for is written, but the attempt is on the record.

    The first refusal is `Recorded` at once. Identical refusals by the same principal that follow
    within a window (see `ssj.services.refusals`) are not each a signed event: they are counted,
    and the count with the time of the first and the last attempt is `Repeated` on the same
    aggregate when the window closes, so a flood of retries costs the ledger two events.
    """

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return uuid4()

    class Recorded(Aggregate.Created):
        username: str
        department: str
        roles: list[str]
        command: str
        departments: list[str]
        reason: str

    @event(Recorded)
    def __init__(
        self,
        username: str,
        department: str,
        roles: list[str],
        command: str,
        departments: list[str],
        reason: str,
    ) -> None:
        self.username = username
        self.department = department
        self.roles = roles
        self.command = command
        self.departments = departments
        self.reason = reason

    def repeated(self, count: int, first_at: str, last_at: str) -> None:
        """`count` more identical attempts, the first at `first_at`, the last at `last_at`
        (UTC, as envelopes write times)."""
        if count < 1 or last_at < first_at:
            raise ValueError(f"bad repeat: {count} attempts from {first_at} to {last_at}")
        self._repeated(
            username=self.username,
            department=self.department,
            roles=self.roles,
            command=self.command,
            departments=self.departments,
            reason=self.reason,
            count=count,
            first_at=first_at,
            last_at=last_at,
        )

    class Repeated(Aggregate.Event):
        username: str
        department: str
        roles: list[str]
        command: str
        departments: list[str]
        reason: str
        count: int
        first_at: str
        last_at: str

    @event(Repeated)
    def _repeated(
        self,
        username: str,
        department: str,
        roles: list[str],
        command: str,
        departments: list[str],
        reason: str,
        count: int,
        first_at: str,
        last_at: str,
    ) -> None:
        """Self-contained (who, what, why) so the event reads alone, as the first one does."""


# The audit trail (全程留痕): what refusals say -----------------------------------------------


def _moment(value: Any) -> str:
    """A recorded UTC time in Beijing time; a malformed one as it was recorded."""
    try:
        return trail.beijing_time(str(value))
    except ValueError:
        return str(value)


def _refused(event: Any) -> str:
    username = trail.attr(event, "username", "")
    departments = "、".join(trail.attr(event, "departments") or []) or "不限"
    return (
        f"用户 {username}（部门 {trail.attr(event, 'department', '')}，角色 "
        f"{'、'.join(trail.attr(event, 'roles') or [])}）执行“{trail.attr(event, 'command', '')}”"
        f"（涉及部门 {departments}）：{trail.attr(event, 'reason', '')}"
    )


@trail.describes(Refusal.Recorded)
def _trail_recorded(event: Any, recall: trail.Recall) -> trail.Described:
    """The first refusal: one attempt, at the row's time."""
    subject = (trail.USER, str(trail.attr(event, "username", "")))
    return trail.Described("Refusal.Recorded", "拒绝操作", f"拒绝{_refused(event)}", (subject,))


@trail.describes(Refusal.Repeated)
def _trail_repeated(event: Any, recall: trail.Recall) -> trail.Described:
    """The identical attempts counted after the first: how many, from when to when."""
    subject = (trail.USER, str(trail.attr(event, "username", "")))
    count = trail.attr(event, "count")
    first = _moment(trail.attr(event, "first_at"))
    last = _moment(trail.attr(event, "last_at"))
    return trail.Described(
        "Refusal.Repeated",
        "重复拒绝操作",
        f"同一拒绝又发生 {count} 次（北京时间 {first} 至 {last}）：拒绝{_refused(event)}",
        (subject,),
    )
