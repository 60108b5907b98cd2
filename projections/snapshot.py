"""The registry a draw sees, read from the version tables as of one seq.

Only indexed columns are read for targets and tasks (a million targets must load in about a
second); inspectors, declarations, rules and items are small and read whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import orjson

from projections.draws import CLOSED_TASK_STATUSES, task_departments
from projections.store import ViewStore
from projections.versioned import as_of_clause
from ssj.draw.snapshot import Snapshot, TargetRow, TaskRow


def load_snapshot(
    store: ViewStore, as_of: int, department: str, plan_id: str | None = None
) -> Snapshot:
    """The lead department's targets, every task, the inspector registry and conflicts."""
    where, params = as_of_clause(as_of)
    snapshot = Snapshot(as_of_seq=as_of)
    rows = store.query(
        "SELECT identifier, department, status, target_type, region_code, credit_class, tags "
        f"FROM targets WHERE {where} AND department = ?",
        [*params, department],
    )
    make = partial(tuple.__new__, TargetRow)  # in C: a million rows, no Python frame each
    snapshot.targets = list(map(make, rows))
    tasks = store.query(
        f"SELECT identifier, plan_id, departments, drawn_on, status, state FROM tasks WHERE {where}",
        params,
    )
    snapshot.tasks = [
        TaskRow(
            r[0],
            r[1],
            task_departments(r[2]),
            r[3],
            r[4] not in CLOSED_TASK_STATUSES,
            _members(r[5]) if r[1] == plan_id else (),
        )
        for r in tasks
    ]
    snapshot.inspectors = _states(store, "inspectors", where, params)
    snapshot.declarations = [
        d for d in _states(store, "declarations", where, params) if not d["withdrawn"]
    ]
    snapshot.rules = {
        r["department"]: r["rules"] for r in _states(store, "conflict_rules", where, params)
    }
    snapshot.items = {
        (i["department"], i["code"]): i for i in _states(store, "items", where, params)
    }
    return snapshot


def _members(state: str) -> tuple[str, ...]:
    task = orjson.loads(state)
    return (*task["inspectors"], *task["experts"])


def _states(store: ViewStore, table: str, where: str, params: Sequence[int]) -> list[dict]:
    return [
        orjson.loads(r[0]) for r in store.query(f"SELECT state FROM {table} WHERE {where}", params)
    ]
