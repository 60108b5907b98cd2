"""Registered holiday arrangements (节假日安排) as a read model, current and as of any seq.

One version table, one row per version of a year's arrangement: so "the arrangements the ledger
held at seq S" (what a deadline computed then used) is one indexed query, and a year's history
(each amendment with its reason, who registered it and when) is its rows in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from projections.store import ViewStore
from projections.versioned import Tables, Versioned, VersionedProjection, at_seq_clause
from ssj.domain.calendar import CalendarYear
from ssj.ledger.application import LoggedEvent

CALENDAR_YEARS = Versioned("calendar_years", ("year",), ("document",))


class CalendarProjection(VersionedProjection):
    name = "calendar"
    version = 1
    tables = (CALENDAR_YEARS,)
    routes: ClassVar[Mapping[str, Versioned]] = {"CalendarYear": CALENDAR_YEARS}
    creations = frozenset({"Registered"})

    def apply_one(self, w: Tables, logged: LoggedEvent) -> None:
        e = logged.event
        key = (str(e.originator_id),)
        recorded = {
            "version": e.originator_version,
            "seq": logged.seq,
            "recorded_by": logged.actor.user,
            "recorded_at": logged.recorded_at,
        }
        if isinstance(e, CalendarYear.Registered):
            state = {
                "year": e.year,
                "document": e.document,
                "holidays": e.holidays,
                "workdays": e.workdays,
                "reason": None,
                **recorded,
            }
            w[CALENDAR_YEARS].insert(key, logged.seq, state)
        elif isinstance(e, CalendarYear.Amended):
            changes = {
                "document": e.document,
                "holidays": e.holidays,
                "workdays": e.workdays,
                "reason": e.reason,
                **recorded,
            }
            w[CALENDAR_YEARS].change(key, logged.seq, changes)


class CalendarQueries:
    """Registered arrangements as of a seq, and one year's versions."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def all(self, at_seq: int | None = None) -> list[dict[str, Any]]:
        """Every registered year's arrangement valid at `at_seq` (None: now), by year."""
        where, params = at_seq_clause(at_seq)
        rows = self.store.query(
            f"SELECT state FROM {CALENDAR_YEARS.table} WHERE {where} ORDER BY year", params
        )
        return [orjson.loads(r[0]) for r in rows]

    def versions(self, year: int, at_seq: int | None = None) -> list[dict[str, Any]]:
        """Each version of `year`'s arrangement recorded up to `at_seq`, oldest first."""
        clause, params = ("", []) if at_seq is None else (" AND from_seq <= ?", [at_seq])
        rows = self.store.query(
            f"SELECT state FROM {CALENDAR_YEARS.table} WHERE year = ?{clause} ORDER BY from_seq",
            [str(year), *params],
        )
        return [orjson.loads(r[0]) for r in rows]
