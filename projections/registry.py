"""The registries as read models (一单两库 and the organisation), current and as of any seq.

One version table per entity kind, fed from the registry aggregates' events; list queries with
filters and pagination, and exact as-of views for draws and auditors.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from projections.store import ViewStore, select_in, select_in_pairs
from projections.versioned import (
    Tables,
    Versioned,
    VersionedProjection,
    as_of_parts,
    at_seq_clause,
)
from ssj.domain.conflicts import ConflictRules, Declaration
from ssj.domain.inspectors import Inspector
from ssj.domain.items import Item
from ssj.domain.organisation import ApiToken, Department, User
from ssj.domain.targets import Target
from ssj.errors import ValidationError
from ssj.ledger.application import LoggedEvent

DEPARTMENTS = Versioned("departments", ("code",), ("name", "level", "kind", "parent", "closed"))
USERS = Versioned("users", ("username",), ("department", "active"))
TOKENS = Versioned("tokens", ("token_sha256",), ("username", "revoked"))
ITEMS = Versioned(
    "items",
    ("department", "code"),
    ("category", "name", "target_type", "item_class", "retired_reason"),
)
TARGETS = Versioned(
    "targets",
    ("identifier",),
    ("department", "status", "target_type", "region_code", "credit_class", "name", "tags"),
    searched=True,
)
INSPECTORS = Versioned("inspectors", ("certificate_no",), ("department", "pool", "status", "name"))
DECLARATIONS = Versioned(
    "declarations", ("certificate_no", "target_identifier"), ("relation", "withdrawn")
)
RULES = Versioned("conflict_rules", ("department",))
TABLES: dict[str, Versioned] = {
    t.table: t
    for t in (DEPARTMENTS, USERS, TOKENS, ITEMS, TARGETS, INSPECTORS, DECLARATIONS, RULES)
}


def _attrs(event: Any, *names: str) -> dict[str, Any]:
    return {n: getattr(event, n) for n in names}


def _apply_event(w: Tables, seq: int, e: Any, aggregate_id: str) -> None:
    """Route one registry event to its version table (other contexts' events are ignored)."""
    aid = (aggregate_id,)
    match e:
        # The registry's bulk (imports): tested first.
        case Target.Registered():
            w[TARGETS].insert(aid, seq, e.state)
        case Target.Updated():
            w[TARGETS].change(aid, seq, e.changes)
        case Department.Registered():
            state = _attrs(e, "code", "name", "level", "kind", "parent", "region_code")
            w[DEPARTMENTS].insert(aid, seq, {**state, "closed": False})
        case Department.Renamed():
            w[DEPARTMENTS].change(aid, seq, {"name": e.name})
        case Department.Closed():
            w[DEPARTMENTS].change(aid, seq, {"closed": True})
        case Department.AliasesSet():
            w[DEPARTMENTS].change(aid, seq, {"aliases": list(e.aliases)})
        case User.Registered():
            state = _attrs(e, "username", "name", "department", "roles")
            w[USERS].insert(aid, seq, {**state, "active": True, "certificate_no": None})
        case User.RolesSet():
            w[USERS].change(aid, seq, {"roles": e.roles})
        case User.CertificateLinked():
            w[USERS].change(aid, seq, {"certificate_no": e.certificate_no})
        case User.Deactivated():
            w[USERS].change(aid, seq, {"active": False})
        case ApiToken.Issued():
            state = _attrs(e, "token_sha256", "username", "label")
            w[TOKENS].insert(aid, seq, {**state, "revoked": False})
        case ApiToken.Revoked():
            w[TOKENS].change(aid, seq, {"revoked": True})
        case Item.Published():
            w[ITEMS].insert(aid, seq, {**e.state, "retired_reason": None})
        case Item.Amended():
            w[ITEMS].change(aid, seq, e.changes)
        case Item.Retired():
            w[ITEMS].change(aid, seq, {"retired_reason": e.reason})
        case Inspector.Registered():
            w[INSPECTORS].insert(aid, seq, e.state)
        case Inspector.Updated():
            w[INSPECTORS].change(aid, seq, e.changes)
        case Declaration.Declared():
            state = _attrs(
                e,
                "certificate_no",
                "target_identifier",
                "relation",
                "valid_from",
                "valid_to",
                "reason",
            )
            w[DECLARATIONS].insert(aid, seq, {**state, "withdrawn": False})
        case Declaration.Withdrawn():
            w[DECLARATIONS].change(aid, seq, {"withdrawn": True})
        case ConflictRules.Created():
            w[RULES].insert(aid, seq, {"department": e.department, "rules": {}})
        case ConflictRules.Set():
            w[RULES].change(aid, seq, {"rules": e.rules})
        case _:
            pass


class RegistryProjection(VersionedProjection):
    name = "registry"
    version = 3
    tables = tuple(TABLES.values())
    routes: ClassVar[Mapping[str, Versioned]] = {
        "Department": DEPARTMENTS,
        "User": USERS,
        "ApiToken": TOKENS,
        "Item": ITEMS,
        "Target": TARGETS,
        "Inspector": INSPECTORS,
        "Declaration": DECLARATIONS,
        "ConflictRules": RULES,
    }
    creations = frozenset({"Registered", "Issued", "Published", "Declared", "Created"})
    # Events that change who a token stands for or which departments exist (the rows API
    # processes keep, `Services.principal_for_token` and `department_exists`): the runner says
    # so when it announces their batch, and API processes forget what they kept.
    organisation_events: ClassVar[tuple[type, ...]] = (User.Event, ApiToken.Event, Department.Event)

    def apply_one(self, w: Tables, logged: LoggedEvent) -> None:
        _apply_event(w, logged.seq, logged.event, logged.aggregate_id)


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    total: int
    offset: int
    limit: int


MAX_LIMIT = 1000
# Offsets and ledger seqs stay below 2^53: every JSON reader holds them exactly, and SQL's
# 64-bit integers never overflow however they are added up.
MAX_OFFSET = 2**53 - 1


class RegistryQueries:
    """Read-side questions, current or as of a seq."""

    def __init__(self, store: ViewStore, tables: Mapping[str, Versioned] = TABLES) -> None:
        self.store = store
        self.tables = tables  # other read models reuse these queries over their own tables

    def list(
        self,
        table: str,
        filters: Mapping[str, str | None] | None = None,
        *,
        at_seq: int | None = None,
        offset: int = 0,
        limit: int = 100,
        search: str | None = None,
        conditions: Sequence[tuple[str, Sequence[Any]]] = (),
        order: str | None = None,
    ) -> Page:
        """A page of states; `filters` match indexed columns exactly, `search` the name,
        `conditions` adds (SQL condition, parameters) pairs; ordered by the natural key unless
        `order` says otherwise."""
        versioned = self.tables[table]
        if not 0 <= offset <= MAX_OFFSET or not 1 <= limit <= MAX_LIMIT:
            raise ValidationError(
                f"分页参数无效（offset ≥ 0，1 ≤ limit ≤ {MAX_LIMIT}）",
                f"invalid paging (offset >= 0, 1 <= limit <= {MAX_LIMIT})",
            )
        clauses: builtins.list[str] = []
        args: builtins.list[Any] = []
        for column, value in (filters or {}).items():
            if value is None or value == "":
                continue
            if column not in versioned.all_columns:
                raise ValidationError(f"不能按“{column}”筛选", f"cannot filter by {column!r}")
            clauses.append(f"{column} = ?")
            args.append(value)
        if search:
            clauses.append("name LIKE ?")
            args.append(f"%{search}%")
        for condition, values in conditions:
            clauses.append(condition)
            args.extend(values)
        # The versions valid at a seq are the current rows opened by then and the rows closed
        # after it: two disjoint parts, each served by an index of its own (one OR over both
        # was a scan of every version). Each part gives its first offset + limit rows in page
        # order (from the index, with no sort, for the current rows in natural-key order), and
        # only the page's own states are read. Sorting every row's state made a deep page of the
        # demo's 20,000 targets cost PostgreSQL 50-100 ms (a sort spilled to disk); now 1-3 ms.
        parts = [
            (" AND ".join([part, *clauses]), [*values, *args])
            for part, values in as_of_parts(at_seq)
        ]
        counts = " + ".join(f"(SELECT COUNT(*) FROM {table} WHERE {w})" for w, _ in parts)
        total = self.store.query(
            f"SELECT {counts}", [v for _, a in parts for v in a], planned_with_values=True
        )[0][0]
        terms = [t.split() for t in (order or ", ".join(versioned.natural_key)).split(",")]
        by = ", ".join(map(" ".join, terms))
        picked = ", ".join(dict.fromkeys([*versioned.keys, "from_seq", *(t[0] for t in terms)]))
        chosen = " UNION ALL ".join(
            f"SELECT * FROM (SELECT {picked} FROM {table} WHERE {w} ORDER BY {by} LIMIT ?) p{i}"
            for i, (w, _) in enumerate(parts)
        )
        same = " AND ".join(f"t.{k} = p.{k}" for k in (*versioned.keys, "from_seq"))
        rows = self.store.query(
            f"SELECT t.state FROM ({chosen} ORDER BY {by} LIMIT ? OFFSET ?) p "
            f"JOIN {table} t ON {same} "
            # A version opened and closed at one seq was never valid: not the page's row.
            "AND (t.to_seq IS NULL OR t.to_seq > t.from_seq) "
            f"ORDER BY {', '.join(' '.join(['p.' + t[0], *t[1:]]) for t in terms)}",
            [*(v for _, a in parts for v in (*a, offset + limit)), limit, offset],
            # A generic plan walked every version in key order looking for rows closed after
            # the seq (137 ms a page on the demo after its writes); planned for the seq: 7 ms.
            planned_with_values=True,
        )
        return Page([orjson.loads(r[0]) for r in rows], int(total), offset, limit)

    def get(
        self, table: str, key: Sequence[str], *, at_seq: int | None = None
    ) -> dict[str, Any] | None:
        versioned = self.tables[table]
        where, params = at_seq_clause(at_seq)
        natural = " AND ".join(f"{k} = ?" for k in versioned.natural_key)
        rows = self.store.query(
            f"SELECT state FROM {table} WHERE {natural} AND {where}", [*key, *params]
        )
        return orjson.loads(rows[0][0]) if rows else None

    def current(
        self, table: str, filters: Mapping[str, str]
    ) -> builtins.list[tuple[str, dict[str, Any]]]:
        """(aggregate id, state) of every entry matching `filters` (indexed columns) now: for
        tables where one natural key may hold several entries, such as declarations."""
        versioned = self.tables[table]
        where, params = at_seq_clause(None)
        clauses = [where]
        args: builtins.list[object] = list(params)
        for column, value in filters.items():
            if column not in versioned.all_columns:
                raise ValidationError(f"不能按“{column}”筛选", f"cannot filter by {column!r}")
            clauses.append(f"{column} = ?")
            args.append(value)
        rows = self.store.query(
            f"SELECT aggregate_id, state FROM {table} WHERE {' AND '.join(clauses)} "
            "ORDER BY aggregate_id",
            args,
        )
        return [(str(aid), orjson.loads(state)) for aid, state in rows]

    def get_many(
        self, table: str, keys: Iterable[str], *, at_seq: int | None = None
    ) -> dict[str, dict[str, Any]]:
        """States by a one-column natural key, in chunked IN queries (a drawn list of tens of
        thousands of targets is a few queries, not one each)."""
        versioned = self.tables[table]
        [column] = versioned.natural_key
        where, params = at_seq_clause(at_seq)
        wanted = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self.store.query(
                f"SELECT {column}, state FROM {table} WHERE {column} IN ({marks}) AND {where}",
                [*chunk, *params],
            )
            found.update((r[0], orjson.loads(r[1])) for r in rows)
        return found

    def current_by_key(
        self, table: str, keys: Sequence[tuple[str, ...]]
    ) -> dict[tuple[str, ...], dict[str, Any]]:
        """Current states by natural key (one column or two), for a batch of an import: on
        PostgreSQL one statement, the keys as arrays (an IN list of hundreds of placeholders
        cost psycopg more to parse than the database to run); on SQLite in chunks."""
        natural = self.tables[table].natural_key
        with self.store.transaction() as c:
            if len(natural) == 1:
                sql = f"SELECT state FROM {table} WHERE to_seq IS NULL AND {natural[0]} {{}}"
                rows = select_in(c, sql, [key[0] for key in keys])
            else:
                first, second = natural
                sql = (
                    f"SELECT t.state FROM {table} t JOIN {{}} k "
                    f"ON t.{first} = k.column1 AND t.{second} = k.column2 WHERE t.to_seq IS NULL"
                )
                rows = select_in_pairs(c, sql, [(key[0], key[1]) for key in keys])
        found: dict[tuple[str, ...], dict[str, Any]] = {}
        for (state_json,) in rows:
            state = orjson.loads(state_json)
            found[tuple(str(state[k]) for k in natural)] = state
        return found

    def states(
        self, table: str, *, at_seq: int | None = None, columns: Sequence[str] = ()
    ) -> builtins.list[dict[str, Any]]:
        """Every state valid at `at_seq` (e.g. a whole population for a draw)."""
        where, params = at_seq_clause(at_seq)
        if columns:
            names = ", ".join(columns)
            rows = self.store.query(f"SELECT {names} FROM {table} WHERE {where}", params)
            return [dict(zip(columns, r, strict=True)) for r in rows]
        rows = self.store.query(f"SELECT state FROM {table} WHERE {where}", params)
        return [orjson.loads(r[0]) for r in rows]
