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

import functools
import gc
import os
import pickle
import re
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, cast
from uuid import UUID

import orjson
from eventsourcing.domain import Aggregate

from ssj.config import ImportLimits
from ssj.domain import fields
from ssj.domain.access import Command, Forbidden, Principal, authorise
from ssj.domain.fields import FieldError, FieldErrors
from ssj.domain.identifiers import IdKind, classify_identifier, region_of
from ssj.domain.inspectors import Inspector, InspectorRecord, inspector_id
from ssj.domain.items import Item, ItemRecord, item_id
from ssj.domain.organisation import resolve_departments
from ssj.domain.targets import OPTIONAL_STATE, Target, TargetRecord, target_id
from ssj.errors import ValidationError
from ssj.imports.spreadsheet import (
    Column,
    ImportFileError,
    Note,
    Problem,
    Record,
    Table,
    Value,
    read_table,
)
from ssj.ledger.envelope import Actor
from ssj.ledger.mapper import PreparedEvent, TextCheckingMapper
from ssj.metrics import count_import_rows
from ssj.presentation import sheets
from ssj.services import import_check

if TYPE_CHECKING:  # not imported at run time: a checker process needs none of it
    from ssj.services.context import Services

Progress = Callable[[int, int], None]
Reading = Callable[[Table], None]
BATCH = 1000
READING_EVERY = 256  # records between calls of a `reading` callback
# Files from this size are checked by a checker process under skip_invalid (its start-up, about
# half a second, is paid back from about 10,000 rows); SSJ_IMPORT_CHECKER overrides.
CHECK_ELSEWHERE_BYTES = 1 << 20


Prepare = Callable[["CheckingContext", dict[str, Any], int], list[Problem]]


def _nothing_to_prepare(
    context: CheckingContext, values: dict[str, Any], row: int
) -> list[Problem]:
    return []


def _nothing_to_count(values: dict[str, Any], parsed: Any) -> Iterator[str]:
    return iter(())


def _any_header(table: Table) -> None:
    return None


@dataclass(frozen=True)
class Creation:
    """How the domain makes a kind's new entry (`Target.register`, `Inspector.register`,
    `Item.publish`): the event
    `aggregate._create(event, id=id_of(*key), <key_fields>=key…, state=record.as_state())`.
    The writer makes that event as it is stored from the key and the state's bytes checking
    wrote (`TextCheckingMapper.created`), without building the aggregate or encoding the state
    again: the same bytes (tests/services/test_import_creation.py), in 9 µs a target instead
    of 20 (2026-12-06)."""

    aggregate: type[Aggregate]
    event: type[Aggregate.Created]
    key_fields: tuple[str, ...]
    id_of: Callable[..., UUID]

    def prepared(
        self, mapper: TextCheckingMapper, key: tuple[str, ...], state: bytes
    ) -> PreparedEvent:
        fields = [
            (name, orjson.dumps(value)) for name, value in zip(self.key_fields, key, strict=True)
        ]
        fields.append(("state", state))
        return mapper.created(self.aggregate, self.event, self.id_of(*key), fields)


@dataclass(frozen=True)
class Kind:
    """How one kind of file maps onto one kind of aggregate."""

    name: str
    labels: Mapping[str, Sequence[str]]
    optional: Sequence[str]
    key: str | Sequence[str] | None
    list_fields: Sequence[str]
    parse: Callable[[dict[str, Any]], Any]
    natural_key: Callable[[Any], tuple[str, ...]]
    aggregate_id: Callable[[Any], UUID]
    creation: Creation  # a new entry's created event, from its checked state
    update: Callable[[Any, Any], bool]
    departments: Callable[[Any], list[str]]
    # The departments an existing entry belongs to now, from its read-model state: a row that
    # changes an entry must be allowed for these as well as for the row's own.
    current_departments: Callable[[Mapping[str, Any]], list[str]]
    command: Command
    table: str
    id_field: str  # the column a duplicate is reported at
    # Before parsing: resolve department names, fill what the file lacks; problems reject the row.
    prepare: Prepare = _nothing_to_prepare
    # After parsing: what was derived (DERIVED's names), counted for the report's notes.
    count: Callable[[dict[str, Any], Any], Iterator[str]] = _nothing_to_count
    check_header: Callable[[Table], None] = _any_header
    # Continuation rows' own values join these fields' text (see ssj/imports/spreadsheet.py).
    joined_fields: Sequence[str] = ()
    # A continuation row with its own, different value here is a variant record.
    variant_fields: Sequence[str] = ()
    # Generic labels that map their field only when no other column does (spreadsheet.read_table).
    fallback_labels: Sequence[str] = ()


def _department_cell(
    context: CheckingContext, values: dict[str, Any], row: int, names: Sequence[str]
) -> list[Problem]:
    """The row's department: its own column (a code or a name), else --department, else the
    first of `names` (管辖单位, 登记机关 …) that resolves. A name that resolves to no department
    rejects the row and is listed once in the report."""
    own = values.get("department")
    if own:
        codes = context.resolve(str(own), row)
        if len(codes) == 1:
            if codes[0] != own:
                values["department_source"] = "department_named"
            values["department"] = codes[0]
            return []
        return [_unresolved(row, context.report, "department", str(own), codes)]
    if context.department:
        values["department"] = context.department
        values["department_source"] = "department_option"
        return []
    for name in names:
        text = values.get(name)
        if text:
            codes = context.resolve(str(text), row)
            if len(codes) == 1:
                values["department"] = codes[0]
                values["department_source"] = "department_named"
                return []
            return [_unresolved(row, context.report, name, str(text), codes)]
    return []


def _unresolved(
    row: int, report: ImportReport, field_name: str, text: str, codes: list[str]
) -> Problem:
    column = next((c["column"] for c in report.columns if c["field"] == field_name), "")
    label = next((c["label"] for c in report.columns if c["field"] == field_name), field_name)
    if len(codes) > 1:
        return Problem(
            row,
            column,
            f"第 {row} 行 {label}“{text}”对应多个部门（{'、'.join(codes)}），请只填一个",
            f"row {row} {label} “{text}” names several departments ({', '.join(codes)}); give one",
        )
    return Problem(
        row,
        column,
        f"第 {row} 行 {label}“{text}”不是已登记部门的编码、名称或别名",
        f"row {row} {label} “{text}” is not the code, name or alias of a registered department",
    )


# Headers that name the credit code alone: a value there is a USCC or, for an entity registered
# before 2015, its 注册号; anything else is reported as a bad USCC, never taken as a free-text id.
CREDIT_CODE_LABELS = frozenset(
    ("统一社会信用代码", "社会信用代码", "信用代码", "tyxydm", "shxydm", "uniscid")
)


def _prepare_target(context: CheckingContext, values: dict[str, Any], row: int) -> list[Problem]:
    problems = _department_cell(context, values, row, ("jurisdiction", "registration_authority"))
    given = values.get("identifier")
    if (
        given
        and not values.get("id_kind")
        and context.credit_code_column()
        and classify_identifier(str(given)) is IdKind.OTHER
    ):
        values["id_kind"] = IdKind.USCC.value
    code = values.get("department")
    if code in context.codes:
        values["region_fallback"] = context.codes[code].get("region_code")
    values.pop("published", None)
    return problems


def _count_target(values: dict[str, Any], parsed: TargetRecord) -> Iterator[str]:
    if not values.get("region_code"):
        carried = region_of(parsed.id_kind, parsed.identifier) is not None
        yield "region_identifier" if carried else "region_department"
    if not values.get("target_type"):
        yield "target_type_derived"
    if not values.get("credit_class"):
        yield "credit_class_default"
    if not values.get("status"):
        yield "status_default"


def _target_header(table: Table) -> None:
    if not {"identifier", "registration_no"} & set(table.fields):
        labels = "、".join(c.label for c in table.columns)
        raise ImportFileError(
            f"缺少标识列：应有“统一社会信用代码”“注册号”“注册号/统一社会信用代码”等列之一。"
            f"识别到的列：{labels}",
            "no identifier column: expected one of 统一社会信用代码, 注册号, "
            f"注册号/统一社会信用代码, TYXYDM, ZCH … Columns found: {labels}",
        )


TARGETS = Kind(
    name="targets",
    labels={
        "identifier": [
            "统一社会信用代码",
            "社会信用代码",
            "信用代码",
            "统一社会信用代码/标识",
            "统一社会信用代码/注册号",
            "注册号/统一社会信用代码",
            "统一社会信用代码（注册号）",
            "统一社会信用代码或注册号",
            "信用代码/注册号",
            "标识",
            "证件号码",
            "TYXYDM",
            "SHXYDM",
            "UNISCID",
            "identifier",
        ],
        "registration_no": ["注册号", "工商注册号", "营业执照注册号", "ZCH", "REGNO"],
        "id_kind": ["标识类型", "证件类型", "id_kind"],
        "name": [
            "名称",
            "检查对象名称",
            "企业名称",
            "市场主体名称",
            "主体名称",
            "企业（机构）名称",
            "字号名称",
            "QYMC",
            "ENTNAME",
            "name",
        ],
        "address": [
            "地址",
            "住所",
            "经营场所",
            "办公地址",
            "注册地址",
            "经营地址",
            "住所（经营场所）",
            "JYDZ",
            "ZS",
            "DOM",
            "address",
        ],
        "region_code": ["行政区划代码", "区划代码", "行政区划", "XZQH", "region_code"],
        "target_type": ["对象类型", "检查对象类型", "主体类型", "target_type"],
        "enterprise_type": [
            "企业类型",
            "市场主体类型",
            "企业类别",
            "QYLX",
            "企业类型名称",
            "QYLXMC",
            "ENTTYPE",
            "ENTTYPE_CN",
        ],
        "department": ["责任部门", "责任科室", "监管部门", "department"],
        "registration_authority": ["登记机关", "RegOrgName", "DJJG", "REGORG", "REGORG_CN"],
        "jurisdiction": ["管辖单位", "管辖机关", "GXDW", "所属监管所", "属地监管机关"],
        "established_on": ["成立日期", "创建日期", "注册日期", "CLRQ", "ESTDATE"],
        "legal_representative": [
            "法定代表人",
            "法定代表人（负责人）",
            "法人代表",
            "负责人",
            "经营者",
            "经营者姓名",
            "FDDBR",
        ],
        "phone": ["联系电话", "电话", "手机号", "LXDH"],
        "credit_class": ["信用风险分类", "信用等级", "风险等级", "credit_class"],
        "status": ["状态", "经营状态", "登记状态", "ZT", "DJZT", "REGSTATE_CN", "status"],
        "applicable_items": ["适用抽查事项", "抽查事项", "抽查事项编码", "applicable_items"],
        "tags": ["标签", "tags"],
    },
    optional=(
        "identifier",
        "registration_no",
        "id_kind",
        "address",
        "region_code",
        "target_type",
        "enterprise_type",
        "department",
        "registration_authority",
        "jurisdiction",
        "established_on",
        "legal_representative",
        "phone",
        "credit_class",
        "status",
        "applicable_items",
        "tags",
    ),
    key=None,
    list_fields=(),
    parse=TargetRecord.parse,
    natural_key=lambda r: (r.identifier,),
    aggregate_id=lambda r: target_id(r.identifier),
    creation=Creation(Target, Target.Registered, ("identifier",), target_id),
    update=lambda agg, r: agg.update(r),
    departments=lambda r: [r.department],
    current_departments=lambda state: [state["department"]],
    command=Command.EDIT_TARGETS,
    table="targets",
    id_field="identifier",
    prepare=_prepare_target,
    count=_count_target,
    check_header=_target_header,
)


def _prepare_inspector(context: CheckingContext, values: dict[str, Any], row: int) -> list[Problem]:
    """A roster row: the 工商执法证 stands in when the main certificate column is blank."""
    if not values.get("certificate_no") and values.get("alt_certificate_no"):
        values["certificate_no"] = values["alt_certificate_no"]
        if not values.get("validity") and values.get("alt_validity"):
            values["validity"] = values["alt_validity"]
    return _department_cell(context, values, row, ())


def _count_inspector(values: dict[str, Any], parsed: InspectorRecord) -> Iterator[str]:
    if parsed.certificate_valid_to is None:
        yield "validity_unknown"
    if not values.get("status"):
        yield "status_default"


INSPECTORS = Kind(
    name="inspectors",
    labels={
        "certificate_no": [
            "执法证号",
            "执法证件号",
            "执法编号",
            "执法证编号",
            "执法证件编号",
            "省执法证编号",
            "证件编号",
            "certificate_no",
        ],
        "alt_certificate_no": ["工商执法证编号"],
        "name": ["姓名", "执法姓名", "执法人员姓名", "人员姓名", "name"],
        "department": [
            "所属部门",
            "所在单位",
            "部门",
            "科室",
            "所在业务部门（机构）",
            "所在业务部门",
            "执法单位",
            "工作单位",
            "department",
        ],
        "pool": ["名录库", "人员类别", "类别", "pool"],
        "specialties": ["专业领域", "专业", "执法门类", "执法类别", "specialties"],
        "certificate_valid_from": [
            "证件有效期起",
            "有效期起",
            "有效期开始",
            "发证日期",
            "certificate_valid_from",
        ],
        "certificate_valid_to": [
            "证件有效期止",
            "有效期止",
            "有效期至",
            "有效期截止",
            "有效截止日期",
            "certificate_valid_to",
        ],
        "validity": ["有效期", "执法证有效期", "证件有效期", "省执法证有效期"],
        "alt_validity": ["工商执法证有效期"],
        "status": ["状态", "在岗状态", "执法人员状态", "黑白名单", "status"],
        "leave_from": ["休假开始", "leave_from"],
        "leave_to": ["休假结束", "leave_to"],
        "home_region_code": ["居住地行政区划代码", "居住地区划", "home_region_code"],
        "id_number": ["身份证号", "身份证号码", "公民身份号码"],
        "phone": ["手机号", "手机", "联系电话"],
        "certificate_kind": ["证件类型"],
        "issuer": ["执法证发证机关", "发证机关"],
    },
    optional=(
        "alt_certificate_no",
        "department",
        "pool",
        "specialties",
        "certificate_valid_from",
        "certificate_valid_to",
        "validity",
        "alt_validity",
        "status",
        "leave_from",
        "leave_to",
        "home_region_code",
        "id_number",
        "phone",
        "certificate_kind",
        "issuer",
    ),
    key=None,
    list_fields=(),
    parse=InspectorRecord.parse,
    natural_key=lambda r: (r.certificate_no,),
    aggregate_id=lambda r: inspector_id(r.certificate_no),
    creation=Creation(Inspector, Inspector.Registered, ("certificate_no",), inspector_id),
    update=lambda agg, r: agg.update(r),
    departments=lambda r: [r.department],
    current_departments=lambda state: [state["department"]],
    command=Command.EDIT_INSPECTORS,
    table="inspectors",
    id_field="certificate_no",
    prepare=_prepare_inspector,
    count=_count_inspector,
    # 证件类型/证件编号 beside 执法编号 name an identity document (工号 A100001 in a Hainan
    # roster), not the certificate: kept as an extra column then.
    fallback_labels=("证件编号",),
)


# In-cell line breaks in one-line fields: a wrapped 检查对象 (拍卖\n企业) closes up, units under
# 检查主体 on separate lines are listed with 、.
_LINE_JOINS = {"category": "", "target_type": "", "subject": "、", "methods": "、"}
# An 抽查事项 cell holding a whole description (several lines or over this length) is named by
# its first clause; the full text becomes the item's 检查内容.
_NAME_LENGTH = 200
_FIRST_CLAUSE = re.compile(r"[\n：:；;]")


def _single_lines(context: CheckingContext, values: dict[str, Any]) -> None:
    for name, joint in _LINE_JOINS.items():
        value = values.get(name)
        if isinstance(value, str) and "\n" in value:
            lines = [line.strip() for line in value.splitlines()]
            values[name] = joint.join(line for line in lines if line)
            context.derived["line_breaks"] += 1
    for key in ("sub_item", "name"):
        value = values.get(key)
        if isinstance(value, str) and ("\n" in value or len(value) > _NAME_LENGTH):
            first = _FIRST_CLAUSE.split(value.strip(), maxsplit=1)[0].strip()
            values[key] = first[:_NAME_LENGTH]
            values["content"] = [value.strip(), *(values.get("content") or [])]
            context.derived["name_described"] += 1


# A 发起部门 cell naming several departments (the separators of fields.text_list).
_SEVERAL = re.compile(r"[、，,;；\n]")
# 配合部门 written as a description, not a department: 市场监管领域相关部门, 有关部门, 各相关单位.
_UNNAMED_DEPARTMENTS = re.compile(r"(相关|有关)(部门|单位)$|^各(部门|单位)$")


def _prepare_item(context: CheckingContext, values: dict[str, Any], row: int) -> list[Problem]:
    """An item row as published: 编制单位/发起部门 left blank below a unit's first item carries
    down from the item above (merged cells carry down in the reader); names are resolved. A
    variant (the same 抽查事项 again for another 检查对象, on a continuation row or a record of
    its own) becomes the sub-item “事项（检查对象）” of that item; a 配合部门 that names no department (市场监管领域相关部门) is kept as text."""
    _single_lines(context, values)
    varies = values.pop("variant_of", None) is not None
    if values.get("department"):
        context.carried["department"] = values["department"]
    elif context.carried.get("department") and not context.department:
        values["department"] = context.carried["department"]
        values.setdefault("carried", []).append("department")
    lead = values.get("department")
    if isinstance(lead, str) and _SEVERAL.search(lead):  # 发起部门 of a joint item: 公安、卫健
        first, *others = fields.text_list("department", lead)
        if values.get("cooperating_departments"):
            others.append(values["cooperating_departments"])
        joined = "、".join(others)
        values["department"], values["cooperating_departments"] = first, joined
        context.derived["several_leads"] += 1
    problems = _department_cell(context, values, row, ())
    base, target = values.get("sub_item") or values.get("name"), values.get("target_type")
    scope = (values.get("department"), values.get("category"), base)
    seen = context.item_targets.setdefault(scope, target)
    if varies or (target and seen is not None and target != seen):
        values["name"], values["sub_item"] = base, f"{base}（{target}）"
        context.derived["variant"] += 1
    cooperating = values.get("cooperating_departments")
    if cooperating:
        codes: list[str] = []
        for part in fields.text_list("cooperating_departments", cooperating):
            if part not in context.codes and _UNNAMED_DEPARTMENTS.search(part):
                values["extra"] = {**values.get("extra", {}), "配合部门（原文）": part}
                context.derived["cooperating_unnamed"] += 1
                continue
            found = context.resolve(part, row)
            if len(found) == 0 and part not in context.codes:
                problems.append(
                    _unresolved(row, context.report, "cooperating_departments", part, found)
                )
            codes.extend(c for c in found if c not in codes)
        values["cooperating_departments"] = codes
    return problems


def _count_item(values: dict[str, Any], parsed: ItemRecord) -> Iterator[str]:
    if not values.get("code"):
        yield "code_derived"
    for name in values.get("carried", ()):
        yield f"carried_{name}"
    if parsed.default_ratio is None:
        yield "ratio_blank" if not values.get("default_ratio") else "ratio_text"
    if parsed.yearly_frequency is None:
        yield "frequency_blank" if not values.get("yearly_frequency") else "frequency_text"
    if parsed.target_type is None:
        yield "target_type_unknown"
    if not parsed.methods:
        yield "methods_unknown"
    elif "methods" in parsed.published:
        yield "methods_text"
    if not parsed.legal_bases:
        yield "legal_bases_missing"


ITEMS = Kind(
    name="items",
    labels={
        "code": ["事项编码", "抽查事项编码", "编码", "事项编号", "事项代码", "code"],
        "number": ["序号", "编号", "类别编号", "领域编号", "number"],
        "department": [
            "牵头部门",
            "抽查主体部门",
            "部门编码",
            "编制单位",
            "编制单位名称",
            "发起部门",
            "实施部门",
            "department",
        ],
        "category": [
            "抽查类别",
            "类别",
            "抽查领域",
            "领域",
            "检查类别",
            "事项类别名称",
            "category",
        ],
        "name": ["抽查事项", "抽查事项名称", "事项名称", "检查事项", "抽查项目", "name"],
        "sub_item": ["抽查子项", "子项", "检查子项", "抽查事项子项", "sub_item"],
        "parent": ["上级抽查事项", "parent"],
        "ratio_max": ["抽查比例上限", "ratio_max"],
        "frequency_max": ["抽查频次上限", "frequency_max"],
        "target_type": ["检查对象类型", "抽查对象", "检查对象", "抽查对象类型", "target_type"],
        "item_class": ["事项类别", "事项类型", "item_class"],
        "methods": ["检查方式", "抽查方式", "methods"],
        "subject": ["检查主体", "抽查主体", "实施主体", "检查实施主体", "subject"],
        "legal_bases": ["抽查依据", "检查依据", "法律依据", "依据", "设定依据", "legal_bases"],
        "content": ["检查内容及标准", "抽查内容", "检查内容", "content"],
        "required_specialties": [
            "所需专业资质",
            "专业要求",
            "检查人员要求",
            "required_specialties",
        ],
        "default_ratio": ["抽查比例", "抽查比例（%）", "比例", "default_ratio"],
        "yearly_frequency": ["抽查频次", "抽查频次（次/年）", "频次", "yearly_frequency"],
        "cooperating_departments": [
            "配合部门",
            "联合部门",
            "参与部门",
            "cooperating_departments",
        ],
        "publish_within_days": [
            "结果公示期限（工作日）",
            "公示期限",
            "公示时限",
            "publish_within_days",
        ],
    },
    optional=(
        "code",
        "number",
        "department",
        "category",
        "sub_item",
        "parent",
        "ratio_max",
        "frequency_max",
        "target_type",
        "item_class",
        "methods",
        "subject",
        "legal_bases",
        "content",
        "required_specialties",
        "default_ratio",
        "yearly_frequency",
        "cooperating_departments",
        "publish_within_days",
    ),
    key=("sub_item", "name"),
    list_fields=("legal_bases", "content"),
    joined_fields=("subject",),
    variant_fields=("target_type",),
    parse=ItemRecord.parse,
    natural_key=lambda r: (r.department, r.code),
    aggregate_id=lambda r: item_id(r.department, r.code),
    creation=Creation(Item, Item.Published, ("department", "code"), item_id),
    update=lambda agg, r: agg.amend(r),
    departments=lambda r: [r.department, *r.cooperating_departments],
    current_departments=lambda state: [
        state["department"],
        *state.get("cooperating_departments", ()),
    ],
    command=Command.EDIT_ITEMS,
    table="items",
    id_field="name",
    prepare=_prepare_item,
    count=_count_item,
    check_header=_any_header,
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
    rejected: int = 0  # rows left out under skip_invalid (written to the rejects file)
    written: bool = False
    dry_run: bool = False
    stopped: bool = False  # checking stopped at the problem limit: more may follow
    problem_count: int = 0  # all problems found; `problems` holds the first limits.problems
    format: str | None = None
    sheet: str | None = None
    encoding: str | None = None
    header_rows: list[int] = field(default_factory=list)
    columns: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    unresolved_departments: list[dict[str, Any]] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)
    rejects_file: str | None = None
    error: dict[str, str] | None = None  # the file could not be read at all

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["problems"] = [asdict(p) for p in self.problems]
        found["notes"] = [asdict(n) for n in self.notes]
        return found


@dataclass
class Options:
    """What an import may be told beyond the file: see `import_file`."""

    department: str | None = None
    dry_run: bool = False
    skip_invalid: bool = False
    rejects: Path | None = None
    sheet: str | None = None
    columns: Mapping[str, Sequence[str]] = field(default_factory=dict)  # field -> labels
    constants: Mapping[str, str] = field(default_factory=dict)  # field -> value when blank
    preview_rows: int = 5


P = ParamSpec("P")


def _counted(run: Callable[P, ImportReport]) -> Callable[P, ImportReport]:
    """`ssj_import_rows` for every file imported (in a job process too: under `ssj serve`
    the job inherits PROMETHEUS_MULTIPROC_DIR, so /metrics adds its counts)."""

    @functools.wraps(run)
    def counted(*args: P.args, **kwargs: P.kwargs) -> ImportReport:
        report = run(*args, **kwargs)
        if report.dry_run:
            outcomes = {"checked": report.rows}
        elif not report.written:
            outcomes = {"refused": report.rows}
        else:
            outcomes = {
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "rejected": report.rejected,
            }
        count_import_rows(report.kind, outcomes)
        return report

    return counted


@_counted
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
    options: Options | None = None,
    name: str | None = None,
) -> ImportReport:
    """Import one file of `kind_name` ("targets", "inspectors", "items"); see the module rule.

    `department` (or `options.department`) is the department of every row that names none; a
    row's department names (编制单位名称, 管辖单位, 登记机关 …) are resolved by code, name or alias.
    `options` adds a dry run (check and report, write nothing), skip_invalid (write the valid
    rows, and the others to a rejects file with a 问题 column), a sheet, and a column mapping
    with constants (`--columns`). `progress(done, total)` follows the writing; `reading(table)`
    the reading and checking. `name` is the file's name in messages (for a temporary copy).

    Checked records are never all held in memory: they go to a temporary file (`_Spool`) and
    are written from it in batches, their current states read per batch. A large file is
    checked on both cores (`ssj.services.import_check`): with skip_invalid another process
    checks it while this one writes the batches it has checked (rows that are valid are written
    as they come, what the option asks for; the rejected ones go to the rejects file at the
    end); otherwise the other process reads the file while this one checks the records as
    they come, and the writing starts once all of them are checked.
    """
    kind = KINDS[kind_name]
    options = options or Options()
    limits = limits or services.settings.imports
    department = department or options.department
    if department is not None:
        department = fields.text("department", department, required=False, max_length=64) or None
    path = Path(path)
    report = ImportReport(file=name or path.name, kind=kind.name, dry_run=options.dry_run)
    services.refresh()
    departments = [s for s in services.queries.states("departments") if not s["closed"]]
    context = CheckingContext(
        principal, kind, department, options, report, departments, limits.problems
    )
    job = CheckJob(path, name, kind.name, department, options, limits, principal, departments)
    writer = _Writer(services, kind, context, progress)
    if options.skip_invalid and not options.dry_run and _check_elsewhere(path):
        layout = import_check.run(job, context, writer.accept, reading)
    else:
        with _Spool() as spool:
            layout = check_file(job, context, spool.add, reading, _check_elsewhere(path))
            spool.flush()
            for batch in spool.batches():
                writer.look(batch)
            if not _refuse(services, context, layout) and not options.dry_run:
                if context.rejected:
                    report.rejects_file = str(_write_rejects(context, layout, path, options))
                for batch in spool.batches():
                    writer.write([r for r in batch if r.row not in context.rejected])
                writer.finish()
                report.written = True
        return report
    writer.finish()
    _refuse(services, context, layout)
    if context.rejected:
        report.rejects_file = str(_write_rejects(context, layout, path, options))
    report.written = True
    return report


def _check_elsewhere(path: Path) -> bool:
    """Whether a checker process pays: SSJ_IMPORT_CHECKER=process or inline decides, else a
    file of CHECK_ELSEWHERE_BYTES or more with a core to spare."""
    chosen = os.environ.get("SSJ_IMPORT_CHECKER", "").strip()
    if chosen in ("process", "inline"):
        return chosen == "process"
    if len(os.sched_getaffinity(0)) < 2:
        return False
    try:
        return path.stat().st_size >= CHECK_ELSEWHERE_BYTES
    except OSError:
        return False


def _refuse(services: Services, context: CheckingContext, layout: TableLayout) -> bool:
    """The report once every record is checked and looked up: notes, the refusal on the record,
    problems in order. True when nothing may be written (problems without skip_invalid, or no
    data rows)."""
    report, kind = context.report, context.kind
    if kind is ITEMS:
        _absent_items(services, context)
    context.finish()
    if context.refused:
        # Recorded once per file, like a refused single-entry command (全程留痕).
        services.record_refusal(
            context.principal,
            kind.command,
            sorted(context.refused),
            Forbidden(
                f"导入文件 {report.file} 含无权操作的部门的数据",
                f"import file {report.file} holds rows of departments the user may not act for",
            ),
        )
    report.problems.sort(key=lambda p: (p.row, p.column))
    if layout.stopped:
        report.stopped = True
        report.problems.append(_stopped(context.limit))
    if not context.options.skip_invalid and report.problems:
        return True
    if not context.valid and not context.rejected:
        report.problems.append(Problem(0, "", "文件中没有数据行", "the file has no data rows"))
        return True
    report.rejected = len(context.rejected)
    return False


def checking_context(job: CheckJob) -> CheckingContext:
    """A checker process's context: the job's, with a report of its own."""
    report = ImportReport(file=job.name or job.path.name, kind=job.kind)
    return CheckingContext(
        job.principal,
        KINDS[job.kind],
        job.department,
        job.options,
        report,
        job.departments,
        job.limits.problems,
    )


def check_file(
    job: CheckJob,
    context: CheckingContext,
    sink: Callable[[CheckedRecord], None],
    reading: Reading | None,
    read_elsewhere: bool = False,
) -> TableLayout:
    """Read and check the whole file (in this process or a checker's), each record that
    passes given to `sink`; returns what the report and the rejects file need of the table.
    `read_elsewhere`: another process reads the file (`read_for_checking`) while this one
    checks the records as they come: both cores."""
    opened: AbstractContextManager[Table] = (
        import_check.reading_elsewhere(job) if read_elsewhere else _open_table(job, context.kind)
    )
    with opened as table:
        _describe(context.report, table)
        context.kind.check_header(table)
        table.on_record = _watch(context.report, job.limits, reading, context)
        _validate(context, table, sink)
        if reading is not None:
            reading(table)
    context.report.notes.extend(table.notes)
    _reader_problems(context, table)
    return TableLayout.of(table)


def _open_table(job: CheckJob, kind: Kind) -> Table:
    """The job's file opened as a table of `kind` (its labels with the job's mapping)."""
    labels = _labels(kind, job.options.columns)
    optional = [*kind.optional, *job.options.constants]
    if job.department:
        optional.append("department")
    optional = [f for f in dict.fromkeys(optional) if f in labels]
    return read_table(
        job.path,
        expected=labels,
        key=kind.key,
        list_fields=kind.list_fields,
        optional=optional,
        limits=job.limits,
        joined_fields=kind.joined_fields,
        variant_fields=kind.variant_fields,
        fallback_labels=kind.fallback_labels,
        sheet=job.options.sheet,
        name=job.name,
        keep_unmapped=True,
    )


def _labels(kind: Kind, columns: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The kind's header labels with a mapping's in front; a label a mapping gives to one field
    is taken from every other."""
    given = {f: [v] if isinstance(v, str) else list(v) for f, v in columns.items()}
    unknown = sorted(set(given) - set(kind.labels))
    if unknown:
        known = ", ".join(kind.labels)
        raise ValidationError(
            f"列映射中有未知字段：{'、'.join(unknown)}（可用：{known}）",
            f"the column mapping names unknown field(s) {', '.join(unknown)} (known: {known})",
        )
    taken = {_norm(label) for labels in given.values() for label in labels}
    merged = {}
    for name, labels in kind.labels.items():
        own = given.get(name, [])
        merged[name] = [*own, *(label for label in labels if _norm(label) not in taken)]
        if not merged[name]:
            merged[name] = [f"\x00{name}"]  # a field whose every label went elsewhere
    return merged


def _norm(label: str) -> str:
    return "".join(unicodedata.normalize("NFKC", label).casefold().split()).strip("*")


def _describe(report: ImportReport, table: Table) -> None:
    report.format, report.sheet, report.encoding = table.format, table.sheet, table.encoding
    report.header_rows = list(table.header_rows)
    shown = [{"column": c.letter, "label": c.label, "field": c.field} for c in table.columns] + [
        {"column": c.letter, "label": c.label, "field": None} for c in table.unmapped
    ]
    report.columns = sorted(shown, key=lambda c: (len(c["column"]), c["column"]))


@dataclass(slots=True)
class CheckedRecord:
    """A record that passed checking, kept compact until it is written: its state as JSON
    bytes. What a checker process sends back (part of the boundary with `import_check`)."""

    row: int
    rows: tuple[int, ...]
    key: tuple[str, ...]
    state: bytes
    kept: bytes | None  # the record, kept only under skip_invalid for the rejects file
    departments: tuple[str, ...]  # the row's (`Kind.departments`): what writing it needs
    seen: Any = None  # `view`, decoded once: looked up, then written

    def fields(self) -> tuple[Any, ...]:
        """What crosses a pipe or the spool: `CheckedRecord(*fields)` is this record again."""
        return (self.row, self.rows, self.key, self.state, self.kept, self.departments)

    @property
    def view(self) -> Any:
        if self.seen is None:
            self.seen = _View(orjson.loads(self.state))
        return self.seen

    @property
    def record(self) -> Record | None:
        if self.kept is None:
            return None
        rows, values, extra, variant_of, joined = orjson.loads(self.kept)
        return Record(tuple(rows), values, extra, variant_of, frozenset(joined))


class _View(dict[str, Any]):
    """A stored state seen as the record it came from (attributes, as_state)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def as_state(self) -> dict[str, Any]:
        return dict(self)


# What a checker process's report holds that the writing process's does not.
_CHECKED_FIELDS = (
    "rows",
    "stopped",
    "problem_count",
    "problems",
    "notes",
    "format",
    "sheet",
    "encoding",
    "header_rows",
    "columns",
)


class CheckingContext:
    """What checking a file keeps: departments to resolve names against, the rows rejected
    and why, unresolved names and counts of derived values for the report. Picklable: a
    checker process sends back what it found (`found`, `merge`)."""

    def __init__(
        self,
        principal: Principal,
        kind: Kind,
        department: str | None,
        options: Options,
        report: ImportReport,
        departments: list[dict[str, Any]],
        limit: int,
    ) -> None:
        self.principal = principal
        self.kind = kind
        self.department = department
        self.options = options
        self.report = report
        self.limit = limit
        self.departments = departments
        self.codes = {s["code"]: s for s in self.departments}
        self.resolved: dict[str, tuple[list[str], list[str]]] = {}
        self.unresolved: dict[str, list[int]] = {}
        # An item list's 检查对象 first seen for (department, category, item): a later record of
        # the same item for another 检查对象 is a variant of it.
        self.item_targets: dict[tuple[Any, Any, Any], Any] = {}
        self.rejected: dict[int, list[Problem]] = {}
        self.rejected_records: dict[int, Record] = {}
        self.derived: Counter[str] = Counter()
        self.consumed: set[int] = set()  # reader problems already given to their records
        self.carried: dict[str, Any] = {}  # item lists: the last unit and category named
        self.refused: set[str] = set()  # departments of rows the user may not act for
        self.checked = 0  # records that passed checking
        self.valid = 0  # of those, records that also passed the look-up of their entries
        self.keys: set[tuple[str, ...]] = set()  # item lists only: the items in the file
        self._credit_code_column: bool | None = None  # see credit_code_column

    _FOUND = ("report", "unresolved", "rejected", "rejected_records", "derived", "refused")

    def credit_code_column(self) -> bool:
        """Whether the identifier's column is headed by a label that names the credit code alone
        (CREDIT_CODE_LABELS): decided once the columns are known, not again every row."""
        if self._credit_code_column is None:
            columns = self.report.columns
            label = next((c["label"] for c in columns if c["field"] == "identifier"), "")
            self._credit_code_column = _norm(label) in CREDIT_CODE_LABELS
        return self._credit_code_column

    def found(self) -> dict[str, Any]:
        """What checking found, for the process that writes."""
        return {name: getattr(self, name) for name in self._FOUND} | {"checked": self.checked}

    def merge(self, found: Mapping[str, Any]) -> None:
        """Take what a checker found; problems this process found meanwhile (`_Writer.look`)
        follow the checker's."""
        mine, count = self.report.problems, self.report.problem_count
        theirs = found["report"]
        for name in _CHECKED_FIELDS:
            setattr(self.report, name, getattr(theirs, name))
        self.report.problem_count += count
        self.report.problems.extend(mine[: max(0, self.limit - len(self.report.problems))])
        self.unresolved, self.derived = found["unresolved"], found["derived"]
        self.refused |= found["refused"]
        self.checked = found["checked"]
        for row, problems in found["rejected"].items():
            self.rejected.setdefault(row, []).extend(problems)
        self.rejected_records.update(found["rejected_records"])

    def problem(self, problem: Problem, record: Record | None = None) -> None:
        self.report.problem_count += 1
        if len(self.report.problems) < self.limit:
            self.report.problems.append(problem)
        if problem.row > 0:
            self.rejected.setdefault(problem.row, []).append(problem)
            if record is not None and self.options.skip_invalid:
                self.rejected_records[problem.row] = record

    def reader_problem(self, problem: Problem, record: Record) -> None:
        self.consumed.add(id(problem))
        self.problem(Problem(record.rows[0], problem.column, problem.zh, problem.en), record)

    def resolve(self, text: str, row: int) -> list[str]:
        """Department codes a cell names; names that resolve to none are kept for the report."""
        if text in self.codes:
            return [text]
        found = self.resolved.get(text)
        if found is None:
            found = resolve_departments(text, self.departments)
            self.resolved[text] = found
        for name in found[1]:
            rows = self.unresolved.setdefault(name, [])
            if len(rows) < 50:
                rows.append(row)
        return found[0] if not found[1] else []

    def finish(self) -> None:
        self.report.unresolved_departments = [
            {"name": name, "rows": rows} for name, rows in sorted(self.unresolved.items())
        ]
        if self.unresolved:
            names = "、".join(self.unresolved)
            self.report.notes.append(
                Note(
                    0,
                    "",
                    f"未能识别的部门名称 {len(self.unresolved)} 个：{names}；可用"
                    "“ssj departments alias 编码 名称”登记别名后重新导入",
                    f"{len(self.unresolved)} department name(s) resolve to no department: "
                    f"{', '.join(self.unresolved)}; add them with 'ssj departments alias CODE "
                    "NAME' and import again",
                    "departments",
                )
            )
        for what, count in sorted(self.derived.items()):
            zh, en = DERIVED.get(what, (what, what))
            self.report.notes.append(
                Note(0, "", f"{count:,} 行{zh}", f"{count:,} row(s): {en}", "derived")
            )


# What exports write for "not available": such a cell is blank, never a value (a 企业类型 "N/A",
# a 注册号 "无资料内容" in a county's export).
PLACEHOLDERS = frozenset({"N/A", "n/a", "无资料内容", "无资料"})

DERIVED = {
    "placeholder": (
        "有单元格为“N/A”或“无资料内容”（不详），按空白处理",
        "cells reading N/A or 无资料内容 (not available) taken as blank",
    ),
    "department_option": ("按 --department 归属部门", "department from --department"),
    "department_named": ("按名称或别名识别部门", "department resolved from its name or alias"),
    "region_identifier": (
        "行政区划代码取自统一社会信用代码第 3–8 位或注册号前 6 位",
        "region code from the USCC's positions 3-8 or the registration number's first 6 digits",
    ),
    "region_department": (
        "行政区划代码无从得出，取所属部门的区划代码",
        "region code from the department (the identifier holds none)",
    ),
    "target_type_derived": (
        "对象类型由企业类型或标识推得",
        "target type derived from 企业类型 or the identifier",
    ),
    "credit_class_default": (
        "未填信用风险分类，按 B 类（抽取时的默认）登记",
        "no credit class given: registered as B (the draws' default)",
    ),
    "status_default": ("未填状态，按存续登记", "no status given: registered as active"),
    "constant": ("空白列按 --columns 的常量填写", "blank cells filled with --columns constants"),
    "validity_unknown": (
        "未给出证件有效期：登记为有效期未知，设定前不参与抽取",
        "no certificate validity given: registered as unknown, never drawn until it is set",
    ),
    "code_derived": (
        "清单无事项编码：按名称生成稳定编码（N- 加 SHA-256 前 10 位）",
        "no item code in the list: a stable code derived from the names (N- and 10 hex digits "
        "of SHA-256)",
    ),
    "carried_department": (
        "编制单位（部门）空白，沿用上一事项的",
        "department blank: carried down from the item above",
    ),
    "ratio_blank": (
        "未填抽查比例：保持空白（由计划设定比例）",
        "no ratio given: left blank (plans set their ratios)",
    ),
    "ratio_text": (
        "抽查比例为文字，无法确定数值：原文保留，比例空白",
        "ratio given as text that states no number without doubt: kept verbatim, ratio blank",
    ),
    "frequency_blank": (
        "未填抽查频次：保持空白（由计划设定）",
        "no frequency given: left blank (plans set theirs)",
    ),
    "frequency_text": (
        "抽查频次为文字，无法确定次数：原文保留，频次空白",
        "frequency given as text that states no number without doubt: kept verbatim, blank",
    ),
    "target_type_unknown": (
        "检查对象无法对应对象类型：原文保留，类型空白（计划须列明对象类型）",
        "检查对象 names no target type without doubt: kept verbatim, type blank (a plan must "
        "name its target types)",
    ),
    "methods_unknown": (
        "检查方式无法识别或未填：原文保留",
        "no recognisable method: the text is kept verbatim",
    ),
    "methods_text": (
        "检查方式含未能识别的部分：已识别的保留，原文保留",
        "methods partly recognised: what was recognised is kept, with the text",
    ),
    "legal_bases_missing": ("未列抽查依据", "no legal basis given"),
    "joined_subject": (
        "检查主体在下方续行另列单位：以“、”并列为一项",
        "检查主体 names further units on the rows below: joined with “、”",
    ),
    "variant": (
        "同一抽查事项对另一检查对象另列（事项类别等不同）：作为子项“事项（检查对象）”导入",
        "an item repeated for another 检查对象 (with its own 事项类别 …): imported as the "
        "sub-item “item（检查对象）”",
    ),
    "line_breaks": (
        "单行字段的单元格内有换行：检查对象等连排，检查主体各单位以“、”并列",
        "line breaks inside a one-line cell: 检查对象 and the like closed up, the units of "
        "检查主体 listed with “、”",
    ),
    "name_described": (
        "抽查事项单元格为整段说明：以第一分句为事项名称，全文保留为检查内容",
        "抽查事项 holds a whole description: its first clause names the item, the full text is "
        "kept as 检查内容",
    ),
    "several_leads": (
        "发起部门列有多个部门：第一个为牵头部门，其余记为配合部门",
        "发起部门 names several departments: the first leads, the others are recorded as "
        "cooperating",
    ),
    "cooperating_unnamed": (
        "配合部门为泛称（如“市场监管领域相关部门”），不对应具体部门：原文保留于附加信息",
        "配合部门 names no particular department (e.g. 市场监管领域相关部门): the text is kept "
        "as an extra field",
    ),
}


@dataclass(slots=True)
class RowCheck:
    """What checking one record found by itself (`_check_record`), before what needs the rows
    before it (`_validate`): a duplicate, the reader's problems."""

    problems: list[Problem]  # from preparing and parsing: the row did not parse
    key: tuple[str, ...] | None = None  # the natural key of a row that parsed
    shown: Any = None  # its id field's value, quoted if the row repeats an earlier key
    department_problem: Problem | None = None  # reported unless the row is a duplicate
    forbidden: bool = False  # that problem is the user's lack of right to the departments
    state: bytes | None = None
    counted: tuple[str, ...] = ()  # derived values (DERIVED), counted if the row passes
    departments: tuple[str, ...] = ()  # the departments the row belongs to


def _check_record(context: CheckingContext, table: Table, record: Record) -> RowCheck:
    """Prepare and parse one record: all that needs no other row."""
    kind = context.kind
    row = record.rows[0]
    values: dict[str, Any] = dict(record.values)
    extra = record.extra
    if record.variant_of is not None:
        values["variant_of"] = record.variant_of
    for name in record.joined:
        context.derived[f"joined_{name}"] += 1
    if _holds_placeholder(values) or PLACEHOLDERS.intersection(extra.values()):
        values = {
            k: None if isinstance(v, str) and v in PLACEHOLDERS else v for k, v in values.items()
        }
        extra = {k: v for k, v in extra.items() if v not in PLACEHOLDERS}
        context.derived["placeholder"] += 1
    for name, value in context.options.constants.items():
        if values.get(name) in (None, "", []):
            values[name] = value
            context.derived["constant"] += 1
    values["extra"] = extra
    problems = kind.prepare(context, values, row)
    if problems:
        return RowCheck(problems)
    try:
        parsed = kind.parse(values)
    except FieldErrors as e:
        return RowCheck([_problem(table, row, x.field, x.zh, x.en, values) for x in e.errors])
    except FieldError as e:
        return RowCheck([_problem(table, row, e.field, e.zh, e.en, values)])
    except ValidationError as e:
        return RowCheck([Problem(row, "", e.zh, e.en)])
    departments = tuple(kind.departments(parsed))
    department_problem, forbidden = _department_problem(context, departments, table, row)
    counted = tuple(kind.count(values, parsed))
    if "department_source" in values:
        counted += (values["department_source"],)
    return RowCheck(
        [],
        kind.natural_key(parsed),
        values.get(kind.id_field),
        department_problem,
        forbidden,
        # A copy of exactly its size: orjson's result keeps the 4 KiB buffer it was written
        # in (measured with orjson 3.13: 4,097 bytes held per 388-byte state), which made a
        # million kept records take 4 GiB.
        memoryview(orjson.dumps(parsed.as_state())).tobytes(),
        counted,
        departments,
    )


def _validate(
    context: CheckingContext,
    table: Table,
    sink: Callable[[CheckedRecord], None],
) -> None:
    """Check every record in row order: by itself (`_check_record`), then against the rows
    before it and the reader's problems."""
    kind, report = context.kind, context.report
    # Each key seen, and its first row: the one per-row thing checking keeps (a joined string
    # and an int, about 130 bytes a row; the records themselves go to `sink`).
    seen: dict[str, int] = {}
    keep = context.options.skip_invalid
    mark, pending = 0, []
    own: list[Problem] = []
    for record in table.records:
        row = record.rows[0]
        report.rows += 1
        if table.problem_count > mark:
            pending.extend(table.problems_since(mark))
            mark = table.problem_count
        if pending or own:  # nearly every row of a file has no reader problem
            own = [p for p in pending if p.row in record.rows]
            pending = [p for p in pending if p.row > record.rows[-1]]
        check = _check_record(context, table, record)
        problems = check.problems
        if check.key is not None:
            joined = "\x1f".join(check.key)
            if joined in seen:
                problems.append(
                    _problem(
                        table,
                        row,
                        kind.id_field,
                        f"与第 {seen[joined]} 行重复：{'/'.join(check.key)}",
                        f"duplicate of row {seen[joined]}: {'/'.join(check.key)}",
                        {kind.id_field: check.shown},
                    )
                )
            else:
                seen[joined] = row
                if check.department_problem is not None:
                    problems.append(check.department_problem)
                    if check.forbidden:
                        context.refused.update(check.departments)
        if own:
            # A cell the reader refused (a formula, a number Excel may have changed) reads as
            # empty: report the reader's problem, not also "must not be empty".
            bad = {p.column for p in own}
            problems = [p for p in problems if p.column not in bad]
            for problem in own:
                context.reader_problem(problem, record)
        if problems or own:
            for problem in problems:
                context.problem(problem, record)
            continue
        assert check.key is not None and check.state is not None  # no problems: the row parsed
        context.derived.update(check.counted)
        context.checked += 1
        sink(
            CheckedRecord(
                row,
                record.rows,
                check.key,
                check.state,
                _compact(record) if keep else None,
                check.departments,
            )
        )


def read_for_checking(job: CheckJob, kind: Kind) -> Iterator[tuple[str, Any]]:
    """In a checker process: read the job's file for the importing process, which checks the
    records as they come (`import_check.RemoteTable` is the other side). Gives ("head", the
    table's layout and first notes), then ("record", …) for each record with the problems and
    notes the reader found until then, then ("end", those found after the last record)."""
    with _open_table(job, kind) as table:
        yield "head", (TableLayout.of(table), table.header_rows, list(table.notes))
        problems, notes = 0, len(table.notes)
        for record in table.records:
            fields = (record.rows, record.values, record.extra, record.variant_of, record.joined)
            found = table.problems_since(problems)
            problems = table.problem_count
            written = table.notes[notes:]
            notes = len(table.notes)
            yield "record", (fields, found, written, table.last_row, table.position())
        yield "end", (table.problems_since(problems), table.notes[notes:])


def _holds_placeholder(values: dict[str, Any]) -> bool:
    """Whether a text value is one of PLACEHOLDERS: one set operation, unless a value cannot be
    hashed (a list field's), when the text values are taken one by one."""
    try:
        return not PLACEHOLDERS.isdisjoint(values.values())
    except TypeError:
        return bool(PLACEHOLDERS.intersection(v for v in values.values() if isinstance(v, str)))


def _compact(record: Record) -> bytes:
    """A record kept for a rejects file that may never be written, as JSON bytes without its
    blank fields (the rejects file writes a blank cell for a field it lacks): cells are text,
    lists of text or blank, and orjson writes them in a fifth of pickle's time."""
    values: dict[str, Value] = {k: v for k, v in record.values.items() if v is not None and v != ""}
    return orjson.dumps(
        (record.rows, values, record.extra, record.variant_of, sorted(record.joined))
    )


def _absent_items(services: Services, context: CheckingContext) -> None:
    """A new edition of a list retires nothing silently: the departments' current items it
    does not hold are listed in a note (retire them with `ssj items retire`)."""
    keys = context.keys
    departments = {key[0] for key in keys}
    absent = sorted(
        f"{s['department']}/{s['code']}（{s['name']}）"
        for s in services.queries.states("items")
        if s["department"] in departments
        and s.get("retired_reason") is None
        and (s["department"], s["code"]) not in keys
    )
    if absent:
        shown = "；".join(absent[:20]) + ("…" if len(absent) > 20 else "")
        context.report.notes.append(
            Note(
                0,
                "",
                f"本部门已登记的 {len(absent)} 项事项不在此清单中，仍然有效（如需废止，请用 "
                f"ssj items retire）：{shown}",
                f"{len(absent)} registered item(s) of these departments are not in this list and "
                f"stay in force (retire them with ssj items retire): {shown}",
                "absent",
            )
        )


def _reader_problems(context: CheckingContext, table: Table) -> None:
    """The reader's problems that fell in no record (rows with nothing to continue, stray
    cells): a record's own come before it is read to its end, and `_validate` gave them to
    it (they reject it)."""
    for problem in table.problems:
        if id(problem) not in context.consumed:
            context.problem(problem)


def _watch(
    report: ImportReport, limits: ImportLimits, reading: Reading | None, context: CheckingContext
) -> Any:
    """Called after each record: stop once the problems reach the limit (not when skipping
    invalid rows: every row must then be checked); report progress."""

    def on_record(table: Table) -> bool:
        if reading is not None and table.records_read % READING_EVERY == 0:
            reading(table)
        if context.options.skip_invalid:
            return True
        return report.problem_count + table.problem_count < limits.problems

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
    context: CheckingContext, departments: tuple[str, ...], table: Table, row: int
) -> tuple[Problem | None, bool]:
    """A department the row names that is unknown or that the user may not act for, and
    whether it is the latter (its departments are then refused: recorded once per file,
    `_refuse`)."""
    kind = context.kind
    for code in departments:
        if code not in context.codes:
            problem = _problem(
                table, row, "department", f"未知部门 {code}", f"unknown department {code}"
            )
            return problem, False
    try:
        authorise(context.principal, kind.command, departments)
    except Forbidden as e:
        return _problem(table, row, "department", e.zh, e.en), True
    return None, False


def _check_existing(
    context: CheckingContext,
    records: list[CheckedRecord],
    current: Mapping[tuple[str, ...], Mapping[str, Any]],
) -> None:
    """A row that changes an existing entry must be allowed for the departments the entry
    belongs to now, exactly as the single-entry command (else a file could move another
    department's targets into one's own)."""
    kind = context.kind
    for record in records:
        state = current.get(record.key)
        if state is None:
            continue
        try:
            authorise(context.principal, kind.command, kind.current_departments(state))
        except Forbidden as e:
            context.refused.update(kind.current_departments(state))
            where = "/".join(record.key)
            context.problem(
                Problem(
                    record.row,
                    "",
                    f"第 {record.row} 行：已登记的{where}：{e.zh}",
                    f"row {record.row}: the registered {where}: {e.en}",
                ),
                record.record,
            )


def _problem(
    table: Table,
    row: int,
    field_name: str,
    zh: str,
    en: str,
    values: Mapping[str, Any] | None = None,
) -> Problem:
    """A problem at the cell officials see, quoting what the cell holds."""
    zh = zh.removeprefix(f"{field_name}：")
    en = en.removeprefix(f"{field_name}: ")
    try:
        column = table.column(field_name)
    except (KeyError, ValueError, LookupError):
        return Problem(row, "", f"第 {row} 行：{zh}", f"row {row}: {en}")
    value = values.get(field_name) if values is not None else None
    if isinstance(value, list):
        value = "；".join(v for v in value if v)
    quoted = f"“{value}”" if isinstance(value, str) and value and value not in zh else ""
    return Problem(
        row,
        column.letter,
        f"第 {row} 行 {column.label}{quoted}：{zh}",
        f"row {row} {column.label}{' ' + quoted if quoted else ''}: {en}",
    )


def _write_rejects(
    context: CheckingContext, layout: TableLayout, source: Path, options: Options
) -> Path:
    """The rejected rows in the input's format (CSV stays CSV in its encoding; Excel files
    become .xlsx), with the file's own header and a 问题 column: fix them and import this file."""
    columns = sorted([*layout.columns, *layout.unmapped], key=lambda c: c.index)
    header = [c.label for c in columns] + ["问题"]
    rows: list[list[str]] = []
    for row, problems in sorted(context.rejected.items()):
        record = context.rejected_records.get(row)
        if record is None:
            continue
        first = len(rows)
        height = max([1, *(len(v) for v in record.values.values() if isinstance(v, list))])
        for line in range(height):
            cells = []
            for column in columns:
                if column.field:
                    value = record.values.get(column.field)
                    if isinstance(value, list):
                        value = value[line] if line < len(value) else None
                    elif line:
                        value = None
                else:
                    value = record.extra.get(column.label) if not line else None
                cells.append(value or "")
            rows.append([*cells, ""])
        rows[first][-1] = "；".join(p.zh for p in problems)
    csv_input = layout.format == "csv"
    suffix = source.suffix if csv_input and source.suffix else ".csv" if csv_input else ".xlsx"
    target = options.rejects or source.with_name(f"{source.stem}.rejects{suffix}")
    temporary = target.with_name(f".{target.name}.tmp")
    if csv_input:
        encoding = "gb18030" if layout.encoding == "gb18030" else "utf-8-sig"
        with temporary.open("w", encoding=encoding, newline="") as handle:
            sheets.write_csv([header, *rows], handle, delimiter=layout.delimiter or ",")
    else:
        sheets.write_xlsx([header, *rows], temporary, title=layout.sheet or "Sheet1")
    temporary.replace(target)
    return target


@dataclass(frozen=True)
class TableLayout:
    """What the report and the rejects file need of a table once it is read (picklable: a
    checker process returns it)."""

    columns: tuple[Column, ...]
    unmapped: tuple[Column, ...]
    format: str
    encoding: str | None
    delimiter: str | None
    sheet: str | None
    stopped: bool

    @classmethod
    def of(cls, table: Table) -> TableLayout:
        return cls(
            tuple(table.columns),
            tuple(table.unmapped),
            table.format,
            table.encoding,
            table.delimiter,
            table.sheet,
            table.stopped,
        )


@dataclass(frozen=True)
class CheckJob:
    """What checking a file needs besides the context: the one message sent to a checker
    process (picklable), from which it builds its `CheckingContext`."""

    path: Path
    name: str | None
    kind: str
    department: str | None
    options: Options
    limits: ImportLimits
    principal: Principal
    departments: list[dict[str, Any]]


class _Spool:
    """Checked records in a temporary file, in batches of BATCH pickled tuples: read back once
    to look up their entries and once to write them, never all in memory."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile(prefix="ssj-import-")  # noqa: SIM115  # closed by __exit__
        self.pending: list[CheckedRecord] = []

    def __enter__(self) -> _Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()

    def add(self, stored: CheckedRecord) -> None:
        self.pending.append(stored)
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            pickle.dump(
                [s.fields() for s in self.pending],
                self.file,
                protocol=pickle.HIGHEST_PROTOCOL,
            )
            self.pending = []

    def batches(self) -> Iterator[list[CheckedRecord]]:
        self.file.seek(0)
        while True:
            try:
                batch = pickle.load(self.file)
            except EOFError:
                return
            yield [CheckedRecord(*fields) for fields in batch]


class _Writer:
    """Looks up the entries of checked records, batch by batch, and writes them: new entries
    registered, changed ones amended, unchanged ones skipped; one ledger save in flight (in a
    thread: database waits release the GIL) while the next batch is built, batches in file
    order."""

    def __init__(
        self, services: Services, kind: Kind, context: CheckingContext, progress: Progress | None
    ) -> None:
        self.services, self.kind, self.context, self.progress = services, kind, context, progress
        self.departments: set[str] = set()
        self.pending: list[Aggregate | PreparedEvent] = []
        self.done = 0
        self.saver: ThreadPoolExecutor | None = None
        self.in_flight: Future[Any] | None = None
        self.actor: Actor | None = None
        self.gc_was_enabled = gc.isenabled()

    def look(
        self, batch: list[CheckedRecord]
    ) -> tuple[list[CheckedRecord], dict[tuple[str, ...], Any]]:
        """Check a batch against the entries it changes (`_check_existing`); returns the
        records still valid, and the current states found."""
        context = self.context
        current = _current_states(self.services, self.kind, batch)
        if current:
            _check_existing(context, batch, current)
        if self.kind is ITEMS:
            context.keys.update(r.key for r in batch)
        valid = [r for r in batch if r.row not in context.rejected]
        context.valid += len(valid)
        preview = context.report.preview
        for stored in valid[: max(0, context.options.preview_rows - len(preview))]:
            preview.append(orjson.loads(stored.state))
        for stored in valid:
            self.departments.update(stored.departments)
            state = current.get(stored.key)
            if state is not None:
                self.departments.update(self.kind.current_departments(state))
        return valid, current

    def accept(self, batch: list[CheckedRecord]) -> None:
        """Look a batch up and write what stays valid at once (a checker process's batches),
        authorised for the departments of the rows and entries written so far."""
        valid, current = self.look(batch)
        if valid:
            self._authorise()
            self._write(valid, current)

    def write(self, records: list[CheckedRecord]) -> None:
        """Write a batch already looked up (its states are read again: not kept between)."""
        if records:
            if self.actor is None:
                self._authorise()
            self._write(records, _current_states(self.services, self.kind, records))

    def _authorise(self) -> None:
        self.actor = self.services.authorise(
            self.context.principal, self.kind.command, sorted(self.departments)
        )

    def _write(self, records: list[CheckedRecord], current: dict[tuple[str, ...], Any]) -> None:
        kind, report, ledger = self.kind, self.context.report, self.services.ledger
        mapper = cast(TextCheckingMapper, ledger.mapper)
        created = kind.creation.prepared
        if self.saver is None:
            # Hundreds of thousands of long-lived objects: the cyclic collector would rescan
            # them over and over; nothing here makes reference cycles.
            gc.disable()
            self.saver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ssj-import")
        for stored in records:
            self.done += 1
            state = current.get(stored.key)
            if state is None:
                self.pending.append(created(mapper, stored.key, stored.state))
                report.created += 1
            elif not _differs(state, record := stored.view):
                report.unchanged += 1
            else:
                aggregate: Any = ledger.repository.get(kind.aggregate_id(record))
                if kind.update(aggregate, record):
                    self.pending.append(aggregate)
                    report.updated += 1
                else:
                    report.unchanged += 1
            if len(self.pending) >= BATCH:
                self._flush()

    def _flush(self) -> None:
        assert self.saver is not None
        if self.in_flight is not None:
            self.in_flight.result()
        batch, self.pending = self.pending, []
        self.in_flight = self.saver.submit(self.services.ledger.save, *batch, actor=self.actor)
        if self.progress is not None:
            self.progress(self.done, max(self.done, self.context.valid))

    def finish(self) -> None:
        """The last batch saved, every save waited for; raises what a save raised."""
        try:
            if self.pending:
                self._flush()
            if self.in_flight is not None:
                self.in_flight.result()
        finally:
            if self.saver is not None:
                self.saver.shutdown(wait=True)
                self.saver = None
                if self.gc_was_enabled:
                    gc.enable()
        if self.progress is not None:
            self.progress(self.done, self.done)


def _differs(state: dict[str, Any], record: Any) -> bool:
    """Whether a record changes an entry: a value that differs, or an optional field (issue
    #11's, absent from older states) that it no longer has."""
    new = record.as_state()
    if any(state.get(k) != v for k, v in new.items()):
        return True
    return any(k not in new and state.get(k) not in (None, "", {}, []) for k in OPTIONAL_STATE)


def _current_states(
    services: Services, kind: Kind, records: Sequence[CheckedRecord]
) -> dict[tuple[str, ...], dict[str, Any]]:
    """Current states of these records' entries, from the read model, in one statement or a
    few (`RegistryQueries.current_by_key`)."""
    return services.queries.current_by_key(kind.table, [r.key for r in records])
