"""Follow-up of inspected tasks (后续处置) as a read model, current and as of any seq: per task,
its rectification orders with their re-checks, reminders, penalty cases (with the seq of each
filing, whose calendar fixes the publication deadline) and referrals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from projections.draws import _like
from projections.store import ViewStore
from projections.versioned import Tables, Versioned, VersionedProjection, at_seq_clause
from ssj.domain.followup import FollowUp
from ssj.ledger.application import LoggedEvent

FOLLOWUPS = Versioned(
    "followups",
    ("task_id",),
    ("identifier", "departments"),
    indexed=("identifier",),
    as_of_in_batches=True,  # the delivery records read a follow-up as of a case's event
)
TABLES = {FOLLOWUPS.table: FOLLOWUPS}


def case_details(e: Any) -> dict[str, Any]:
    """A filed case's 双公示 fields (empty for cases filed before ssj recorded them)."""
    authority = getattr(e, "authority", "") or ""
    authority_code = getattr(e, "authority_code", "") or ""
    return {
        "violation_type": getattr(e, "violation_type", "") or "",
        "facts": getattr(e, "facts", "") or "",
        "basis": getattr(e, "basis", "") or "",
        "penalty_types": list(getattr(e, "penalty_types", None) or []),
        "fine": getattr(e, "fine", "") or "",
        "confiscated": getattr(e, "confiscated", "") or "",
        "licence": getattr(e, "licence", "") or "",
        "valid_until": getattr(e, "valid_until", None),
        "publicity_until": getattr(e, "publicity_until", None),
        "authority": authority,
        "authority_code": authority_code,
        "source": getattr(e, "source", "") or authority,
        "source_code": getattr(e, "source_code", "") or authority_code,
        "legal_representative": getattr(e, "legal_representative", "") or "",
        "notes": getattr(e, "notes", "") or "",
        "target_type": getattr(e, "target_type", None),
    }


def _apply(w: Tables, logged: LoggedEvent) -> None:
    e = logged.event
    if not isinstance(e, FollowUp.Event):
        return
    key = [str(e.originator_id)]
    if isinstance(e, FollowUp.Opened):
        state = {
            "followup_id": key[0],
            "task_id": e.task_id,
            "identifier": e.identifier,
            "departments": e.departments,
            "completed_on": e.completed_on,
            "rectifications": [],
            "reminders": [],
            "cases": [],
            "referrals": [],
        }
        w[FOLLOWUPS].insert(key, logged.seq, state)
        return
    row = w[FOLLOWUPS].current(key)
    assert row is not None
    changes: dict[str, Any]
    match e:
        case FollowUp.RectificationOrdered():
            order: dict[str, Any] = {
                "ordered_on": e.ordered_on,
                "deadline": e.deadline,
                "requirement": e.requirement,
                "rechecks": [],
                "passed_on": None,
            }
            changes = {"rectifications": [*row["rectifications"], order]}
        case FollowUp.Rechecked():
            orders = list(row["rectifications"])
            order = dict(orders[e.rectification - 1])
            recheck = {"on": e.on, "passed": e.passed, "by": e.by, "notes": e.notes}
            order["rechecks"] = [*order["rechecks"], recheck]
            if e.passed:
                order["passed_on"] = e.on
            orders[e.rectification - 1] = order
            changes = {"rectifications": orders}
        case FollowUp.Reminded():
            changes = {"reminders": [*row["reminders"], {"on": e.on, "text": e.text}]}
        case FollowUp.CaseFiled():
            case = {
                "case_no": e.case_no,
                "decided_on": e.decided_on,
                "decided_seq": logged.seq,
                "decision": e.decision,
                "credit_class": e.credit_class,
                "previous_class": e.previous_class,
                "published_on": None,
                "published_seq": None,
                **case_details(e),
                "corrections": [],
                "revoked_on": None,
                "revocation": None,
            }
            changes = {"cases": [*row["cases"], case]}
        case FollowUp.CasePublished():
            cases = list(row["cases"])
            cases[e.case - 1] = {
                **cases[e.case - 1],
                "published_on": e.on,
                "published_seq": logged.seq,
            }
            changes = {"cases": cases}
        case FollowUp.CaseCorrected():
            cases = list(row["cases"])
            found = cases[e.case - 1]
            correction = {"on": e.on, "reason": e.reason, "fields": sorted(e.changes)}
            cases[e.case - 1] = {
                **found,
                **e.changes,
                "corrections": [*found.get("corrections", []), correction],
            }
            changes = {"cases": cases}
        case FollowUp.CaseRevoked():
            cases = list(row["cases"])
            cases[e.case - 1] = {**cases[e.case - 1], "revoked_on": e.on, "revocation": e.reason}
            changes = {"cases": cases}
        case FollowUp.Referred():
            referral = {"on": e.on, "to_kind": e.to_kind, "to": e.to, "reason": e.reason}
            changes = {"referrals": [*row["referrals"], referral]}
        case _:
            return
    w[FOLLOWUPS].change(key, logged.seq, changes)


class FollowUpProjection(VersionedProjection):
    name = "followups"
    version = 2
    tables = (FOLLOWUPS,)
    routes: ClassVar[Mapping[str, Versioned]] = {"FollowUp": FOLLOWUPS}
    creations = frozenset({"Opened"})

    def apply_one(self, w: Tables, logged: LoggedEvent) -> None:
        _apply(w, logged)


def followup_rows(
    store: ViewStore, *, involving: str | None = None, at_seq: int | None = None
) -> list[dict[str, Any]]:
    """Every task's follow-up (of tasks `involving` a department) as of `at_seq`."""
    where, args = at_seq_clause(at_seq)
    params: list[Any] = list(args)
    if involving:
        where += " AND departments LIKE ? ESCAPE '!'"
        params.append(_like(involving))
    rows = store.query(
        f"SELECT state FROM followups WHERE {where} ORDER BY identifier, task_id", params
    )
    return [orjson.loads(r[0]) for r in rows]
