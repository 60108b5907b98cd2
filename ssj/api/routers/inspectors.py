"""The inspector registry (执法检查人员名录库) and the expert pool: register, update, export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ssj.api.deps import (
    MAY_CREATE,
    AtSeq,
    PrincipalDep,
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
from ssj.domain.inspectors import InspectorRecord
from ssj.presentation.sheets import CSV, XLSX
from ssj.presentation.views import INSPECTORS
from ssj.services.context import Services

TAG = "执法检查人员名录库 / Inspectors"
router = make_router(TAG)


class InspectorIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "certificate_no": "32040000001",
                    "name": "检查员1",
                    "department": "CZ-SJJ-TZ",
                    "specialties": ["特种设备"],
                    "certificate_valid_from": "2024-01-01",
                    "certificate_valid_to": "2028-12-31",
                }
            ]
        },
    )

    certificate_no: str = Field(description="执法证号 / certificate number")
    name: str = Field(description="姓名 / name")
    department: str = Field(description="所属部门编码 / department code")
    pool: str | None = Field(
        None, description="名录库：inspector|expert 或 执法检查人员、专家（默认 inspector）/ pool"
    )
    specialties: list[str] | str | None = Field(None, description="专业领域 / specialties")
    certificate_valid_from: str = Field(description="证件有效期起（YYYY-MM-DD）/ valid from")
    certificate_valid_to: str = Field(description="证件有效期止（YYYY-MM-DD）/ valid to")
    status: str | None = Field(
        None,
        description="状态：active|suspended|on_leave|transferred|retired 或 在岗、停职、休假、调离"
        "、退休（默认 active）/ status",
    )
    leave_from: str | None = Field(None, description="休假开始（YYYY-MM-DD）/ leave from")
    leave_to: str | None = Field(None, description="休假结束（YYYY-MM-DD）/ leave to")
    home_region_code: str | None = Field(
        None, description="居住地行政区划代码 / home region code (for recusal rules)"
    )


class InspectorFilters:
    def __init__(
        self,
        department: Annotated[str | None, Query(description="所属部门 / department")] = None,
        pool: Annotated[str | None, Query(description="名录库 / inspector|expert")] = None,
        status: Annotated[str | None, Query(description="状态 / status")] = None,
    ) -> None:
        self.department = department
        self.columns = {"pool": pool, "status": status}

    def scoped(self, services: Services, principal: Principal) -> dict[str, str | None]:
        return {**self.columns, "department": read_scope(services, principal, self.department)}


FiltersDep = Annotated[InspectorFilters, Depends(constructed(InspectorFilters))]


# Responses ---------------------------------------------------------------------------------------


class InspectorState(Schema):
    """An inspector or expert as the registry holds it (`InspectorRecord.as_state`): canonical
    codes, not labels. The fields of rosters (issue #11) appear only when they hold a value."""

    certificate_no: str = Field(description="执法证号 / certificate number")
    name: str = Field(description="姓名 / name")
    department: str = Field(description="所属部门编码 / department code")
    pool: str = Field(description="名录库：inspector|expert（执法检查人员、专家）/ pool")
    specialties: list[str] = Field(description="专业领域 / specialties")
    certificate_valid_from: str | None = Field(
        description="证件有效期起（YYYY-MM-DD；未知为空）/ valid from (null: unknown)"
    )
    certificate_valid_to: str | None = Field(
        description="证件有效期止（YYYY-MM-DD；未知为空）/ valid to (null: unknown)"
    )
    status: str = Field(
        description="状态：active|suspended|on_leave|transferred|retired（在岗、停职、休假、调离、"
        "退休）/ status"
    )
    leave_from: str | None = Field(description="休假开始 / leave from")
    leave_to: str | None = Field(description="休假结束 / leave to")
    home_region_code: str | None = absent(
        "居住地行政区划代码（回避规则用；早于此字段登记的人员没有）/ home region code, for recusal "
        "rules (absent from inspectors recorded before the field existed)"
    )
    id_number: str | None = absent(
        "身份证号（个人信息，有值时才有）/ identity number (personal data; only when set)"
    )
    phone: str | None = absent(
        "手机号（个人信息，有值时才有）/ phone (personal data; only when set)"
    )
    certificate_kind: str | None = absent(
        "证件类型（有值时才有）/ certificate kind (only when set)"
    )
    issuer: str | None = absent("发证机关（有值时才有）/ issuing authority (only when set)")
    extra: dict[str, str] | None = absent(
        "其他信息（原文件中的其他列）/ unmapped columns of the file (only when set)"
    )
    published: dict[str, str] | None = absent(
        "原文（与导入值不同的原文件内容）/ the file's text where it differs from the value read "
        "(only when set)"
    )


class InspectorPage(Page[InspectorState]):
    """One page of the inspector registry."""


class InspectorShown(Shown[InspectorState]):
    """One inspector as of a ledger seq."""


class InspectorWritten(Written[InspectorState]):
    """The answer to registering or updating an inspector."""


@router.get(
    "/inspectors",
    summary="列出执法检查人员 / List inspectors and experts",
    response_model=InspectorPage,
    response_model_exclude_unset=True,
)
def list_inspectors(
    services: ServicesDep, principal: PrincipalDep, window: WindowDep, filters: FiltersDep
) -> dict[str, Any]:
    return page(services, "inspectors", filters.scoped(services, principal), window)


def _export(
    services: Services,
    principal: Principal,
    filters: InspectorFilters,
    at_seq: int | None,
    fmt: str,
) -> Response:
    scoped = filters.scoped(services, principal)
    seq = read_at(services, at_seq)
    rows = INSPECTORS.sheet(states(services, "inspectors", scoped, seq))
    return export_response(rows, fmt, f"inspectors-{seq}")


@router.get(
    "/inspectors/export.xlsx",
    summary="导出执法检查人员（Excel）/ Export inspectors (Excel)",
    description="中文表头，可原样导入。/ Chinese headers; imports back unchanged.",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
)
def export_inspectors_xlsx(
    services: ServicesDep, principal: PrincipalDep, filters: FiltersDep, at_seq: AtSeq = None
) -> Response:
    return _export(services, principal, filters, at_seq, "xlsx")


@router.get(
    "/inspectors/export.csv",
    summary="导出执法检查人员（CSV，UTF-8 BOM）/ Export inspectors (CSV, UTF-8 with BOM)",
    response_class=Response,
    responses={200: {"content": {CSV: {}}}},
)
def export_inspectors_csv(
    services: ServicesDep, principal: PrincipalDep, filters: FiltersDep, at_seq: AtSeq = None
) -> Response:
    return _export(services, principal, filters, at_seq, "csv")


@router.get(
    "/inspectors/{certificate_no}",
    summary="查看执法检查人员 / Get an inspector",
    response_model=InspectorShown,
    response_model_exclude_unset=True,
)
def get_inspector(
    services: ServicesDep, principal: PrincipalDep, certificate_no: str, at_seq: AtSeq = None
) -> dict[str, Any]:
    seq = read_at(services, at_seq)
    inspector = found(
        services,
        "inspectors",
        [certificate_no],
        seq,
        f"执法证号 {certificate_no}",
        f"certificate {certificate_no}",
    )
    authorise_read(services, principal, [inspector["department"]])
    return {"as_of": seq, "item": inspector}


@router.put(
    "/inspectors",
    responses=answers(InspectorWritten, MAY_CREATE),
    summary="登记或更新执法检查人员 / Register or update an inspector",
    description="新人员返回 201 与 created；已有人员只记录变化的字段（updated），无变化则不写入"
    "（unchanged）。/ New: 201 and created; existing: only changed fields are recorded "
    "(updated), or nothing (unchanged).",
    response_model=InspectorWritten,
    response_model_exclude_unset=True,
)
def save_inspector(
    services: ServicesDep,
    registry: RegistryDep,
    principal: PrincipalDep,
    body: InspectorIn,
    response: Response,
) -> dict[str, Any]:
    raw = body.model_dump(exclude_none=True)
    outcome = registry.save_inspector(principal, raw)
    record = InspectorRecord.parse(raw)
    return written(services, response, outcome, "inspectors", [record.certificate_no])
