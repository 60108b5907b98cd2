"""Inspection plans as a read model, current and as of any seq.

One version table: each row holds a plan's whole state with its workflow status and who
approved it when (from the envelope), so "the plan as it stood when a draw was committed" is
one indexed query. Queries reuse RegistryQueries over this table.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, ClassVar

from projections.registry import MAX_LIMIT, Page, RegistryQueries
from projections.store import ViewStore
from projections.versioned import Tables, Versioned, VersionedProjection
from ssj.domain.plans import Plan, PlanStatus
from ssj.ledger.application import LoggedEvent

PLANS = Versioned("plans", ("department", "code"), ("year", "kind", "status", "title"))

# What a plan's approval covers: cleared whenever it goes back to draft.
_APPROVAL = {
    "approved_by": None,
    "approved_at": None,
    "approval_comment": None,
    "published_at": None,
}


def _row(logged: LoggedEvent, e: Any) -> dict[str, Any] | None:
    """The fields an event changes in the plan's row (None: not a plan event)."""
    match e:
        case Plan.Amended():
            return {**e.changes, "status": e.status, **_APPROVAL}
        case Plan.Submitted():
            return {"status": PlanStatus.SUBMITTED.value, "return_reason": None}
        case Plan.Approved():
            return {
                "status": PlanStatus.APPROVED.value,
                "approved_by": logged.actor.user,
                "approved_at": logged.recorded_at,
                "approval_comment": e.comment or None,
            }
        case Plan.Returned():
            return {"status": PlanStatus.DRAFT.value, "return_reason": e.reason}
        case Plan.Published():
            return {"status": PlanStatus.PUBLISHED.value, "published_at": logged.recorded_at}
        case Plan.Cancelled():
            return {"status": PlanStatus.CANCELLED.value, "cancel_reason": e.reason}
        case _:
            return None


class PlanProjection(VersionedProjection):
    name = "plans"
    version = 1
    tables = (PLANS,)
    routes: ClassVar[Mapping[str, Versioned]] = {"Plan": PLANS}
    creations = frozenset({"Drafted"})

    def apply_one(self, w: Tables, logged: LoggedEvent) -> None:
        e = logged.event
        aid = (logged.aggregate_id,)
        if isinstance(e, Plan.Drafted):
            state = {
                **e.state,
                "status": PlanStatus.DRAFT.value,
                "plan_id": aid[0],
                "version": e.originator_version,
                "drafted_by": logged.actor.user,
                "drafted_at": logged.recorded_at,
                **_APPROVAL,
                "return_reason": None,
                "cancel_reason": None,
                "amendments": 0,
            }
            w[PLANS].insert(aid, logged.seq, state)
            return
        changes = _row(logged, e)
        if changes is None:
            return
        changes["version"] = e.originator_version
        if isinstance(e, Plan.Amended):
            current = w[PLANS].current(aid) or {}
            changes["amendments"] = int(current.get("amendments", 0)) + 1
        w[PLANS].change(aid, logged.seq, changes)


class PlanQueries:
    """Plans, current or as of a seq: pages with filters, and one plan."""

    def __init__(self, store: ViewStore) -> None:
        self.rows = RegistryQueries(store, {PLANS.table: PLANS})

    def list(
        self,
        filters: Mapping[str, object] | None = None,
        offset: int = 0,
        limit: int = 100,
        at_seq: int | None = None,
        *,
        involving: str | None = None,
        search: str | None = None,
    ) -> Page:
        """A page of plans ordered by department and code. `filters` match the columns
        (department, code, year, kind, status, title) exactly; `involving` keeps plans a
        department leads or cooperates in, `search` those whose code or title contains it."""
        columns = {k: None if v is None else str(v) for k, v in (filters or {}).items()}
        page = self.rows.list(PLANS.table, columns, at_seq=at_seq, offset=offset, limit=limit)
        if involving is None and not search:
            return page
        matching = [
            s
            for s in self.all(columns, at_seq)
            if (involving is None or involving in (s["department"], *s["cooperating"]))
            and (not search or search in s["code"] or search in s["title"])
        ]
        return Page(matching[offset : offset + limit], len(matching), offset, limit)

    def all(
        self, filters: Mapping[str, object] | None = None, at_seq: int | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Every plan matching `filters` at `at_seq` (plans number hundreds, not millions)."""
        columns = {k: None if v is None else str(v) for k, v in (filters or {}).items()}
        found: builtins.list[dict[str, Any]] = []
        while True:
            page = self.rows.list(
                PLANS.table, columns, at_seq=at_seq, offset=len(found), limit=MAX_LIMIT
            )
            found.extend(page.rows)
            if len(page.rows) < MAX_LIMIT:
                return found

    def get(self, department: str, code: str, at_seq: int | None = None) -> dict[str, Any] | None:
        return self.rows.get(PLANS.table, [department, code], at_seq=at_seq)
