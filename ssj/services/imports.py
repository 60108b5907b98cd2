"""Bulk import of the item list and the registries from official spreadsheets.

The atomicity rule, for every kind of file:
1. The whole file is read and validated first. If any row has a problem (a bad value, a wrong
   check character, an unknown department, a department the user may not act for, a duplicate
   id, a formula or merged cell where a value belongs), nothing is written, and the report lists
   every problem with its row, column and reason in Chinese and English.
2. Otherwise the rows are written in ledger batches. New entries are registered; existing
   ones record only the fields that changed; unchanged rows write nothing. So re-importing the
   same file changes nothing, and re-running a file after an interruption completes it.

The file is read under `ImportLimits` (the settings'), so a crafted file is refused after a
bounded amount of work, and checking stops after `limits.problems` problems: a file with a
million bad rows gets a report of the first ones, not a million-line report.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import Aggregate

from projections.registry import TABLES
from ssj.config import ImportLimits
from ssj.domain import fields
from ssj.domain.access import Command, Forbidden, Principal, authorise
from ssj.domain.fields import FieldError
from ssj.domain.inspectors import Inspector, InspectorRecord, inspector_id
from ssj.domain.items import Item, ItemRecord, item_id
from ssj.domain.targets import Target, TargetRecord, target_id
from ssj.errors import ValidationError
from ssj.imports.spreadsheet import Problem, Table, read_table
from ssj.services.context import Services

Progress = Callable[[int, int], None]
Reading = Callable[[Table], None]
BATCH = 1000
READING_EVERY = 256  # records between calls of a `reading` callback


@dataclass(frozen=True)
class Kind:
    """How one kind of file maps onto one kind of aggregate."""

    name: str
    labels: Mapping[str, Sequence[str]]
    optional: Sequence[str]
    key: str
    list_fields: Sequence[str]
    parse: Callable[[dict[str, Any]], Any]
    natural_key: Callable[[Any], tuple[str, ...]]
    aggregate_id: Callable[[Any], UUID]
    create: Callable[[Any], Aggregate]
    update: Callable[[Any, Any], bool]
    departments: Callable[[Any], list[str]]
    # The departments an existing entry belongs to now, from its read-model state: a row that
    # changes an entry must be allowed for these as well as for the row's own.
    current_departments: Callable[[Mapping[str, Any]], list[str]]
    command: Command
    table: str


TARGETS = Kind(
    name="targets",
    labels={
        "identifier": [
            "统一社会信用代码",
            "社会信用代码",
            "信用代码",
            "统一社会信用代码/标识",
            "标识",
            "证件号码",
            "identifier",
        ],
        "id_kind": ["标识类型", "证件类型", "id_kind"],
        "name": ["名称", "检查对象名称", "企业名称", "市场主体名称", "name"],
        "address": ["地址", "住所", "经营场所", "办公地址", "address"],
        "region_code": ["行政区划代码", "区划代码", "region_code"],
        "target_type": ["对象类型", "检查对象类型", "主体类型", "target_type"],
        "department": ["责任部门", "责任科室", "监管部门", "department"],
        "credit_class": ["信用风险分类", "信用等级", "风险等级", "credit_class"],
        "status": ["状态", "经营状态", "登记状态", "status"],
        "applicable_items": ["适用抽查事项", "抽查事项", "抽查事项编码", "applicable_items"],
        "tags": ["标签", "tags"],
    },
    optional=("id_kind", "address", "credit_class", "status", "applicable_items", "tags"),
    key="identifier",
    list_fields=(),
    parse=TargetRecord.parse,
    natural_key=lambda r: (r.identifier,),
    aggregate_id=lambda r: target_id(r.identifier),
    create=Target.register,
    update=lambda agg, r: agg.update(r),
    departments=lambda r: [r.department],
    current_departments=lambda state: [state["department"]],
    command=Command.EDIT_TARGETS,
    table="targets",
)

INSPECTORS = Kind(
    name="inspectors",
    labels={
        "certificate_no": ["执法证号", "执法证件号", "证件编号", "certificate_no"],
        "name": ["姓名", "name"],
        "department": ["所属部门", "所在单位", "部门", "科室", "department"],
        "pool": ["名录库", "人员类别", "类别", "pool"],
        "specialties": ["专业领域", "专业", "执法门类", "specialties"],
        "certificate_valid_from": [
            "证件有效期起",
            "有效期起",
            "发证日期",
            "certificate_valid_from",
        ],
        "certificate_valid_to": ["证件有效期止", "有效期止", "有效期至", "certificate_valid_to"],
        "status": ["状态", "在岗状态", "status"],
        "leave_from": ["休假开始", "leave_from"],
        "leave_to": ["休假结束", "leave_to"],
        "home_region_code": ["居住地行政区划代码", "居住地区划", "home_region_code"],
    },
    optional=("pool", "specialties", "status", "leave_from", "leave_to", "home_region_code"),
    key="certificate_no",
    list_fields=(),
    parse=InspectorRecord.parse,
    natural_key=lambda r: (r.certificate_no,),
    aggregate_id=lambda r: inspector_id(r.certificate_no),
    create=Inspector.register,
    update=lambda agg, r: agg.update(r),
    departments=lambda r: [r.department],
    current_departments=lambda state: [state["department"]],
    command=Command.EDIT_INSPECTORS,
    table="inspectors",
)

ITEMS = Kind(
    name="items",
    labels={
        "code": ["事项编码", "抽查事项编码", "编码", "事项编号", "序号", "code"],
        "department": ["牵头部门", "抽查主体部门", "部门编码", "department"],
        "category": ["抽查类别", "类别", "category"],
        "name": ["抽查事项", "抽查事项名称", "事项名称", "name"],
        "target_type": ["检查对象类型", "抽查对象", "检查对象", "target_type"],
        "item_class": ["事项类别", "事项类型", "item_class"],
        "methods": ["检查方式", "抽查方式", "methods"],
        "subject": ["检查主体", "抽查主体", "subject"],
        "legal_bases": ["抽查依据", "检查依据", "法律依据", "legal_bases"],
        "content": ["检查内容及标准", "抽查内容", "检查内容", "content"],
        "required_specialties": ["所需专业资质", "专业要求", "required_specialties"],
        "default_ratio": ["抽查比例", "抽查比例（%）", "比例", "default_ratio"],
        "yearly_frequency": ["抽查频次", "抽查频次（次/年）", "频次", "yearly_frequency"],
        "cooperating_departments": ["配合部门", "联合部门", "cooperating_departments"],
        "publish_within_days": [
            "结果公示期限（工作日）",
            "公示期限",
            "公示时限",
            "publish_within_days",
        ],
    },
    optional=(
        "category",
        "item_class",
        "subject",
        "content",
        "required_specialties",
        "default_ratio",
        "yearly_frequency",
        "cooperating_departments",
        "publish_within_days",
    ),
    key="code",
    list_fields=("legal_bases",),
    parse=ItemRecord.parse,
    natural_key=lambda r: (r.department, r.code),
    aggregate_id=lambda r: item_id(r.department, r.code),
    create=Item.publish,
    update=lambda agg, r: agg.amend(r),
    departments=lambda r: [r.department, *r.cooperating_departments],
    current_departments=lambda state: [
        state["department"],
        *state.get("cooperating_departments", ()),
    ],
    command=Command.EDIT_ITEMS,
    table="items",
)

KINDS = {k.name: k for k in (TARGETS, INSPECTORS, ITEMS)}


@dataclass
class ImportReport:
    file: str
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    written: bool = False
    stopped: bool = False  # checking stopped at the problem limit: more may follow
    problems: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "problems": [asdict(p) for p in self.problems]}


def import_file(
    services: Services,
    principal: Principal,
    kind_name: str,
    path: Path,
    *,
    department: str | None = None,
    progress: Progress | None = None,
    reading: Reading | None = None,
    limits: ImportLimits | None = None,
) -> ImportReport:
    """Import one file of `kind_name` ("targets", "inspectors", "items"); see the module rule.

    `department` fills the department column when the file has none (a department's own list).
    `progress(done, total)` follows the writing; `reading(table)` the reading and checking.
    """
    kind = KINDS[kind_name]
    limits = limits or services.settings.imports
    if department is not None:
        department = fields.text("department", department, required=False, max_length=64) or None
    report = ImportReport(file=Path(path).name, kind=kind.name)
    optional = [*kind.optional, "department"] if department else kind.optional
    with read_table(
        Path(path),
        expected=kind.labels,
        key=kind.key,
        list_fields=kind.list_fields,
        optional=optional,
        limits=limits,
    ) as table:
        refused: set[str] = set()
        table.on_record = _watch(report, limits, reading)
        records = _validate(services, principal, kind, table, report, department, refused)
        report.problems.extend(table.problems)
        if reading is not None:
            reading(table)
    current = _current_states(services, kind, [r for _, r in records])
    _check_existing(principal, kind, records, current, table, report, refused)
    if refused:
        # Recorded once per file, like a refused single-entry command (全程留痕).
        services.record_refusal(
            principal,
            kind.command,
            sorted(refused),
            Forbidden(
                f"导入文件 {report.file} 含无权操作的部门的数据",
                f"import file {report.file} holds rows of departments the user may not act for",
            ),
        )
    report.problems.sort(key=lambda p: (p.row, p.column))
    if table.stopped:
        report.stopped = True
        report.problems.append(_stopped(limits.problems))
    if report.problems:
        return report
    if not records:
        report.problems.append(Problem(0, "", "文件中没有数据行", "the file has no data rows"))
        return report
    departments = {d for _, r in records for d in kind.departments(r)}
    for _, record in records:
        state = current.get(kind.natural_key(record))
        if state is not None:
            departments.update(kind.current_departments(state))
    actor = services.authorise(principal, kind.command, sorted(departments))
    _write(services, kind, records, current, report, actor, progress)
    report.written = True
    return report


def _validate(
    services: Services,
    principal: Principal,
    kind: Kind,
    table: Table,
    report: ImportReport,
    department: str | None,
    refused: set[str],
) -> list[tuple[int, Any]]:
    services.refresh()
    known = {s["code"] for s in services.queries.states("departments") if not s["closed"]}
    seen: dict[tuple[str, ...], int] = {}
    records: list[tuple[int, Any]] = []
    for record in table.records:
        row = record.rows[0]
        report.rows += 1
        values = {k: v for k, v in record.values.items()}
        if department and not values.get("department"):
            values["department"] = department
        try:
            parsed = kind.parse(values)
        except FieldError as e:
            report.problems.append(_problem(table, row, e.field, e.zh, e.en))
            continue
        except ValidationError as e:
            report.problems.append(Problem(row, "", e.zh, e.en))
            continue
        key = kind.natural_key(parsed)
        if key in seen:
            report.problems.append(
                _problem(
                    table,
                    row,
                    kind.key,
                    f"与第 {seen[key]} 行重复：{'/'.join(key)}",
                    f"duplicate of row {seen[key]}: {'/'.join(key)}",
                )
            )
            continue
        seen[key] = row
        problem = _department_problem(principal, kind, parsed, known, table, row, refused)
        if problem is not None:
            report.problems.append(problem)
            continue
        records.append((row, parsed))
    return records


def _watch(report: ImportReport, limits: ImportLimits, reading: Reading | None) -> Any:
    """Called after each record: stop once the problems reach the limit; report progress."""

    def on_record(table: Table) -> bool:
        if reading is not None and table.records_read % READING_EVERY == 0:
            reading(table)
        return len(report.problems) + table.problem_count < limits.problems

    return on_record


def _stopped(limit: int) -> Problem:
    return Problem(
        0,
        "",
        f"问题已达 {limit:,} 处，已停止检查，其后的行未检查；请先修正以上问题再导入"
        "（上限由 SSJ_IMPORT_MAX_PROBLEMS 设置）",
        f"{limit:,} problems found: checking stopped and the rows after them were not checked; "
        "fix these and import again (limit set by SSJ_IMPORT_MAX_PROBLEMS)",
    )


def _department_problem(
    principal: Principal,
    kind: Kind,
    parsed: Any,
    known: set[str],
    table: Table,
    row: int,
    refused: set[str],
) -> Problem | None:
    for code in kind.departments(parsed):
        if code not in known:
            return _problem(
                table, row, "department", f"未知部门 {code}", f"unknown department {code}"
            )
    try:
        authorise(principal, kind.command, kind.departments(parsed))
    except Forbidden as e:
        refused.update(kind.departments(parsed))
        return _problem(table, row, "department", e.zh, e.en)
    return None


def _check_existing(
    principal: Principal,
    kind: Kind,
    records: list[tuple[int, Any]],
    current: Mapping[tuple[str, ...], Mapping[str, Any]],
    table: Table,
    report: ImportReport,
    refused: set[str],
) -> None:
    """A row that changes an existing entry must be allowed for the departments the entry
    belongs to now, exactly as the single-entry command (else a file could move another
    department's targets into one's own)."""
    for row, record in records:
        state = current.get(kind.natural_key(record))
        if state is None:
            continue
        try:
            authorise(principal, kind.command, kind.current_departments(state))
        except Forbidden as e:
            refused.update(kind.current_departments(state))
            report.problems.append(
                _problem(
                    table,
                    row,
                    kind.key,
                    f"已登记的{'/'.join(kind.natural_key(record))}：{e.zh}",
                    f"the registered {'/'.join(kind.natural_key(record))}: {e.en}",
                )
            )


def _problem(table: Table, row: int, field_name: str, zh: str, en: str) -> Problem:
    try:
        column = table.column(field_name)
        return Problem(
            row,
            column.letter,
            f"第 {row} 行 {column.label}：{zh}",
            f"row {row} {column.label}: {en}",
        )
    except (KeyError, ValueError, LookupError):
        return Problem(row, "", f"第 {row} 行：{zh}", f"row {row}: {en}")


def _write(
    services: Services,
    kind: Kind,
    records: list[tuple[int, Any]],
    current: dict[tuple[str, ...], dict[str, Any]],
    report: ImportReport,
    actor: Any,
    progress: Progress | None,
) -> None:
    # Hundreds of thousands of long-lived objects: the cyclic collector would rescan them over
    # and over (a quarter of the import's time); nothing here makes reference cycles.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        _write_batches(services, kind, records, current, report, actor, progress)
    finally:
        if gc_was_enabled:
            gc.enable()


def _write_batches(
    services: Services,
    kind: Kind,
    records: list[tuple[int, Any]],
    current: dict[tuple[str, ...], dict[str, Any]],
    report: ImportReport,
    actor: Any,
    progress: Progress | None,
) -> None:
    """Build each batch while the previous one is being saved (database waits release the GIL);
    one save in flight at a time, so batches reach the ledger in file order."""
    total = len(records)
    pending: list[Aggregate] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ssj-import") as saver:
        in_flight: Future[Any] | None = None

        def flush(batch: list[Aggregate], done: int) -> None:
            nonlocal in_flight
            if in_flight is not None:
                in_flight.result()
            in_flight = saver.submit(services.ledger.save, *batch, actor=actor)
            if progress is not None:
                progress(done, total)

        for done, (_, record) in enumerate(records, start=1):
            state = current.get(kind.natural_key(record))
            if state is None:
                pending.append(kind.create(record))
                report.created += 1
            elif not _differs(state, record):
                report.unchanged += 1
            else:
                aggregate = services.ledger.repository.get(kind.aggregate_id(record))
                if kind.update(aggregate, record):
                    pending.append(aggregate)
                    report.updated += 1
                else:
                    report.unchanged += 1
            if len(pending) >= BATCH:
                flush(pending, done)
                pending = []
        if pending:
            flush(pending, total)
        if in_flight is not None:
            in_flight.result()
    if progress is not None:
        progress(total, total)


def _differs(state: dict[str, Any], record: Any) -> bool:
    return any(state.get(k) != v for k, v in record.as_state().items())


def _current_states(
    services: Services, kind: Kind, records: Iterable[Any]
) -> dict[tuple[str, ...], dict[str, Any]]:
    """Current states of the entries in the file, from the read model, in a few queries."""
    services.refresh()
    keys = [kind.natural_key(r) for r in records]
    found: dict[tuple[str, ...], dict[str, Any]] = {}
    natural = TABLES[kind.table].natural_key
    for i in range(0, len(keys), 400):
        chunk = keys[i : i + 400]
        where = " OR ".join("(" + " AND ".join(f"{k} = ?" for k in natural) + ")" for _ in chunk)
        rows = services.store.query(
            f"SELECT state FROM {kind.table} WHERE to_seq IS NULL AND ({where})",
            [v for key in chunk for v in key],
        )
        for (state_json,) in rows:
            state = orjson.loads(state_json)
            found[tuple(str(state[k]) for k in natural)] = state
    return found
