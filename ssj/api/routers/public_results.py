"""Published inspection results (一公开) as JSON for anyone: the same rule and the same service
as the public web page (`ssj/services/public_results.py`), so the API never shows more."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from pydantic import Field

from ssj.api.deps import ServicesDep, WindowDep, make_router, read_at, render_page, threaded
from ssj.api.schemas import AS_OF, Page, Schema
from ssj.errors import NotFoundError
from ssj.services import public_results as published

router = make_router("公开 / Public")


class FoundTarget(Schema):
    """A target as the public may name it."""

    public_id: str = Field(
        description="公开标识：统一社会信用代码或标识（身份证号部分隐去）/ public identifier "
        "(resident identity numbers masked)"
    )
    name: str = Field(description="名称 / name")


class FoundTargets(Page[FoundTarget]):
    """One page of targets matching a name or identifier."""


def _redactable(zh: str, en: str) -> str:
    return f"{zh}（依法隐去时为“已依法隐去”）/ {en} (已依法隐去 where redacted by law)"


class PublishedResult(Schema):
    """A published inspection result, as the public page shows it."""

    category: str | None = Field(description=_redactable("检查结果类别", "result category"))
    public_summary: str | None = Field(description=_redactable("公示摘要", "public summary"))
    completed_on: str | None = Field(description=_redactable("检查完成日期", "completed on"))
    departments: str = Field(
        description=_redactable("实施检查的部门名称", "the inspecting departments' names")
    )
    plan_department: str | None = Field(description="计划牵头部门编码 / plan's department")
    plan_code: str | None = Field(description="计划编号 / plan code")
    plan_title: str | None = Field(
        description="计划名称（计划未公布时为空）/ plan title (null unless the plan is published)"
    )
    plan_public: bool = Field(description="计划是否已公布 / whether the plan is published")
    draw_id: str = Field(description="抽取编号 / draw id")
    draw_label: str | None = Field(description="抽取名称 / draw label")
    drawn_on: str | None = Field(description="抽取日期 / drawn on")
    published_on: str = Field(description="公示日期 / published on")


class TargetResults(Schema):
    public_id: str = Field(description="公开标识 / public identifier")
    name: str | None = Field(description="名称 / name")
    results: list[PublishedResult] = Field(
        description="已公示的抽查结果，最新的抽取在前 / published results, newest draw first"
    )


class PublishedResults(Schema):
    as_of: int = Field(description=AS_OF)
    targets: list[TargetResults] = Field(
        description="公开标识相同的检查对象（通常一个）/ the targets of that public identifier "
        "(usually one)"
    )


@router.get(
    "/public/results",
    summary="按名称或统一社会信用代码查询检查对象 / Find targets by name or identifier",
    description="无需令牌；身份证号码部分隐去，只能整号查询。/ No token; resident identity "
    "numbers are masked and match only whole.",
    response_model=FoundTargets,
    response_model_exclude_unset=True,
)
@threaded
def search_results(
    services: ServicesDep,
    window: WindowDep,
    q: Annotated[str, Query(min_length=1, max_length=100, description="名称或代码")],
) -> dict[str, Any]:
    seq = read_at(services, None)
    found = published.search_targets(services, q, window.offset, window.limit, seq)
    return render_page(found.rows, found.total, window, seq)


@router.get(
    "/public/targets/{public_id}/results",
    summary="检查对象已公示的抽查结果 / A target's published results",
    description="只含已公示结果的类别、摘要与日期；依法隐去的字段显示为“已依法隐去”。/ Only "
    "published results: category, summary and dates; redacted fields read 已依法隐去.",
    response_model=PublishedResults,
    response_model_exclude_unset=True,
)
@threaded
def target_results(services: ServicesDep, public_id: str) -> dict[str, Any]:
    seq = read_at(services, None)
    found = published.targets_named(services, public_id, seq)
    if not found:
        raise NotFoundError(f"检查对象 {public_id} 不存在", f"target {public_id} not found")
    return {
        "as_of": seq,
        "targets": [
            {
                "public_id": published.public_id(t),
                "name": t.get("name"),
                "results": published.history(services, t["identifier"], seq),
            }
            for t in found
        ],
    }
