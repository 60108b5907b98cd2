"""Departments (局、科室): the organisation chart every authorisation refers to."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ssj.api.deps import (
    IDENTICAL,
    AtSeq,
    PrincipalDep,
    RegistryDep,
    ServicesDep,
    WindowDep,
    authorise_read,
    flag,
    found,
    make_router,
    page,
    read_at,
    written,
)
from ssj.api.schemas import Page, Schema, Shown, Written, absent, answers

TAG = "部门 / Departments"
router = make_router(TAG)


class DepartmentRow(Schema):
    """A department as the registry read model holds it (projections.registry)."""

    code: str = Field(description="部门编码 / department code")
    name: str = Field(description="部门名称 / name")
    level: str = Field(description="层级 province|city|county / level")
    kind: str = Field(description="类型 bureau|section / bureau or section")
    parent: str | None = Field(description="上级部门编码（无则为空）/ parent code, or null")
    region_code: str = Field(description="行政区划代码 / region code")
    closed: bool = Field(description="是否已撤销 / closed")
    aliases: list[str] = absent(
        "别名（登记过别名才有此字段）/ aliases (present once any is registered)",
    )


class DepartmentPage(Page[DepartmentRow]):
    pass


class DepartmentShown(Shown[DepartmentRow]):
    pass


class DepartmentWritten(Written[DepartmentRow]):
    pass


class DepartmentIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "CZ-SJJ-TZ",
                    "name": "特种设备安全监察科",
                    "level": "city",
                    "kind": "section",
                    "parent": "CZ-SJJ",
                    "region_code": "320400",
                }
            ]
        },
    )

    code: str = Field(description="部门编码（唯一）/ department code (unique)")
    name: str = Field(description="部门名称 / name")
    level: str = Field(description="层级：province|city|county 或 省级、市级、县级 / level")
    kind: str = Field(description="类型：bureau|section 或 局、科室、支队 / bureau or section")
    parent: str | None = Field(None, description="上级部门编码 / parent department code")
    region_code: str = Field(description="行政区划代码（6 位）/ 6-digit region code")


@router.get(
    "/departments",
    response_model=DepartmentPage,
    response_model_exclude_unset=True,
    summary="列出部门 / List departments",
)
def list_departments(
    services: ServicesDep,
    principal: PrincipalDep,
    window: WindowDep,
    level: Annotated[str | None, Query(description="层级 / province|city|county")] = None,
    kind: Annotated[str | None, Query(description="类型 / bureau|section")] = None,
    parent: Annotated[str | None, Query(description="上级部门编码 / parent code")] = None,
    closed: Annotated[bool | None, Query(description="是否已撤销 / closed")] = None,
) -> dict[str, Any]:
    authorise_read(services, principal, [])
    filters = {"level": level, "kind": kind, "parent": parent, "closed": flag(closed)}
    return page(services, "departments", filters, window)


@router.get(
    "/departments/{code}",
    response_model=DepartmentShown,
    response_model_exclude_unset=True,
    summary="查看部门 / Get a department",
)
def get_department(
    services: ServicesDep, principal: PrincipalDep, code: str, at_seq: AtSeq = None
) -> dict[str, Any]:
    authorise_read(services, principal, [])
    seq = read_at(services, at_seq)
    return {"as_of": seq, "item": found(services, "departments", [code], seq, "部门", "department")}


@router.post(
    "/departments",
    status_code=201,
    response_model=DepartmentWritten,
    response_model_exclude_unset=True,
    responses=answers(DepartmentWritten, IDENTICAL),
    summary="新增部门（管理员）/ Add a department (administrators)",
)
def add_department(
    services: ServicesDep,
    registry: RegistryDep,
    principal: PrincipalDep,
    body: DepartmentIn,
    response: Response,
) -> dict[str, Any]:
    outcome = registry.add_department(
        principal, body.code, body.name, body.level, body.kind, body.parent, body.region_code
    )
    return written(services, response, outcome, "departments", [body.code.strip()])


class AliasIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"alias": "常州市市场监管局特设科"}]}
    )

    alias: str = Field(description="别名：文件中对该部门的其他写法 / another name files use")


@router.post(
    "/departments/{code}/aliases",
    response_model=DepartmentWritten,
    response_model_exclude_unset=True,
    summary="登记部门别名（管理员）/ Add a department alias (administrators)",
)
def add_department_alias(
    services: ServicesDep,
    registry: RegistryDep,
    principal: PrincipalDep,
    code: str,
    body: AliasIn,
    response: Response,
) -> dict[str, Any]:
    """导入时按编码、名称或别名识别部门；已有的别名不重复记录 / imports resolve departments by
    code, name or alias; an existing alias is not recorded again."""
    added = registry.add_department_alias(principal, code, body.alias)
    return written(services, response, "updated" if added else "unchanged", "departments", [code])
