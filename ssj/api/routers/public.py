"""What anyone may read without a token: the published inspection-item list (一公开)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from ssj.api.deps import ServicesDep, WindowDep, make_router, page

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
