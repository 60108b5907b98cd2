"""The audit trail (全程留痕): a target's, inspector's, item's, plan's, draw's, task's or user's
complete history — who did what when — filtered, paged, with each row's signature checked
against the ledger; or the whole filtered trail as CSV or XLSX with Chinese headers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Response
from pydantic import Field

from ssj.api.deps import (
    CredentialsDep,
    ServicesDep,
    constructed,
    current_principal,
    make_router,
    threaded,
)
from ssj.api.schemas import Schema
from ssj.errors import ValidationError
from ssj.presentation.sheets import CSV, XLSX
from ssj.services.trail import FORMATS, MAX_LIMIT, TrailService, make_filters

TAG = "全程留痕 / Audit trail"
router = make_router(TAG)


class TrailSubject(Schema):
    kind: str = Field(description="对象种类：target|inspector|item|plan|draw|task|user / kind")
    kind_zh: str = Field(description="对象种类（中文）/ kind in Chinese")
    id: str = Field(description="对象标识 / the subject's id")
    departments: list[str] = Field(description="对象所属部门 / the subject's departments")


class TrailRow(Schema):
    """One event of the subject's history: who did what when, its signature checked."""

    seq: int = Field(description="账本序号 / ledger seq")
    recorded_at: str = Field(description="记录时间（UTC）/ recorded at (UTC, ISO 8601)")
    actor: str = Field(description="操作人（用户名）/ actor's username")
    role: str = Field(description="角色 / acting role")
    department: str = Field(description="部门 / the actor's department")
    kind: str = Field(description="事件类型 / event type")
    kind_zh: str = Field(description="事件 / event in Chinese")
    summary: str = Field(description="摘要 / summary")
    time_beijing: str = Field(description="记录时间（北京时间）/ recorded at, Beijing time")
    role_zh: str = Field(description="角色（中文）/ role in Chinese")
    signature: str = Field(
        description="签名状态：valid|invalid|unknown-key|retired-key|revoked-key|missing|altered|"
        "mismatch / signature status"
    )
    signature_zh: str = Field(description="签名状态（中文）/ signature status in Chinese")


class TrailPage(Schema):
    """One page of a subject's audit trail, in seq order."""

    subject: TrailSubject = Field(description="对象 / the subject")
    total: int = Field(description="符合条件的总条数 / rows matching, all pages")
    offset: int = Field(description="跳过的条数 / rows skipped")
    limit: int = Field(description="每页条数 / page size")
    as_of: int = Field(
        description="留痕读模型所到的账本序号 / the seq the trail read model has reached"
    )
    items: list[TrailRow] = Field(description="本页的记录 / this page's rows")


class TrailQuery:
    def __init__(
        self,
        actor: Annotated[
            str | None, Query(description="操作人（用户名）/ actor's username")
        ] = None,
        department: Annotated[
            str | None, Query(description="操作人所代表的部门 / the actor's department")
        ] = None,
        since: Annotated[
            str | None,
            Query(
                description="记录时间起（含）：YYYY-MM-DD（北京时间全天）或带时区的时间 / "
                "recorded from (inclusive): a date (a Beijing day) or an ISO time"
            ),
        ] = None,
        until: Annotated[
            str | None, Query(description="记录时间止（含）/ recorded until (inclusive)")
        ] = None,
        from_seq: Annotated[
            int | None, Query(description="账本序号起（含）/ from ledger seq (inclusive)")
        ] = None,
        to_seq: Annotated[
            int | None, Query(description="账本序号止（含）/ to ledger seq (inclusive)")
        ] = None,
        offset: Annotated[int, Query(description="跳过的条数 / rows to skip")] = 0,
        limit: Annotated[int, Query(description=f"每页条数（最多 {MAX_LIMIT}）/ page size")] = 100,
        format: Annotated[
            str,
            Query(
                description="json（分页）、csv 或 xlsx（全部符合条件的记录，中文表头）/ json "
                "(paged), csv or xlsx (every matching row, Chinese headers)"
            ),
        ] = "json",
    ) -> None:
        self.filters: dict[str, Any] = dict(
            actor=actor,
            department=department,
            since=since,
            until=until,
            from_seq=from_seq,
            to_seq=to_seq,
        )
        self.offset = offset
        self.limit = limit
        self.format = format.strip().lower()


@router.get(
    "/trail/{kind}/{ref:path}",
    summary="对象的全程留痕 / A subject's audit trail",
    description="kind：target（统一社会信用代码/标识）、inspector（执法证号）、item（部门/事项编码）、"
    "plan（部门/计划编号）、draw（编号或 部门/计划编号/第N轮）、task（编号或 抽取/检查对象标识）、"
    "user（用户名）。每条记录的签名在返回时对照账本核验（valid、invalid、revoked-key…）。/ "
    "Each row's envelope signature is checked against the ledger when served.",
    response_model=TrailPage,
    response_model_exclude_unset=True,
    responses={200: {"content": {CSV: {}, XLSX: {}}}},
)
@threaded  # the token, the read and the signature checks in one thread hop
def get_trail(
    services: ServicesDep,
    credentials: CredentialsDep,
    kind: str,
    ref: str,
    query: Annotated[TrailQuery, Depends(constructed(TrailQuery))],
) -> Any:
    if query.format not in FORMATS:
        raise ValidationError(
            f"不支持的格式“{query.format}”：应为 json、csv 或 xlsx",
            f"unknown format {query.format!r}: json, csv or xlsx",
        )
    principal = current_principal(services, credentials)
    trail = TrailService(services)
    filters = make_filters(**query.filters)
    if query.format == "json":
        return trail.page(principal, kind, ref, filters, offset=query.offset, limit=query.limit)
    body = trail.export(principal, kind, ref, filters, query.format)
    name = f"trail-{kind}-{services.runner.seq('trail')}.{query.format}"
    return Response(
        content=body,
        media_type=XLSX if query.format == "xlsx" else CSV,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
