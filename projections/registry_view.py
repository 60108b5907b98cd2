"""The registry view a draw sees (`ssj.draw.registry_view`), read from the version tables as of
one seq.

Targets are read grouped by the columns a draw decides on, each group's ids in one
newline-joined column: a million targets arrive as a few thousand rows, hash-aggregated by the
database and split in C here, instead of a million row tuples. Tasks are read by their indexed
columns; inspectors, declarations, rules and items are small and read whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from projections.draws import CLOSED_TASK_STATUSES, task_departments
from projections.store import ViewStore
from projections.versioned import at_seq_clause
from ssj.draw.registry_view import RegistryView, TargetGroup, TaskRow


def load_registry_view(
    store: ViewStore, at_seq: int, department: str, plan_id: str | None = None
) -> RegistryView:
    """The lead department's targets, every task, the inspector registry and conflicts."""
    where, params = at_seq_clause(at_seq)
    registry = RegistryView(seq=at_seq)
    registry.groups = _target_groups(store, where, [*params, department])
    tasks = store.query(
        f"SELECT identifier, plan_id, departments, drawn_on, status, state FROM tasks WHERE {where}",
        params,
    )
    registry.tasks = [
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
    registry.inspectors = _states(store, "inspectors", where, params)
    registry.declarations = [
        d for d in _states(store, "declarations", where, params) if not d["withdrawn"]
    ]
    registry.rules = {
        r["department"]: r["rules"] for r in _states(store, "conflict_rules", where, params)
    }
    registry.items = {
        (i["department"], i["code"]): i for i in _states(store, "items", where, params)
    }
    return registry


GROUPED = "department, status, target_type, region_code, credit_class, tags"
IDS = {  # each group's ids, newline-joined (identifiers are printable: no newline)
    True: "string_agg(identifier, E'\\n')",
    False: "group_concat(identifier, char(10))",
}


def _target_groups(store: ViewStore, where: str, params: Sequence[object]) -> list[TargetGroup]:
    sql = (
        f"SELECT {GROUPED}, {IDS[store.is_postgres]} FROM targets "
        f"WHERE {where} AND department = ? GROUP BY {GROUPED}"
    )
    with store.transaction() as c:
        if store.is_postgres:  # one hash table of the groups, never a sort of a million rows
            c.execute("SET LOCAL work_mem = '256MB'")
            c.execute("SET LOCAL enable_sort = off")
            c.execute("SET LOCAL jit = off")
        c.execute(sql, params)
        rows = c.fetchall()
    return [TargetGroup(r[0], r[1], r[2], r[3], r[4], r[5] or "[]", r[6].split("\n")) for r in rows]


def _members(state: str) -> tuple[str, ...]:
    task = orjson.loads(state)
    return (*task["inspectors"], *task["experts"])


def _states(
    store: ViewStore, table: str, where: str, params: Sequence[int]
) -> list[dict[str, Any]]:
    return [
        orjson.loads(r[0]) for r in store.query(f"SELECT state FROM {table} WHERE {where}", params)
    ]
