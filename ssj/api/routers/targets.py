"""The target registry (检查对象名录库): register, update, read as of any seq, export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ssj.api.deps import (
    MAY_CREATE,
    AtSeq,
    CommandServicesDep,
    CredentialsDep,
    PrincipalDep,
    ServicesDep,
    WindowDep,
    authorise_read,
    command,
    constructed,
    current_principal,
    export_response,
    found,
    make_router,
    page,
    read_at,
    read_scope,
    states,
    threaded,
    written,
)
from ssj.api.schemas import Page, Schema, Shown, Written, absent, answers
from ssj.domain.access import Principal
from ssj.domain.targets import TargetRecord
from ssj.presentation.sheets import CSV, XLSX
from ssj.presentation.views import TARGETS
from ssj.services.context import Services
from ssj.services.registry import RegistryService

TAG = "检查对象名录库 / Targets"
router = make_router(TAG)


class TargetIn(BaseModel):
    """A target as officials write it; values may be the canonical codes or the Chinese labels."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "identifier": "91320402MA00000155",
                    "name": "常州第1机械有限公司",
                    "address": "天宁区1号",
                    "region_code": "320402",
                    "target_type": "企业",
                    "department": "CZ-SJJ-TZ",
                    "credit_class": "B",
                }
            ]
        },
    )

    identifier: str = Field(
        description="统一社会信用代码（企业）或其他标识 / USCC for organisations, else the "
        "identifier of its kind"
    )
    id_kind: str | None = Field(
        None,
        description="标识类型：uscc|resident_id|product|project|behaviour|other（企业默认 uscc）"
        " / identifier kind (default uscc for enterprises, else other)",
    )
    name: str = Field(description="名称 / name")
    address: str | None = absent("地址 / address")
    region_code: str = Field(description="行政区划代码（6 位）/ 6-digit region code")
    target_type: str = Field(
        description="对象类型：enterprise|individual|project|product|behaviour 或 企业、"
        "个体工商户、项目、产品、行为 / target type"
    )
    department: str = Field(description="责任部门编码 / responsible department code")
    credit_class: str | None = absent(
        "信用风险分类：A|B|C|D 或 A类…（默认 B）/ credit-risk class (default B)"
    )
    status: str | None = Field(
        None,
        description="状态：active|deregistered|abnormal|serious_violation 或 存续、注销、经营异常"
        "…（默认 active）/ status (default active)",
    )
    applicable_items: list[str] | str | None = Field(
        None, description="适用抽查事项编码 / applicable item codes"
    )
    tags: list[str] | str | None = Field(None, description="标签 / tags")


class TargetFilters:
    def __init__(
        self,
        department: Annotated[
            str | None, Query(description="责任部门 / responsible department")
        ] = None,
        status: Annotated[str | None, Query(description="状态 / status")] = None,
        target_type: Annotated[str | None, Query(description="对象类型 / target type")] = None,
        region_code: Annotated[str | None, Query(description="行政区划代码 / region code")] = None,
        credit_class: Annotated[
            str | None, Query(description="信用风险分类 / credit class A-D")
        ] = None,
    ) -> None:
        self.department = department
        self.columns = {
            "status": status,
            "target_type": target_type,
            "region_code": region_code,
            "credit_class": credit_class,
        }

    def scoped(self, services: Services, principal: Principal) -> dict[str, str | None]:
        return {**self.columns, "department": read_scope(services, principal, self.department)}


FiltersDep = Annotated[TargetFilters, Depends(constructed(TargetFilters))]


# Responses ---------------------------------------------------------------------------------------


class TargetState(Schema):
    """A target as the registry holds it (`TargetRecord.as_state`): canonical codes, not labels.
    The fields of registry exports (issue #11) appear only when they hold a value."""

    identifier: str = Field(description="统一社会信用代码/标识 / identifier (USCC or other)")
    id_kind: str = Field(
        description="标识类型：uscc|resident_id|registration_no|product|project|behaviour|other "
        "/ identifier kind"
    )
    name: str = Field(description="名称 / name")
    address: str | None = Field(description="地址 / address")
    region_code: str = Field(description="行政区划代码 / 6-digit region code")
    target_type: str = Field(
        description="对象类型：enterprise|individual|project|product|behaviour / target type"
    )
    department: str = Field(description="责任部门编码 / responsible department code")
    credit_class: str = Field(description="信用风险分类：A|B|C|D / credit-risk class")
    status: str = Field(description="状态：active|deregistered|abnormal|serious_violation / status")
    applicable_items: list[str] = Field(description="适用抽查事项编码 / applicable item codes")
    tags: list[str] = Field(description="标签 / tags")
    established_on: str | None = absent(
        "成立日期（YYYY-MM-DD，有值时才有）/ established on (only when set)"
    )
    registration_authority: str | None = absent(
        "登记机关（有值时才有）/ registration authority (only when set)"
    )
    jurisdiction: str | None = absent("管辖单位（有值时才有）/ jurisdiction (only when set)")
    enterprise_type: str | None = absent("企业类型（有值时才有）/ enterprise type (only when set)")
    legal_representative: str | None = absent(
        "法定代表人（负责人、经营者；个人信息，仅限工作人员）/ legal representative "
        "(personal data, officials only; only when set)"
    )
    phone: str | None = absent(
        "联系电话（个人信息，有值时才有）/ phone (personal data; only when set)"
    )
    extra: dict[str, str] | None = absent(
        "其他信息（原文件中的其他列）/ unmapped columns of the file (only when set)"
    )
    published: dict[str, str] | None = absent(
        "原文（与导入值不同的原文件内容）/ the file's text where it differs from the value read "
        "(only when set)"
    )


class TargetPage(Page[TargetState]):
    """One page of the target registry."""


class TargetShown(Shown[TargetState]):
    """One target as of a ledger seq."""


class TargetWritten(Written[TargetState]):
    """The answer to registering or updating a target."""


@router.get(
    "/targets",
    summary="列出检查对象 / List targets",
    response_model=TargetPage,
    response_model_exclude_unset=True,
)
@threaded  # the token and the page in one thread hop
def list_targets(
    services: ServicesDep, credentials: CredentialsDep, window: WindowDep, filters: FiltersDep
) -> dict[str, Any]:
    principal = current_principal(services, credentials)
    return page(services, "targets", filters.scoped(services, principal), window)


def _export(
    services: Services, principal: Principal, filters: TargetFilters, at_seq: int | None, fmt: str
) -> Response:
    scoped = filters.scoped(services, principal)
    seq = read_at(services, at_seq)
    rows = TARGETS.sheet(states(services, "targets", scoped, seq))
    return export_response(rows, fmt, f"targets-{seq}")


@router.get(
    "/targets/export.xlsx",
    summary="导出检查对象（Excel）/ Export targets (Excel)",
    description="中文表头，可原样导入。/ Chinese headers; imports back unchanged.",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}},
)
def export_targets_xlsx(
    services: ServicesDep, principal: PrincipalDep, filters: FiltersDep, at_seq: AtSeq = None
) -> Response:
    return _export(services, principal, filters, at_seq, "xlsx")


@router.get(
    "/targets/export.csv",
    summary="导出检查对象（CSV，UTF-8 BOM）/ Export targets (CSV, UTF-8 with BOM)",
    response_class=Response,
    responses={200: {"content": {CSV: {}}}},
)
def export_targets_csv(
    services: ServicesDep, principal: PrincipalDep, filters: FiltersDep, at_seq: AtSeq = None
) -> Response:
    return _export(services, principal, filters, at_seq, "csv")


@router.get(
    "/targets/{identifier}",
    summary="查看检查对象 / Get a target",
    response_model=TargetShown,
    response_model_exclude_unset=True,
)
def get_target(
    services: ServicesDep, principal: PrincipalDep, identifier: str, at_seq: AtSeq = None
) -> dict[str, Any]:
    seq = read_at(services, at_seq)
    target = found(
        services, "targets", [identifier], seq, f"检查对象 {identifier}", f"target {identifier}"
    )
    authorise_read(services, principal, [target["department"]])
    return {"as_of": seq, "item": target}


@router.put(
    "/targets",
    responses=answers(TargetWritten, MAY_CREATE),
    response_model=TargetWritten,
    response_model_exclude_unset=True,
    summary="登记或更新检查对象 / Register or update a target",
    description="新对象返回 201 与 created；已有对象只记录变化的字段（updated），无变化则不写入"
    "（unchanged）。/ New: 201 and created; existing: only changed fields are recorded "
    "(updated), or nothing (unchanged).",
)
@command  # the token, the command, the wait for the read models and the answer in one hop
def save_target(
    services: CommandServicesDep,
    credentials: CredentialsDep,
    body: TargetIn,
    response: Response,
) -> dict[str, Any]:
    principal = current_principal(services, credentials)
    raw = body.model_dump(exclude_none=True)
    outcome = RegistryService(services).save_target(principal, raw)
    record = TargetRecord.parse(raw)
    return written(services, response, outcome, "targets", [record.identifier])
