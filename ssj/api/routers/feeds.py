"""The records for platforms that pull them or take files (归集): `GET /feeds/{kind}` pages the
same signed CloudEvents the worker posts (resident identity numbers masked), after a ledger
seq; `GET /feeds/{kind}/export` writes them with the standard's Chinese headers (XLSX or CSV).

Readers of every department (administrators, supervisors, reviewers) get every record; anyone
else the records of their own department.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Response
from pydantic import Field

from ssj.api.deps import (
    PrincipalDep,
    ServicesDep,
    make_router,
)
from ssj.api.schemas import Schema
from ssj.presentation.sheets import CSV, XLSX
from ssj.services.delivery import FEED_LIMIT, FeedService

TAG = "归集 / Delivery"
router = make_router(TAG)

Kind = Annotated[str, Path(description="results（检查结果）或 penalties（行政处罚）/ the kind")]


class FeedEvent(Schema):
    """A record as a signed CloudEvent (structured mode), as the worker posts it."""

    specversion: str = Field(description="CloudEvents 版本 / CloudEvents spec version")
    id: str = Field(description="事件标识 / event id")
    source: str = Field(description="来源（日志名称）/ source (the log origin)")
    type: str = Field(description="事件类型 / event type")
    subject: str = Field(description="检查对象的公开标识 / the target's public identifier")
    time: str = Field(description="记录时间 / recorded at (ISO 8601)")
    datacontenttype: str = Field(description="application/json")
    data: dict[str, Any] = Field(
        description="记录：action（动作）、corrects（更正的序号）、reason（原因）与 fields（按标准的"
        "字段，随记录类型与动作而定；身份证号部分隐去）/ the record: action, corrects, reason and "
        "fields (the standard's fields for its kind and action; identity numbers masked)"
    )
    ssjkind: str = Field(description="记录类型：results|penalties / record kind")
    ssjseq: int = Field(description="账本序号 / ledger seq")
    ssjproof: str = Field(description="收录证明（C2SP tlog-proof）/ inclusion proof")
    ssjkeyid: str = Field(description="签名密钥标识 / signing key id")
    ssjsignature: str = Field(description="签名（base64）/ signature, base64")


class FeedPage(Schema):
    """Records after a seq; ask next after `next_after_seq`."""

    kind: str = Field(description="记录类型：results|penalties / record kind")
    after_seq: int = Field(description="请求的起点序号 / the seq asked after")
    next_after_seq: int = Field(description="下次请求的起点序号 / the seq to ask after next")
    items: list[FeedEvent] = Field(description="已签名的 CloudEvents / signed CloudEvents")


def get_feeds(services: ServicesDep) -> FeedService:
    return FeedService(services)


FeedsDep = Annotated[FeedService, Depends(get_feeds)]


@router.get(
    "/feeds/{kind}",
    summary="归集记录（已签名的 CloudEvents）/ Records as signed CloudEvents, after a seq",
    response_model=FeedPage,
    response_model_exclude_unset=True,
)
def feed(
    feeds: FeedsDep,
    principal: PrincipalDep,
    kind: Kind,
    after_seq: Annotated[
        int, Query(ge=-1, description="只要此账本序号之后的记录 / records after this seq")
    ] = -1,
    limit: Annotated[int, Query(ge=1, le=FEED_LIMIT)] = 100,
) -> dict[str, Any]:
    return feeds.feed(principal, kind, after_seq, limit)


@router.get(
    "/feeds/{kind}/export",
    summary="按标准中文表头导出（前置机）/ Export with the standard's Chinese headers",
    response_class=Response,
    responses={200: {"content": {XLSX: {}, CSV: {}}}},
)
def export(
    feeds: FeedsDep,
    principal: PrincipalDep,
    kind: Kind,
    start: Annotated[str, Query(alias="from", description="起始日期 YYYY-MM-DD / from")],
    end: Annotated[str, Query(alias="to", description="截止日期 YYYY-MM-DD / to")],
    format: Literal["xlsx", "csv"] = "xlsx",
) -> Response:
    data, _ = feeds.export(principal, kind, start, end, format)
    filename = f"{kind}-{start}-{end}.{format}"
    return Response(
        content=data,
        media_type=XLSX if format == "xlsx" else CSV,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
