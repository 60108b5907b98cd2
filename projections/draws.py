"""Draws and their tasks as read models, current and as of any seq.

A task (抽查任务) is one drawn target with its team; it appears when its draw is revealed
(status `drawn`), changes with recusals and then follows its lifecycle (ssj.domain.tasks:
notified … closed), with the dates and the result category officials filter on. Later draws
read these rows, as of their own commit seq, for caps, exclusion windows, open tasks and
workloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from projections.registry import Page, RegistryQueries
from projections.store import ViewStore
from projections.versioned import Tables, Versioned, VersionedProjection, at_seq_clause
from ssj.domain.draws import Draw, DrawStatus, draw_label
from ssj.domain.tasks import CLOSED_STATUSES, Task, TaskStatus, item_keys, summary_category, task_id
from ssj.ledger.application import LoggedEvent

# "cancelled" is reserved (no command cancels a task yet).
CLOSED_TASK_STATUSES = frozenset({*(s.value for s in CLOSED_STATUSES), "cancelled"})

DRAWS = Versioned("draws", ("draw_id",), ("plan_id", "department", "status", "drawn_on", "year"))
TASKS = Versioned(
    "tasks",
    ("task_id",),
    (
        "draw_id",
        "plan_id",
        "identifier",
        "department",
        "departments",
        "drawn_on",
        "status",
        "category",
        "completed_on",
        "published_on",
    ),
    indexed=("identifier", "draw_id"),
    natural_in_batches=True,  # the delivery outbox reads a batch's tasks by task id
)
TABLES = {t.table: t for t in (DRAWS, TASKS)}


def _committed(w: Tables, logged: LoggedEvent, e: Any) -> None:
    facts = e.facts
    state = {
        "draw_id": str(e.originator_id),
        "plan_id": e.plan_id,
        "department": facts["plan"]["department"],
        "plan_code": facts["plan"]["code"],
        "year": str(facts["plan"]["year"]),
        "round": e.round,
        "label": draw_label(facts),
        "status": DrawStatus.COMMITTED.value,
        "drawn_on": facts["drawn_on"],
        "window": facts["window"],
        "departments": facts["departments"],
        "items": facts["items"],
        "as_of_seq": facts["as_of_seq"],
        "committed_seq": logged.seq,
        "committed_at": logged.recorded_at,
        "committed_by": logged.actor.user,
        "strata": facts["strata"],
        "exclusions": facts["exclusions"],
        "registry": facts["registry"],
        "witnesses": facts["entropy"]["witnesses"],
        "drand_round": (facts["entropy"].get("drand") or {}).get("round"),
        "dice": [],
        "drand_randomness": None,
        "seed": None,
        "revealed_seq": None,
        "revealed_at": None,
        "sample_size": 0,
        "abandoned_reason": None,
        "recusals": 0,
        "pending_requests": 0,
    }
    w[DRAWS].insert([state["draw_id"]], logged.seq, state)


def _revealed(w: Tables, logged: LoggedEvent, e: Any) -> None:
    key = [str(e.originator_id)]
    draw = w[DRAWS].current(key)
    assert draw is not None
    drawn = [i for s in e.outcome["strata"] for i in s["sample"]]
    w[DRAWS].change(
        key,
        logged.seq,
        {
            "status": DrawStatus.REVEALED.value,
            "seed": e.seed,
            "revealed_seq": logged.seq,
            "revealed_at": logged.recorded_at,
            "sample_size": len(drawn),
        },
    )
    stratum_of = {i: s["name"] for s in e.outcome["strata"] for i in s["sample"]}
    for identifier in drawn:
        team = e.outcome["teams"][identifier]
        state = {
            "task_id": str(task_id(key[0], identifier)),
            "draw_id": key[0],
            "plan_id": draw["plan_id"],
            "identifier": identifier,
            "department": draw["department"],
            "departments": draw["departments"],
            "drawn_on": draw["drawn_on"],
            "status": TaskStatus.DRAWN.value,
            "stratum": stratum_of[identifier],
            "inspectors": team["inspectors"],
            "experts": team["experts"],
            "label": draw["label"],
            "items": item_keys(draw["items"]),
            **TASK_LIFECYCLE,
        }
        w[TASKS].insert([state["task_id"]], logged.seq, state)


# What a task's row holds of its lifecycle before it begins (and after an upheld objection,
# the part from the results on).
TASK_RESULTS: dict[str, Any] = {
    "results": {},  # "DEPT/CODE" -> the current result, with its drafter and second signer
    "signed": 0,  # items whose result is signed by two
    "category": None,  # the most serious category (ssj.domain.tasks.SEVERITY)
    "categories": [],
    "completed_on": None,
    "completed_seq": None,  # the seq of the completion: its publication deadline's calendar
    "informed_on": None,
}
TASK_LIFECYCLE: dict[str, Any] = {
    "notified_on": None,
    "notified_how": None,
    **TASK_RESULTS,
    "objection": None,  # {"reason", "upheld", "decision"}
    "published_on": None,
    "redacted_fields": [],
    "public_summary": None,
    "withheld": None,  # {"reason", "until_final"}
    "closed_on": None,
}


def _results(results: dict[str, Any]) -> dict[str, Any]:
    categories = sorted({r["category"] for r in results.values()})
    return {
        "results": results,
        "signed": sum(1 for r in results.values() if r["signed_by"]),
        "category": summary_category(categories),
        "categories": categories,
    }


def _task_event(w: Tables, logged: LoggedEvent, e: Any, key: list[str]) -> None:
    task = w[TASKS].current(key)
    assert task is not None
    changes: dict[str, Any]
    objection: dict[str, Any]
    match e:
        case Task.Notified():
            changes = {
                "status": TaskStatus.NOTIFIED.value,
                "notified_on": e.on,
                "notified_how": e.how,
                "items": item_keys(e.items),
            }
        case Task.ResultDrafted():
            result = {
                "method": e.method,
                "inspected_on": e.inspected_on,
                "findings": e.findings,
                "evidence": e.evidence,
                "category": e.category,
                "drafted_by": e.drafted_by,
                "signed_by": None,
            }
            changes = {
                "status": TaskStatus.INSPECTING.value,
                **_results({**task["results"], e.item: result}),
            }
        case Task.ResultSigned():
            signed = {**task["results"][e.item], "signed_by": e.signed_by}
            changes = _results({**task["results"], e.item: signed})
        case Task.Inspected():
            changes = {
                "status": TaskStatus.INSPECTED.value,
                "completed_on": e.completed_on,
                "completed_seq": logged.seq,
            }
        case Task.TargetInformed():
            changes = {"status": TaskStatus.INFORMED.value, "informed_on": e.on}
        case Task.Confirmed():
            changes = {"status": TaskStatus.CONFIRMED.value}
        case Task.Objected():
            objection = {"reason": e.reason, "upheld": None, "decision": None}
            changes = {"status": TaskStatus.OBJECTED.value, "objection": objection}
        case Task.ObjectionDecided():
            objection = {**task["objection"], "upheld": e.upheld, "decision": e.reason}
            if e.upheld:  # the results are reopened
                status = TaskStatus.INSPECTING
                changes = {"status": status.value, "objection": objection, **TASK_RESULTS}
            else:
                status = TaskStatus.OBJECTION_REJECTED
                changes = {"status": status.value, "objection": objection}
        case Task.Published():
            changes = {
                "status": TaskStatus.PUBLISHED.value,
                "published_on": e.on,
                "redacted_fields": e.redacted_fields,
                "public_summary": e.public_summary,
            }
        case Task.Withheld():
            withheld = {"reason": e.reason, "until_final": e.until_final}
            changes = {"status": TaskStatus.WITHHELD.value, "withheld": withheld}
        case Task.Closed():
            changes = {"status": TaskStatus.CLOSED.value, "closed_on": e.on}
        case _:
            return
    w[TASKS].change(key, logged.seq, changes)


def _recused(w: Tables, logged: LoggedEvent, e: Any) -> None:
    key = [str(task_id(e.originator_id, e.target))]
    task = w[TASKS].current(key)
    assert task is not None
    changes: dict[str, Any] = {}
    for role in ("inspectors", "experts"):
        members = list(task[role])
        if e.certificate_no in members:
            members[members.index(e.certificate_no)] = e.replacement
            changes[role] = members
    changes["recused"] = [*task.get("recused", []), e.certificate_no]
    w[TASKS].change(key, logged.seq, changes)
    draw_key = [str(e.originator_id)]
    draw = w[DRAWS].current(draw_key)
    assert draw is not None
    w[DRAWS].change(draw_key, logged.seq, {"recusals": draw["recusals"] + 1})


def _apply(w: Tables, logged: LoggedEvent) -> None:
    e = logged.event
    key = [logged.aggregate_id]
    match e:
        case Task.Event():  # the bulk: tested first
            _task_event(w, logged, e, key)
        case Draw.Committed():
            _committed(w, logged, e)
        case Draw.DiceRecorded():
            draw = w[DRAWS].current(key)
            assert draw is not None
            dice = [*draw["dice"], {"witness": e.witness, "digits": e.digits}]
            w[DRAWS].change(key, logged.seq, {"dice": dice})
        case Draw.DrandRecorded():
            w[DRAWS].change(key, logged.seq, {"drand_randomness": e.beacon["randomness"]})
        case Draw.Revealed():
            _revealed(w, logged, e)
        case Draw.Abandoned():
            changes = {"status": DrawStatus.ABANDONED.value, "abandoned_reason": e.reason}
            w[DRAWS].change(key, logged.seq, changes)
        case Draw.RecusalRequested():
            draw = w[DRAWS].current(key)
            assert draw is not None
            pending = draw["pending_requests"] + 1
            w[DRAWS].change(key, logged.seq, {"pending_requests": pending})
        case Draw.RecusalDecided():
            draw = w[DRAWS].current(key)
            assert draw is not None
            pending = draw["pending_requests"] - 1
            w[DRAWS].change(key, logged.seq, {"pending_requests": pending})
        case Draw.Recused():
            _recused(w, logged, e)
        case _:
            pass


class DrawProjection(VersionedProjection):
    name = "draws"
    version = 4
    tables = (DRAWS, TASKS)
    routes: ClassVar[Mapping[str, Versioned]] = {"Draw": DRAWS, "Task": TASKS}
    creations = frozenset({"Committed"})

    def apply_one(self, w: Tables, logged: LoggedEvent) -> None:
        _apply(w, logged)


def task_departments(value: str | None) -> tuple[str, ...]:
    return tuple(orjson.loads(value)) if value else ()


def _like(value: str) -> str:
    """A LIKE pattern matching `value` as one entry of a JSON list column."""
    escaped = value.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{orjson.dumps(escaped).decode()}%"


def task_page(
    store: ViewStore,
    filters: Mapping[str, str | None],
    *,
    involving: str | None = None,
    at_seq: int | None = None,
    offset: int = 0,
    limit: int = 100,
) -> Page:
    """A page of tasks, newest draw first; `filters` match columns exactly, `involving` a
    department among the task's (lead or cooperating)."""
    involved = [("departments LIKE ? ESCAPE '!'", [_like(involving)])] if involving else []
    return RegistryQueries(store, TABLES).list(
        "tasks",
        filters,
        at_seq=at_seq,
        offset=offset,
        limit=limit,
        conditions=involved,
        order="drawn_on DESC, draw_id, identifier",
    )


def task_rows(
    store: ViewStore, *, involving: str | None = None, at_seq: int | None = None
) -> list[dict[str, Any]]:
    """Every task (of the draws `involving` a department, lead or cooperating) as of `at_seq`."""
    where, args = at_seq_clause(at_seq)
    params: list[Any] = list(args)
    if involving:
        where += " AND departments LIKE ? ESCAPE '!'"
        params.append(_like(involving))
    rows = store.query(
        f"SELECT state FROM tasks WHERE {where} ORDER BY drawn_on, draw_id, identifier", params
    )
    return [orjson.loads(r[0]) for r in rows]


def draw_rows(store: ViewStore, at_seq: int | None = None) -> dict[str, dict[str, Any]]:
    """Every draw by id, as of `at_seq`."""
    where, args = at_seq_clause(at_seq)
    rows = store.query(f"SELECT state FROM draws WHERE {where}", args)
    found = [orjson.loads(r[0]) for r in rows]
    return {d["draw_id"]: d for d in found}
