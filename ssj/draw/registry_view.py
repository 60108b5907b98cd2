"""A registry view: what a draw reads from the registries, as they stood at one ledger seq;
plain values only.

Services fill a `RegistryView` from the read models (as of a seq) or by replaying the ledger into
fresh ones; the draw functions never see where it came from, so both give the same answer. (It
was called a snapshot; "snapshot" is left to eventsourcing's aggregate snapshots.)

A million targets share a few hundred combinations of the fields a draw reads, so a view holds
them as groups: the shared fields once, then the ids (read in one column, and decided on once
per group). A hand-built view may list rows instead; `target_groups` groups them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple


class TargetRow(NamedTuple):
    identifier: str
    department: str
    status: str
    target_type: str
    region_code: str
    credit_class: str
    tags_json: str = "[]"  # JSON list, parsed only when a plan scopes by tags


class TargetGroup(NamedTuple):
    """Targets alike in every field a draw reads but their ids."""

    department: str
    status: str
    target_type: str
    region_code: str
    credit_class: str
    tags_json: str
    identifiers: list[str]


def grouped(rows: Iterable[TargetRow]) -> list[TargetGroup]:
    by_fields: dict[tuple[str, str, str, str, str, str], list[str]] = {}
    for row in rows:
        by_fields.setdefault(row[1:], []).append(row.identifier)
    return [TargetGroup(*fields, ids) for fields, ids in by_fields.items()]


class TaskRow(NamedTuple):
    """A drawn target of an earlier draw: what caps, exclusion windows and workloads count."""

    identifier: str
    plan_id: str
    departments: tuple[str, ...]
    drawn_on: str
    open: bool
    members: tuple[str, ...] = ()


@dataclass
class RegistryView:
    seq: int
    targets: list[TargetRow] = field(default_factory=list)  # either rows ...
    groups: list[TargetGroup] | None = None  # ... or groups (then `targets` is ignored)
    tasks: list[TaskRow] = field(default_factory=list)
    inspectors: list[dict[str, Any]] = field(default_factory=list)  # inspector/expert states
    declarations: list[dict[str, Any]] = field(default_factory=list)  # active declarations
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)  # department -> rules
    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (dept, code)

    def target_groups(self) -> list[TargetGroup]:
        return grouped(self.targets) if self.groups is None else self.groups

    def target_rows(self, ids: Iterable[str]) -> dict[str, TargetRow]:
        """The rows of the given ids (those in the view), by id."""
        wanted = set(ids)
        found: dict[str, TargetRow] = {}
        for g in self.target_groups():
            fields = g[:-1]
            for i in wanted.intersection(g.identifiers):
                found[i] = TargetRow(i, *fields)
        return found
