"""Response models shared by the routers: the page envelope, a single read, a write's answer.

They describe, for the OpenAPI document and generated clients, the JSON the endpoints already
send; they do not change it. Routers return plain dicts and declare these (or router-specific
models built on `Schema`) as `response_model`, with `response_model_exclude_unset=True` so a key
the code leaves out stays out (it is not sent as null). A model must name every key its endpoint
returns, or FastAPI drops the key: tests/api/test_response_schemas_a.py forbids extra keys while
it validates real responses, so a missing field fails there.

Concrete models are named subclasses (`class DepartmentPage(Page[DepartmentRow])`) so the
OpenAPI document has readable schema names. Numbers that may be whole are `int | float`: a
`float` field would turn 3 into 3.0 and change the bytes clients receive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from ssj.domain.tasks import TaskStatus

Outcome = Literal["created", "updated", "unchanged"]
OUTCOME = (
    "created：新登记；updated：记录了变化；unchanged：相同记录已存在，未写入 / created: newly "
    "registered; updated: a change was recorded; unchanged: identical already, nothing written"
)
SEQ = "写入之后的账本末尾序号 / the ledger head (seq) after the write"
AS_OF = (
    "读取所依据的账本序号（请求参数 at_seq）/ the ledger seq this read shows the state at"
    " (ask for one with at_seq)"
)


def _no_default(schema: JsonDict) -> None:
    schema.pop("default", None)


def absent(description: str) -> Any:
    """A key the endpoint sometimes leaves out (never sends as null): not required, no
    default in the schema. Routers return dicts, so the placeholder None is never read or
    sent (`response_model_exclude_unset=True` drops what was not given)."""
    return Field(default=None, description=description, json_schema_extra=_no_default)


def answers(
    model: type[BaseModel], described: Mapping[int | str, dict[str, Any]]
) -> dict[int | str, dict[str, Any]]:
    """Further 2xx answers of an operation (`deps.IDENTICAL`, `deps.MAY_CREATE`) with the body's
    model: FastAPI documents a schema only for the main status code otherwise."""
    return {status: {**answer, "model": model} for status, answer in described.items()}


class Schema(BaseModel):
    """Base of every response model: keys are described, extra keys are kept (never dropped
    silently in production; the schema test forbids them to find what a model misses)."""

    model_config = ConfigDict(extra="allow")


RowT = TypeVar("RowT")


class Page(Schema, Generic[RowT]):
    """One page of a list, pinned to a ledger seq (`deps.render_page`)."""

    total: int = Field(description="符合条件的总条数 / rows matching, all pages")
    offset: int = Field(description="跳过的条数 / rows skipped")
    limit: int = Field(description="每页条数 / page size")
    as_of: int = Field(description=AS_OF)
    items: list[RowT] = Field(description="本页的记录 / this page's rows")


class Shown(Schema, Generic[RowT]):
    """One entry as of a ledger seq: `{"as_of", "item"}`."""

    as_of: int = Field(description=AS_OF)
    item: RowT = Field(description="记录 / the entry")


class Written(Schema, Generic[RowT]):
    """A registry write's answer (`deps.written`): outcome, ledger head, the entry as now read."""

    outcome: Outcome = Field(description=OUTCOME)
    seq: int = Field(description=SEQ)
    item: RowT = Field(description="写入后的记录 / the entry as now read")


class Actor(Schema):
    """Who did something, as the ledger's envelope records it."""

    user: str = Field(description="用户名 / username")
    department: str = Field(description="部门编码 / department code")
    role: str = Field(description="以何种角色 / acting role")


# Draws: the export (ssj-draw-export/1), answered alike with a token and without ------------------


class Dice(Schema):
    witness: str = Field(description="见证人 / witness")
    digits: str = Field(description="骰子点数 / the dice")


class ExportDraw(Schema):
    id: str = Field(description="抽取编号 / the draw's id")
    label: str = Field(description="标签 / label")
    plan: str = Field(description="计划 部门/编号 / plan as DEPT/CODE")
    department: str = Field(description="牵头部门 / lead department")
    drawn_on: str = Field(description="抽取日期 / drawn on")
    as_of_seq: int = Field(description="冻结名录的账本序号 / the registry's seq, frozen")
    commit_seq: int = Field(description="封存事件的账本序号 / the commit's seq")
    reveal_seq: int = Field(description="揭示事件的账本序号 / the reveal's seq")


class DrandBeacon(Schema):
    round: int = Field(description="轮次 / round")
    randomness: str = Field(description="随机数 / randomness (hex)")
    signature: str = Field(description="BLS 签名 / signature (hex)")


class SeedInputs(Schema):
    draw_id: str = Field(description="抽取编号 / the draw's id")
    commit_digest: str = Field(description="封存摘要 / the commit digest")
    nonce: str = Field(description="服务器随机数 / the server nonce")
    nonce_commitment: str = Field(description="其承诺 / its commitment")
    dice: list[Dice] = Field(description="见证人骰子点数 / the witnesses' dice")
    drand: DrandBeacon | None = Field(description="drand 信标 / the beacon, or null")


class ExportStratum(Schema):
    name: str = Field(description="分层 / stratum")
    seed: str = Field(description="分层种子 / the stratum's seed")
    size: int = Field(description="总体数 / population")
    k: int = Field(description="抽取数 / drawn")
    population_root: str = Field(description="总体的默克尔根 / the population's Merkle root")
    ids: list[str] = Field(description="总体（票号顺序）/ the population, in ticket order")
    sample: list[str] = Field(description="抽中的对象 / the sample")


class ExportTeam(Schema):
    target: str = Field(description="检查对象标识 / target")
    seed: str = Field(description="检查组种子 / the team's seed")
    rankings: dict[str, list[str]] = Field(description="各部门人员排序 / rankings per department")
    team: list[str] = Field(description="选派的检查人员 / inspectors staffed")
    expert_ranking: list[str] = Field(description="专家排序 / the experts' ranking")
    experts: list[str] = Field(description="选派的专家 / experts staffed")


class DrawExport(Schema):
    """The `ssj-draw-export/1` document (`python3 ops/reproduce_draw.py` checks it offline)."""

    format: Literal["ssj-draw-export/1"] = Field(description="格式 / format")
    draw: ExportDraw = Field(description="抽取 / the draw")
    sampler: str = Field(description="抽样算法 / the sampler")
    seed: str = Field(description="种子 / the seed")
    seed_inputs: SeedInputs = Field(description="种子的输入 / the seed's inputs")
    strata: list[ExportStratum] = Field(description="各分层 / strata")
    teams: list[ExportTeam] = Field(description="各检查组 / teams")


# Tasks: read by the tasks and draws routers ----------------------------------------------------


class TaskResult(Schema):
    """One item's result: drafted by a team member, countersigned by another."""

    method: str = Field(description="检查方式 / method")
    inspected_on: str = Field(description="检查日期 / inspected on (YYYY-MM-DD)")
    findings: str = Field(description="检查情况 / what was found")
    evidence: list[str] = Field(description="证据文件的 SHA-256 / SHA-256 of evidence files")
    category: str = Field(description="检查结果类别代码 / result category code")
    drafted_by: str = Field(description="起草人执法证号 / drafter's certificate number")
    signed_by: str | None = Field(description="第二签执法证号（未签为空）/ countersigner, or null")


class Objection(Schema):
    reason: str = Field(description="异议理由 / the target's reason")
    upheld: bool | None = Field(
        description="异议是否成立（未决定为空）/ upheld, or null: undecided"
    )
    decision: str | None = Field(description="决定理由（未决定为空）/ the decision's reason")


class Withheld(Schema):
    reason: str = Field(description="理由 / reason")
    until_final: bool = Field(description="暂缓至结果最终确定 / until final (else for good)")


class TaskRow(Schema):
    """A task as the draws read model holds it (projections.draws): the drawn target, its team,
    and its lifecycle so far."""

    task_id: str = Field(description="任务编号（UUID）/ the task's id")
    draw_id: str = Field(description="抽取编号 / the draw's id")
    plan_id: str = Field(description="计划的聚合编号 / the plan's id")
    identifier: str = Field(description="检查对象标识 / the target's identifier")
    department: str = Field(description="牵头部门 / lead department")
    departments: list[str] = Field(description="牵头与参与部门 / lead and cooperating departments")
    drawn_on: str = Field(description="抽取日期 / drawn on (YYYY-MM-DD)")
    status: TaskStatus = Field(description="任务状态 / the task's status")
    stratum: str = Field(description="所在分层 / the stratum it was drawn from")
    inspectors: list[str] = Field(description="检查组执法证号（含替补）/ the team's certificates")
    experts: list[str] = Field(description="专家执法证号 / the experts' certificates")
    label: str = Field(description="抽取标签 / the draw's label")
    items: list[str] = Field(description="抽查事项 部门/事项编码 / items as DEPT/CODE")
    notified_on: str | None = Field(description="通知日期 / notified on, or null")
    notified_how: str | None = Field(description="通知方式 / how notified, or null")
    results: dict[str, TaskResult] = Field(description="各事项（部门/编码）的结果 / per item")
    signed: int = Field(description="已两人签署的事项数 / items signed by two")
    category: str | None = Field(description="最严重的结果类别 / the most serious category")
    categories: list[str] = Field(description="结果类别 / the results' categories")
    completed_on: str | None = Field(description="检查完成日期 / completed on, or null")
    completed_seq: int | None = Field(description="检查完成事件的账本序号 / its seq, or null")
    informed_on: str | None = Field(description="告知日期 / informed on, or null")
    objection: Objection | None = Field(description="异议（无则为空）/ the objection, or null")
    published_on: str | None = Field(description="公示日期 / published on, or null")
    redacted_fields: list[str] = Field(description="不公开的字段 / fields withheld from the public")
    public_summary: str | None = Field(description="公示内容 / the public summary, or null")
    withheld: Withheld | None = Field(description="暂不公示（无则为空）/ withheld, or null")
    closed_on: str | None = Field(description="办结日期 / closed on, or null")
    recused: list[str] = absent(
        "回避人员的执法证号（有回避才有此字段）/ certificates recused (present after a recusal)"
    )


class TaskPage(Page[TaskRow]):
    pass
