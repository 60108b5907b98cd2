"""What anyone may read about draws without a token (一公开): the draws of published plans, each
drawn list by name, and the export that lets anyone redo a draw.

A committed draw shows only what its commit fixed (population sizes and roots, rules, witnesses):
there is nothing secret in that, and no sample exists before the reveal. The server nonce is never
read here; it reaches the ledger, and so this view, only with the reveal.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from pydantic import Field

from ssj.api.deps import AtSeq, ServicesDep, WindowDep, make_router, read_at, render_page
from ssj.api.schemas import AS_OF, Dice, DrawExport, Page, Schema, absent
from ssj.domain import fields
from ssj.domain.draws import STATUS_LABELS_ZH, DrawStatus
from ssj.services import draw_records as records
from ssj.services import public_results
from ssj.services.draws import DrawService

TAG = "公开 / Public"
router = make_router(TAG)
STATUS_CHOICES = {zh: status for status, zh in STATUS_LABELS_ZH.items()}


# Responses ---------------------------------------------------------------------------------------


class PublicStratum(Schema):
    """A stratum as the commit fixed it."""

    name: str = Field(description="分层名称（信用风险分类，或 all）/ stratum (credit class or all)")
    size: int = Field(description="总体数量 / population size")
    k: int = Field(description="抽取数量 / how many are drawn")
    root: str = Field(description="总体的默克尔树根（十六进制）/ the population's Merkle root")


class PublicDraw(Schema):
    """A draw as anyone may see it (`draw_records.public_summary`): the commit's facts always;
    the dice, seed and counts once revealed; the dice and the reason once abandoned."""

    draw_id: str = Field(description="抽取编号（UUID）/ draw id")
    label: str = Field(description="抽取名称（部门/计划编号/第N轮）/ label")
    department: str = Field(description="牵头部门编码 / lead department code")
    plan_code: str = Field(description="计划编号 / plan code")
    year: str = Field(description="年度 / year")
    round: int = Field(description="轮次 / round")
    status: str = Field(description="状态：committed|revealed|abandoned / status")
    drawn_on: str = Field(description="抽取日期 / drawn on (YYYY-MM-DD)")
    window: list[str] = Field(description="实施期间 [开始, 结束] / window [start, end]")
    departments: list[str] = Field(description="参与部门 / departments taking part")
    as_of_seq: int = Field(description="名录所依据的账本序号 / the registry as of this seq")
    committed_seq: int = Field(description="封存的账本序号 / seq of the commit")
    committed_at: str = Field(description="封存时间 / committed at (ISO 8601)")
    registry: dict[str, int] = Field(
        description="名录计数（considered 考虑的、eligible 符合条件的）/ registry counts"
    )
    exclusions: dict[str, int] = Field(description="按原因排除的对象数 / exclusions by reason")
    strata: list[PublicStratum] = Field(description="分层 / strata")
    witnesses: list[str] = Field(description="现场见证人 / witnesses")
    drand_round: int | None = Field(description="drand 信标轮次（未用为空）/ drand round, or null")
    dice: list[Dice] | None = absent(
        "骰子点数（揭示或作废后才有）/ the dice (once revealed or abandoned)"
    )
    drand_randomness: str | None = absent(
        "drand 随机数（揭示或作废后才有）/ drand randomness (once revealed or abandoned)"
    )
    seed: str | None = absent("种子（揭示后才有）/ the seed (once revealed)")
    revealed_seq: int | None = absent("揭示的账本序号（揭示后才有）/ seq of the reveal")
    revealed_at: str | None = absent("揭示时间（揭示后才有）/ revealed at")
    sample_size: int | None = absent("抽中的对象数（揭示后才有）/ targets drawn")
    recusals: int | None = absent("回避次数（揭示后才有）/ recusals")
    abandoned_reason: str | None = absent("作废理由（作废后才有）/ why it was abandoned")
    status_zh: str = Field(
        description="状态（中文）：已封存待揭示、已抽取、已作废 / status in Chinese"
    )


class PublicDrawPage(Page[PublicDraw]):
    """One page of the draws of published plans."""


class PublicDrawn(Schema):
    """A drawn target and its team, by name."""

    stratum: str = Field(description="分层 / stratum")
    identifier: str = Field(
        description="统一社会信用代码/标识（身份证号部分隐去）/ identifier (resident ids masked)"
    )
    name: str | None = Field(description="名称 / name")
    inspectors: list[str] = Field(description="检查组执法人员姓名 / the team's inspectors")
    experts: list[str] = Field(description="检查组专家姓名 / the team's experts")


class PublicDrawShown(Schema):
    as_of: int = Field(description=AS_OF)
    draw: PublicDraw = Field(description="抽取 / the draw")
    drawn: list[PublicDrawn] = Field(
        description="被抽中的检查对象及检查组（揭示前为空）/ drawn targets and teams (empty "
        "before the reveal)"
    )


@router.get(
    "/public/draws",
    summary="公开的抽取 / Draws of published plans",
    description="无需令牌。已公布计划的抽取：已揭示的含种子与骰子点数，已作废的含理由，已封存待揭示"
    "的只含封存时固定的事实。/ No token needed. Draws of published plans: revealed ones with "
    "their seed and dice, abandoned ones with the reason, committed ones with their commit "
    "facts only.",
    response_model=PublicDrawPage,
    response_model_exclude_unset=True,
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
    seq = read_at(services, window.at_seq)
    filters = {
        "plan_id": records.plan_filter(plan),
        "status": fields.choice("status", status, DrawStatus, STATUS_CHOICES).value
        if status
        else None,
    }
    rows = [
        r
        for r in records.all_draws(services, filters, at_seq=seq, involving=department or None)
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
    response_model=PublicDrawShown,
    response_model_exclude_unset=True,
)
def public_draw(services: ServicesDep, draw_id: str, at_seq: AtSeq = None) -> dict[str, Any]:
    seq = read_at(services, at_seq)
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
    response_model=DrawExport,
    response_model_exclude_unset=True,
)
def public_draw_export(services: ServicesDep, draw_id: str) -> dict[str, Any]:
    return public_results.public_export(services, draw_id, read_at(services, None))
