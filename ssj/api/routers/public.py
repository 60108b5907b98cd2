"""What anyone may read without a token: the published inspection-item list and published
inspection plans (一公开)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from pydantic import Field

from ssj.api.deps import AtSeq, ServicesDep, WindowDep, make_router, page, read_at, render_page
from ssj.api.schemas import AS_OF, Page, Schema
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


# Responses ---------------------------------------------------------------------------------------


class PublicItem(Schema):
    """An item of the published list: its public fields only (`PUBLIC_FIELDS`)."""

    code: str = Field(description="事项编码 / item code")
    department: str = Field(description="牵头部门编码 / lead department code")
    department_name: str | None = Field(description="牵头部门名称 / lead department name")
    category: str = Field(description="抽查类别 / category")
    name: str = Field(description="抽查事项名称 / item name")
    target_type: str | None = Field(
        description="检查对象类型：enterprise|individual|project|product|behaviour / target type"
    )
    item_class: str = Field(description="事项类别：general|key（一般、重点）/ item class")
    methods: list[str] = Field(
        description="检查方式：on_site|documents|online|agency / inspection methods"
    )
    subject: str = Field(description="检查主体 / inspecting body")
    legal_bases: list[str] = Field(description="抽查依据 / legal bases")
    content: str = Field(description="检查内容及标准 / what is checked")
    default_ratio: str | None = Field(description="抽查比例（%）/ ratio in percent, or null")
    yearly_frequency: int | None = Field(description="抽查频次（次/年）/ times a year, or null")
    cooperating_departments: list[str] = Field(description="配合部门编码 / cooperating departments")


class PublicItemPage(Page[PublicItem]):
    """One page of the published inspection-item list."""


class PublicPlan(Schema):
    """A published plan: every rule a draw applies (`PUBLIC_PLAN_FIELDS`); who drafted and
    approved it, and internal comments, are not shown."""

    code: str = Field(description="计划编号 / plan code")
    department: str = Field(description="牵头部门编码 / lead department code")
    title: str = Field(description="计划名称 / title")
    year: int = Field(description="年度 / year")
    kind: str = Field(description="计划类型：annual|monthly（年度、月度）/ kind")
    month: int | None = Field(description="月份（月度计划）/ month (monthly plans; else null)")
    items: list[str] = Field(description="抽查事项编码 / item codes")
    cooperating: dict[str, list[str]] = Field(
        description="配合部门及其抽查事项 / cooperating department -> its items"
    )
    target_types: list[str] = Field(description="检查对象类型 / target types")
    region_codes: list[str] = Field(description="行政区划范围（前缀；空：全辖区）/ region prefixes")
    tags: list[str] = Field(description="对象标签（空：不限）/ target tags (empty: any)")
    ratios: dict[str, str] = Field(
        description="按信用风险分类的抽查比例（%）/ percent per credit class"
    )
    fixed_count: int | None = Field(description="固定抽取数量 / fixed count, or null")
    minimum: int = Field(description="每层最少抽取数 / minimum per stratum")
    window_start: str = Field(description="实施开始日期 / window start (YYYY-MM-DD)")
    window_end: str = Field(description="实施结束日期 / window end (YYYY-MM-DD)")
    team_size: int = Field(description="检查组人数 / team size")
    experts: int = Field(description="每组专家人数 / experts per team")
    yearly_cap_department: int = Field(
        description="本部门每年对同一对象抽查上限 / yearly cap, this department"
    )
    yearly_cap_all: int = Field(description="各部门每年对同一对象抽查上限 / yearly cap, all")
    exclusion_days: int = Field(description="近期已检查对象排除天数 / exclusion window (days)")
    workload_cap: int | None = Field(description="每名检查人员任务上限 / per inspector, or null")
    priority_uncovered: bool = Field(description="优先抽取未覆盖对象 / not-yet-covered first")
    coverage_years: int = Field(description="全覆盖周期（年）/ coverage period (years)")
    publish_within_days: int = Field(
        description="结果公示期限（检查完成后工作日数）/ working days to publish a result"
    )
    department_name: str | None = Field(description="牵头部门名称 / lead department name")
    status: str = Field(description="状态（总是 published，已公布）/ status: published")
    version: int = Field(description="版本 / version")
    approved_at: str | None = Field(description="批准时间 / approved at")
    published_at: str | None = Field(description="公布时间 / published at")


class PublicPlanPage(Page[PublicPlan]):
    """One page of published plans."""


class PublicPlanShown(Schema):
    as_of: int = Field(description=AS_OF)
    plan: PublicPlan = Field(description="公布的抽查计划 / the published plan")


@router.get(
    "/public/items",
    summary="公开的随机抽查事项清单 / The published inspection-item list",
    description="无需令牌。只含现行（未废止）事项的公开字段。/ No token needed. Current "
    "(not retired) items, public fields only.",
    response_model=PublicItemPage,
    response_model_exclude_unset=True,
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
        d["code"]: d["name"] for d in services.queries.states("departments", at_seq=result["as_of"])
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
    response_model=PublicPlanPage,
    response_model_exclude_unset=True,
)
def public_plans(
    services: ServicesDep,
    window: WindowDep,
    department: Annotated[str | None, Query(description="牵头或参与的部门 / department")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="年度 / year")] = None,
) -> dict[str, Any]:
    seq = read_at(services, window.at_seq)
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
    response_model=PublicPlanShown,
    response_model_exclude_unset=True,
)
def public_plan(
    services: ServicesDep, department: str, code: str, at_seq: AtSeq = None
) -> dict[str, Any]:
    seq = read_at(services, at_seq)
    plan = services.plan_queries.get(department, code, at_seq=seq)
    if plan is None or plan["status"] != PlanStatus.PUBLISHED:
        raise NotFoundError(
            f"没有已公布的抽查计划 {department}/{code}（账本序号 {seq}）",
            f"no published plan {department}/{code} (as of seq {seq})",
        )
    return {"as_of": seq, "plan": _public_plan(plan, department_names(services, seq))}


def _public_plan(state: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    shown = {**state, "department_name": names.get(state["department"])}
    return {f: shown.get(f) for f in PUBLIC_PLAN_FIELDS}
