"""Draws and their tasks as read models, current and as of any seq.

A task (抽查任务) is one drawn target with its team; it appears when its draw is revealed and
changes with recusals. Later draws read these rows, as of their own commit seq, for caps,
exclusion windows, open tasks and workloads.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

import orjson

from projections.store import Cursor
from projections.versioned import Versioned, VersionedProjection
from ssj.domain.draws import Draw, DrawStatus, draw_label
from ssj.ledger.application import LoggedEvent

CLOSED_TASK_STATUSES = frozenset({"closed", "cancelled"})

DRAWS = Versioned("draws", ("draw_id",), ("plan_id", "department", "status", "drawn_on", "year"))
TASKS = Versioned(
    "tasks",
    ("task_id",),
    ("draw_id", "plan_id", "identifier", "department", "departments", "drawn_on", "status"),
)
TABLES = {t.table: t for t in (DRAWS, TASKS)}


def task_id(draw: UUID | str, identifier: str) -> str:
    return str(uuid5(UUID(str(draw)), identifier))


def _committed(c: Cursor, logged: LoggedEvent, e: Any) -> None:
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
    DRAWS.insert(c, [state["draw_id"]], logged.seq, state)


def _revealed(c: Cursor, logged: LoggedEvent, e: Any) -> None:
    key = [str(e.originator_id)]
    draw = DRAWS.current(c, key)
    assert draw is not None
    drawn = [i for s in e.outcome["strata"] for i in s["sample"]]
    DRAWS.change(
        c,
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
            "task_id": task_id(key[0], identifier),
            "draw_id": key[0],
            "plan_id": draw["plan_id"],
            "identifier": identifier,
            "department": draw["department"],
            "departments": draw["departments"],
            "drawn_on": draw["drawn_on"],
            "status": "drawn",
            "stratum": stratum_of[identifier],
            "inspectors": team["inspectors"],
            "experts": team["experts"],
            "label": draw["label"],
        }
        TASKS.insert(c, [state["task_id"]], logged.seq, state)


def _recused(c: Cursor, logged: LoggedEvent, e: Any) -> None:
    key = [task_id(e.originator_id, e.target)]
    task = TASKS.current(c, key)
    assert task is not None
    changes: dict[str, Any] = {}
    for role in ("inspectors", "experts"):
        members = list(task[role])
        if e.certificate_no in members:
            members[members.index(e.certificate_no)] = e.replacement
            changes[role] = members
    changes["recused"] = [*task.get("recused", []), e.certificate_no]
    TASKS.change(c, key, logged.seq, changes)
    draw_key = [str(e.originator_id)]
    draw = DRAWS.current(c, draw_key)
    assert draw is not None
    DRAWS.change(c, draw_key, logged.seq, {"recusals": draw["recusals"] + 1})


def _apply(c: Cursor, logged: LoggedEvent) -> None:
    e = logged.event
    key = [str(e.originator_id)]
    match e:
        case Draw.Committed():  # type: ignore[misc]
            _committed(c, logged, e)
        case Draw.DiceRecorded():  # type: ignore[misc]
            draw = DRAWS.current(c, key)
            assert draw is not None
            dice = [*draw["dice"], {"witness": e.witness, "digits": e.digits}]
            DRAWS.change(c, key, logged.seq, {"dice": dice})
        case Draw.DrandRecorded():  # type: ignore[misc]
            DRAWS.change(c, key, logged.seq, {"drand_randomness": e.beacon["randomness"]})
        case Draw.Revealed():  # type: ignore[misc]
            _revealed(c, logged, e)
        case Draw.Abandoned():  # type: ignore[misc]
            changes = {"status": DrawStatus.ABANDONED.value, "abandoned_reason": e.reason}
            DRAWS.change(c, key, logged.seq, changes)
        case Draw.RecusalRequested():  # type: ignore[misc]
            draw = DRAWS.current(c, key)
            assert draw is not None
            pending = draw["pending_requests"] + 1
            DRAWS.change(c, key, logged.seq, {"pending_requests": pending})
        case Draw.RecusalDecided():  # type: ignore[misc]
            draw = DRAWS.current(c, key)
            assert draw is not None
            pending = draw["pending_requests"] - 1
            DRAWS.change(c, key, logged.seq, {"pending_requests": pending})
        case Draw.Recused():  # type: ignore[misc]
            _recused(c, logged, e)
        case _:
            pass


class DrawProjection(VersionedProjection):
    name = "draws"
    version = 1
    tables = (DRAWS, TASKS)

    def apply(self, c: Cursor, logged: LoggedEvent) -> None:
        _apply(c, logged)


def task_departments(value: str | None) -> tuple[str, ...]:
    return tuple(orjson.loads(value)) if value else ()
