"""Registry tables as officials see them: Chinese headers, Chinese names for coded values, a
list field spread over continuation rows as official lists print it. The same views serve the
CLI's tables and every XLSX/CSV export (CLI and API), so both write the same file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ssj.domain.access import Command
from ssj.domain.conflicts import RELATION_LABELS
from ssj.domain.inspectors import FIELD_LABELS as INSPECTOR_LABELS
from ssj.domain.inspectors import POOL_LABELS, STATUS_LABELS
from ssj.domain.items import FIELD_LABELS as ITEM_LABELS
from ssj.domain.items import ITEM_CLASS_LABELS, METHOD_LABELS
from ssj.domain.organisation import KIND_LABELS, LEVEL_LABELS, ROLE_LABELS
from ssj.domain.targets import CREDIT_CLASS_LABELS, TARGET_STATUS_LABELS, TARGET_TYPE_LABELS
from ssj.domain.targets import FIELD_LABELS as TARGET_LABELS

LIST_SEPARATOR = "、"


def names(labels: Mapping[str, StrEnum]) -> dict[str, str]:
    """Canonical value -> its first Chinese label (which parses back to the same value)."""
    found: dict[str, str] = {}
    for label, value in labels.items():
        found.setdefault(value.value, label)
    return found


@dataclass(frozen=True)
class View:
    """How one read-model table is shown, listed and exported."""

    table: str
    labels: Mapping[str, str]  # every field, in export order, with its Chinese header
    columns: tuple[str, ...]  # the fields a table shows
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    continued: str | None = None  # a list field exported one entry per row (continuation rows)
    read: Command = Command.READ_REGISTRY

    def cell(self, name: str, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "是" if value else "否"
        shown = self.values.get(name, {})
        if isinstance(value, list):
            return LIST_SEPARATOR.join(shown.get(str(v), str(v)) for v in value)
        return shown.get(str(value), str(value))

    def sheet(self, states: Iterable[Mapping[str, Any]]) -> Iterator[list[str]]:
        """The header (Chinese labels), then `rows`: what an export file holds."""
        yield list(self.labels.values())
        yield from self.rows(states)

    def rows(self, states: Iterable[Mapping[str, Any]]) -> Iterator[list[str]]:
        """Spreadsheet rows: one per entry; extra entries of `continued` on rows below it."""
        order = list(self.labels)
        at = order.index(self.continued) if self.continued is not None else -1
        for state in states:
            row = [self.cell(n, state.get(n)) for n in order]
            extra: list[str] = []
            if self.continued is not None:
                entries = [str(v) for v in state.get(self.continued) or []]
                row[at] = entries[0] if entries else ""
                extra = entries[1:]
            yield row
            for entry in extra:
                more = [""] * len(order)
                more[at] = entry
                yield more


TARGETS = View(
    table="targets",
    labels=TARGET_LABELS,
    columns=(
        "identifier",
        "name",
        "department",
        "target_type",
        "region_code",
        "credit_class",
        "status",
    ),
    values={
        "target_type": names(TARGET_TYPE_LABELS),
        "credit_class": names(CREDIT_CLASS_LABELS),
        "status": names(TARGET_STATUS_LABELS),
    },
)
ITEMS = View(
    table="items",
    labels={**ITEM_LABELS, "retired_reason": "废止原因"},
    columns=(
        "department",
        "code",
        "name",
        "category",
        "target_type",
        "item_class",
        "default_ratio",
        "yearly_frequency",
        "retired_reason",
    ),
    values={
        "target_type": names(TARGET_TYPE_LABELS),
        "item_class": names(ITEM_CLASS_LABELS),
        "methods": names(METHOD_LABELS),
    },
    # A legal basis often contains 、 or a comma itself, so joining them would not read back:
    # they go one per row below the item, as official item lists print them.
    continued="legal_bases",
)
INSPECTORS = View(
    table="inspectors",
    labels=INSPECTOR_LABELS,
    columns=(
        "certificate_no",
        "name",
        "department",
        "pool",
        "status",
        "specialties",
        "certificate_valid_to",
    ),
    values={"pool": names(POOL_LABELS), "status": names(STATUS_LABELS)},
)
DEPARTMENTS = View(
    table="departments",
    labels={
        "code": "部门编码",
        "name": "名称",
        "level": "级别",
        "kind": "类型",
        "parent": "上级部门",
        "region_code": "行政区划代码",
        "closed": "已撤销",
    },
    columns=("code", "name", "level", "kind", "parent", "region_code", "closed"),
    values={"level": names(LEVEL_LABELS), "kind": names(KIND_LABELS)},
)
USERS = View(
    table="users",
    labels={
        "username": "用户名",
        "name": "姓名",
        "department": "部门",
        "roles": "角色",
        "active": "在用",
    },
    columns=("username", "name", "department", "roles", "active"),
    values={"roles": names(ROLE_LABELS)},
    read=Command.READ_ALL,
)
DECLARATIONS = View(
    table="declarations",
    labels={
        "id": "声明编号",
        "certificate_no": "执法证号",
        "target_identifier": "检查对象标识",
        "relation": "关系",
        "valid_from": "有效期起",
        "valid_to": "有效期止",
        "reason": "理由",
        "withdrawn": "已撤回",
    },
    columns=(
        "id",
        "certificate_no",
        "target_identifier",
        "relation",
        "valid_from",
        "valid_to",
        "withdrawn",
    ),
    values={"relation": names(RELATION_LABELS)},
)
