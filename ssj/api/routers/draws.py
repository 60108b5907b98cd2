"""Draws (随机抽取): the seed ceremony, abandonment, recusal (回避), reads, verification, export.

A draw is addressed by its id (a UUID; `GET /draws?plan=DEPT/CODE` finds it). Every write returns
the ledger head after it and the draw as the read model now holds it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ssj.api.deps import (
    IDENTICAL,
    MAX_SEQ,
    AsOf,
    PrincipalDep,
    ReasonIn,
    ServicesDep,
    WindowDep,
    authorise_read,
    make_router,
    read_scope,
    render_page,
    snapshot,
)
from ssj.domain import fields
from ssj.domain.access import Principal
from ssj.domain.draws import STATUS_LABELS_ZH, Draw, DrawStatus
from ssj.draw import drand
from ssj.services import draw_records as records
from ssj.services.context import Services
from ssj.services.draws import DrawService

TAG = "随机抽取 / Draws"
router = make_router(TAG)


def get_draws(services: ServicesDep) -> DrawService:
    return DrawService(services)


DrawsDep = Annotated[DrawService, Depends(get_draws)]
STATUS_CHOICES = {zh: status for status, zh in STATUS_LABELS_ZH.items()}


class CommitIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "department": "CZ-SJJ-TZ",
                    "plan_code": "2026-A1",
                    "witnesses": ["公证员张三", "企业代表李四"],
                }
            ]
        },
    )

    department: str = Field(description="牵头部门编码 / lead department code")
    plan_code: str = Field(description="已公布计划的编号 / a published plan's code")
    witnesses: list[str] = Field(description="见证人姓名（1–10 人）/ witnesses who give dice")
    drand_round: int | None = Field(
        None,
        ge=1,
        le=MAX_SEQ,
        description="同时采用 drand quicknet 未来的一轮 / also use a future drand round",
    )
    drawn_on: str | None = Field(None, description="抽取日期（默认今天）/ draw date (YYYY-MM-DD)")


class DiceIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"witness": "公证员张三", "digits": "3141"}]},
    )

    witness: str = Field(description="封存时登记的见证人 / a witness named at commit")
    digits: str = Field(description="骰子点数（十进制数字）/ the dice, decimal digits")


class BeaconIn(BaseModel):
    """A drand beacon as its HTTP API returns it (other fields it sends are kept out)."""

    model_config = ConfigDict(extra="ignore")

    round: int = Field(ge=1, le=drand.MAX_ROUND, description="轮次 / round (uint64)")
    randomness: str = Field(max_length=128, description="随机数（十六进制）/ randomness, hex")
    signature: str = Field(max_length=512, description="BLS 签名（十六进制）/ BLS signature, hex")


class RecusalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(description="检查对象标识 / the drawn target's identifier")
    certificate_no: str = Field(description="回避人员的执法证号 / the member's certificate no.")
    reason: str = Field(description="理由（记入账本）/ reason (recorded in the ledger)")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool = Field(description="批准（true）或驳回（false）/ approve or reject")
    reason: str = Field(description="理由（记入账本）/ reason (recorded in the ledger)")


def _written(
    services: Services, draw: Draw, response: Response, *, created: bool = False, **extra: Any
) -> dict[str, Any]:
    """What a write returns: the ledger head after it, the draw as now read, and what the
    reveal still waits for (or the drawn list once revealed). 201 when `created`; else 200
    (for a commit or request: the identical one existed, nothing written)."""
    response.status_code = 201 if created else 200
    seq = snapshot(services, None)
    row = services.draw_queries.get("draws", [str(draw.id)], as_of=seq)
    body: dict[str, Any] = {"seq": seq, "draw": row, **extra}
    if draw.status is DrawStatus.COMMITTED:
        body["awaiting"] = draw.entropy_missing()
    return body


# The ceremony ----------------------------------------------------------------------------------


@router.post(
    "/draws",
    summary="封存抽取 / Commit a draw",
    description="冻结名录、检查人员库与规则，登记见证人和（可选）drand 未来轮次，承诺服务器随机数。"
    "返回内容不含任何可推算种子的信息。/ Freezes the population, pools and rules, names the "
    "witnesses (and optionally a future drand round) and commits to the server nonce. Nothing "
    "returned helps anyone predict the seed.",
    status_code=201,
    responses=IDENTICAL,
)
def commit_draw(
    services: ServicesDep,
    draws: DrawsDep,
    principal: PrincipalDep,
    body: CommitIn,
    response: Response,
) -> dict[str, Any]:
    draw, outcome = draws.commit(
        principal, body.department, body.plan_code, body.witnesses, body.drand_round, body.drawn_on
    )
    return _written(services, draw, response, created=outcome == "created", outcome=outcome)


@router.post("/draws/{draw_id}/dice", summary="录入骰子点数 / Record a witness's dice")
def record_dice(
    services: ServicesDep,
    draws: DrawsDep,
    principal: PrincipalDep,
    draw_id: str,
    body: DiceIn,
    response: Response,
) -> dict[str, Any]:
    draw = draws.record_dice(principal, draw_id, body.witness, body.digits)
    return _written(services, draw, response)


@router.post(
    "/draws/{draw_id}/drand",
    summary="录入 drand 信标 / Record the drand beacon",
    description="请求体为 drand HTTP 接口返回的 JSON（round、randomness、signature）。/ The body "
    "is the beacon as the drand HTTP API returns it (round, randomness, signature).",
)
def record_drand(
    services: ServicesDep,
    draws: DrawsDep,
    principal: PrincipalDep,
    draw_id: str,
    beacon: BeaconIn,
    response: Response,
) -> dict[str, Any]:
    draw = draws.record_drand(principal, draw_id, beacon.model_dump_json())
    return _written(services, draw, response)


@router.post(
    "/draws/{draw_id}/reveal",
    summary="揭示 / Reveal",
    description="计算种子，抽取检查对象并选派检查组；只能揭示一次。/ Computes the seed, draws the "
    "targets and staffs their teams; a draw is revealed once.",
)
def reveal_draw(
    services: ServicesDep,
    draws: DrawsDep,
    principal: PrincipalDep,
    draw_id: str,
    response: Response,
) -> dict[str, Any]:
    draw = draws.reveal(principal, draw_id)
    return _written(services, draw, response, drawn=records.drawn(services, draw))


@router.post("/draws/{draw_id}/abandon", summary="作废（领导）/ Abandon (leader)")
def abandon_draw(
    services: ServicesDep,
    draws: DrawsDep,
    principal: PrincipalDep,
    draw_id: str,
    body: ReasonIn,
    response: Response,
) -> dict[str, Any]:
    draw = draws.abandon(principal, draw_id, body.reason)
    return _written(services, draw, response)


# Recusal (回避) ---------------------------------------------------------------------------------


@router.post(
    "/draws/{draw_id}/recusals",
    summary="检查人员自行回避 / An inspector's own recusal",
    description="立即回避，由该检查对象的排序中的下一位替补。/ Recused at once; the next in the "
    "target's ranking replaces.",
)
def recuse(
    services: ServicesDep,
    draws: DrawsDep,
    principal: PrincipalDep,
    draw_id: str,
    body: RecusalIn,
    response: Response,
) -> dict[str, Any]:
    replacement = draws.recuse(principal, draw_id, body.target, body.certificate_no, body.reason)
    return _written(services, draws.draw(draw_id), response, replacement=replacement)


@router.post(
    "/draws/{draw_id}/recusal-requests",
    summary="登记检查对象的回避申请 / File a target's recusal request",
    status_code=201,
    responses=IDENTICAL,
)
def request_recusal(
    services: ServicesDep,
    draws: DrawsDep,
    principal: PrincipalDep,
    draw_id: str,
    body: RecusalIn,
    response: Response,
) -> dict[str, Any]:
    request_id, outcome = draws.request_recusal(
        principal, draw_id, body.target, body.certificate_no, body.reason
    )
    return _written(
        services,
        draws.draw(draw_id),
        response,
        created=outcome == "created",
        request_id=request_id,
        outcome=outcome,
    )


@router.post(
    "/draws/{draw_id}/recusal-requests/{request_id}/decision",
    summary="决定回避申请（领导）/ Decide a recusal request (leader)",
)
def decide_recusal(
    services: ServicesDep,
    draws: DrawsDep,
    principal: PrincipalDep,
    draw_id: str,
    request_id: str,
    body: DecisionIn,
    response: Response,
) -> dict[str, Any]:
    replacement = draws.decide_recusal(principal, draw_id, request_id, body.approve, body.reason)
    return _written(
        services, draws.draw(draw_id), response, approved=body.approve, replacement=replacement
    )


# Reads -----------------------------------------------------------------------------------------


@router.get("/draws", summary="列出抽取 / List draws")
def list_draws(
    services: ServicesDep,
    principal: PrincipalDep,
    window: WindowDep,
    department: Annotated[
        str | None, Query(description="牵头或参与的部门 / a department leading or joining")
    ] = None,
    plan: Annotated[str | None, Query(description="计划 / plan as DEPT/CODE")] = None,
    status: Annotated[
        str | None,
        Query(description="committed|revealed|abandoned 或 已封存待揭示、已抽取、已作废"),
    ] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="计划年度 / plan year")] = None,
) -> dict[str, Any]:
    """本部门牵头或参与的抽取；纪检监察、考核人员与管理员可看全部。/ Draws your department leads
    or joins; supervisors, reviewers and administrators see all."""
    filters = {
        "plan_id": records.plan_filter(plan),
        "status": fields.choice("status", status, DrawStatus, STATUS_CHOICES).value
        if status
        else None,
        "year": None if year is None else str(year),
    }
    involving = read_scope(services, principal, department)
    seq = snapshot(services, window.as_of)
    rows = records.all_draws(services, filters, as_of=seq, involving=involving)
    shown = rows[window.offset : window.offset + window.limit]
    return render_page(shown, len(rows), window, seq)


def _readable(
    services: Services, principal: Principal, draw_id: str, as_of: int | None
) -> tuple[int, dict[str, Any]]:
    """The draw's row as of the read seq, if `principal` may read its departments."""
    seq = snapshot(services, as_of)
    row = records.draw_row(services, draw_id, as_of=seq)
    authorise_read(services, principal, row["departments"])
    return seq, row


@router.get("/draws/{draw_id}", summary="查看抽取 / Get a draw")
def get_draw(
    services: ServicesDep,
    draws: DrawsDep,
    principal: PrincipalDep,
    draw_id: str,
    as_of: AsOf = None,
) -> dict[str, Any]:
    """含待决的回避申请（领导据此决定）与尚待录入的熵源。/ With its recusal requests (for a
    leader to decide) and what the reveal still waits for."""
    seq, row = _readable(services, principal, draw_id, as_of)
    draw = draws.draw(row["draw_id"])
    body: dict[str, Any] = {"as_of": seq, "draw": row, "requests": draw.requests}
    if draw.status is DrawStatus.COMMITTED:
        body["awaiting"] = draw.entropy_missing()
    return body


@router.get("/draws/{draw_id}/tasks", summary="抽查任务 / The draw's tasks")
def draw_tasks(
    services: ServicesDep, principal: PrincipalDep, draw_id: str, window: WindowDep
) -> dict[str, Any]:
    """每个被抽中的检查对象及其当前检查组（含回避后的替补）。/ Each drawn target with its
    current team (replacements included)."""
    seq, row = _readable(services, principal, draw_id, window.as_of)
    found = services.draw_queries.list(
        "tasks",
        {"draw_id": row["draw_id"]},
        as_of=seq,
        offset=window.offset,
        limit=window.limit,
    )
    return render_page(found.rows, found.total, window, seq)


@router.get(
    "/draws/{draw_id}/verify",
    summary="核验抽取 / Verify a draw",
    description="重算每个记录值，返回 JSON 核验证明（与 `ssj draw verify --json` 相同）。"
    "`replay=true` 只信任账本：从账本重放重建名录后核验。/ Re-runs the draw and returns the JSON "
    "proof (as `ssj draw verify --json` writes it). `replay=true` trusts the ledger alone.",
)
def verify_draw(
    services: ServicesDep,
    draws: DrawsDep,
    principal: PrincipalDep,
    draw_id: str,
    replay: Annotated[bool, Query(description="从账本重放 / replay the ledger")] = False,
) -> dict[str, Any]:
    _, row = _readable(services, principal, draw_id, None)
    draw = draws.draw(row["draw_id"])
    verification = draws.verify(row["draw_id"], replay=replay)
    return records.proof(services, draw, verification, replay=replay)


@router.get(
    "/draws/{draw_id}/export",
    summary="导出复核文件 / Export for independent checks",
    description="`ssj-draw-export/1` 格式，可用 `python3 ops/reproduce_draw.py` 离线复核。/ The "
    "`ssj-draw-export/1` format, checked offline by `python3 ops/reproduce_draw.py`.",
)
def export_draw(
    services: ServicesDep, draws: DrawsDep, principal: PrincipalDep, draw_id: str
) -> dict[str, Any]:
    _, row = _readable(services, principal, draw_id, None)
    return draws.export(row["draw_id"])
