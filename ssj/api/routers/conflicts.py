"""Conflicts of interest (利害关系): declarations with their validity windows, and each
department's structural recusal rules."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import Query, Response
from pydantic import BaseModel, ConfigDict, Field

from projections.versioned import at_seq_clause
from ssj.api.deps import (
    IDENTICAL,
    MAY_CREATE,
    AtSeq,
    CommandServicesDep,
    CredentialsDep,
    PrincipalDep,
    ReasonIn,
    RegistryDep,
    ServicesDep,
    WindowDep,
    authorise_read,
    command,
    current_principal,
    flag,
    found,
    make_router,
    page,
    read_at,
    read_scope,
    render_page,
    states,
    written,
)
from ssj.api.schemas import Page, Schema, Shown, Written, absent, answers
from ssj.errors import NotFoundError
from ssj.services.context import Services
from ssj.services.registry import RegistryService

TAG = "利害关系 / Conflicts"
router = make_router(TAG)


class DeclarationRow(Schema):
    """A declaration as the registry read model holds it, with its id (to withdraw it)."""

    id: str = Field(description="声明编号（UUID）/ the declaration's id")
    certificate_no: str = Field(description="执法证号 / the inspector's certificate number")
    target_identifier: str = Field(description="检查对象标识 / the target's identifier")
    relation: str = Field(description="关系 kinship|employment|shareholding|dispute|other")
    valid_from: str = Field(description="起始日期 / from (YYYY-MM-DD)")
    valid_to: str | None = Field(description="结束日期（空：长期）/ to (null: open-ended)")
    reason: str = Field(description="说明 / explanation")
    withdrawn: bool = Field(description="是否已撤回 / withdrawn")


class DeclarationPage(Page[DeclarationRow]):
    pass


class DeclarationShown(Shown[DeclarationRow]):
    pass


class DeclarationWritten(Written[DeclarationRow]):
    pass


class RuleSet(Schema):
    """The rules in force; a rule never set is absent."""

    not_own_district: bool = absent(
        "不得抽派检查其居住地辖区的对象（未设置则无此字段）/ never in the inspector's "
        "home district (absent when never set)"
    )
    employment_within_years: int = absent(
        "曾任职关系结束后须回避的年数（未设置则无此字段）/ years employment still "
        "conflicts after it ended (absent when never set)"
    )


class RulesRow(Schema):
    """A department's recusal rules as the registry read model holds them."""

    department: str = Field(description="部门编码 / department code")
    rules: RuleSet = Field(description="回避规则 / the rules")


class RulesPage(Page[RulesRow]):
    pass


class RulesShown(Shown[RulesRow]):
    pass


class RulesWritten(Written[RulesRow]):
    pass


class DeclarationIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "certificate_no": "32040000001",
                    "target_identifier": "91320402MA00000155",
                    "relation": "近亲属",
                    "valid_from": "2025-01-01",
                    "reason": "配偶任该企业法定代表人",
                }
            ]
        },
    )

    certificate_no: str = Field(description="执法证号 / the inspector's certificate number")
    target_identifier: str = Field(description="检查对象标识 / the target's identifier")
    relation: str = Field(
        description="关系：kinship|employment|shareholding|dispute|other 或 近亲属、曾任职、持股、"
        "纠纷、其他 / relation"
    )
    valid_from: str = Field(description="起始日期（YYYY-MM-DD）/ from")
    valid_to: str | None = Field(None, description="结束日期（可空）/ to (open-ended if empty)")
    reason: str = Field(description="说明 / explanation")


class RulesIn(BaseModel):
    """The department's whole rule set: each PUT replaces it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"not_own_district": True, "employment_within_years": 3}]},
    )

    not_own_district: bool | None = Field(
        None, description="不得抽派检查其居住地辖区的对象 / never in the inspector's home district"
    )
    employment_within_years: int | None = Field(
        None,
        description="曾任职关系结束后若干年内仍须回避（0–50）/ employment still conflicts this "
        "many years after it ended (0-50)",
    )


# Declarations ----------------------------------------------------------------------------------

_DECLARATION_COLUMNS = ("certificate_no", "target_identifier", "relation", "withdrawn")


def _declarations(
    services: Services, seq: int, filters: dict[str, str | None]
) -> list[dict[str, Any]]:
    """Declarations at `seq` with their ids (withdrawal needs them; the read model's state has
    none, and one inspector-target pair may have several declarations over time)."""
    where, params = at_seq_clause(seq)
    clauses = [where]
    args: list[Any] = list(params)
    for column, value in filters.items():
        if value is not None and column in _DECLARATION_COLUMNS:
            clauses.append(f"{column} = ?")
            args.append(value)
    rows = services.store.query(
        f"SELECT aggregate_id, state FROM declarations WHERE {' AND '.join(clauses)} "
        "ORDER BY certificate_no, target_identifier, from_seq, aggregate_id",
        args,
    )
    return [{"id": str(aid), **orjson.loads(state)} for aid, state in rows]


def _declaration(services: Services, declaration_id: UUID, seq: int) -> dict[str, Any]:
    where, params = at_seq_clause(seq)
    rows = services.store.query(
        f"SELECT state FROM declarations WHERE aggregate_id = ? AND {where}",
        [str(declaration_id), *params],
    )
    if not rows:
        raise NotFoundError(
            f"利害关系声明 {declaration_id} 不存在（账本序号 {seq}）",
            f"declaration {declaration_id} not found (as of seq {seq})",
        )
    return {"id": str(declaration_id), **orjson.loads(rows[0][0])}


def _inspector_department(services: Services, certificate_no: str, seq: int) -> list[str]:
    inspector = services.queries.get("inspectors", [certificate_no], at_seq=seq)
    return [inspector["department"]] if inspector else []


@router.get(
    "/conflicts/declarations",
    response_model=DeclarationPage,
    response_model_exclude_unset=True,
    summary="列出利害关系声明 / List conflict-of-interest declarations",
    description="部门筛选按执法检查人员所属部门。/ The department filter is the inspector's.",
)
def list_declarations(
    services: ServicesDep,
    principal: PrincipalDep,
    window: WindowDep,
    department: Annotated[
        str | None, Query(description="执法检查人员所属部门 / the inspector's department")
    ] = None,
    certificate_no: Annotated[str | None, Query(description="执法证号 / certificate")] = None,
    target_identifier: Annotated[
        str | None, Query(description="检查对象标识 / target identifier")
    ] = None,
    relation: Annotated[str | None, Query(description="关系 / relation")] = None,
    withdrawn: Annotated[bool | None, Query(description="是否已撤回 / withdrawn")] = None,
) -> dict[str, Any]:
    scope = read_scope(services, principal, department)
    seq = read_at(services, window.at_seq)
    filters = {
        "certificate_no": certificate_no,
        "target_identifier": target_identifier,
        "relation": relation,
        "withdrawn": flag(withdrawn),
    }
    rows = _declarations(services, seq, filters)
    if scope is not None:
        certificates = {
            s["certificate_no"] for s in states(services, "inspectors", {"department": scope}, seq)
        }
        rows = [r for r in rows if r["certificate_no"] in certificates]
    if window.search:
        rows = [r for r in rows if any(window.search in str(v) for v in r.values())]
    return render_page(rows[window.offset : window.offset + window.limit], len(rows), window, seq)


@router.get(
    "/conflicts/declarations/{declaration_id}",
    response_model=DeclarationShown,
    response_model_exclude_unset=True,
    summary="查看利害关系声明 / Get a declaration",
)
def get_declaration(
    services: ServicesDep, principal: PrincipalDep, declaration_id: UUID, at_seq: AtSeq = None
) -> dict[str, Any]:
    seq = read_at(services, at_seq)
    declaration = _declaration(services, declaration_id, seq)
    departments = _inspector_department(services, declaration["certificate_no"], seq)
    authorise_read(services, principal, departments)
    return {"as_of": seq, "item": declaration}


@router.post(
    "/conflicts/declarations",
    response_model=DeclarationWritten,
    response_model_exclude_unset=True,
    status_code=201,
    responses=answers(DeclarationWritten, IDENTICAL),
    summary="声明利害关系 / Declare a conflict of interest",
)
@command  # the token, the command, the wait for the read models and the answer in one hop
def declare_conflict(
    services: CommandServicesDep,
    credentials: CredentialsDep,
    body: DeclarationIn,
    response: Response,
) -> dict[str, Any]:
    """201 with the new declaration; 200 `unchanged` with the existing one when an identical
    active declaration exists (nothing written)."""
    principal = current_principal(services, credentials)
    declaration_id, outcome = RegistryService(services).declare_conflict(
        principal, body.model_dump(exclude_none=True)
    )
    response.status_code = 201 if outcome == "created" else 200
    seq = read_at(services, None)
    return {
        "outcome": outcome,
        "seq": seq,
        "item": _declaration(services, declaration_id, seq),
    }


@router.post(
    "/conflicts/declarations/{declaration_id}/withdraw",
    response_model=DeclarationWritten,
    response_model_exclude_unset=True,
    summary="撤回利害关系声明 / Withdraw a declaration",
)
def withdraw_conflict(
    services: ServicesDep,
    registry: RegistryDep,
    principal: PrincipalDep,
    declaration_id: UUID,
    body: ReasonIn,
) -> dict[str, Any]:
    registry.withdraw_conflict(principal, declaration_id, body.reason)
    seq = read_at(services, None)
    return {
        "outcome": "updated",
        "seq": seq,
        "item": _declaration(services, declaration_id, seq),
    }


# Rules -----------------------------------------------------------------------------------------


@router.get(
    "/conflicts/rules",
    response_model=RulesPage,
    response_model_exclude_unset=True,
    summary="列出各部门回避规则 / List departments' recusal rules",
)
def list_rules(
    services: ServicesDep,
    principal: PrincipalDep,
    window: WindowDep,
    department: Annotated[str | None, Query(description="部门编码 / department")] = None,
) -> dict[str, Any]:
    scope = read_scope(services, principal, department)
    return page(services, "conflict_rules", {"department": scope}, window, sql_search=False)


@router.get(
    "/conflicts/rules/{department}",
    response_model=RulesShown,
    response_model_exclude_unset=True,
    summary="查看部门回避规则 / Get a department's rules",
)
def get_rules(
    services: ServicesDep, principal: PrincipalDep, department: str, at_seq: AtSeq = None
) -> dict[str, Any]:
    authorise_read(services, principal, [department])
    seq = read_at(services, at_seq)
    rules = found(
        services,
        "conflict_rules",
        [department],
        seq,
        f"部门 {department} 的回避规则",
        f"rules of {department}",
    )
    return {"as_of": seq, "item": rules}


@router.put(
    "/conflicts/rules/{department}",
    response_model=RulesWritten,
    responses=answers(RulesWritten, MAY_CREATE),
    response_model_exclude_unset=True,
    summary="设置部门回避规则（整体替换）/ Set a department's rules (replaces them all)",
)
def set_rules(
    services: ServicesDep,
    registry: RegistryDep,
    principal: PrincipalDep,
    department: str,
    body: RulesIn,
    response: Response,
) -> dict[str, Any]:
    services.refresh()
    before = services.queries.get("conflict_rules", [department])
    registry.set_conflict_rules(principal, department, body.model_dump(exclude_none=True))
    result = written(
        services,
        response,
        "created" if before is None else "updated",
        "conflict_rules",
        [department],
    )
    if before is not None and before == result["item"]:
        result["outcome"] = "unchanged"
    return result
