"""Draws (随机抽取): the seed ceremony, abandonment, recusal (回避), reads, verification, export.

A draw is addressed by its id (a UUID; `GET /draws?plan=DEPT/CODE` finds it). Every write returns
the ledger head after it and the draw as the read model now holds it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ssj.api.deps import (
    IDENTICAL,
    MAX_SEQ,
    AtSeq,
    PrincipalDep,
    ReasonIn,
    ServicesDep,
    WindowDep,
    authorise_read,
    make_router,
    read_at,
    read_scope,
    render_page,
)
from ssj.api.schemas import (
    AS_OF,
    OUTCOME,
    SEQ,
    Dice,
    DrawExport,
    Outcome,
    Page,
    Schema,
    TaskPage,
    absent,
    answers,
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


class RecusalDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool = Field(description="批准（true）或驳回（false）/ approve or reject")
    reason: str = Field(description="理由（记入账本）/ reason (recorded in the ledger)")


# What is answered ---------------------------------------------------------------------------------


class DrawStratum(Schema):
    name: str = Field(description="分层 / stratum (a credit class, or all)")
    size: int = Field(description="总体数 / population")
    k: int = Field(description="抽取数 / to draw")
    root: str = Field(description="总体的默克尔根 / the population's Merkle root")


class RegistryCounts(Schema):
    considered: int = Field(description="名录中的对象数 / targets considered")
    eligible: int = Field(description="符合条件的对象数 / targets eligible")


class DrawRow(Schema):
    """A draw as the draws read model holds it (projections.draws): the commit's facts, the
    entropy so far and, once revealed, the seed and counts."""

    draw_id: str = Field(description="抽取编号（UUID）/ the draw's id")
    plan_id: str = Field(description="计划的聚合编号 / the plan's id")
    department: str = Field(description="牵头部门 / lead department")
    plan_code: str = Field(description="计划编号 / plan code")
    year: str = Field(description="计划年度（文本）/ plan year, as text")
    round: int = Field(description="该计划的第几轮抽取 / round of the plan")
    label: str = Field(description="标签 部门/计划/第N轮 / label")
    status: DrawStatus = Field(
        description="committed 已封存待揭示 | revealed 已抽取 | abandoned 已作废"
    )
    drawn_on: str = Field(description="抽取日期 / drawn on")
    window: list[str] = Field(description="实施期限 [开始, 结束] / window [start, end]")
    departments: list[str] = Field(description="牵头与参与部门 / departments")
    items: dict[str, list[str]] = Field(description="各部门的抽查事项 / items per department")
    as_of_seq: int = Field(description="冻结名录的账本序号 / the registry's seq, frozen")
    committed_seq: int = Field(description="封存事件的账本序号 / the commit's seq")
    committed_at: str = Field(description="封存时间 / committed at")
    committed_by: str = Field(description="封存人 / committed by (username)")
    strata: list[DrawStratum] = Field(description="分层 / strata")
    exclusions: dict[str, int] = Field(description="按原因排除的对象数 / excluded, per reason")
    registry: RegistryCounts = Field(description="名录统计 / registry counts")
    witnesses: list[str] = Field(description="见证人 / witnesses")
    drand_round: int | None = Field(description="drand 轮次（未采用为空）/ drand round, or null")
    dice: list[Dice] = Field(description="已录入的骰子点数 / dice recorded")
    drand_randomness: str | None = Field(description="drand 随机数 / drand randomness, or null")
    seed: str | None = Field(description="种子（揭示后）/ the seed, once revealed")
    revealed_seq: int | None = Field(description="揭示事件的账本序号 / the reveal's seq, or null")
    revealed_at: str | None = Field(description="揭示时间 / revealed at, or null")
    sample_size: int = Field(description="抽中的对象数 / targets drawn")
    abandoned_reason: str | None = Field(description="作废理由 / why abandoned, or null")
    recusals: int = Field(description="回避次数 / recusals")
    pending_requests: int = Field(description="待决的回避申请 / recusal requests pending")


class DrawPage(Page[DrawRow]):
    pass


AWAITING = (
    "揭示尚待录入的熵源（仅已封存待揭示时）/ what the reveal still waits for (committed only)"
)


class TeamMember(Schema):
    certificate_no: str = Field(description="执法证号 / certificate number")
    name: str = Field(description="姓名 / name")


class Drawn(Schema):
    """A drawn target with its current team."""

    stratum: str = Field(description="分层 / stratum")
    identifier: str = Field(description="检查对象标识 / identifier")
    id_kind: str | None = Field(description="标识类型 / kind of identifier")
    name: str | None = Field(description="名称 / name")
    inspectors: list[TeamMember] = Field(description="检查人员 / inspectors")
    experts: list[TeamMember] = Field(description="专家 / experts")
    recused: list[str] = Field(description="已回避的执法证号 / certificates recused")


class DrawWritten(Schema):
    seq: int = Field(description=SEQ)
    draw: DrawRow = Field(description="写入后的抽取 / the draw as now read")
    awaiting: list[str] = absent(AWAITING)


class DrawCommitted(Schema):
    seq: int = Field(description=SEQ)
    draw: DrawRow = Field(description="写入后的抽取 / the draw as now read")
    outcome: Outcome = Field(description=OUTCOME)
    awaiting: list[str] = absent(AWAITING)


class DrawRevealed(Schema):
    seq: int = Field(description=SEQ)
    draw: DrawRow = Field(description="揭示后的抽取 / the draw as now read")
    drawn: list[Drawn] = Field(description="抽中的对象及检查组 / the drawn targets, with teams")


class Recused(Schema):
    seq: int = Field(description=SEQ)
    draw: DrawRow = Field(description="写入后的抽取 / the draw as now read")
    replacement: str = Field(description="替补人员的执法证号 / the replacement's certificate")
    awaiting: list[str] = absent(AWAITING)


class RecusalRequested(Schema):
    seq: int = Field(description=SEQ)
    draw: DrawRow = Field(description="写入后的抽取 / the draw as now read")
    request_id: str = Field(description="回避申请编号 / the request's id")
    outcome: Outcome = Field(description=OUTCOME)
    awaiting: list[str] = absent(AWAITING)


class RecusalDecided(Schema):
    seq: int = Field(description=SEQ)
    draw: DrawRow = Field(description="写入后的抽取 / the draw as now read")
    approved: bool = Field(description="是否批准 / approved")
    replacement: str | None = Field(description="替补人员（驳回为空）/ the replacement, or null")
    awaiting: list[str] = absent(AWAITING)


class RecusalDecision(Schema):
    approved: bool = Field(description="是否批准 / approved")
    reason: str = Field(description="理由 / reason")


class RecusalRequest(Schema):
    target: str = Field(description="检查对象标识 / target")
    certificate_no: str = Field(description="申请回避的执法证号 / the member's certificate")
    reason: str = Field(description="理由 / reason")
    decision: RecusalDecision | None = Field(
        description="领导的决定（待决为空）/ decision, or null"
    )


class DrawShown(Schema):
    as_of: int = Field(description=AS_OF)
    draw: DrawRow = Field(description="抽取 / the draw")
    requests: dict[str, RecusalRequest] = Field(description="回避申请（按编号）/ recusal requests")
    awaiting: list[str] = absent(AWAITING)


class FactsPlan(Schema):
    id: str = Field(description="计划的聚合编号 / the plan's id")
    department: str = Field(description="牵头部门 / lead department")
    code: str = Field(description="计划编号 / plan code")
    version: int = Field(description="封存时的计划版本 / plan version at commit")
    year: int = Field(description="年度 / year")


class FactsPool(Schema):
    size: int = Field(description="人数 / members")
    root: str = Field(description="名单的默克尔根 / the list's Merkle root")


class FactsPools(Schema):
    inspectors: dict[str, FactsPool] = Field(
        description="各部门检查人员库 / inspectors per department"
    )
    experts: FactsPool = Field(description="专家库 / experts")


class DrandRound(Schema):
    chain: str = Field(description="drand 链 / chain hash")
    round: int = Field(description="轮次 / round")
    round_time: int = Field(description="该轮时间（Unix 秒）/ the round's time (Unix s)")


class FactsEntropy(Schema):
    witnesses: list[str] = Field(description="见证人 / witnesses")
    min_dice_digits: int = Field(description="骰子点数最少位数 / least dice digits in all")
    drand: DrandRound | None = Field(description="采用的 drand 轮次 / drand round, or null")


class FactsRules(Schema):
    """The plan's rules the draw applied (ssj.draw.procedure.RULE_KEYS), as in the plan's row."""

    target_types: list[str] = Field(description="检查对象类型 / target types")
    region_codes: list[str] = Field(description="行政区划代码前缀 / region prefixes")
    tags: list[str] = Field(description="对象标签 / target tags")
    ratios: dict[str, str] = Field(description="按信用风险分类的抽查比例（%）/ percent per class")
    fixed_count: int | None = Field(description="固定抽取数量 / fixed count, or null")
    minimum: int = Field(description="每层最少抽取数 / minimum per stratum")
    team_size: int = Field(description="检查组人数 / team size")
    experts: int = Field(description="每组专家人数 / experts per team")
    yearly_cap_department: int = Field(description="本部门每年上限 / yearly cap, this department")
    yearly_cap_all: int = Field(description="各部门每年上限 / yearly cap, all departments")
    exclusion_days: int = Field(description="排除近若干天已检查的对象 / exclusion window (days)")
    workload_cap: int | None = Field(description="每名检查人员任务上限 / per inspector, or null")
    priority_uncovered: bool = Field(description="优先抽取未覆盖对象 / not-yet-covered first")
    coverage_years: int = Field(description="全覆盖周期（年）/ coverage period (years)")


class DrawFacts(Schema):
    """The committed facts as stored (ssj.draw.facts: hashed into the commit digest)."""

    algorithm: str = Field(description="种子算法 / seed algorithm")
    sampler: str = Field(description="抽样算法 / sampler")
    plan: FactsPlan = Field(description="计划 / the plan")
    round: int = Field(description="轮次 / round")
    drawn_on: str = Field(description="抽取日期 / drawn on")
    window: list[str] = Field(description="实施期限 [开始, 结束] / window [start, end]")
    as_of_seq: int = Field(description="冻结名录的账本序号 / the registry's seq, frozen")
    departments: list[str] = Field(description="牵头与参与部门 / departments")
    items: dict[str, list[str]] = Field(description="各部门的抽查事项 / items per department")
    specialties: dict[str, list[str]] = Field(description="所需专业 / specialties required")
    rules: FactsRules = Field(description="计划规则 / the plan's rules")
    registry: RegistryCounts = Field(description="名录统计 / registry counts")
    exclusions: dict[str, int] = Field(description="按原因排除的对象数 / excluded, per reason")
    strata: list[DrawStratum] = Field(description="分层 / strata")
    pools: FactsPools = Field(description="检查人员库与专家库 / the pools")
    entropy: FactsEntropy = Field(description="熵源 / entropy")
    nonce_commitment: str = Field(description="服务器随机数的承诺 / the nonce's commitment")


class OutcomeStratum(Schema):
    name: str = Field(description="分层 / stratum")
    seed: str = Field(description="分层种子 / the stratum's seed")
    sample: list[str] = Field(description="抽中的对象（票号顺序）/ the sample, in ticket order")


class DrawTeam(Schema):
    inspectors: list[str] = Field(description="检查人员执法证号 / inspectors' certificates")
    experts: list[str] = Field(description="专家执法证号 / experts' certificates")


class DrawOutcome(Schema):
    strata: list[OutcomeStratum] = Field(description="各分层的抽取结果 / each stratum's sample")
    teams: dict[str, DrawTeam] = Field(description="各对象的检查组（揭示时）/ teams at the reveal")


class DrawRecusal(Schema):
    target: str = Field(description="检查对象标识 / target")
    certificate_no: str = Field(description="回避人员的执法证号 / the member recused")
    kind: str = Field(description="declared 自行回避 | requested 经申请 / how")
    reason: str = Field(description="理由 / reason")
    request_id: str | None = Field(description="回避申请编号 / the request's id, or null")
    replacement: str = Field(description="替补人员的执法证号 / the replacement")


class BeaconRecorded(Schema):
    round: int = Field(description="轮次 / round")
    randomness: str = Field(description="随机数 / randomness (hex)")
    signature: str = Field(description="BLS 签名 / signature (hex)")
    bls_verified: bool = Field(description="BLS 签名已验证 / signature verified")


class ProofEvent(Schema):
    seq: int = Field(description="账本序号 / ledger seq")
    event: str = Field(description="事件 / event name")
    event_zh: str = Field(description="事件（中文）/ the event in Chinese")
    recorded_at: str = Field(description="记录时间 / recorded at")
    user: str = Field(description="操作者 / by (username)")
    department: str = Field(description="操作者部门 / the actor's department")
    role: str = Field(description="操作者角色 / the actor's role")


class ProofDraw(Schema):
    id: str = Field(description="抽取编号 / the draw's id")
    label: str = Field(description="标签 / label")
    plan: str = Field(description="计划 部门/编号 / plan as DEPT/CODE")
    plan_version: int = Field(description="封存时的计划版本 / plan version at commit")
    round: int = Field(description="轮次 / round")
    status: DrawStatus = Field(description="状态 / status")
    drawn_on: str = Field(description="抽取日期 / drawn on")
    as_of_seq: int = Field(description="冻结名录的账本序号 / the registry's seq, frozen")
    abandoned_reason: str | None = Field(description="作废理由 / why abandoned, or null")
    events: list[ProofEvent] = Field(description="抽取的事件 / the draw's events")
    checked_against: Literal["ledger replay", "read models"] = Field(
        description="核验依据 / what was checked against"
    )


class ProofEntropy(Schema):
    witnesses: list[str] = Field(description="见证人 / witnesses")
    dice: list[Dice] = Field(description="骰子点数 / dice")
    drand_round: int | None = Field(description="drand 轮次 / drand round, or null")
    drand: BeaconRecorded | None = Field(description="drand 信标 / the beacon, or null")
    nonce_commitment: str = Field(description="服务器随机数的承诺 / the nonce's commitment")
    commit_digest: str = Field(description="封存摘要 / the commit digest")
    nonce: str | None = Field(description="服务器随机数（揭示后）/ the nonce, once revealed")


class DrawCheck(Schema):
    name: str = Field(description="核验项 / check")
    ok: bool = Field(description="是否通过 / passed")
    detail: str = Field(description="说明 / detail")


class DrawProof(Schema):
    """The `ssj-draw-proof/1` document (`ssj draw verify --json` writes the same)."""

    format: Literal["ssj-draw-proof/1"] = Field(description="格式 / format")
    draw: ProofDraw = Field(description="抽取 / the draw")
    facts: DrawFacts = Field(description="封存的事实（原样）/ the committed facts, as stored")
    entropy: ProofEntropy = Field(description="熵源 / entropy")
    seed: str | None = Field(description="种子 / seed, or null")
    outcome: DrawOutcome | None = Field(description="抽取结果（揭示后）/ the outcome, or null")
    recusals: list[DrawRecusal] = Field(description="回避 / recusals")
    checks: list[DrawCheck] = Field(description="每项核验 / every check")
    ok: bool = Field(description="全部通过 / every check passed")


def _written(
    services: Services, draw: Draw, response: Response, *, created: bool = False, **extra: Any
) -> dict[str, Any]:
    """What a write returns: the ledger head after it, the draw as now read, and what the
    reveal still waits for (or the drawn list once revealed). 201 when `created`; else 200
    (for a commit or request: the identical one existed, nothing written)."""
    response.status_code = 201 if created else 200
    seq = read_at(services, None)
    row = services.draw_queries.get("draws", [str(draw.id)], at_seq=seq)
    body: dict[str, Any] = {"seq": seq, "draw": row, **extra}
    if draw.status is DrawStatus.COMMITTED:
        body["awaiting"] = draw.entropy_missing()
    return body


# The ceremony ----------------------------------------------------------------------------------


@router.post(
    "/draws",
    response_model=DrawCommitted,
    response_model_exclude_unset=True,
    summary="封存抽取 / Commit a draw",
    description="冻结名录、检查人员库与规则，登记见证人和（可选）drand 未来轮次，承诺服务器随机数。"
    "返回内容不含任何可推算种子的信息。/ Freezes the population, pools and rules, names the "
    "witnesses (and optionally a future drand round) and commits to the server nonce. Nothing "
    "returned helps anyone predict the seed.",
    status_code=201,
    responses=answers(DrawCommitted, IDENTICAL),
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


@router.post(
    "/draws/{draw_id}/dice",
    response_model=DrawWritten,
    response_model_exclude_unset=True,
    summary="录入骰子点数 / Record a witness's dice",
)
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
    response_model=DrawWritten,
    response_model_exclude_unset=True,
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
    response_model=DrawRevealed,
    response_model_exclude_unset=True,
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


@router.post(
    "/draws/{draw_id}/abandon",
    response_model=DrawWritten,
    response_model_exclude_unset=True,
    summary="作废（领导）/ Abandon (leader)",
)
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
    response_model=Recused,
    response_model_exclude_unset=True,
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
    response_model=RecusalRequested,
    response_model_exclude_unset=True,
    summary="登记检查对象的回避申请 / File a target's recusal request",
    status_code=201,
    responses=answers(RecusalRequested, IDENTICAL),
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
    response_model=RecusalDecided,
    response_model_exclude_unset=True,
    summary="决定回避申请（领导）/ Decide a recusal request (leader)",
)
def decide_recusal(
    services: ServicesDep,
    draws: DrawsDep,
    principal: PrincipalDep,
    draw_id: str,
    request_id: str,
    body: RecusalDecisionIn,
    response: Response,
) -> dict[str, Any]:
    replacement = draws.decide_recusal(principal, draw_id, request_id, body.approve, body.reason)
    return _written(
        services, draws.draw(draw_id), response, approved=body.approve, replacement=replacement
    )


# Reads -----------------------------------------------------------------------------------------


@router.get(
    "/draws",
    response_model=DrawPage,
    response_model_exclude_unset=True,
    summary="列出抽取 / List draws",
)
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
    seq = read_at(services, window.at_seq)
    rows = records.all_draws(services, filters, at_seq=seq, involving=involving)
    shown = rows[window.offset : window.offset + window.limit]
    return render_page(shown, len(rows), window, seq)


def _readable(
    services: Services, principal: Principal, draw_id: str, at_seq: int | None
) -> tuple[int, dict[str, Any]]:
    """The draw's row as of the read seq, if `principal` may read its departments."""
    seq = read_at(services, at_seq)
    row = records.draw_row(services, draw_id, at_seq=seq)
    authorise_read(services, principal, row["departments"])
    return seq, row


@router.get(
    "/draws/{draw_id}",
    response_model=DrawShown,
    response_model_exclude_unset=True,
    summary="查看抽取 / Get a draw",
)
def get_draw(
    services: ServicesDep,
    draws: DrawsDep,
    principal: PrincipalDep,
    draw_id: str,
    at_seq: AtSeq = None,
) -> dict[str, Any]:
    """含待决的回避申请（领导据此决定）与尚待录入的熵源。/ With its recusal requests (for a
    leader to decide) and what the reveal still waits for."""
    seq, row = _readable(services, principal, draw_id, at_seq)
    draw = draws.draw(row["draw_id"])
    body: dict[str, Any] = {"as_of": seq, "draw": row, "requests": draw.requests}
    if draw.status is DrawStatus.COMMITTED:
        body["awaiting"] = draw.entropy_missing()
    return body


@router.get(
    "/draws/{draw_id}/tasks",
    response_model=TaskPage,
    response_model_exclude_unset=True,
    summary="抽查任务 / The draw's tasks",
)
def draw_tasks(
    services: ServicesDep, principal: PrincipalDep, draw_id: str, window: WindowDep
) -> dict[str, Any]:
    """每个被抽中的检查对象及其当前检查组（含回避后的替补）。/ Each drawn target with its
    current team (replacements included)."""
    seq, row = _readable(services, principal, draw_id, window.at_seq)
    found = services.draw_queries.list(
        "tasks",
        {"draw_id": row["draw_id"]},
        at_seq=seq,
        offset=window.offset,
        limit=window.limit,
    )
    return render_page(found.rows, found.total, window, seq)


@router.get(
    "/draws/{draw_id}/verify",
    response_model=DrawProof,
    response_model_exclude_unset=True,
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
    response_model=DrawExport,
    response_model_exclude_unset=True,
    summary="导出复核文件 / Export for independent checks",
    description="`ssj-draw-export/1` 格式，可用 `python3 ops/reproduce_draw.py` 离线复核。/ The "
    "`ssj-draw-export/1` format, checked offline by `python3 ops/reproduce_draw.py`.",
)
def export_draw(
    services: ServicesDep, draws: DrawsDep, principal: PrincipalDep, draw_id: str
) -> dict[str, Any]:
    _, row = _readable(services, principal, draw_id, None)
    return draws.export(row["draw_id"])
