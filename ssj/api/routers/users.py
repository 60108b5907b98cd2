"""Users and their roles; operators see the users of their own department."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ssj.api.deps import (
    IDENTICAL,
    AtSeq,
    PrincipalDep,
    ReasonIn,
    RegistryDep,
    ServicesDep,
    WindowDep,
    authorise_read,
    flag,
    found,
    make_router,
    page,
    read_at,
    read_scope,
    written,
)
from ssj.api.schemas import Page, Schema, Shown, Written, answers

TAG = "用户 / Users"
router = make_router(TAG)

ROLES = "admin|operator|leader|inspector|supervisor|reviewer，或 管理员、操作员、领导、执法人员、纪检监察、考核"


class UserIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "zhangsan",
                    "name": "张三",
                    "department": "CZ-SJJ-TZ",
                    "roles": ["operator"],
                }
            ]
        },
    )

    username: str = Field(description="用户名（唯一）/ username (unique)")
    name: str = Field(description="姓名 / full name")
    department: str = Field(description="所属部门编码 / department code")
    roles: list[str] | str = Field(description=f"角色 / roles: {ROLES}")


class RolesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: list[str] | str = Field(description=f"新的全部角色 / the complete new roles: {ROLES}")


# Responses ---------------------------------------------------------------------------------------


class UserState(Schema):
    """A user as the registry read model holds it (projections.registry)."""

    username: str = Field(description="用户名 / username")
    name: str = Field(description="姓名 / full name")
    department: str = Field(description="所属部门编码 / department code")
    roles: list[str] = Field(
        description="角色：admin|operator|leader|inspector|supervisor|reviewer / roles"
    )
    active: bool = Field(description="是否在用 / active")
    certificate_no: str | None = Field(
        description="关联的执法证号（执法人员）/ the linked inspector certificate, or null"
    )


class UserPage(Page[UserState]):
    """One page of users."""


class UserShown(Shown[UserState]):
    """One user as of a ledger seq."""


class UserWritten(Written[UserState]):
    """The answer to adding a user, setting roles or deactivating."""


@router.get(
    "/users",
    summary="列出用户 / List users",
    response_model=UserPage,
    response_model_exclude_unset=True,
)
def list_users(
    services: ServicesDep,
    principal: PrincipalDep,
    window: WindowDep,
    department: Annotated[str | None, Query(description="部门编码 / department code")] = None,
    active: Annotated[bool | None, Query(description="是否在用 / active")] = None,
) -> dict[str, Any]:
    scope = read_scope(services, principal, department)
    filters = {"department": scope, "active": flag(active)}
    return page(services, "users", filters, window, sql_search=False)


@router.get(
    "/users/{username}",
    summary="查看用户 / Get a user",
    response_model=UserShown,
    response_model_exclude_unset=True,
)
def get_user(
    services: ServicesDep, principal: PrincipalDep, username: str, at_seq: AtSeq = None
) -> dict[str, Any]:
    seq = read_at(services, at_seq)
    user = found(services, "users", [username], seq, f"用户 {username}", f"user {username}")
    authorise_read(services, principal, [user["department"]])
    return {"as_of": seq, "item": user}


@router.post(
    "/users",
    status_code=201,
    responses=answers(UserWritten, IDENTICAL),
    summary="新增用户（管理员）/ Add a user (administrators)",
    response_model=UserWritten,
    response_model_exclude_unset=True,
)
def add_user(
    services: ServicesDep,
    registry: RegistryDep,
    principal: PrincipalDep,
    body: UserIn,
    response: Response,
) -> dict[str, Any]:
    outcome = registry.add_user(principal, body.username, body.name, body.department, body.roles)
    return written(services, response, outcome, "users", [body.username.strip()])


@router.put(
    "/users/{username}/roles",
    summary="设置用户角色（管理员）/ Set a user's roles (administrators)",
    response_model=UserWritten,
    response_model_exclude_unset=True,
)
def set_roles(
    services: ServicesDep,
    registry: RegistryDep,
    principal: PrincipalDep,
    username: str,
    body: RolesIn,
    response: Response,
) -> dict[str, Any]:
    registry.set_roles(principal, username, body.roles)
    return written(services, response, "updated", "users", [username])


@router.post(
    "/users/{username}/deactivate",
    summary="停用用户（管理员）/ Deactivate a user (administrators)",
    response_model=UserWritten,
    response_model_exclude_unset=True,
)
def deactivate_user(
    services: ServicesDep,
    registry: RegistryDep,
    principal: PrincipalDep,
    username: str,
    body: ReasonIn,
    response: Response,
) -> dict[str, Any]:
    registry.deactivate_user(principal, username, body.reason)
    return written(services, response, "updated", "users", [username])
