"""The inspection-item list (随机抽查事项清单): publish, amend, retire, read, export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ssj.api.deps import (
    MAY_CREATE,
    AtSeq,
    PrincipalDep,
    ReasonIn,
    RegistryDep,
    ServicesDep,
    WindowDep,
    authorise_read,
    constructed,
    export_response,
    found,
    make_router,
    page,
    read_at,
    read_scope,
    states,
    written,
)
from ssj.api.schemas import Page, Schema, Shown, Written, absent, answers
from ssj.domain.access import Principal
from ssj.domain.items import ItemRecord
from ssj.presentation.sheets import CSV, XLSX
from ssj.presentation.views import ITEMS
from ssj.services.context import Services

TAG = "抽查事项清单 / Items"
router = make_router(TAG)


class ItemIn(BaseModel):
    """An item as officials write it; values may be the canonical codes or the Chinese labels."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "TZ-001",
                    "department": "CZ-SJJ-TZ",
                    "category": "特种设备",
                    "name": "特种设备使用单位监督检查",
                    "target_type": "企业",
                    "item_class": "一般",
                    "methods": ["现场检查"],
                    "legal_bases": ["《中华人民共和国特种设备安全法》第五十七条"],
                    "default_ratio": "5",
                    "yearly_frequency": 1,
                }
            ]
        },
    )

    code: str = Field(description="事项编码 / item code")
    department: str = Field(description="牵头部门编码 / lead department code")
    category: str | None = Field(None, description="抽查类别 / category")
    name: str = Field(description="抽查事项名称 / item name")
    target_type: str = Field(
        description="检查对象类型：enterprise|individual|project|product|behaviour 或 企业、"
        "个体工商户、项目、产品、行为 / target type"
    )
    item_class: str | None = Field(
        None, description="事项类别：general|key 或 一般、重点（默认一般）/ item class"
    )
    methods: list[str] | str = Field(
        description="检查方式：on_site|documents|online|agency 或 现场检查、书面检查…/ methods"
    )
    subject: str | None = Field(None, description="检查主体 / inspecting body")
    legal_bases: list[str] | str = Field(
        description="抽查依据，每条一项（文本会按、，；拆分，故请用列表）/ legal bases, one per "
        "entry (text is split at 、，; so send a list)"
    )
    content: str | None = Field(None, description="检查内容及标准 / what is checked")
    required_specialties: list[str] | str | None = Field(
        None, description="所需专业资质 / specialties inspectors need"
    )
    default_ratio: str | float | None = Field(
        None, description="抽查比例（%，默认 5）/ default ratio in percent (default 5)"
    )
    yearly_frequency: int | str | None = Field(
        None, description="抽查频次（次/年，默认 1）/ times a year (default 1)"
    )
    cooperating_departments: list[str] | str | None = Field(
        None, description="配合部门编码（联合抽查）/ cooperating departments (joint items)"
    )


class ItemFilters:
    def __init__(
        self,
        department: Annotated[str | None, Query(description="牵头部门 / lead department")] = None,
        code: Annotated[str | None, Query(description="事项编码 / item code")] = None,
        category: Annotated[str | None, Query(description="抽查类别 / category")] = None,
        target_type: Annotated[str | None, Query(description="检查对象类型 / target type")] = None,
        item_class: Annotated[str | None, Query(description="事项类别 / general|key")] = None,
    ) -> None:
        self.department = department
        self.columns = {
            "code": code,
            "category": category,
            "target_type": target_type,
            "item_class": item_class,
        }

    def scoped(self, services: Services, principal: Principal) -> dict[str, str | None]:
        return {**self.columns, "department": read_scope(services, principal, self.department)}


FiltersDep = Annotated[ItemFilters, Depends(constructed(ItemFilters))]


# Responses ---------------------------------------------------------------------------------------


class ItemState(Schema):
    """An item as the registry holds it (`ItemRecord.as_state`, and `retired_reason`):
    canonical codes, not labels. The fields of published lists (issue #11) appear only when they
    hold a value."""

    code: str = Field(description="事项编码 / item code")
    department: str = Field(description="牵头部门编码 / lead department code")
    category: str = Field(description="抽查类别 / category")
    name: str = Field(description="抽查事项名称 / item name")
    target_type: str | None = Field(
        description="检查对象类型：enterprise|individual|project|product|behaviour（清单未明确时"
        "为空）/ target type (null when the list names none without doubt)"
    )
    item_class: str = Field(description="事项类别：general|key（一般、重点）/ item class")
    methods: list[str] = Field(
        description="检查方式：on_site|documents|online|agency / inspection methods"
    )
    subject: str = Field(description="检查主体 / inspecting body")
    legal_bases: list[str] = Field(description="抽查依据 / legal bases")
    content: str = Field(description="检查内容及标准 / what is checked")
    required_specialties: list[str] = Field(description="所需专业资质 / specialties needed")
    default_ratio: str | None = Field(
        description="抽查比例（%，下限；未公布为空）/ ratio in percent (minimum; null if none)"
    )
    yearly_frequency: int | None = Field(
        description="抽查频次（次/年，下限；未公布为空）/ times a year (minimum; null if none)"
    )
    cooperating_departments: list[str] = Field(
        description="配合部门编码（联合抽查）/ cooperating departments"
    )
    publish_within_days: int | None = absent(
        "结果公示期限（工作日；为空则按计划；早于此字段登记的事项没有）/ working days to publish a "
        "result (null: the plan's setting; absent from items recorded before the field existed)"
    )
    number: str | None = absent("序号（原清单，有值时才有）/ the list's own number (only when set)")
    parent: str | None = absent(
        "上级抽查事项（抽查子项才有）/ the item a sub-item belongs to (only when set)"
    )
    ratio_max: str | None = absent("抽查比例上限（%）/ maximum ratio (only when set)")
    frequency_max: int | None = absent("抽查频次上限（次/年）/ maximum frequency (only when set)")
    extra: dict[str, str] | None = absent(
        "其他信息（原文件中的其他列）/ unmapped columns of the file (only when set)"
    )
    published: dict[str, str] | None = absent(
        "原文（与导入值不同的原清单内容）/ the list's text where it differs from the value read "
        "(only when set)"
    )
    retired_reason: str | None = Field(
        description="废止原因（现行事项为空）/ why it was retired (null: current)"
    )


class ItemPage(Page[ItemState]):
    """One page of the inspection-item list."""


class ItemShown(Shown[ItemState]):
    """One item as of a ledger seq."""


class ItemWritten(Written[ItemState]):
    """The answer to publishing, amending or retiring an item."""


def _retired(wanted: bool | None) -> Any:
    if wanted is None:
        return None
    return lambda s: (s.get("retired_reason") is not None) == wanted


@router.get(
    "/items",
    summary="列出抽查事项 / List inspection items",
    response_model=ItemPage,
    response_model_exclude_unset=True,
)
def list_items(
    services: ServicesDep,
    principal: PrincipalDep,
    window: WindowDep,
    filters: FiltersDep,
    retired: Annotated[bool | None, Query(description="是否已废止 / retired")] = None,
) -> dict[str, Any]:
    scoped = filters.scoped(services, principal)
    return page(services, "items", scoped, window, predicate=_retired(retired))


def _export(
    services: Services, principal: Principal, filters: ItemFilters, at_seq: int | None, fmt: str
) -> Response:
    scoped = filters.scoped(services, principal)
    seq = read_at(services, at_seq)
    current = (s for s in states(services, "items", scoped, seq) if s["retired_reason"] is None)
    rows = ITEMS.sheet(current)
    return export_response(rows, fmt, f"items-{seq}")


@router.get(
    "/items/export.xlsx",
    summary="导出现行事项（Excel）/ Export current items (Excel)",
    description="中文表头；多条抽查依据分行列出，可原样导入。/ Chinese headers; several legal "
    "bases on continuation rows, as the importer reads them.",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
)
def export_items_xlsx(
    services: ServicesDep, principal: PrincipalDep, filters: FiltersDep, at_seq: AtSeq = None
) -> Response:
    return _export(services, principal, filters, at_seq, "xlsx")


@router.get(
    "/items/export.csv",
    summary="导出现行事项（CSV，UTF-8 BOM）/ Export current items (CSV, UTF-8 with BOM)",
    response_class=Response,
    responses={200: {"content": {CSV: {}}}},
)
def export_items_csv(
    services: ServicesDep, principal: PrincipalDep, filters: FiltersDep, at_seq: AtSeq = None
) -> Response:
    return _export(services, principal, filters, at_seq, "csv")


@router.get(
    "/items/{department}/{code}",
    summary="查看事项 / Get an item",
    response_model=ItemShown,
    response_model_exclude_unset=True,
)
def get_item(
    services: ServicesDep, principal: PrincipalDep, department: str, code: str, at_seq: AtSeq = None
) -> dict[str, Any]:
    seq = read_at(services, at_seq)
    item = found(services, "items", [department, code], seq, f"事项 {code}", f"item {code}")
    authorise_read(services, principal, [item["department"], *item["cooperating_departments"]])
    return {"as_of": seq, "item": item}


@router.put(
    "/items",
    responses=answers(ItemWritten, MAY_CREATE),
    summary="发布或修订事项 / Publish or amend an item",
    description="新事项返回 201 与 created；已有事项只记录变化的字段（updated），无变化则不写入"
    "（unchanged）。/ A new item: 201 and created; an existing one records only the changed "
    "fields (updated), or nothing (unchanged).",
    response_model=ItemWritten,
    response_model_exclude_unset=True,
)
def save_item(
    services: ServicesDep,
    registry: RegistryDep,
    principal: PrincipalDep,
    body: ItemIn,
    response: Response,
) -> dict[str, Any]:
    raw = body.model_dump(exclude_none=True)
    outcome = registry.save_item(principal, raw)
    record = ItemRecord.parse(raw)
    return written(services, response, outcome, "items", [record.department, record.code])


@router.post(
    "/items/{department}/{code}/retire",
    summary="废止事项 / Retire an item",
    response_model=ItemWritten,
    response_model_exclude_unset=True,
)
def retire_item(
    services: ServicesDep,
    registry: RegistryDep,
    principal: PrincipalDep,
    department: str,
    code: str,
    body: ReasonIn,
    response: Response,
) -> dict[str, Any]:
    registry.retire_item(principal, department, code, body.reason)
    return written(services, response, "updated", "items", [department, code])
