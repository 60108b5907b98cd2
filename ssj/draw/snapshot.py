"""What a draw reads from the registries, as they stood at one ledger seq: plain values only.

Services fill a Snapshot from the read models (as of a seq) or by replaying the ledger into fresh
ones; the draw functions never see where it came from, so both give the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


class TargetRow(NamedTuple):  # a tuple: a million of them are built per draw
    identifier: str
    department: str
    status: str
    target_type: str
    region_code: str
    credit_class: str
    tags_json: str = "[]"  # JSON list, parsed only when a plan scopes by tags


class TaskRow(NamedTuple):
    """A drawn target of an earlier draw: what caps, exclusion windows and workloads count."""

    identifier: str
    plan_id: str
    departments: tuple[str, ...]
    drawn_on: str
    open: bool
    members: tuple[str, ...] = ()


@dataclass
class Snapshot:
    as_of_seq: int
    targets: list[TargetRow] = field(default_factory=list)
    tasks: list[TaskRow] = field(default_factory=list)
    inspectors: list[dict[str, Any]] = field(default_factory=list)  # inspector/expert states
    declarations: list[dict[str, Any]] = field(default_factory=list)  # active declarations
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)  # department -> rules
    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (dept, code)
