"""The registry view a draw sees (`ssj.draw.registry_view`), read from the version tables as of
one seq.

Targets are read grouped by the columns a draw decides on, each group's ids in one
newline-joined column: a million targets arrive as a few thousand rows, hash-aggregated by the
database (on PostgreSQL, two sessions each aggregating half the table at once) and split in C
here, instead of a million row tuples. Tasks are read by their indexed
columns; inspectors, declarations, rules and items are small and read whole.
"""

from __future__ import annotations

import threading
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
SETTINGS = (  # one hash table of the groups, never a sort of a million rows
    "SET LOCAL work_mem = '256MB'",
    "SET LOCAL enable_sort = off",
    "SET LOCAL jit = off",
)
SQLITE_GROUPS = (
    f"SELECT {GROUPED}, group_concat(identifier, char(10)) FROM targets "
    f"WHERE {{where}} AND department = ? GROUP BY {GROUPED}"
)
SPLIT_PAGES = 4096  # a targets table of more pages (32 MiB) is read in two halves at once


def index_target_groups(store: ViewStore) -> None:
    """An index that serves `_target_groups` on SQLite: each department's versions in group
    order with the seqs and ids, so a read scans one department's range of it, already grouped,
    instead of every version of every target and a sort. For a store without the read indexes
    that reads the groups as of many seqs (the offline replay of a bundle's draws,
    `ssj.services.audit_bundle`); a store kept up to date by a runner does not pay for it on
    every write."""
    with store.transaction() as c:
        c.execute(
            "CREATE INDEX IF NOT EXISTS targets_groups ON targets "
            f"({GROUPED}, from_seq, to_seq, identifier)"
        )


def _target_groups(store: ViewStore, where: str, params: Sequence[object]) -> list[TargetGroup]:
    if store.is_postgres:
        return _groups(_pg_group_rows(store, where, params))
    with store.transaction() as c:
        c.execute(SQLITE_GROUPS.format(where=where), params)
        return _groups(c.fetchall())


def _groups(rows: Sequence[Sequence[Any]]) -> list[TargetGroup]:
    """Groups from (fields..., newline-joined ids) rows; rows of the same fields (the halves of
    a split read) are one group. The order of groups and of ids in a group means nothing: a
    draw sorts every stratum (and the database's hash aggregate never promised an order)."""
    joined: dict[tuple[Any, ...], list[str]] = {}
    for r in rows:
        joined.setdefault(tuple(r[:6]), []).append(r[6])
    return [
        TargetGroup(k[0], k[1], k[2], k[3], k[4], k[5] or "[]", "\n".join(ids).split("\n"))
        for k, ids in joined.items()
    ]


def _pg_group_rows(store: ViewStore, where: str, params: Sequence[object]) -> list[Any]:
    """The grouped targets, PostgreSQL's string_agg: its hash aggregate runs in one backend
    (no parallel string_agg before PostgreSQL 16), so a large table is read as two halves of
    its pages (TID range scans), each aggregated by its own session at the same time. Both
    sessions read one snapshot (exported by the first, imported by the second): a row that a
    concurrent write moves to the other half is seen exactly once."""
    sql = (
        f"SELECT {GROUPED}, string_agg(identifier, E'\\n') FROM targets "
        f"WHERE {where} AND department = ?{{}} GROUP BY {GROUPED}"
    )
    with store.transaction() as c:
        c.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for setting in SETTINGS:
            c.execute(setting)
        c.execute(
            "SELECT pg_relation_size('targets') / current_setting('block_size')::int, "
            "pg_export_snapshot()"
        )
        pages, snapshot = c.fetchone()
        if pages <= SPLIT_PAGES:
            c.execute(sql.format(""), params)
            return list(c.fetchall())
        middle = f"({pages // 2},0)"
        other: list[Any] = []

        def second_half() -> None:
            try:
                with store.transaction() as c2:
                    c2.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    c2.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                    for setting in SETTINGS:
                        c2.execute(setting)
                    c2.execute(sql.format(" AND ctid >= ?::tid"), [*params, middle])
                    other.append(c2.fetchall())
            except Exception as e:  # no second connection (a full pool): read it here
                other.append(e)

        thread = threading.Thread(target=second_half, name="ssj-targets-read", daemon=True)
        thread.start()
        c.execute(sql.format(" AND ctid < ?::tid"), [*params, middle])
        rows = list(c.fetchall())
        thread.join()
        if isinstance(other[0], Exception):
            c.execute(sql.format(" AND ctid >= ?::tid"), [*params, middle])
            other[0] = c.fetchall()
        return rows + list(other[0])


def _members(state: str) -> tuple[str, ...]:
    task = orjson.loads(state)
    return (*task["inspectors"], *task["experts"])


def _states(
    store: ViewStore, table: str, where: str, params: Sequence[int]
) -> list[dict[str, Any]]:
    return [
        orjson.loads(r[0]) for r in store.query(f"SELECT state FROM {table} WHERE {where}", params)
    ]
