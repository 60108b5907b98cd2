"""What anyone may read about draws without a token (一公开): the draws of published plans, each
drawn list by name, and the export that lets anyone redo a draw.

A committed draw shows only what its commit fixed (population sizes and roots, rules, witnesses):
there is nothing secret in that, and no sample exists before the reveal. The server nonce is never
read here; it reaches the ledger, and so this view, only with the reveal.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from ssj.api.deps import AsOf, ServicesDep, WindowDep, make_router, render_page, snapshot
from ssj.domain import fields
from ssj.domain.draws import STATUS_LABELS_ZH, DrawStatus
from ssj.services import draw_records as records
from ssj.services import public_results
from ssj.services.draws import DrawService

TAG = "公开 / Public"
router = make_router(TAG)
STATUS_CHOICES = {zh: status for status, zh in STATUS_LABELS_ZH.items()}


@router.get(
    "/public/draws",
    summary="公开的抽取 / Draws of published plans",
    description="无需令牌。已公布计划的抽取：已揭示的含种子与骰子点数，已作废的含理由，已封存待揭示"
    "的只含封存时固定的事实。/ No token needed. Draws of published plans: revealed ones with "
    "their seed and dice, abandoned ones with the reason, committed ones with their commit "
    "facts only.",
)
def public_draws(
    services: ServicesDep,
    window: WindowDep,
    plan: Annotated[str | None, Query(description="计划 / plan as DEPT/CODE")] = None,
    department: Annotated[
        str | None, Query(description="牵头或参与的部门 / a department leading or joining")
    ] = None,
    status: Annotated[
        str | None,
        Query(description="committed|revealed|abandoned 或 已封存待揭示、已抽取、已作废"),
    ] = None,
) -> dict[str, Any]:
    seq = snapshot(services, window.as_of)
    filters = {
        "plan_id": records.plan_filter(plan),
        "status": fields.choice("status", status, DrawStatus, STATUS_CHOICES).value
        if status
        else None,
    }
    rows = [
        r
        for r in records.all_draws(services, filters, as_of=seq, involving=department or None)
        if records.plan_is_public(services, r, seq)
    ]
    shown = rows[window.offset : window.offset + window.limit]
    return render_page([records.public_summary(r) for r in shown], len(rows), window, seq)


@router.get(
    "/public/draws/{draw_id}",
    summary="公开的抽取结果 / A draw's public record",
    description="无需令牌。被抽中的检查对象（标识与名称；自然人身份证号部分隐去）及检查组成员姓名"
    "（含回避后的替补），种子与骰子点数；作废的含理由。/ No token needed. The drawn targets "
    "(identifier and name; a natural person's id number partly hidden) and their teams' names "
    "(after recusals), the seed and dice; an abandoned draw's reason.",
)
def public_draw(services: ServicesDep, draw_id: str, as_of: AsOf = None) -> dict[str, Any]:
    seq = snapshot(services, as_of)
    row = public_results.public_draw_row(services, draw_id, seq)
    drawn: list[dict[str, Any]] = []
    if row["status"] == DrawStatus.REVEALED:
        draw = DrawService(services).draw(row["draw_id"])
        drawn = records.public_drawn(records.drawn(services, draw))
    return {"as_of": seq, "draw": records.public_summary(row), "drawn": drawn}


@router.get(
    "/public/draws/{draw_id}/export",
    summary="公开的复核文件 / A draw's export, for anyone to check",
    description="无需令牌。与 `ssj draw export` 相同的 `ssj-draw-export/1` 文件，用 "
    "`python3 ops/reproduce_draw.py 文件` 离线复核；揭示后才有。/ No token needed. The same "
    "`ssj-draw-export/1` file as `ssj draw export`, checked offline with `python3 "
    "ops/reproduce_draw.py FILE`; only once revealed.",
)
def public_draw_export(services: ServicesDep, draw_id: str) -> dict[str, Any]:
    return public_results.public_export(services, draw_id, snapshot(services, None))
