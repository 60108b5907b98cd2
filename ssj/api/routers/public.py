"""What anyone may read without a token: the published inspection-item list and published
inspection plans (一公开)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from ssj.api.deps import AsOf, ServicesDep, WindowDep, make_router, page, render_page, snapshot
from ssj.domain.plans import FIELD_LABELS as PLAN_FIELDS
from ssj.domain.plans import PlanStatus
from ssj.errors import NotFoundError
from ssj.services.public_results import department_names

TAG = "公开 / Public"
router = make_router(TAG)

# The columns of a published list (随机抽查事项清单); internal fields stay out.
PUBLIC_FIELDS = (
    "code",
    "department",
    "department_name",
    "category",
    "name",
    "target_type",
    "item_class",
    "methods",
    "subject",
    "legal_bases",
    "content",
    "default_ratio",
    "yearly_frequency",
    "cooperating_departments",
)


@router.get(
    "/public/items",
    summary="公开的随机抽查事项清单 / The published inspection-item list",
    description="无需令牌。只含现行（未废止）事项的公开字段。/ No token needed. Current "
    "(not retired) items, public fields only.",
)
def public_items(
    services: ServicesDep,
    window: WindowDep,
    department: Annotated[str | None, Query(description="牵头部门 / lead department")] = None,
    category: Annotated[str | None, Query(description="抽查类别 / category")] = None,
    target_type: Annotated[str | None, Query(description="检查对象类型 / target type")] = None,
    item_class: Annotated[str | None, Query(description="事项类别 / general|key")] = None,
) -> dict[str, Any]:
    filters = {
        "department": department,
        "category": category,
        "target_type": target_type,
        "item_class": item_class,
    }
    result = page(
        services,
        "items",
        filters,
        window,
        predicate=lambda s: s.get("retired_reason") is None,
    )
    names = {
        d["code"]: d["name"] for d in services.queries.states("departments", as_of=result["as_of"])
    }
    result["items"] = [_public(s, names) for s in result["items"]]
    return result


def _public(state: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    shown = {**state, "department_name": names.get(state["department"])}
    return {f: shown.get(f) for f in PUBLIC_FIELDS}


# A published plan shows every rule a draw applies (so anyone can check a draw against it);
# who drafted and approved it, and internal comments, stay behind the token.
PUBLIC_PLAN_FIELDS = (
    *PLAN_FIELDS,
    "department_name",
    "status",
    "version",
    "approved_at",
    "published_at",
)


@router.get(
    "/public/plans",
    summary="公布的抽查计划 / Published inspection plans",
    description="无需令牌。只含已公布的计划（草稿、待批、已批准未公布、已撤销的均不显示）。"
    "`department` 为牵头或参与的部门。/ No token needed. Published plans only (never drafts, "
    "plans awaiting approval or publication, or cancelled ones). `department` leads or joins.",
)
def public_plans(
    services: ServicesDep,
    window: WindowDep,
    department: Annotated[str | None, Query(description="牵头或参与的部门 / department")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="年度 / year")] = None,
) -> dict[str, Any]:
    seq = snapshot(services, window.as_of)
    filters = {"year": year, "status": PlanStatus.PUBLISHED.value}
    found = services.plan_queries.list(
        filters, window.offset, window.limit, seq, involving=department, search=window.search
    )
    names = department_names(services, seq)
    return render_page([_public_plan(s, names) for s in found.rows], found.total, window, seq)


@router.get(
    "/public/plans/{department}/{code}",
    summary="查看公布的抽查计划 / A published plan",
    description="无需令牌；未公布的计划返回 404。/ No token needed; 404 unless published.",
)
def public_plan(
    services: ServicesDep, department: str, code: str, as_of: AsOf = None
) -> dict[str, Any]:
    seq = snapshot(services, as_of)
    plan = services.plan_queries.get(department, code, as_of=seq)
    if plan is None or plan["status"] != PlanStatus.PUBLISHED:
        raise NotFoundError(
            f"没有已公布的抽查计划 {department}/{code}（账本序号 {seq}）",
            f"no published plan {department}/{code} (as of seq {seq})",
        )
    return {"as_of": seq, "plan": _public_plan(plan, department_names(services, seq))}


def _public_plan(state: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    shown = {**state, "department_name": names.get(state["department"])}
    return {f: shown.get(f) for f in PUBLIC_PLAN_FIELDS}
