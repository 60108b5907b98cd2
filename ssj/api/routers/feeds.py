"""The records for platforms that pull them or take files (归集): `GET /feeds/{kind}` pages the
same signed CloudEvents the worker posts (resident identity numbers masked), after a ledger
seq; `GET /feeds/{kind}/export` writes them with the standard's Chinese headers (XLSX or CSV).

Readers of every department (administrators, supervisors, reviewers) get every record; anyone
else the records of their own department.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Response

from ssj.api.deps import (
    PrincipalDep,
    ServicesDep,
    make_router,
)
from ssj.presentation.sheets import CSV, XLSX
from ssj.services.delivery import FEED_LIMIT, FeedService

TAG = "归集 / Delivery"
router = make_router(TAG)

Kind = Annotated[str, Path(description="results（检查结果）或 penalties（行政处罚）/ the kind")]


def get_feeds(services: ServicesDep) -> FeedService:
    return FeedService(services)


FeedsDep = Annotated[FeedService, Depends(get_feeds)]


@router.get(
    "/feeds/{kind}",
    summary="归集记录（已签名的 CloudEvents）/ Records as signed CloudEvents, after a seq",
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
