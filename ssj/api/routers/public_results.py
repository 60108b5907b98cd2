"""Published inspection results (一公开) as JSON for anyone: the same rule and the same service
as the public web page (`ssj/services/public_results.py`), so the API never shows more."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from ssj.api.deps import ServicesDep, WindowDep, make_router, render_page, snapshot
from ssj.errors import NotFoundError
from ssj.services import public_results as published

router = make_router("公开 / Public")


@router.get(
    "/public/results",
    summary="按名称或统一社会信用代码查询检查对象 / Find targets by name or identifier",
    description="无需令牌；身份证号码部分隐去，只能整号查询。/ No token; resident identity "
    "numbers are masked and match only whole.",
)
def search_results(
    services: ServicesDep,
    window: WindowDep,
    q: Annotated[str, Query(min_length=1, max_length=100, description="名称或代码")],
) -> dict[str, Any]:
    seq = snapshot(services, None)
    found = published.search_targets(services, q, window.offset, window.limit, seq)
    return render_page(found.rows, found.total, window, seq)


@router.get(
    "/public/targets/{public_id}/results",
    summary="检查对象已公示的抽查结果 / A target's published results",
    description="只含已公示结果的类别、摘要与日期；依法隐去的字段显示为“已依法隐去”。/ Only "
    "published results: category, summary and dates; redacted fields read 已依法隐去.",
)
def target_results(services: ServicesDep, public_id: str) -> dict[str, Any]:
    seq = snapshot(services, None)
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
